// The deterministic simulator (in the spirit of TigerBeetle's VOPR and
// FoundationDB's simulation): one seed drives a single-threaded scheduler,
// the nodes' clocks, the network and every fault. Each seed draws its own
// fault rates (swarm testing). Phase 1 injects faults while clients write
// and read and an operator changes membership; phase 2 (healing.ts) heals
// the cluster, which must then elect a leader, commit a new write and serve
// a linearizable read within a bound, and stay stable with removed servers
// still running. Checks run after every step (checker.ts, membership-checks.ts).
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NotLeaderError,
  RawNode,
  SnapshotStatus,
  StateType,
  createRng,
  decodeConfChange,
  type Config,
  type ConfChange,
  type ConfState,
  type Message,
  type NodeId,
  type Ready,
  type Rng,
} from '../../src/index.js';
import { Checker, electableWithout } from './checker.js';
import { ClientHistory } from './client-history.js';
import { DurableMemoryStorage } from './durable-storage.js';
import { CampaignWatch, ConfHistory, checkLeaderConfAppends, confKey } from './membership-checks.js';
import { KvStore, encodeKv, type KvCommand, type KvResult } from './kv.js';
import { DEFAULT_LIVENESS_UNITS, checkLiveness, checkRemovedServersDoNotDisrupt, livenessBound } from './healing.js';
import { Network } from './network.js';
import { drawParams, type SimParams } from './params.js';
import {
  DEFAULT_FAULT_UNITS,
  ELECTION_TICK,
  HEARTBEAT_TICK,
  KEYS,
  MAX_MEMBERS,
  MIN_VOTERS,
  READ_TIMEOUT_UNITS,
  SimNode,
  TICK_UNITS,
  newSimStats,
  type SimOptions,
  type SimResult,
  type SimStats,
} from './sim-types.js';

export type { SimParams } from './params.js';
export type { ClientBug, SimOptions, SimResult, SimStats } from './sim-types.js';

function keysOfCommand(c: KvCommand): string[] {
  return 'b' in c ? c.b.map((w) => w.k) : [c.k];
}

export class Simulation {
  readonly rng: Rng;
  /** Second random stream: membership churn, conf-change faults, power losses (see params.ts). */
  readonly mrng: Rng;
  /** Third: what kind of op each client op is (put, CAS, delete, batch; linearizable or stale read) and its arguments. */
  readonly crng: Rng;
  /** The op mix of this seed: register-only seeds do plain puts and linearizable reads, as the simulator first did. */
  private readonly registerOnly: boolean;
  /** The revision clients last saw for each key (their If-Match for a compare-and-set). */
  private readonly lastSeen = new Map<string, number>();
  readonly params: SimParams;
  readonly net: Network;
  readonly checker = new Checker();
  readonly history = new ClientHistory();
  readonly nodes = new Map<NodeId, SimNode>();
  now = 0;
  private nextId = 1;
  private writeSeq = 0;
  private requestSeq = 0;
  private readSeq = 0;
  private everMember = new Set<NodeId>();
  private confs!: ConfHistory;
  private maxConfIndex = 0;
  private readonly campaigns = new CampaignWatch();
  /** A leader to crash or cut off shortly after it proposed a conf change (params.confFaultFraction). */
  private confFault: { id: NodeId; at: number } | undefined;
  private leadersSeen = new Set<string>();
  stats: SimStats = {
    ...newSimStats(),
    faults: { crash: 0, midReadyCrash: 0, powerLoss: 0, lostUnsyncedWrites: 0, restart: 0, partition: 0, oneWayPartition: 0, heal: 0, confChangeLeaderFault: 0 },
    confChangesProposed: { addLearner: 0, promote: 0, removeVoter: 0, removeLeaderItself: 0, jointReplace: 0 },
  };
  private readonly makeRawNode: (cfg: Config) => RawNode;
  private readonly ruleChecks: boolean;
  /** Off in the healing phase (healing.ts): no faults, no client load. */
  faultsOn = true;

  constructor(readonly opts: SimOptions) {
    this.rng = createRng(opts.seed);
    // Membership and storage faults draw from their own stream: the older dimensions of a seed are unchanged.
    this.mrng = createRng(opts.seed ^ 0x27d4eb2f);
    this.params = { ...drawParams(this.rng, this.mrng), ...opts.params };
    this.crng = createRng(opts.seed ^ 0x165667b1);
    this.registerOnly = this.crng.next() < 0.3;
    this.net = new Network(createRng(opts.seed ^ 0x5bd1e995), { dropRate: this.params.dropRate, dupRate: this.params.dupRate, maxDelay: this.params.maxDelay });
    this.makeRawNode = opts.makeRawNode ?? ((c) => new RawNode(c));
    this.ruleChecks = opts.membershipRuleChecks ?? true;
    this.checker.onNewCommitted = (i, t, by) => this.checkNoElectableNodeLacks(i, t, by);
    const voters: NodeId[] = [];
    for (let i = 0; i < this.params.initialVoters; i++) voters.push(this.nextId++);
    this.confs = new ConfHistory(confKey({ voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }));
    for (const id of voters) {
      this.everMember.add(id);
      this.startNode(this.createNode(id, new DurableMemoryStorage({ voters })));
    }
  }

  private createNode(id: NodeId, storage: DurableMemoryStorage): SimNode {
    const n = new SimNode(id, storage, TICK_UNITS - 1 + this.rng.int(3), this.rng.int(TICK_UNITS));
    this.nodes.set(id, n);
    return n;
  }

  private startNode(n: SimNode): void {
    // What survives a crash is the storage: snapshot (with the app state), log, hard state.
    const snap = n.storage.snapshot();
    n.kv = KvStore.restore(snap.data);
    n.kv.ignoreExpected = this.opts.clientBug === 'cas-ignores-revision';
    n.applied = snap.metadata.index;
    n.confState = snap.metadata.confState;
    n.storage.setConfState(n.confState);
    n.incarnation++;
    const p = this.params;
    n.raw = this.makeRawNode({
      id: n.id,
      storage: n.storage,
      electionTick: ELECTION_TICK,
      heartbeatTick: HEARTBEAT_TICK,
      applied: n.applied,
      preVote: p.preVote,
      checkQuorum: p.checkQuorum,
      maxEntriesPerMsg: p.maxEntriesPerMsg,
      maxInflightMsgs: p.maxInflightMsgs,
      maxSizePerMsg: p.maxSizePerMsg,
      maxCommittedSizePerReady: p.maxCommittedSizePerReady || undefined,
      rng: createRng(this.opts.seed * 7919 + n.id * 104729 + n.incarnation),
    });
    n.restartAt = -1;
    this.upCache = undefined;
  }

  private crash(n: SimNode, midReady: boolean): void {
    if (!n.up) return;
    n.raw = undefined;
    this.upCache = undefined;
    n.reads.clear();
    n.writes.clear();
    this.stats.faults[midReady ? 'midReadyCrash' : 'crash']++;
    // A power loss also takes what the node wrote but did not fsync; a process crash leaves it to the OS.
    if (this.faultsOn && this.params.powerLossFraction > 0 && this.mrng.next() < this.params.powerLossFraction) {
      const before = n.storage.initialState().hardState;
      const lost = n.storage.losePowerWrites();
      this.stats.faults.powerLoss++;
      this.stats.faults.lostUnsyncedWrites += lost;
      this.checker.onPowerLoss(n.id, before, n.storage.initialState().hardState);
    }
    if (!n.decommissioned) n.restartAt = this.now + 50 + this.rng.int(1000);
  }

  private upCache: SimNode[] | undefined;
  upNodes(): SimNode[] {
    if (!this.upCache) this.upCache = [...this.nodes.values()].filter((n) => n.up);
    return this.upCache;
  }

  liveIds(): NodeId[] {
    return [...this.nodes.values()].filter((n) => !n.decommissioned).map((n) => n.id);
  }

  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.upNodes()) {
      const r = n.raw!.raft;
      if (r.state === StateType.Leader && (!best || r.term > best.raw!.raft.term)) best = n;
    }
    return best;
  }

  /** Entry (i, t) just became committed: check no voter lacking it could still be elected. */
  private checkNoElectableNodeLacks(i: number, t: number, by: NodeId): void {
    const raft = this.nodes.get(by)?.raw?.raft;
    if (!raft) return;
    const cfg = raft.trk.config.voters;
    const storages = new Map<NodeId, DurableMemoryStorage>();
    for (const n of this.nodes.values()) storages.set(n.id, n.storage);
    const who = electableWithout(i, t, [cfg.incoming.sorted(), cfg.outgoing.sorted()], storages);
    if (who) this.checker.violate('unsafe-commit', `entry (${i}, term ${t}) is committed (seen at node ${by}), but ${who}`);
  }

  // ------------------------------------------------------------ ready loop

  private processReady(n: SimNode): void {
    const raw = n.raw!;
    // What the node had applied when it appended this Ready's entries (nothing applies between a proposal and its Ready).
    const appliedBefore = raw.raft.raftLog.applied;
    const rd: Ready = raw.ready();
    if (rd.entries.length > 0 && this.ruleChecks) checkLeaderConfAppends(n.id, raw, rd.entries, appliedBefore, (k, d) => this.checker.violate(k, d));
    let crashAt: 'before-persist' | 'after-persist' | undefined;
    if (this.faultsOn && this.rng.next() < this.params.crashRate * this.params.midReadyCrashFraction * 20) {
      crashAt = this.rng.next() < 0.5 ? 'before-persist' : 'after-persist';
    }
    // 0. A leader that stays leader sends its replication messages before its
    // own write (thesis §10.2.1, as apps/consensus-node does): a crash right
    // below leaves followers holding entries the leader never persisted, and
    // its own copy must not have counted toward any commit.
    let late = rd.messages;
    if (raw.raft.state === StateType.Leader && !rd.softState) {
      late = [];
      for (const m of rd.messages) {
        if (m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat) this.sendMessage(n, m);
        else late.push(m);
      }
    }
    if (crashAt === 'before-persist') return this.crash(n, true);
    // 1. persist
    if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      n.storage.append(rd.entries);
      this.checker.onPersistEntries(n.id, rd.entries, n.storage);
    }
    if (rd.hardState) {
      n.storage.setHardState(rd.hardState);
      this.checker.onPersistHardState(n.id, rd.hardState, n.storage);
    }
    // fsync only when the core asks for it: what it does not ask for may be lost in a power loss.
    if (rd.mustSync) n.storage.sync();
    if (crashAt === 'after-persist') return this.crash(n, true);
    // 2. send
    for (const m of late) this.sendMessage(n, m);
    // 3. apply
    if (rd.snapshot) {
      const s = rd.snapshot;
      this.checkSnapshotConfig(n.id, s.metadata.index, s.metadata.confState, 'installed');
      n.kv = KvStore.restore(s.data);
      n.kv.ignoreExpected = this.opts.clientBug === 'cas-ignores-revision';
      n.applied = s.metadata.index;
      n.confState = s.metadata.confState;
      n.storage.setConfState(n.confState);
      this.stats.snapshotsInstalled++;
      // Proposals covered by the snapshot: their outcome is not visible here; they stay pending.
      for (const i of n.writes.keys()) if (i <= n.applied) n.writes.delete(i);
    }
    let confApplied = false;
    for (const e of rd.committedEntries) {
      const res = e.type === EntryType.Normal && e.data.byteLength > 0 ? n.kv.apply(e.data, e.index) : undefined;
      this.checker.onApply(n.id, e, res?.ok ? res.changes : []);
      this.answerWrite(n, e, res);
      if (e.type === EntryType.ConfChange) {
        try {
          n.confState = raw.applyConfChange(decodeConfChange(e.data));
        } catch (err) {
          // etcd panics here: the change was validated against another configuration than the one it meets.
          this.checker.violate('conf-change-apply', `node ${n.id} cannot apply the committed conf change at ${e.index} (term ${e.term}): ${(err as Error).message}`);
          // The node cannot go on (it would fail the same way after every restart): the operator takes it out.
          this.crash(n, false);
          n.decommissioned = true;
          n.restartAt = -1;
          return;
        }
        this.onConfApplied(e.index, n.confState);
        confApplied = true;
      }
      n.applied = e.index;
    }
    for (const rs of rd.readStates) {
      const r = n.reads.get(new TextDecoder().decode(rs.requestCtx));
      if (r) r.readIndex = rs.index;
    }
    raw.advance();
    this.serveReads(n);
    this.maybeSnapshot(n, confApplied);
  }

  /**
   * The proposer applies the index of one of its writes: answered with the
   * revision or the refusal if its command is there, a certain failure if
   * another entry is.
   */
  private answerWrite(n: SimNode, e: { index: number; data: Uint8Array }, res: KvResult | undefined): void {
    const w = n.writes.get(e.index);
    if (!w) return;
    n.writes.delete(e.index);
    if (!res || new TextDecoder().decode(e.data) !== w.data) return this.history.fail(w.op);
    this.history.completeWrite(w.op, this.now, res);
    for (const k of keysOfCommand(w.cmd)) this.lastSeen.set(k, res.ok ? res.revision : res.key === k ? res.currentRevision : (this.lastSeen.get(k) ?? 0));
  }

  private sendMessage(from: SimNode, m: Message): void {
    const ok = this.net.send(m, this.now);
    if (ok) return;
    // The sender's transport notices a failed send of a snapshot (and a cut link).
    if (m.type === MessageType.MsgSnap) from.raw!.reportSnapshot(m.to, SnapshotStatus.Failure);
    else if (this.net.isCut(m.from, m.to)) from.raw!.reportUnreachable(m.to);
  }

  private serveReads(n: SimNode): void {
    for (const [ctx, r] of n.reads) {
      if (r.readIndex === undefined || r.readIndex > n.applied) continue;
      n.reads.delete(ctx);
      const item = n.kv.get(r.key);
      this.history.completeRead(r.op, this.now, item);
      this.lastSeen.set(r.key, item?.rev ?? 0);
      this.checker.onRead(n.id, r.key, item?.v, r.readIndex, n.applied, r.minIndex);
      this.stats.readsChecked++;
    }
  }

  private maybeSnapshot(n: SimNode, confApplied: boolean): void {
    const snapIdx = n.storage.snapshot().metadata.index;
    if (n.applied <= snapIdx) return;
    // Snapshot when a conf change is applied (so joiners always find a snapshot that includes them), and at random.
    if (!confApplied && !(this.rng.next() < this.params.snapshotRate)) return;
    this.checkSnapshotConfig(n.id, n.applied, n.confState, 'created');
    n.storage.createSnapshot(n.applied, n.confState, n.kv.snapshot());
    this.stats.snapshotsCreated++;
    const keep = this.rng.int(20);
    const compactTo = n.applied - keep;
    if (compactTo > n.storage.firstIndex() - 1) n.storage.compact(compactTo);
  }

  /** A snapshot's configuration must be the one in force at its index (configuration agreement at each index). */
  private checkSnapshotConfig(id: NodeId, index: number, cs: ConfState, how: string): void {
    const expected = this.confs.at(index);
    const got = confKey(cs);
    if (got !== expected) this.checker.violate('snapshot-config', `node ${id} ${how} a snapshot at ${index} with configuration ${got}; the configuration in force there is ${expected}`);
  }

  private onConfApplied(index: number, cs: ConfState): void {
    const r = this.confs.record(index, cs);
    if (r.conflict !== undefined) {
      this.checker.violate('config-divergence', `conf change at ${index} gave ${confKey(cs)} here, ${r.conflict} elsewhere`);
      return;
    }
    if (!r.isNew || index <= this.maxConfIndex) return;
    this.maxConfIndex = index;
    this.stats.membershipChanges++;
    const members = new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext]);
    for (const id of members) this.everMember.add(id);
    for (const n of this.nodes.values()) {
      // Removed for good: the operator shuts it down a little later, or (keepRemovedRunning) forgets to.
      if (this.everMember.has(n.id) && !members.has(n.id) && !n.decommissioned && n.decommissionAt < 0 && !n.removed) {
        if (this.params.keepRemovedRunning) n.removed = true;
        else n.decommissionAt = this.now + 50;
      }
    }
  }

  // ------------------------------------------------------------ events

  private deliver(): void {
    for (const m of this.net.due(this.now)) {
      const to = this.nodes.get(m.to);
      const cut = this.net.isCut(m.from, m.to);
      if (cut) this.net.stats.cut++;
      if (!to || !to.up || cut) {
        if (m.type === MessageType.MsgSnap) this.nodes.get(m.from)?.raw?.reportSnapshot(m.to, SnapshotStatus.Failure);
        continue;
      }
      try {
        to.raw!.step(m);
      } catch (e) {
        if ((e as Error).name !== 'ErrStepPeerNotFound') throw e;
      }
      this.stats.messagesDelivered++;
      if (m.type === MessageType.MsgSnap) this.nodes.get(m.from)?.raw?.reportSnapshot(m.to, SnapshotStatus.Finish);
    }
  }

  /** Check every campaign that just started (ticks start them, and MsgTimeoutNow). */
  private watchCampaigns(): void {
    for (const n of this.upNodes()) {
      if (this.campaigns.check(n.id, n.raw!, this.ruleChecks, (k, d) => this.checker.violate(k, d))) this.checkCandidateCompleteness(n);
    }
  }

  /**
   * Election safety across configurations: a candidate counts votes with its
   * own configuration, whatever it is. If it lacks the latest committed entry,
   * no quorum of that configuration may be willing to elect it (by the
   * persisted logs and the up-to-date rule), or a committed entry can be lost.
   */
  private checkCandidateCompleteness(n: SimNode): void {
    const i = this.checker.maxCommitted;
    const c = this.checker.committed.get(i);
    if (!c) return;
    const cfg = n.raw!.raft.trk.config.voters;
    const storages = new Map<NodeId, DurableMemoryStorage>();
    for (const x of this.nodes.values()) storages.set(x.id, x.storage);
    const who = electableWithout(i, c.term, [cfg.incoming.sorted(), cfg.outgoing.sorted()], storages, n.id);
    if (who) {
      this.checker.violate(
        'unsafe-candidate',
        `entry (${i}, term ${c.term}) is committed, but candidate ${n.id} of term ${n.raw!.raft.term} lacks it and its configuration (voters ${cfg.incoming.sorted().join(',')}${cfg.isJoint() ? ` / ${cfg.outgoing.sorted().join(',')}` : ''}) could elect it: ${who}`,
      );
    }
  }

  private tickNodes(): void {
    for (const n of this.nodes.values()) {
      if (n.up && (this.now + n.tickPhase) % n.tickEvery === 0) n.raw!.tick();
    }
  }

  private clientOps(): void {
    const p = this.params;
    const ups = this.upNodes();
    if (ups.length === 0) return;
    if (this.rng.next() < p.writeRate) {
      // Clients mostly find the leader; sometimes they hit a random node.
      // Clients cache "the leader" and may be stale: any node that believes it leads takes writes.
      const leaders = ups.filter((x) => x.raw!.raft.state === StateType.Leader);
      const n = leaders.length > 0 && this.rng.next() < 0.9 ? leaders[this.rng.int(leaders.length)] : ups[this.rng.int(ups.length)];
      const [cmd, kind] = this.clientWrite(KEYS[this.rng.int(KEYS.length)]);
      if (this.tryWrite(n, cmd) !== undefined) this.stats.clientOps[kind] = (this.stats.clientOps[kind] ?? 0) + 1;
    }
    if (this.rng.next() < p.readRate) {
      const n = ups[this.rng.int(ups.length)];
      const key = KEYS[this.rng.int(KEYS.length)];
      if (!this.registerOnly && this.crng.next() < 0.2) this.staleRead(n, key);
      else this.tryRead(n, key);
    }
    if (this.now % 100 === 0) {
      for (const n of ups) {
        for (const [ctx, r] of n.reads) if (this.now - r.invokedAt > READ_TIMEOUT_UNITS) n.reads.delete(ctx);
      }
    }
  }

  /** A client write of this seed's mix on `k`: a put, or (unless register-only) a CAS, create-only, delete (plain or CAS), or a two-key batch. */
  private clientWrite(k: string): [KvCommand, string] {
    const v = `w${++this.writeSeq}`;
    const kind = this.registerOnly ? 0 : this.crng.next();
    const seen = this.lastSeen.get(k) ?? 0;
    let cmd: KvCommand;
    let name: string;
    const r = ++this.requestSeq;
    if (kind < 0.45) [cmd, name] = [{ k, v }, 'put'];
    else if (kind < 0.6) [cmd, name] = [{ k, v, e: seen }, 'cas'];
    else if (kind < 0.65) [cmd, name] = [{ k, v, e: 0 }, 'create'];
    else if (kind < 0.78) [cmd, name] = [{ k, d: 1 }, 'delete'];
    else if (kind < 0.85) [cmd, name] = [{ k, d: 1, e: seen }, 'cas-delete'];
    else {
      const other = KEYS[(KEYS.indexOf(k) + 1 + this.crng.int(KEYS.length - 1)) % KEYS.length];
      const second = this.crng.next() < 0.7 ? { k: other, v: `w${++this.writeSeq}` } : { k: other, d: 1 as const };
      [cmd, name] = [{ b: [{ k, v }, second] }, 'batch'];
    }
    return [{ ...cmd, r }, name];
  }

  tryWrite(n: SimNode, cmd: KvCommand): number | undefined {
    // Clients learn "not leader" from the node's answer; skip building the error object here (hot path).
    if (n.raw!.raft.state !== StateType.Leader) return undefined;
    const data = encodeKv(cmd);
    let index: number;
    try {
      index = n.raw!.propose(data);
    } catch (e) {
      if (e instanceof NotLeaderError || (e as Error).name === 'ErrProposalDropped') return undefined;
      throw e;
    }
    const op = this.history.invokeWrite(cmd, this.now, n.id);
    n.writes.set(index, { op, cmd, data: new TextDecoder().decode(data) });
    if (this.opts.clientBug === 'ack-put-on-propose') this.history.completeWrite(op, this.now, { ok: true, revision: index });
    return index;
  }

  /** A stale read: the node answers from its own applied state at once, no ReadIndex (any node, however far behind). */
  private staleRead(n: SimNode, key: string): void {
    const op = this.history.invokeRead(key, true, this.now, n.id);
    this.history.completeRead(op, this.now, n.kv.get(key));
    this.stats.clientOps['stale-read'] = (this.stats.clientOps['stale-read'] ?? 0) + 1;
  }

  tryRead(n: SimNode, key: string): string | undefined {
    if (n.raw!.raft.lead === 0) return undefined;
    const ctx = `${n.id}:${++this.readSeq}`;
    try {
      n.raw!.readIndex(new TextEncoder().encode(ctx));
    } catch (e) {
      if (e instanceof NotLeaderError) return undefined;
      throw e;
    }
    const op = this.history.invokeRead(key, false, this.now, n.id);
    this.stats.clientOps.read = (this.stats.clientOps.read ?? 0) + 1;
    n.reads.set(ctx, { ctx, key, minIndex: this.checker.maxApplied, invokedAt: this.now, op });
    return ctx;
  }

  private faultEvents(): void {
    const p = this.params;
    const rng = this.rng;
    if (rng.next() < p.partitionRate) {
      const live = this.liveIds();
      const size = 1 + rng.int(Math.max(1, Math.floor(live.length / 2)));
      let order = live.map((id) => [rng.next(), id] as const).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
      const l = this.leader();
      // Leader-targeted: put the leader in the minority side, so it keeps taking writes it cannot commit.
      if (l && rng.next() < p.leaderFaultFraction) order = [l.id, ...order.filter((id) => id !== l.id)];
      const oneWay = rng.next() < p.oneWayFraction;
      this.net.partition(order.slice(0, size), live, oneWay);
      this.stats.faults[oneWay ? 'oneWayPartition' : 'partition']++;
    }
    if (rng.next() < p.healRate) {
      this.net.healAll();
      this.stats.faults.heal++;
    }
    if (rng.next() < p.crashRate) {
      const ups = this.upNodes();
      const l = this.leader();
      if (l && rng.next() < p.leaderFaultFraction) this.crash(l, false);
      else if (ups.length > 0) this.crash(ups[rng.int(ups.length)], false);
    }
    if (rng.next() < p.confChangeRate) this.membershipOp(rng);
    if (p.churnRate > 0 && this.mrng.next() < p.churnRate) this.membershipOp(this.mrng);
    if (this.confFault && this.confFault.at <= this.now) {
      // The leader that just proposed a conf change crashes or is cut off: the change is left to the next leader, uncommitted.
      const n = this.nodes.get(this.confFault.id);
      this.confFault = undefined;
      if (n?.up && n.raw!.raft.state === StateType.Leader) {
        this.stats.faults.confChangeLeaderFault++;
        if (this.mrng.next() < 0.5) this.crash(n, false);
        else this.net.partition([n.id], this.liveIds(), false);
      }
    }
    if (rng.next() < p.transferRate) {
      const l = this.leader();
      if (l) {
        const voters = l.raw!.raft.trk.config.voters.incoming.sorted().filter((id) => id !== l.id);
        if (voters.length > 0) {
          l.raw!.transferLeader(voters[rng.int(voters.length)]);
          this.stats.transfers++;
        }
      }
    }
  }

  private restarts(): void {
    for (const n of this.nodes.values()) {
      if (n.decommissionAt >= 0 && n.decommissionAt <= this.now && !n.decommissioned) {
        n.decommissioned = true;
        n.raw = undefined;
        this.upCache = undefined;
        n.reads.clear();
        n.writes.clear();
      }
      if (!n.up && !n.decommissioned && n.restartAt >= 0 && n.restartAt <= this.now) {
        this.startNode(n);
        this.stats.faults.restart++;
      }
    }
  }

  /** An operator changes membership through the leader: add learner, promote, remove voter, or a joint replace. */
  private membershipOp(rng: Rng): void {
    const l = this.leader();
    if (!l) return;
    const cfg = l.raw!.raft.trk.config;
    if (cfg.voters.isJoint()) return;
    const voters = cfg.voters.incoming.sorted();
    const learners = [...cfg.learners].sort((a, b) => a - b);
    let cc: ConfChange;
    let kind: string;
    let newId = 0;
    const r = rng.next();
    if (learners.length > 0 && r < 0.35) {
      kind = 'promote';
      cc = { changes: [{ type: ConfChangeType.AddNode, nodeId: learners[0] }] };
    } else if (learners.length > 0 && voters.length >= MIN_VOTERS && r < 0.55) {
      // Joint consensus: swap a voter (maybe the leader) for the learner in one change.
      kind = 'jointReplace';
      const out = voters[rng.int(voters.length)];
      cc = {
        changes: [
          { type: ConfChangeType.AddNode, nodeId: learners[0] },
          { type: ConfChangeType.RemoveNode, nodeId: out },
        ],
      };
    } else if (voters.length > MIN_VOTERS && r < 0.8) {
      // A third of removals take out the leader itself.
      const out = rng.next() < 0.33 ? l.id : voters[rng.int(voters.length)];
      kind = out === l.id ? 'removeLeaderItself' : 'removeVoter';
      cc = { changes: [{ type: ConfChangeType.RemoveNode, nodeId: out }] };
    } else if (voters.length + learners.length < MAX_MEMBERS) {
      newId = this.nextId++;
      kind = 'addLearner';
      cc = { changes: [{ type: ConfChangeType.AddLearnerNode, nodeId: newId }] };
    } else {
      return;
    }
    try {
      l.raw!.proposeConfChange(cc);
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'ErrConfChangePending' || name === 'ErrProposalDropped' || name === 'ErrConfChangeInvalid' || e instanceof NotLeaderError) return;
      throw e;
    }
    this.stats.confChangesProposed[kind]++;
    if (newId) this.startNode(this.createNode(newId, new DurableMemoryStorage()));
    if (!this.confFault && this.params.confFaultFraction > 0 && this.mrng.next() < this.params.confFaultFraction) {
      // Soon, so the entry may reach some followers first (a crash before persisting it would just lose it).
      this.confFault = { id: l.id, at: this.now + 1 + this.mrng.int(3 * this.params.maxDelay + 10) };
    }
  }

  private observe(): void {
    for (const n of this.upNodes()) {
      const r = n.raw!.raft;
      if (r.state !== StateType.Leader) continue;
      const key = `${r.term}:${n.id}`;
      if (!this.leadersSeen.has(key)) {
        this.leadersSeen.add(key);
        this.stats.elections++;
        this.checker.onLeader(n.id, r.term, (i) => r.raftLog.maybeTerm(i), r.raftLog.firstIndex());
      }
    }
  }

  /** One time unit. */
  step(): void {
    this.now++;
    this.checker.now = this.now;
    if (this.faultsOn) this.faultEvents();
    this.restarts();
    this.tickNodes();
    this.watchCampaigns();
    this.deliver();
    this.watchCampaigns();
    if (this.faultsOn) this.clientOps();
    const slow = this.params.slowNode;
    for (const n of this.nodes.values()) {
      // The slow node's Ready loop runs only every slowReadyEvery units (its network side keeps stepping messages).
      if (n.id === slow && this.now % this.params.slowReadyEvery !== 0) continue;
      if (n.up && n.raw!.hasReady()) this.processReady(n);
    }
    this.observe();
  }

  run(): SimResult {
    const faultUnits = this.opts.faultUnits ?? DEFAULT_FAULT_UNITS;
    const stop = this.opts.stopOnViolation ?? true;
    while (this.now < faultUnits) {
      this.step();
      if (stop && this.checker.violations.length > 0) break;
    }
    if (!(stop && this.checker.violations.length > 0)) {
      const { bound, backlog } = livenessBound(this, this.opts.livenessUnits ?? DEFAULT_LIVENESS_UNITS);
      this.stats.livenessBacklog = backlog;
      this.stats.livenessBound = bound;
      if (checkLiveness(this, bound) && this.checker.violations.length === 0) checkRemovedServersDoNotDisrupt(this);
    }
    // Whatever stopped the run, what clients saw so far must be linearizable (ops still in flight stay pending).
    // When a violation already stopped it, a failing history is reported whole, not shrunk to a minimal
    // window: the first violation explains the run, and shrinking a long failing history costs minutes
    // (stale-leader-read's catching seed: about a minute of CI for a message no test reads).
    if (this.opts.checkHistory ?? true) this.checkClientHistory(this.checker.violations.length === 0);
    this.stats.historyOps = this.history.size;
    this.stats.historyPending = this.history.pending;
    this.stats.readsChecked = this.checker.readsChecked;
    this.stats.writesCommitted = this.checker.maxCommitted;
    this.stats.faults.drop = this.net.stats.dropped;
    this.stats.faults.duplicate = this.net.stats.duplicated;
    this.stats.faults.cutMessage = this.net.stats.cut;
    return { seed: this.opts.seed, params: this.params, violations: this.checker.violations, stats: this.stats, timeUnits: this.now };
  }

  /** Linearizability of the clients' history (per key, register model); failures become violations. */
  checkClientHistory(minimalWindows = true): void {
    const r = this.history.check(minimalWindows);
    this.stats.historyMaxKeySteps = r.maxPartitionSteps;
    for (const d of r.descriptions) this.checker.violate('history-linearizability', d);
  }
}

export function runSeed(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}
