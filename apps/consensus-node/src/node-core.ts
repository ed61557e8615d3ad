// Assembles a consensus node and wires its parts (docs/ARCHITECTURE.md):
//   storage (storage/open.ts: log store + state store)
//   -> the flag state machine (state-machine.ts, the Fsm)
//   -> the Raft driver (raft-driver.ts; durability.ts holds the Ready order)
//   -> proposals and their waiters (proposer.ts), Watch streams (watch-hub.ts)
//   -> the gRPC services over narrow ports (api.ts, ports.ts), the peer
//      transport (transport.ts), health (health.ts) and the outbox hook.
// It also answers Status and runs the SIGTERM sequence.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { StateType, type NodeId } from '@flagraft/raft-core';
import { flagsService } from './api.js';
import { ClusterClock, systemClock } from './clock.js';
import { ApiError } from './errors.js';
import { Health } from './health.js';
import { createLogger, type Logger } from './log.js';
import type { Outbox, OutboxContext, SnsOutboxConfig } from './outbox-types.js';
import type { FlagsPorts } from './ports.js';
import { serviceOf } from './proto-files.js';
import { Proposer } from './proposer.js';
import { RaftDriver } from './raft-driver.js';
import { MD_CLUSTER, NodeSecurity } from './security.js';
import { StateMachine, type Applied } from './state-machine.js';
import { openStorage, spaceReclaimer, type NodeStorage } from './storage/open.js';
import type { Reclaimer } from './storage/reclaim.js';
import { Transport } from './transport.js';
import { WatchHub } from './watch-hub.js';
import { WriteTrace } from './write-trace.js';
import { queryState } from './queries.js';
import { Scheduler } from './scheduler.js';
import { DEFAULT_SCHEDULER_POLL_MS, type NodeConfig } from './config.js';
import type { StoredSchedule } from '@flagraft/flag-model';

/** Makes the SNS outbox (src/outbox/) from its configuration; main.ts passes the real one. */
export type OutboxFactory = (config: SnsOutboxConfig) => Outbox | Promise<Outbox>;

/** `address`: where clients reach the member ('' until this node has heard it from that member); `peerAddress`: its Raft address. */
export interface MemberStatus { id: number; address: string; peerAddress: string; role: 'voter' | 'learner'; matchIndex: number; lag: number; reachable: boolean }

export interface NodeStatus {
  clusterId: string; id: number; role: string; term: number; leaderId: number; leaderAddress: string;
  commitIndex: number; appliedIndex: number; members: MemberStatus[]; publishedRevision: number; publishLag: number;
  firstIndex: number; lastIndex: number; oldestRetainedRevision: number; dbBytes: number;
  /** The cluster revision at the applied index (differs from appliedIndex after a restore). */
  appliedRevision: number;
  /** Revision of the last restore (0 = never restored). */
  restoredRevision: number;
  /** This node's Raft address. */
  peerAddress: string;
  /** "mtls" or "insecure". */
  transportSecurity: string;
  /** Refused calls by reason, and certificate reloads (security.ts REFUSALS). */
  securityCounters: Record<string, number>;
}

/** A learner may be promoted when it is at most this many entries behind. */
const MAX_PROMOTE_LAG_ENTRIES = 1000;

export class ConsensusNodeCore {
  readonly log: Logger;
  readonly security: NodeSecurity;
  /** The voters' median wall clock: what this node stamps on commands as leader (clock.ts). */
  readonly clusterClock: ClusterClock;
  address = '';
  peerAddress = '';
  private readonly storage: NodeStorage;
  private readonly state: StateMachine;
  private readonly driver: RaftDriver<Applied>;
  /** FLAGRAFT_TRACE_WRITES=1: stage timings of writes (write-trace.ts). */
  private readonly trace?: WriteTrace;
  private readonly proposer: Proposer;
  private readonly scheduler: Scheduler;
  private readonly watch: WatchHub;
  private readonly transport: Transport;
  private readonly health: Health;
  /** The client port: Flags and Health, service certificates. */
  private readonly server: grpc.Server;
  /** The peer port: Raft, node certificates. */
  private readonly peerServer: grpc.Server;
  /** Optional plain-text health port (FLAGRAFT_HEALTH_LISTEN). */
  private readonly healthServer?: grpc.Server;
  /** Client addresses peers told us (transport metadata): used in NOT_LEADER hints and Status. Not replicated. */
  private readonly clientAddresses = new Map<number, string>();
  private outbox?: Outbox;
  private readonly reclaimer: Reclaimer;
  /** A leader removed from the configuration while this node followed it, and until when (performance.now) its handoff is taken (noteDepartingLeader). */
  private departingLeader?: { id: NodeId; until: number };
  private readonly leaderListeners = new Set<(isLeader: boolean, term: number) => void>();
  private readonly appliedListeners = new Set<(rev: number) => void>();
  private closing = false;

  constructor(readonly config: NodeConfig, private readonly outboxFactory?: OutboxFactory) {
    this.log = createLogger({ app: 'consensus-node', node: config.nodeId }, config.logLevel);
    mkdirSync(config.dataDir, { recursive: true });
    const members = [...config.initialCluster].map(([id, address]) => ({ id, address }));
    this.storage = openStorage({
      statePath: join(config.dataDir, 'flagraft.db'),
      clusterId: config.clusterId,
      nodeId: config.nodeId,
      bootstrap: config.join ? undefined : { members },
      logger: this.log,
      defaultEnvironment: config.defaultEnvironment,
    });
    const { log, state, verified } = this.storage;
    const scan = { rows: verified.rows, ms: verified.ms };
    if (verified.complete) this.log.info('storage checksums verified', scan);
    else this.log.warn('storage checksum scan stopped at its time budget; the rest is checked when read', scan);
    // INJECTED BUG (FLAGRAFT_INJECT_BUG=ack-before-fsync, apps/torture): the log commits once a second, after the acknowledgements.
    if (config.injectBug === 'ack-before-fsync') log.deferCommits(1000);
    if (config.injectBug) this.log.warn('INJECTED BUG enabled: this node is deliberately unsafe (testing only)', { bug: config.injectBug });
    this.state = new StateMachine(state, { ...config.retention, logger: this.log, defaultEnvironment: config.defaultEnvironment });
    this.reclaimer = spaceReclaimer(this.storage, config, this.log);
    this.trace = WriteTrace.fromEnv(this.log);
    this.driver = new RaftDriver<Applied>(config, { log, fsm: this.state, dataBytes: () => log.bytes() + state.bytes(), trace: this.trace }, this.log, {
      onLeadership: (isLeader, term, _lead, wasLeader) => this.onLeadership(isLeader, term, wasLeader),
      onResults: (applied) => {
        if (applied.snapshot || applied.results.some((r) => r.membersChanged)) {
          this.noteDepartingLeader();
          this.syncPeers();
          this.refuseWatchesIfRemoved();
        }
        this.proposer.answer(applied.results);
      },
      onApplied: (applied) => this.onApplied(applied.snapshot || applied.results.some((r) => r.changed)),
      clientAddressOf: (id) => this.clientAddressOf(id),
      securityCounters: () => this.security.counters(),
    });
    this.clusterClock = new ClusterClock(systemClock, config.nodeId, () => {
      const cs = this.state.confState();
      return cs.votersOutgoing.length ? [...cs.voters, ...cs.votersOutgoing] : cs.voters;
    });
    this.proposer = new Proposer(this.driver, { ...config, clusterNow: () => this.clusterClock.now(), trace: this.trace });
    this.scheduler = new Scheduler({
      clock: this.clusterClock, pollMs: config.schedulerPollMs ?? DEFAULT_SCHEDULER_POLL_MS, log: this.log,
      isLeader: () => this.driver.isLeader(),
      schedules: () => this.state.records('schedules').map((j) => (JSON.parse(j) as StoredSchedule).schedule),
      propose: (cmd, time) => this.proposer.propose(cmd, time),
    });
    this.watch = new WatchHub({
      changesAfter: (after, limit, all) => this.state.changesAfter(after, limit, all),
      oldestRetainedRevision: () => this.state.oldestRetainedRevision(),
      appliedRevision: () => this.appliedRevision(),
    }, config.maxWatchers);
    this.refuseWatchesIfRemoved(); // a removed node that is restarted
    this.security = new NodeSecurity({
      nodeId: config.nodeId, clusterId: config.clusterId, security: config.security, tlsReloadIntervalMs: config.tlsReloadIntervalMs,
      log: this.log.child({ component: 'security' }), isMember: (id) => this.isKnownPeer(id),
    });
    this.transport = new Transport({
      nodeId: config.nodeId,
      clusterId: config.clusterId,
      log: this.log,
      security: this.security,
      limits: config.transport,
      clientAddress: () => this.address,
      onPeerClientAddress: (id, a) => { if (this.clientAddresses.get(id) !== a) this.clientAddresses.set(id, a); },
      onMessage: (m) => this.driver.step(m),
      onUnreachable: (id) => this.driver.reportUnreachable(id),
      onIdleNotice: (from, notice, term) => this.driver.onIdleNotice(from, notice, term),
      onPeerClock: (from, wallMs) => this.clusterClock.observe(from, wallMs),
      wallNow: () => systemClock.now(),
      onPeerStreamEnded: (from) => this.driver.onPeerStreamEnded(from),
      handoffFrom: (from) => this.departingLeader?.id === from && performance.now() < this.departingLeader.until,
      onSnapshotStatus: (id, ok) => this.driver.reportSnapshot(id, ok),
      random: () => this.driver.rng.next(),
    });
    this.driver.setTransport(this.transport);
    this.health = new Health(() => !this.closing && this.driver.leaderId() !== 0);
    const serverOptions = {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5000,
    };
    this.server = new grpc.Server({ ...serverOptions, 'grpc.max_receive_message_length': config.maxMessageBytes, interceptors: this.security.clientInterceptors() });
    this.server.addService(serviceOf('flagraft.v1.Flags').service, flagsService(this.ports()));
    this.server.addService(serviceOf('grpc.health.v1.Health').service, this.health.service());
    this.peerServer = new grpc.Server({ ...serverOptions, 'grpc.max_receive_message_length': config.transport.maxPeerMessageBytes });
    this.peerServer.addService(serviceOf('flagraft.raft.v1.Raft').service, this.transport.serverHandlers());
    if (config.healthListen) {
      this.healthServer = new grpc.Server({ 'grpc.max_receive_message_length': 4096 });
      // Check only: nobody unauthenticated may hold streams open here.
      this.healthServer.addService(serviceOf('grpc.health.v1.Health').service, this.health.service(false));
    }
  }

  /** What the Flags service may use of this node (ports.ts). */
  private ports(): FlagsPorts {
    const { driver, proposer, state } = this;
    // INJECTED BUG (FLAGRAFT_INJECT_BUG=read-without-readindex, apps/torture): linearizable reads answer from local state.
    const barrier = this.config.injectBug === 'read-without-readindex' ? async () => {} : () => driver.reads.wait();
    const proposeRestore = proposer.proposeRestore.bind(proposer);
    return {
      calls: {
        check: (md) => this.checkClient(md),
        writeActor: (call, claimed) => this.security.writeActor(call, claimed),
        writeRole: (call, claimed) => this.security.writeRole(call, claimed),
        dedupClientId: (call, clientId, keyed) => this.security.dedupClientId(call, clientId, keyed),
      },
      writes: { propose: proposer.propose.bind(proposer), proposeRestore },
      reads: {
        barrier,
        appliedRevision: () => this.appliedRevision(),
        getFlag: (key) => state.getFlag(key),
        getSegment: (name) => state.getSegment(name),
        list: (kind, prefix, after, limit) => state.list(kind, prefix, after, limit),
        allItems: (kind) => state.allItems(kind),
        history: (kind, key, before, limit, env) => state.history(kind, key, before, limit, env),
        environmentExists: (env) => state.view.getEnvironment(env) !== undefined,
        getFlagIn: (env, key) => state.getFlagIn(env, key),
        allFlagsIn: (env) => state.allFlagsIn(env),
        query: (what, args) => queryState(state, what, args),
      },
      membership: {
        members: () => this.members(),
        isLeader: () => driver.isLeader(),
        maxPromoteLag: MAX_PROMOTE_LAG_ENTRIES,
        change: (type, id, address) => proposer.changeMembership(type, id, address),
        transferLeader: (id) => driver.transferLeader(id, 5 * this.config.electionTimeoutMs),
      },
      watch: this.watch,
      backup: {
        clusterId: this.config.clusterId,
        nodeId: this.config.nodeId,
        stateFilePath: this.storage.state.path,
        log: this.log,
        isLeader: () => driver.isLeader(),
        leader: () => {
          const lead = driver.status().lead;
          return { leaderId: lead, leaderAddress: lead ? this.clientAddressOf(lead) ?? '' : '' };
        },
        barrier,
        proposeRestore,
      },
      status: () => this.status(),
    };
  }

  /** The cluster revision at the applied index (index + the replicated restore offset). */
  private appliedRevision(): number {
    return this.state.revisionAt(this.driver.appliedIndex());
  }

  /** Where clients reach node `id` (this node: its own client address). */
  clientAddressOf(id: number): string | undefined {
    return id === this.config.nodeId ? this.address : this.clientAddresses.get(id);
  }

  /** The replicated address book once we have one; before that (a joining node) the configured peers. */
  private addressBook(): Map<number, string> {
    const book = this.state.members();
    return book.size ? book : this.config.initialCluster;
  }

  /**
   * A node removed from the configuration receives no new entries, so its
   * Watch streams would stall while still sending progress messages (the
   * torture scenario membership-churn found a watcher stuck on a removed
   * node that kept running): they end UNAVAILABLE and new ones are refused,
   * and the clients resume on a member. A joining node not yet added has
   * applied nothing and is left alone.
   */
  private refuseWatchesIfRemoved(): void {
    const cs = this.state.confState();
    const id = this.config.nodeId;
    const member = [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext].some((ids) => ids.includes(id));
    const removed = !member && this.state.applied().index > 0;
    this.watch.refuse(removed ? ApiError.of('UNAVAILABLE', `node ${id} was removed from the cluster and receives no new changes; watch on a member`) : undefined);
  }

  /**
   * The leader this node follows was just removed from the configuration. It
   * hands leadership over with a MsgTimeoutNow once it applies its own
   * removal (raft-core membership.ts), usually after this node applied it:
   * without this note the transport would refuse that message as coming from
   * a non-member, and the cluster would wait an election timeout for a leader
   * (issue 13, self-removal.test.ts). For two election timeouts the transport
   * takes MsgTimeoutNow, and nothing else, from that node.
   */
  private noteDepartingLeader(): void {
    const lead = this.driver.leaderId();
    if (lead !== 0 && lead !== this.config.nodeId && !this.isKnownPeer(lead)) {
      // A duration: on the monotonic clock, like every other one (a wall-clock step must not stretch it).
      this.departingLeader = { id: lead, until: performance.now() + 2 * this.config.electionTimeoutMs };
    }
  }

  private isKnownPeer(id: NodeId): boolean {
    if (this.addressBook().has(id)) return true;
    const cs = this.state.confState();
    return cs.voters.includes(id) || cs.learners.includes(id) || cs.votersOutgoing.includes(id) || cs.learnersNext.includes(id);
  }

  private syncPeers(): void {
    const book = this.addressBook();
    for (const [id, a] of [...book]) this.transport.setPeer(id, this.config.peerRoutes.get(id) ?? a);
    for (const id of this.transport.peerIds()) if (!book.has(id)) this.transport.removePeer(id);
  }

  /**
   * Per-call checks of the client API after authentication (security.ts):
   * the cluster id header (a client pointed at the wrong cluster; the answer
   * names neither id) and shutdown.
   */
  private checkClient(md: grpc.Metadata): ApiError | undefined {
    const cid = md.get(MD_CLUSTER)[0];
    if (cid !== undefined && cid !== this.config.clusterId) {
      return ApiError.of('PERMISSION', this.security.refuse('cluster_id_mismatch', 'cluster id mismatch: this node belongs to another cluster').details);
    }
    if (this.security.insecure && cid === undefined) return ApiError.of('PERMISSION', 'metadata flagraft-cluster-id is required');
    if (this.closing) return ApiError.of('UNAVAILABLE', 'node is shutting down');
    return undefined;
  }

  private bind(server: grpc.Server, listen: string, creds: grpc.ServerCredentials, advertise?: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      server.bindAsync(listen, creds, (err, p) => {
        if (err) { reject(new Error(`cannot listen on ${listen}: ${err.message}`)); return; }
        resolve(advertise ?? `${listen.slice(0, listen.lastIndexOf(':'))}:${p}`);
      });
    });
  }

  async start(): Promise<void> {
    this.security.start();
    const creds = this.security.serverCredentials();
    this.address = await this.bind(this.server, this.config.listen, creds, this.config.advertise);
    this.peerAddress = await this.bind(this.peerServer, this.config.peerListen, creds, this.config.peerAdvertise);
    // Plain text on purpose: it answers SERVING / NOT_SERVING and nothing else.
    const health = this.healthServer ? await this.bind(this.healthServer, this.config.healthListen!, grpc.ServerCredentials.createInsecure()) : undefined;
    this.syncPeers();
    this.driver.start();
    this.reclaimer.start();
    this.scheduler.start();
    if (this.config.sns) await this.startOutbox(this.config.sns);
    this.log.info('node started', {
      address: this.address, peerAddress: this.peerAddress, healthAddress: health, transportSecurity: this.config.security.mode,
      clusterId: this.config.clusterId, applied: this.driver.appliedIndex(),
      voters: this.state.confState().voters, join: this.config.join,
      electionTimeoutMs: this.config.electionTimeoutMs, heartbeatMs: this.config.heartbeatMs, tickMs: this.config.tickMs,
    });
  }

  private async startOutbox(sns: SnsOutboxConfig): Promise<void> {
    if (!this.outboxFactory) {
      this.log.warn('SNS configured but this node was built without an outbox; changes are not published');
      return;
    }
    this.outbox = await this.outboxFactory(sns);
    this.outbox.start(this.outboxContext());
  }

  /** What the outbox may use of this node (outbox-types.ts). */
  private outboxContext(): OutboxContext {
    return {
      nodeId: this.config.nodeId,
      isLeader: () => this.driver.isLeader(),
      onLeadershipChange: (cb) => { this.leaderListeners.add(cb); return () => this.leaderListeners.delete(cb); },
      onApplied: (cb) => { this.appliedListeners.add(cb); return () => this.appliedListeners.delete(cb); },
      // 'all' (the default): every change; the relay sends each client only what it asked for.
      readChanges: (after, limit, events = 'all') => this.state.changesAfter(after, limit, events === 'all'),
      publishedRevision: () => this.state.publishedRevision(),
      proposePublished: (revision) => this.proposer.proposeInternal({ op: 'published', revision }),
      oldestRetainedRevision: () => this.state.oldestRetainedRevision(),
      restoredRevision: () => this.state.restoredRevision(),
      log: (level, msg, fields) => this.log.log(level, msg, { component: 'outbox', ...fields }),
    };
  }

  private onApplied(changed: boolean): void {
    if (changed) this.watch.pump();
    const rev = this.appliedRevision();
    for (const cb of this.appliedListeners) {
      try { cb(rev); } catch (e) { this.log.error('onApplied listener failed', { error: (e as Error).message }); }
    }
  }

  private onLeadership(isLeader: boolean, term: number, wasLeader: boolean): void {
    if (wasLeader && !isLeader) this.proposer.leadershipLost();
    for (const cb of this.leaderListeners) {
      try { cb(isLeader, term); } catch (e) { this.log.error('leadership listener failed', { error: (e as Error).message }); }
    }
    this.health.changed();
  }

  private members(): MemberStatus[] {
    const rs = this.driver.status();
    const cs = this.state.confState();
    const book = this.state.members();
    const last = this.storage.log.lastIndex();
    const isLeader = rs.raftState === StateType.Leader;
    const member = (id: number, role: 'voter' | 'learner'): MemberStatus => {
      const pr = isLeader ? rs.progress?.[id] ?? (rs.progress as any)?.get?.(id) : undefined;
      const match = id === this.config.nodeId ? last : Number(pr?.match ?? 0);
      return {
        id, role, address: this.clientAddressOf(id) ?? '',
        peerAddress: id === this.config.nodeId ? this.peerAddress : book.get(id) ?? this.config.initialCluster.get(id) ?? '',
        matchIndex: match, lag: isLeader ? Math.max(0, last - match) : 0,
        reachable: id === this.config.nodeId || this.transport.isReachable(id),
      };
    };
    return [...new Set([...cs.voters, ...cs.votersOutgoing])].sort((a, b) => a - b).map((id) => member(id, 'voter'))
      .concat([...new Set([...cs.learners, ...cs.learnersNext])].sort((a, b) => a - b).map((id) => member(id, 'learner')));
  }

  status(): NodeStatus {
    const rs = this.driver.status();
    const { log, state } = this.storage;
    const appliedRevision = this.appliedRevision();
    const restoredRevision = this.state.restoredRevision();
    const published = this.state.publishedRevision();
    const lead = rs.lead;
    return {
      clusterId: this.config.clusterId, id: this.config.nodeId, role: String(rs.raftState), term: rs.term,
      leaderId: lead, leaderAddress: lead ? this.clientAddressOf(lead) ?? '' : '',
      commitIndex: rs.commit, appliedIndex: this.driver.appliedIndex(), members: this.members(), publishedRevision: published,
      // Imported history (at or below the restore) is never published: not lag.
      publishLag: Math.max(0, appliedRevision - Math.max(published, restoredRevision)), firstIndex: log.firstIndex(), lastIndex: log.lastIndex(),
      oldestRetainedRevision: this.state.oldestRetainedRevision(), dbBytes: log.bytes() + state.bytes(),
      appliedRevision, restoredRevision,
      peerAddress: this.peerAddress, transportSecurity: this.config.security.mode, securityCounters: this.security.counters(),
    };
  }

  /** SIGTERM: hand leadership over, stop taking requests, drain, close the database. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const grace = this.config.shutdownGraceMs;
    // Monotonic: a wall-clock jump during shutdown must neither skip the drain nor stretch it (clock.ts).
    const started = systemClock.monotonic();
    if (this.driver.isLeader()) {
      const target = this.members().filter((m) => m.role === 'voter' && m.id !== this.config.nodeId).sort((a, b) => b.matchIndex - a.matchIndex)[0];
      if (target) {
        try {
          await this.driver.transferLeader(target.id, Math.min(grace, 4 * this.config.electionTimeoutMs));
          this.log.info('leadership transferred for shutdown', { to: target.id });
        } catch (e) {
          this.log.warn('leadership transfer before shutdown failed', { error: (e as Error).message });
        }
      }
    }
    this.watch.endAll(ApiError.of('UNAVAILABLE', 'node is shutting down; resume on another node'));
    this.health.endAll();
    while (this.proposer.pendingWrites() > 0 && systemClock.monotonic() - started < grace) await new Promise((r) => setTimeout(r, 10));
    await this.outbox?.stop().catch((e: Error) => this.log.warn('outbox stop failed', { error: e.message }));
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { this.server.forceShutdown(); resolve(); }, Math.max(100, grace - (systemClock.monotonic() - started)));
      this.server.tryShutdown(() => { clearTimeout(t); resolve(); });
    });
    this.scheduler.stop();
    this.driver.stop();
    this.trace?.stop();
    this.reclaimer.stop();
    this.proposer.stop();
    this.transport.close();
    this.peerServer.forceShutdown();
    this.healthServer?.forceShutdown();
    this.security.close();
    this.storage.log.close();
    this.storage.state.close();
    this.log.info('node stopped', { ms: Math.round(systemClock.monotonic() - started) });
  }
}
