// Assembles a consensus node: SQLite store + state machine + raft driver +
// gRPC transport + client API + health + outbox hook.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { StateType, type NodeId } from '@flagraft/raft-core';
import { flagsService } from './api.js';
import type { NodeConfig } from './config.js';
import { ApiError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import type { Outbox, OutboxContext } from './outbox-types.js';
import { loadOutboxFactory } from './outbox-registry.js';
import { serviceOf } from './proto-files.js';
import { RaftDriver } from './raft-driver.js';
import { MD_CLUSTER, NodeSecurity } from './security.js';
import { StateMachine } from './state-machine.js';
import { SqliteStore } from './storage/sqlite-store.js';
import { Transport } from './transport.js';

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

export interface Watcher { pump(): void; end(err?: ApiError): void }

export class ConsensusNodeCore {
  readonly log: Logger;
  readonly store: SqliteStore;
  readonly state: StateMachine;
  readonly driver: RaftDriver;
  readonly transport: Transport;
  readonly security: NodeSecurity;
  /** The client port: Flags and Health, service certificates. */
  readonly server: grpc.Server;
  /** The peer port: Raft, node certificates. */
  readonly peerServer: grpc.Server;
  /** Optional plain-text health port (FLAGRAFT_HEALTH_LISTEN). */
  private readonly healthServer?: grpc.Server;
  readonly watchers = new Set<Watcher>();
  /** A learner may be promoted when it is at most this many entries behind. */
  readonly maxPromoteLag = 1000;
  address = '';
  peerAddress = '';
  /** Client addresses peers told us (transport metadata): used in NOT_LEADER hints and Status. Not replicated. */
  private readonly clientAddresses = new Map<number, string>();
  private outbox?: Outbox;
  private readonly leaderListeners = new Set<(isLeader: boolean, term: number) => void>();
  private readonly appliedListeners = new Set<(rev: number) => void>();
  private readonly healthWatchers = new Set<grpc.ServerWritableStream<any, any>>();
  private closing = false;

  constructor(readonly config: NodeConfig) {
    this.log = createLogger({ app: 'consensus-node', node: config.nodeId }, config.logLevel);
    mkdirSync(config.dataDir, { recursive: true });
    const members = [...config.initialCluster].map(([id, address]) => ({ id, address }));
    this.store = new SqliteStore({
      path: join(config.dataDir, 'flagraft.db'),
      clusterId: config.clusterId,
      nodeId: config.nodeId,
      bootstrap: config.join ? undefined : { members },
    });
    this.state = new StateMachine(this.store, {
      changesRetentionRevisions: config.changesRetentionRevisions,
      dedupWindowRevisions: config.dedupWindowRevisions,
      // Prune often enough that the window is honoured within a quarter of its size.
      pruneEveryRevisions: Math.max(1, Math.min(1000, Math.floor(Math.min(config.changesRetentionRevisions, config.dedupWindowRevisions) / 4))),
    });
    this.store.setSnapshotProvider(() => this.state.makeSnapshot(this.store.initialState().confState));
    this.driver = new RaftDriver(config, this.store, this.state, this.log, {
      onApplied: (rev, changed) => this.onApplied(rev, changed),
      onLeadership: (isLeader, term) => this.onLeadership(isLeader, term),
      onMembersChanged: () => this.syncPeers(),
      clientAddressOf: (id) => this.clientAddressOf(id),
      securityCounters: () => this.security.counters(),
    });
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
      onSnapshotStatus: (id, ok) => this.driver.reportSnapshot(id, ok),
      random: () => this.driver.rng.next(),
    });
    this.driver.setTransport(this.transport);
    const serverOptions = {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5000,
    };
    this.server = new grpc.Server({ ...serverOptions, 'grpc.max_receive_message_length': config.maxMessageBytes, interceptors: this.security.clientInterceptors() });
    this.server.addService(serviceOf('flagraft.v1.Flags').service, flagsService(this));
    this.server.addService(serviceOf('grpc.health.v1.Health').service, this.healthService());
    this.peerServer = new grpc.Server({ ...serverOptions, 'grpc.max_receive_message_length': config.transport.maxPeerMessageBytes });
    this.peerServer.addService(serviceOf('flagraft.raft.v1.Raft').service, this.transport.serverHandlers());
    if (config.healthListen) {
      this.healthServer = new grpc.Server({ 'grpc.max_receive_message_length': 4096 });
      // Check only: nobody unauthenticated may hold streams open here.
      this.healthServer.addService(serviceOf('grpc.health.v1.Health').service, this.healthService(false));
    }
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

  private isKnownPeer(id: NodeId): boolean {
    if (this.addressBook().has(id)) return true;
    const cs = this.store.initialState().confState;
    return cs.voters.includes(id) || cs.learners.includes(id) || cs.votersOutgoing.includes(id) || cs.learnersNext.includes(id);
  }

  private syncPeers(): void {
    const book = this.addressBook();
    for (const [id, a] of [...book]) this.transport.setPeer(id, a);
    for (const id of this.transport.peerIds()) if (!book.has(id)) this.transport.removePeer(id);
  }

  /**
   * Per-call checks of the client API after authentication (security.ts):
   * the cluster id header (a client pointed at the wrong cluster; the answer
   * names neither id) and shutdown.
   */
  checkClient(md: grpc.Metadata): ApiError | undefined {
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
    if (this.config.sns) await this.startOutbox();
    this.log.info('node started', {
      address: this.address, peerAddress: this.peerAddress, healthAddress: health, transportSecurity: this.config.security.mode,
      clusterId: this.config.clusterId, applied: this.driver.appliedIndex(),
      voters: this.store.initialState().confState.voters, join: this.config.join,
      electionTimeoutMs: this.config.electionTimeoutMs, heartbeatMs: this.config.heartbeatMs, tickMs: this.config.tickMs,
    });
  }

  private async startOutbox(): Promise<void> {
    const factory = await loadOutboxFactory();
    if (!factory) {
      this.log.warn('SNS configured but no outbox implementation is available (src/outbox/ missing); changes are not published');
      return;
    }
    this.outbox = factory(this.config.sns!);
    this.outbox.start(this.outboxContext());
  }

  outboxContext(): OutboxContext {
    return {
      nodeId: this.config.nodeId,
      isLeader: () => this.driver.isLeader(),
      onLeadershipChange: (cb) => { this.leaderListeners.add(cb); return () => this.leaderListeners.delete(cb); },
      onApplied: (cb) => { this.appliedListeners.add(cb); return () => this.appliedListeners.delete(cb); },
      readChanges: (after, limit) => this.state.changesAfter(after, limit),
      publishedRevision: () => this.state.publishedRevision(),
      proposePublished: (revision) => this.driver.proposeInternal({ op: 'published', revision }),
      oldestRetainedRevision: () => this.state.oldestRetainedRevision(),
      restoredRevision: () => this.state.restoredRevision(),
      log: (level, msg, fields) => this.log.log(level, msg, { component: 'outbox', ...fields }),
    };
  }

  private onApplied(rev: number, changed: boolean): void {
    if (changed) for (const w of this.watchers) w.pump();
    for (const cb of this.appliedListeners) {
      try { cb(rev); } catch (e) { this.log.error('onApplied listener failed', { error: (e as Error).message }); }
    }
  }

  private onLeadership(isLeader: boolean, term: number): void {
    for (const cb of this.leaderListeners) {
      try { cb(isLeader, term); } catch (e) { this.log.error('leadership listener failed', { error: (e as Error).message }); }
    }
    const status = this.servingStatus();
    for (const h of this.healthWatchers) h.write({ status });
  }

  status(): NodeStatus {
    const rs = this.driver.node.status();
    const cs = this.store.initialState().confState;
    const book = this.state.members();
    const last = this.store.lastIndex();
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
    const members = [...new Set([...cs.voters, ...cs.votersOutgoing])].sort((a, b) => a - b).map((id) => member(id, 'voter'))
      .concat([...new Set([...cs.learners, ...cs.learnersNext])].sort((a, b) => a - b).map((id) => member(id, 'learner')));
    const applied = this.driver.appliedIndex();
    const appliedRevision = this.driver.appliedRevision();
    const restoredRevision = this.state.restoredRevision();
    const published = this.state.publishedRevision();
    const lead = rs.lead;
    return {
      clusterId: this.config.clusterId, id: this.config.nodeId, role: String(rs.raftState), term: rs.term,
      leaderId: lead, leaderAddress: lead ? this.clientAddressOf(lead) ?? '' : '',
      commitIndex: rs.commit, appliedIndex: applied, members, publishedRevision: published,
      // Imported history (at or below the restore) is never published: not lag.
      publishLag: Math.max(0, appliedRevision - Math.max(published, restoredRevision)), firstIndex: this.store.firstIndex(), lastIndex: last,
      oldestRetainedRevision: this.state.oldestRetainedRevision(), dbBytes: this.store.dbBytes(),
      appliedRevision, restoredRevision,
      peerAddress: this.peerAddress, transportSecurity: this.config.security.mode, securityCounters: this.security.counters(),
    };
  }

  private servingStatus(): number {
    return !this.closing && this.driver.leaderId() !== 0 ? 1 : 2; // SERVING : NOT_SERVING
  }

  private healthService(watch = true): grpc.UntypedServiceImplementation {
    const known = (s: string) => s === '' || s === 'flagraft.v1.Flags' || s === 'flagraft.raft.v1.Raft';
    return {
      Check: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => {
        if (!known(call.request.service)) { cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` }); return; }
        cb(null, { status: this.servingStatus() });
      },
      Watch: (call: grpc.ServerWritableStream<any, any>) => {
        if (!watch) { call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'Watch is served on the client port only' }); return; }
        if (!known(call.request.service)) { call.write({ status: 3 }); }
        else call.write({ status: this.servingStatus() });
        this.healthWatchers.add(call);
        call.on('cancelled', () => this.healthWatchers.delete(call));
        call.on('error', () => this.healthWatchers.delete(call));
      },
    };
  }

  /** SIGTERM: hand leadership over, stop taking requests, drain, close the database. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const grace = this.config.shutdownGraceMs;
    const started = Date.now();
    if (this.driver.isLeader()) {
      const st = this.status();
      const target = st.members.filter((m) => m.role === 'voter' && m.id !== this.config.nodeId).sort((a, b) => b.matchIndex - a.matchIndex)[0];
      if (target) {
        try {
          await this.driver.transferLeader(target.id, Math.min(grace, 4 * this.config.electionTimeoutMs));
          this.log.info('leadership transferred for shutdown', { to: target.id });
        } catch (e) {
          this.log.warn('leadership transfer before shutdown failed', { error: (e as Error).message });
        }
      }
    }
    for (const w of [...this.watchers]) w.end(ApiError.of('UNAVAILABLE', 'node is shutting down; resume on another node'));
    for (const h of this.healthWatchers) { try { h.write({ status: 2 }); h.end(); } catch { /* gone */ } }
    while (this.driver.pendingProposals() > 0 && Date.now() - started < grace) await new Promise((r) => setTimeout(r, 10));
    await this.outbox?.stop().catch((e: Error) => this.log.warn('outbox stop failed', { error: e.message }));
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { this.server.forceShutdown(); resolve(); }, Math.max(100, grace - (Date.now() - started)));
      this.server.tryShutdown(() => { clearTimeout(t); resolve(); });
    });
    this.driver.stop();
    this.transport.close();
    this.peerServer.forceShutdown();
    this.healthServer?.forceShutdown();
    this.security.close();
    this.store.close();
    this.log.info('node stopped', { ms: Date.now() - started });
  }
}
