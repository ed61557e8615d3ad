// The deterministic simulator (in the spirit of TigerBeetle's VOPR and
// FoundationDB's simulation): one seed drives a single-threaded scheduler,
// the nodes' clocks, the network and every fault. Each seed draws its own
// fault rates (swarm testing). Phase 1 injects faults while clients write
// and read; phase 2 heals the cluster, which must then elect a leader,
// commit a new write and serve a linearizable read within a bound.
import {
  ConfChangeType,
  EntryType,
  MemoryStorage,
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
import { Checker, electableWithout, type Violation } from './checker.js';
import { ClientHistory } from './client-history.js';
import { KvStore, decodeKv, encodeKv } from './kv.js';
import type { Op } from './linearizability.js';
import { Network } from './network.js';
import { drawParams, type SimParams } from './params.js';

/** A node ticks about every TICK_UNITS time units (per-node skew of +-1). */
export const TICK_UNITS = 10;
export const ELECTION_TICK = 10;
export const HEARTBEAT_TICK = 2;
/** Reads that got no ReadState within this many time units are abandoned (the client times out). */
export const READ_TIMEOUT_UNITS = 3000;
/** Fault phase length: 300 ticks, i.e. 30 election timeouts. Unit: time units. */
export const DEFAULT_FAULT_UNITS = 3000;
/** After healing, a leader, a commit and a read must happen within this. Unit: time units (= 500 ticks). */
export const DEFAULT_LIVENESS_UNITS = 5000;
/** In the liveness phase a client retries a read that got no answer within this. Unit: time units (= 50 ticks). */
export const LIVENESS_READ_RETRY_UNITS = 500;
/** At most this many members (voters + learners) at once. */
export const MAX_MEMBERS = 6;
/** Never go below this many voters through removals (so a removal never needs the removed node). */
export const MIN_VOTERS = 3;

export type { SimParams } from './params.js';

export interface SimOptions {
  seed: number;
  /** Length of the fault phase. Unit: time units (a tick is ~10). */
  faultUnits?: number;
  /** Bound on the liveness phase. Unit: time units. */
  livenessUnits?: number;
  /** Build the RawNode (tests inject buggy variants here; never a switch in the core). */
  makeRawNode?: (cfg: Config) => RawNode;
  /** Stop at the first violation (default true). */
  stopOnViolation?: boolean;
  /** Check the clients' history for linearizability at the end of run() (default true; the CLI times it separately). */
  checkHistory?: boolean;
  /** A client-facing bug in the simulated application (test-only; see bugs.ts). */
  clientBug?: ClientBug;
}

/** ack-put-on-propose: the application answers a put as soon as the leader accepted the proposal, before it commits. */
export type ClientBug = 'ack-put-on-propose';

export interface SimStats {
  faults: Record<string, number>;
  elections: number;
  snapshotsCreated: number;
  snapshotsInstalled: number;
  membershipChanges: number;
  writesCommitted: number;
  readsChecked: number;
  transfers: number;
  messagesDelivered: number;
  /** Membership changes proposed (accepted by the leader), by kind. */
  confChangesProposed: Record<string, number>;
  /** Client ops in the linearizability history (puts and gets, failed puts excluded), and how many stayed pending. */
  historyOps: number;
  historyPending: number;
  /** Search steps of the hardest key (how close the checker came to its bound, DEFAULT_MAX_STEPS). */
  historyMaxKeySteps: number;
}

export interface SimResult {
  seed: number;
  params: SimParams;
  violations: Violation[];
  stats: SimStats;
  timeUnits: number;
}

interface PendingRead {
  ctx: string;
  key: string;
  minIndex: number;
  invokedAt: number;
  readIndex?: number;
  /** The client's get in the history. */
  op: Op;
}

class SimNode {
  raw: RawNode | undefined;
  kv = new KvStore();
  applied = 0;
  confState!: ConfState;
  incarnation = 0;
  restartAt = -1;
  decommissioned = false;
  decommissionAt = -1;
  reads = new Map<string, PendingRead>();
  /** Puts this incarnation proposed, by log index: answered when it applies that index. */
  puts = new Map<number, Op>();

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
    readonly tickEvery: number,
    readonly tickPhase: number,
  ) {}

  get up(): boolean {
    return this.raw !== undefined;
  }
}

const KEYS = ['a', 'b', 'c', 'd'];

export class Simulation {
  readonly rng: Rng;
  readonly params: SimParams;
  readonly net: Network;
  readonly checker = new Checker();
  readonly history = new ClientHistory();
  readonly nodes = new Map<NodeId, SimNode>();
  now = 0;
  private nextId = 1;
  private writeSeq = 0;
  private readSeq = 0;
  private everMember = new Set<NodeId>();
  private confByIndex = new Map<number, string>();
  private maxConfIndex = 0;
  private leadersSeen = new Set<string>();
  stats: SimStats = {
    faults: { crash: 0, midReadyCrash: 0, restart: 0, partition: 0, oneWayPartition: 0, heal: 0 },
    elections: 0,
    snapshotsCreated: 0,
    snapshotsInstalled: 0,
    membershipChanges: 0,
    writesCommitted: 0,
    readsChecked: 0,
    transfers: 0,
    messagesDelivered: 0,
    confChangesProposed: { addLearner: 0, promote: 0, removeVoter: 0, removeLeaderItself: 0, jointReplace: 0 },
    historyOps: 0,
    historyPending: 0,
    historyMaxKeySteps: 0,
  };
  private readonly makeRawNode: (cfg: Config) => RawNode;
  private faultsOn = true;

  constructor(readonly opts: SimOptions) {
    this.rng = createRng(opts.seed);
    this.params = drawParams(this.rng);
    this.net = new Network(createRng(opts.seed ^ 0x5bd1e995), { dropRate: this.params.dropRate, dupRate: this.params.dupRate, maxDelay: this.params.maxDelay });
    this.makeRawNode = opts.makeRawNode ?? ((c) => new RawNode(c));
    this.checker.onNewCommitted = (i, t, by) => this.checkNoElectableNodeLacks(i, t, by);
    const voters: NodeId[] = [];
    for (let i = 0; i < this.params.initialVoters; i++) voters.push(this.nextId++);
    for (const id of voters) {
      this.everMember.add(id);
      this.startNode(this.createNode(id, new MemoryStorage({ voters })));
    }
  }

  private createNode(id: NodeId, storage: MemoryStorage): SimNode {
    const n = new SimNode(id, storage, TICK_UNITS - 1 + this.rng.int(3), this.rng.int(TICK_UNITS));
    this.nodes.set(id, n);
    return n;
  }

  private startNode(n: SimNode): void {
    // What survives a crash is the storage: snapshot (with the app state), log, hard state.
    const snap = n.storage.snapshot();
    n.kv = KvStore.restore(snap.data);
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
    n.puts.clear();
    this.stats.faults[midReady ? 'midReadyCrash' : 'crash']++;
    if (!n.decommissioned) n.restartAt = this.now + 50 + this.rng.int(1000);
  }

  private upCache: SimNode[] | undefined;
  private upNodes(): SimNode[] {
    if (!this.upCache) this.upCache = [...this.nodes.values()].filter((n) => n.up);
    return this.upCache;
  }

  private liveIds(): NodeId[] {
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
    const storages = new Map<NodeId, MemoryStorage>();
    for (const n of this.nodes.values()) storages.set(n.id, n.storage);
    const who = electableWithout(i, t, [cfg.incoming.sorted(), cfg.outgoing.sorted()], storages);
    if (who) this.checker.violate('unsafe-commit', `entry (${i}, term ${t}) is committed (seen at node ${by}), but ${who}`);
  }

  // ------------------------------------------------------------ ready loop

  private processReady(n: SimNode): void {
    const raw = n.raw!;
    const rd: Ready = raw.ready();
    let crashAt: 'before-persist' | 'after-persist' | undefined;
    if (this.faultsOn && this.rng.next() < this.params.crashRate * this.params.midReadyCrashFraction * 20) {
      crashAt = this.rng.next() < 0.5 ? 'before-persist' : 'after-persist';
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
    if (crashAt === 'after-persist') return this.crash(n, true);
    // 2. send
    for (const m of rd.messages) this.sendMessage(n, m);
    // 3. apply
    if (rd.snapshot) {
      const s = rd.snapshot;
      n.kv = KvStore.restore(s.data);
      n.applied = s.metadata.index;
      n.confState = s.metadata.confState;
      n.storage.setConfState(n.confState);
      this.stats.snapshotsInstalled++;
      // Proposals covered by the snapshot: their outcome is not visible here; they stay pending.
      for (const i of n.puts.keys()) if (i <= n.applied) n.puts.delete(i);
    }
    let confApplied = false;
    for (const e of rd.committedEntries) {
      this.checker.onApply(n.id, e);
      this.answerPut(n, e);
      if (e.type === EntryType.ConfChange) {
        n.confState = raw.applyConfChange(decodeConfChange(e.data));
        this.onConfApplied(e.index, n.confState);
        confApplied = true;
      } else if (e.data.byteLength > 0) {
        n.kv.apply(e.data);
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

  /** The proposer applies the index of one of its puts: success if its command is there, a certain failure if another entry is. */
  private answerPut(n: SimNode, e: { index: number; type: EntryType; data: Uint8Array }): void {
    const op = n.puts.get(e.index);
    if (!op) return;
    n.puts.delete(e.index);
    const c = e.type === EntryType.Normal && e.data.byteLength > 0 ? decodeKv(e.data) : undefined;
    if (c && c.k === op.key && c.v === op.value) this.history.complete(op, this.now);
    else this.history.fail(op);
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
      this.history.complete(r.op, this.now, n.kv.get(r.key));
      this.checker.onRead(n.id, r.key, n.kv.get(r.key), r.readIndex, n.applied, r.minIndex);
      this.stats.readsChecked++;
    }
  }

  private maybeSnapshot(n: SimNode, confApplied: boolean): void {
    const snapIdx = n.storage.snapshot().metadata.index;
    if (n.applied <= snapIdx) return;
    // Snapshot when a conf change is applied (so joiners always find a snapshot that includes them), and at random.
    if (!confApplied && !(this.rng.next() < this.params.snapshotRate)) return;
    n.storage.createSnapshot(n.applied, n.confState, n.kv.snapshot());
    this.stats.snapshotsCreated++;
    const keep = this.rng.int(20);
    const compactTo = n.applied - keep;
    if (compactTo > n.storage.firstIndex() - 1) n.storage.compact(compactTo);
  }

  private onConfApplied(index: number, cs: ConfState): void {
    const key = JSON.stringify(cs);
    const prev = this.confByIndex.get(index);
    if (prev !== undefined) {
      if (prev !== key) this.checker.violate('config-divergence', `conf change at ${index} gave ${key} here, ${prev} elsewhere`);
      return;
    }
    this.confByIndex.set(index, key);
    if (index <= this.maxConfIndex) return;
    this.maxConfIndex = index;
    this.stats.membershipChanges++;
    const members = new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext]);
    for (const id of members) this.everMember.add(id);
    for (const n of this.nodes.values()) {
      // Removed for good: the operator shuts it down a little later.
      if (this.everMember.has(n.id) && !members.has(n.id) && !n.decommissioned && n.decommissionAt < 0) {
        n.decommissionAt = this.now + 50;
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
      this.tryWrite(n, KEYS[this.rng.int(KEYS.length)], `w${++this.writeSeq}`);
    }
    if (this.rng.next() < p.readRate) {
      const n = ups[this.rng.int(ups.length)];
      this.tryRead(n, KEYS[this.rng.int(KEYS.length)]);
    }
    if (this.now % 100 === 0) {
      for (const n of ups) {
        for (const [ctx, r] of n.reads) if (this.now - r.invokedAt > READ_TIMEOUT_UNITS) n.reads.delete(ctx);
      }
    }
  }

  private tryWrite(n: SimNode, k: string, v: string): number | undefined {
    // Clients learn "not leader" from the node's answer; skip building the error object here (hot path).
    if (n.raw!.raft.state !== StateType.Leader) return undefined;
    let index: number;
    try {
      index = n.raw!.propose(encodeKv({ k, v }));
    } catch (e) {
      if (e instanceof NotLeaderError || (e as Error).name === 'ErrProposalDropped') return undefined;
      throw e;
    }
    const op = this.history.invoke('put', k, v, this.now, n.id);
    n.puts.set(index, op);
    if (this.opts.clientBug === 'ack-put-on-propose') this.history.complete(op, this.now);
    return index;
  }

  private tryRead(n: SimNode, key: string): string | undefined {
    if (n.raw!.raft.lead === 0) return undefined;
    const ctx = `${n.id}:${++this.readSeq}`;
    try {
      n.raw!.readIndex(new TextEncoder().encode(ctx));
    } catch (e) {
      if (e instanceof NotLeaderError) return undefined;
      throw e;
    }
    const op = this.history.invoke('get', key, undefined, this.now, n.id);
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
    if (rng.next() < p.confChangeRate) this.membershipOp();
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
        n.puts.clear();
      }
      if (!n.up && !n.decommissioned && n.restartAt >= 0 && n.restartAt <= this.now) {
        this.startNode(n);
        this.stats.faults.restart++;
      }
    }
  }

  /** An operator changes membership through the leader: add learner, promote, remove voter, or a joint replace. */
  private membershipOp(): void {
    const l = this.leader();
    if (!l) return;
    const cfg = l.raw!.raft.trk.config;
    if (cfg.voters.isJoint()) return;
    const voters = cfg.voters.incoming.sorted();
    const learners = [...cfg.learners].sort((a, b) => a - b);
    const rng = this.rng;
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
    if (newId) this.startNode(this.createNode(newId, new MemoryStorage()));
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
    this.deliver();
    if (this.faultsOn) this.clientOps();
    for (const n of this.nodes.values()) {
      if (n.up && n.raw!.hasReady()) this.processReady(n);
    }
    this.observe();
  }

  /** Heal everything and require progress within the bound. */
  private liveness(bound: number): boolean {
    this.faultsOn = false;
    this.net.healAll();
    this.net.faults = { dropRate: 0, dupRate: 0, maxDelay: Math.min(this.params.maxDelay, 5) };
    for (const n of this.nodes.values()) if (!n.up && !n.decommissioned) n.restartAt = this.now;
    const marker = `live${this.opts.seed}`;
    let proposed: { index: number; node: SimNode } | undefined;
    let readCtx: { ctx: string; node: SimNode; at: number } | undefined;
    const until = this.now + bound;
    while (this.now < until) {
      this.step();
      if (this.checker.violations.length > 0) return true;
      const c = proposed && this.checker.committed.get(proposed.index);
      if (c && c.data === JSON.stringify({ k: 'live', v: marker })) {
        // Committed; now a linearizable read through the leader must complete too.
        const l = this.leader();
        if (!readCtx && l) {
          const ctx = this.tryRead(l, 'live');
          if (ctx) readCtx = { ctx, node: l, at: this.now };
        }
        if (readCtx && !readCtx.node.reads.has(readCtx.ctx)) {
          if (!readCtx.node.up) readCtx = undefined;
          else if (this.laggingMember(proposed!.index) === undefined) return true;
        } else if (readCtx && this.now - readCtx.at > LIVENESS_READ_RETRY_UNITS) {
          // The read was lost with a leader change: the client times out and retries.
          readCtx.node.reads.delete(readCtx.ctx);
          readCtx = undefined;
        }
        continue;
      }
      if (c || !proposed || !proposed.node.up || this.now % 100 === 0) {
        const l = this.leader();
        if (l && (!proposed || c || this.now % 100 === 0)) {
          const idx = this.tryWrite(l, 'live', marker);
          if (idx !== undefined) proposed = { index: idx, node: l };
        }
      }
    }
    const l = this.leader();
    const lag = proposed ? this.laggingMember(proposed.index) : undefined;
    this.checker.violate(
      'liveness',
      `after healing, no commit + read + every member caught up within ${bound} time units (leader: ${l ? `${l.id} term ${l.raw!.raft.term}` : 'none'}, marker proposed: ${proposed ? proposed.index : 'no'}${lag ? `, lagging: ${lag}` : ''})`,
    );
    return false;
  }

  /** A member of the leader's configuration that has not applied `index` yet (described), or undefined if all have. */
  private laggingMember(index: number): string | undefined {
    const l = this.leader();
    if (!l) return 'no leader';
    const cs = l.raw!.raft.trk.confState();
    for (const id of new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext])) {
      const n = this.nodes.get(id);
      if (!n || n.decommissioned) continue;
      if (!n.up || n.applied < index) return `node ${id} applied ${n.applied}${n.up ? '' : ' (down)'}`;
    }
    return undefined;
  }

  run(): SimResult {
    const faultUnits = this.opts.faultUnits ?? DEFAULT_FAULT_UNITS;
    const stop = this.opts.stopOnViolation ?? true;
    while (this.now < faultUnits) {
      this.step();
      if (stop && this.checker.violations.length > 0) break;
    }
    if (!(stop && this.checker.violations.length > 0)) this.liveness(this.opts.livenessUnits ?? DEFAULT_LIVENESS_UNITS);
    // Whatever stopped the run, what clients saw so far must be linearizable (ops still in flight stay pending).
    if (this.opts.checkHistory ?? true) this.checkClientHistory();
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
  checkClientHistory(): void {
    const r = this.history.check();
    this.stats.historyMaxKeySteps = r.maxKeySteps;
    for (const d of r.descriptions) this.checker.violate('history-linearizability', d);
  }
}

export function runSeed(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}
