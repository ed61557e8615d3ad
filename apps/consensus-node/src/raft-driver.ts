// Drives raft-core: ticks from a timer, steps peer messages, and runs the
// Ready loop in the contract's order. One Ready = one SQLite transaction
// (entries + hard state + snapshot + applying the committed entries +
// applied index) = one fsync (group commit); then messages are sent, waiting
// clients are answered, and advance() is called.
import { randomBytes } from 'node:crypto';
import {
  ConfChangeType, EntryType, ErrProposalDropped, MessageType, NotLeaderError, RawNode, SnapshotStatus, StateType,
  createRng, decodeConfChange, encodeConfChange,
  type ConfChange, type ConfState, type Entry, type Message, type NodeId, type Ready, type Rng,
} from '@flagraft/raft-core';
import { encodeCommand, encodeRestoreCommand, type BatchOp, type Command, type RestoreCommand, type SubCommand } from '@flagraft/flag-model';
import type { NodeConfig } from './config.js';
import { ApiError } from './errors.js';
import type { Logger } from './log.js';
import type { SqliteStore } from './storage/sqlite-store.js';
import { StateMachine, TAG_COMMAND, TAG_INTERNAL, TAG_RESTORE, encodeEntry, restoreWaiterKey, type RestoreOutcome, type WriteOutcome } from './state-machine.js';
import type { Transport } from './transport.js';
import { Waiters } from './waiters.js';

/** A command as a client sends it: the node stamps `v` and `time`. */
export type CommandInput = { actor: string; clientId?: string; requestId?: string } & (SubCommand | BatchOp);

/** A restore command as the API hands it over: the node stamps `v` and `time`. */
export type RestoreInput = RestoreCommand extends infer C ? (C extends RestoreCommand ? Omit<C, 'v' | 'time'> : never) : never;

/** ReadIndex requests in flight at once (count). */
const MAX_READ_BATCHES = 2;

const EARLY_TYPES = new Set<MessageType>([MessageType.MsgApp, MessageType.MsgHeartbeat]);

interface Waiter<T> { resolve(v: T): void; reject(e: Error): void; timer: NodeJS.Timeout }

/** Context carried in a ConfChange entry (replicated address book + waiter id). */
interface ConfContext { address?: string; nonce: string }

export interface DriverEvents {
  onApplied(revision: number, changed: boolean): void;
  onLeadership(isLeader: boolean, term: number, lead: NodeId): void;
  onMembersChanged(): void;
  /** Where clients reach node `id` (for NOT_LEADER hints); undefined if not known yet. */
  clientAddressOf(id: NodeId): string | undefined;
  /** Refused calls by reason, for the metrics log line. */
  securityCounters?(): Record<string, number>;
}

export class RaftDriver {
  readonly node: RawNode;
  readonly rng: Rng;
  private transport!: Transport;
  private tickTimer?: NodeJS.Timeout;
  private metricsTimer?: NodeJS.Timeout;
  private scheduled = false;
  private stopped = false;
  private readonly clientId: string;
  private seq = 0;
  private readonly proposals: Waiters<WriteOutcome>;
  private readonly internalWaiters: Waiters<void>;
  private readonly restoreWaiters: Waiters<RestoreOutcome>;
  private readonly confWaiters: Waiters<void>;
  // ReadIndex batching: reads queue while one ReadIndex is in flight.
  private pendingReads: Waiter<void>[] = [];
  // Up to MAX_READ_BATCHES ReadIndex requests in flight: pipelining keeps
  // latency at about one heartbeat round trip while batching keeps the count low.
  private readonly inflightReads = new Map<string, { waiters: Waiter<void>[]; timer: NodeJS.Timeout }>();
  private readyReads: { index: number; waiters: Waiter<void>[] }[] = [];
  private applied: number;
  private lead: NodeId = 0;
  private raftState: StateType = StateType.Follower;
  private term = 0;
  private lastSnapshotIndex: number;
  /** Counters for logs and benchmarks. */
  readonly metrics = { readies: 0, fsyncs: 0, txMs: 0, entriesPersisted: 0, entriesApplied: 0, messagesSent: 0, readBatches: 0, reads: 0 };

  constructor(
    private readonly cfg: NodeConfig,
    private readonly store: SqliteStore,
    readonly state: StateMachine,
    private readonly log: Logger,
    private readonly events: DriverEvents,
  ) {
    this.clientId = `n${cfg.nodeId}-${randomBytes(6).toString('hex')}`;
    const notApplied = (what: string) => () => ApiError.of('UNAVAILABLE', `${what} not applied within ${cfg.proposalTimeoutMs} ms; retry with the same request id`);
    this.proposals = new Waiters(cfg.proposalTimeoutMs, notApplied('write'));
    this.internalWaiters = new Waiters(cfg.proposalTimeoutMs, notApplied('internal command'));
    this.restoreWaiters = new Waiters(cfg.proposalTimeoutMs, notApplied('restore entry'));
    this.confWaiters = new Waiters(cfg.proposalTimeoutMs, notApplied('membership change'));
    this.rng = createRng(randomBytes(4).readUInt32LE(0));
    this.applied = state.appliedIndex();
    this.lastSnapshotIndex = this.applied;
    this.node = new RawNode({
      id: cfg.nodeId,
      storage: store,
      electionTick: Math.max(2, Math.round(cfg.electionTimeoutMs / cfg.tickMs)),
      heartbeatTick: Math.max(1, Math.round(cfg.heartbeatMs / cfg.tickMs)),
      maxSizePerMsg: cfg.maxSizePerMsgBytes,
      maxInflightMsgs: cfg.maxInflightMsgs,
      maxUncommittedEntriesSize: cfg.maxUncommittedEntriesBytes,
      maxCommittedSizePerReady: cfg.maxCommittedSizePerReadyBytes,
      preVote: true,
      checkQuorum: true,
      applied: this.applied,
      rng: this.rng,
      logger: (level, msg, fields) => log.log(level === 'debug' ? 'debug' : level, `raft: ${msg}`, fields),
    });
    this.term = store.initialState().hardState.term;
  }

  setTransport(t: Transport): void {
    this.transport = t;
  }

  start(): void {
    if (this.cfg.metricsLogMs > 0) {
      this.metricsTimer = setInterval(() => {
        this.log.info('metrics', { ...this.metrics, txMs: Math.round(this.metrics.txMs), applied: this.applied, term: this.term, lead: this.lead, refused: this.events.securityCounters?.() });
      }, this.cfg.metricsLogMs);
      this.metricsTimer.unref();
    }
    this.tickTimer = setInterval(() => {
      this.node.tick();
      this.kick();
    }, this.cfg.tickMs);
    this.kick();
  }

  // ---- accessors ----------------------------------------------------------------

  isLeader(): boolean { return this.raftState === StateType.Leader; }
  leaderId(): NodeId { return this.lead; }
  currentTerm(): number { return this.term; }
  appliedIndex(): number { return this.applied; }
  /** The cluster revision at the applied index (index + the replicated restore offset). */
  appliedRevision(): number { return this.state.revisionAt(this.applied); }
  pendingProposals(): number { return this.proposals.size; }

  // ---- inputs -----------------------------------------------------------------------

  step(m: Message): void {
    if (this.stopped) return;
    try {
      this.node.step(m);
    } catch (e) {
      this.log.debug('step rejected a message', { from: m.from, type: m.type, error: (e as Error).message });
    }
    this.kick();
  }

  reportUnreachable(id: NodeId): void {
    if (!this.stopped) this.node.reportUnreachable(id);
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    if (this.stopped) return;
    this.node.reportSnapshot(id, ok ? SnapshotStatus.Finish : SnapshotStatus.Failure);
    this.kick();
  }

  private notLeader(hint: NodeId): ApiError {
    return ApiError.of('NOT_LEADER', hint ? `node ${this.cfg.nodeId} is not the leader; the leader is node ${hint}` : `node ${this.cfg.nodeId} is not the leader and knows no leader`,
      { leaderId: hint, leaderAddress: hint ? this.events.clientAddressOf(hint) : undefined });
  }

  private proposeRaw(data: Uint8Array): void {
    if (this.stopped) throw ApiError.of('UNAVAILABLE', 'node is shutting down');
    try {
      this.node.propose(data);
    } catch (e) {
      if (e instanceof NotLeaderError) throw this.notLeader(e.leaderHint);
      if (e === ErrProposalDropped) throw ApiError.of('UNAVAILABLE', 'proposal dropped (leadership transfer or overload); retry');
      throw e;
    }
    this.kick();
  }

  /** Proposes a flag-model command and resolves with its applied outcome. */
  async propose(cmd: CommandInput): Promise<WriteOutcome> {
    if (!this.isLeader()) throw this.notLeader(this.lead);
    if (this.proposals.size >= this.cfg.maxPendingProposals) throw ApiError.of('RESOURCE_EXHAUSTED', `too many pending writes (maxPendingProposals ${this.cfg.maxPendingProposals})`);
    const full = { ...cmd, v: 1, time: Date.now() } as Command;
    if (!full.clientId || !full.requestId) {
      full.clientId = this.clientId;
      full.requestId = String(++this.seq);
    }
    return this.proposeAwaited(this.proposals, `${full.clientId}\u0000${full.requestId}`, () => encodeEntry(TAG_COMMAND, encodeCommand(full)));
  }

  /** Proposes an entry whose applied outcome answers the callers waiting on `key`. */
  private proposeAwaited<T>(waiters: Waiters<T>, key: string, entry: () => Uint8Array): Promise<T> {
    // The same request already in flight here (a client retry): wait for its outcome, with our own deadline.
    if (waiters.has(key)) return waiters.wait(key);
    const p = waiters.wait(key);
    try {
      this.proposeRaw(entry());
    } catch (e) {
      waiters.drop(key);
      throw e;
    }
    return p;
  }

  async proposeInternal(cmd: { op: 'published'; revision: number }): Promise<void> {
    if (!this.isLeader()) throw this.notLeader(this.lead);
    const nonce = `${this.clientId}-${++this.seq}`;
    return this.proposeAwaited(this.internalWaiters, nonce, () => encodeEntry(TAG_INTERNAL, Buffer.from(JSON.stringify({ ...cmd, nonce }))));
  }

  /** Proposes one restore entry (the node stamps `v` and `time`) and resolves with its applied outcome. */
  async proposeRestore(cmd: RestoreInput): Promise<RestoreOutcome> {
    if (!this.isLeader()) throw this.notLeader(this.lead);
    const full = { ...cmd, v: 1, time: Date.now() } as RestoreCommand;
    const key = restoreWaiterKey(full as RestoreCommand & { seq?: number });
    return this.proposeAwaited(this.restoreWaiters, key, () => encodeEntry(TAG_RESTORE, encodeRestoreCommand(full)));
  }

  async changeMembership(type: ConfChangeType, nodeId: NodeId, address?: string): Promise<void> {
    if (!this.isLeader()) throw this.notLeader(this.lead);
    const nonce = `${this.clientId}-${++this.seq}`;
    const ctx: ConfContext = { nonce, address };
    const cc: ConfChange = { changes: [{ type, nodeId }], context: Buffer.from(JSON.stringify(ctx)) };
    const p = this.confWaiters.wait(nonce);
    try {
      this.node.proposeConfChange(cc);
    } catch (e) {
      this.confWaiters.drop(nonce);
      if (e instanceof NotLeaderError) throw this.notLeader(e.leaderHint);
      throw ApiError.of('FAILED_PRECONDITION', `membership change refused: ${(e as Error).message}`);
    }
    this.kick();
    return p;
  }

  async transferLeader(to: NodeId, timeoutMs: number): Promise<void> {
    if (!this.isLeader()) throw this.notLeader(this.lead);
    if (to === this.cfg.nodeId) return;
    this.node.transferLeader(to);
    this.kick();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.lead === to) return;
      await new Promise((r) => setTimeout(r, this.cfg.tickMs));
    }
    throw ApiError.of('UNAVAILABLE', `leadership did not move to node ${to} within ${timeoutMs} ms`);
  }

  /** Resolves once this node's state is at least as new as any write acknowledged before the call (ReadIndex). */
  linearizableBarrier(): Promise<void> {
    if (this.stopped) return Promise.reject(ApiError.of('UNAVAILABLE', 'node is shutting down'));
    if (this.pendingReads.length >= this.cfg.maxPendingReads) return Promise.reject(ApiError.of('RESOURCE_EXHAUSTED', `too many pending reads (maxPendingReads ${this.cfg.maxPendingReads})`));
    return new Promise((resolve, reject) => {
      this.pendingReads.push({ resolve, reject, timer: undefined as unknown as NodeJS.Timeout });
      this.maybeIssueRead();
    });
  }

  private maybeIssueRead(): void {
    if (this.inflightReads.size >= MAX_READ_BATCHES || this.pendingReads.length === 0 || this.stopped) return;
    const waiters = this.pendingReads;
    this.pendingReads = [];
    const ctx = `${this.clientId}-r${++this.seq}`;
    const fail = (e: Error) => { for (const w of waiters) w.reject(e); };
    if (this.lead === 0) {
      fail(ApiError.of('UNAVAILABLE', 'no leader: cannot serve a linearizable read'));
      return;
    }
    // If the ReadIndex is lost (leader change, dropped message), give up after
    // an election timeout and let the client retry.
    const timer = setTimeout(() => {
      if (!this.inflightReads.delete(ctx)) return;
      fail(ApiError.of('UNAVAILABLE', 'linearizable read timed out waiting for the leader'));
      this.maybeIssueRead();
    }, Math.max(2 * this.cfg.electionTimeoutMs, 500));
    this.inflightReads.set(ctx, { waiters, timer });
    this.metrics.readBatches++;
    this.metrics.reads += waiters.length;
    try {
      this.node.readIndex(Buffer.from(ctx));
    } catch (e) {
      clearTimeout(timer);
      this.inflightReads.delete(ctx);
      fail(ApiError.of('UNAVAILABLE', `read barrier refused: ${(e as Error).message}`));
      return;
    }
    this.kick();
  }

  // ---- the Ready loop ---------------------------------------------------------------

  kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.runReady();
    });
  }

  private runReady(): void {
    for (let i = 0; i < 8 && !this.stopped && this.node.hasReady(); i++) {
      this.handleReady(this.node.ready());
    }
    if (!this.stopped && this.node.hasReady()) this.kick();
  }

  private handleReady(rd: Ready): void {
    const outcomes: { key: string; outcome: WriteOutcome }[] = [];
    const restoreOutcomes: { key: string; outcome: RestoreOutcome }[] = [];
    const internalDone: string[] = [];
    const confDone: string[] = [];
    let changed = false;
    let membersChanged = false;
    const hasSnap = !!rd.snapshot && rd.snapshot.metadata.index > 0;
    const toApply = rd.committedEntries.filter((e) => e.index > this.applied);
    // Raft thesis 10.2.1: a leader may replicate to followers while it writes
    // to its own disk. Only replication messages of a node that was and still
    // is leader go early; everything else (votes, acks) waits for the fsync.
    // Safe here because the Ready is handled synchronously: no follower ack can
    // be counted before this node's own write has finished.
    let late = rd.messages;
    if (this.raftState === StateType.Leader && !rd.softState && rd.messages.length) {
      const early: Message[] = [];
      late = [];
      for (const m of rd.messages) (EARLY_TYPES.has(m.type) ? early : late).push(m);
      if (early.length) this.transport.send(early);
    }
    const t0 = performance.now();
    try {
      if (hasSnap) {
        // A snapshot from the leader: the state file first (fsynced), then the
        // log is cut to it; SqliteStore.reconcile finishes the cut after a crash.
        const s = rd.snapshot!;
        this.store.durableStateTransaction(() => {
          this.state.restore(s.data, s.metadata.index, s.metadata.term);
          this.store.setConfState(s.metadata.confState);
        });
        this.applied = s.metadata.index;
        this.lastSnapshotIndex = s.metadata.index;
        membersChanged = true;
        changed = true;
      }
      if (hasSnap || rd.entries.length > 0 || rd.hardState) {
        // One transaction, one fsync when Raft needs one (entries, vote, term).
        this.store.setSync(rd.mustSync || hasSnap);
        this.store.logTransaction(() => {
          if (hasSnap) this.store.applySnapshotMeta(rd.snapshot!.metadata.index, rd.snapshot!.metadata.term);
          this.store.append(rd.entries);
          if (rd.hardState) this.store.setHardState(rd.hardState);
        });
        if (rd.mustSync || hasSnap) this.metrics.fsyncs++;
      }
    } catch (e) {
      // A failed write to the log cannot be retried safely: stop rather than diverge.
      this.log.error('fatal: persisting a Ready failed', { error: (e as Error).message, stack: (e as Error).stack });
      process.exit(70);
    }
    if (rd.hardState) this.term = rd.hardState.term;
    if (late.length) this.transport.send(late);
    if (toApply.length) {
      try {
        // Applying and moving the applied index: one transaction on the state file.
        this.store.transaction(() => {
          for (const e of toApply) {
            const r = this.applyEntry(e);
            if (r.outcome && r.key) outcomes.push({ key: r.key, outcome: r.outcome });
            if (r.outcome?.ok) changed = true;
            if (r.restore) {
              if (r.restore.key) restoreOutcomes.push({ key: r.restore.key, outcome: r.restore.outcome });
              if (r.restore.changed) changed = true;
            }
            if (r.internal) internalDone.push(r.internal);
            if (r.conf) { confDone.push(r.conf); membersChanged = true; }
          }
          const lastE = toApply[toApply.length - 1];
          this.state.setApplied(lastE.index, lastE.term);
        });
        this.applied = toApply[toApply.length - 1].index;
      } catch (e) {
        this.log.error('fatal: applying committed entries failed', { error: (e as Error).message, stack: (e as Error).stack });
        process.exit(70);
      }
    }
    this.metrics.txMs += performance.now() - t0;
    this.metrics.readies++;
    this.metrics.entriesPersisted += rd.entries.length;
    this.metrics.entriesApplied += toApply.length;
    this.metrics.messagesSent += rd.messages.length;
    if (rd.softState) this.onSoftState(rd.softState.lead, rd.softState.raftState);
    if (membersChanged) this.events.onMembersChanged();
    for (const { key, outcome } of outcomes) this.proposals.settle(key, outcome);
    for (const { key, outcome } of restoreOutcomes) this.restoreWaiters.settle(key, outcome);
    for (const n of internalDone) this.internalWaiters.settle(n, undefined);
    for (const n of confDone) this.confWaiters.settle(n, undefined);
    for (const rs of rd.readStates) {
      const ctx = Buffer.from(rs.requestCtx).toString();
      const r = this.inflightReads.get(ctx);
      if (r) {
        clearTimeout(r.timer);
        this.readyReads.push({ index: rs.index, waiters: r.waiters });
        this.inflightReads.delete(ctx);
      }
    }
    this.releaseReads();
    this.node.advance();
    if (toApply.length || hasSnap) this.events.onApplied(this.state.revisionAt(this.applied), changed);
    this.maybeSnapshot();
    this.maybeIssueRead();
    this.maybeIssueRead();
  }

  private releaseReads(): void {
    if (!this.readyReads.length) return;
    const still: typeof this.readyReads = [];
    for (const r of this.readyReads) {
      if (r.index <= this.applied) for (const w of r.waiters) w.resolve();
      else still.push(r);
    }
    this.readyReads = still;
  }

  private applyEntry(e: Entry): { key?: string; outcome?: WriteOutcome; internal?: string; conf?: string; restore?: { key?: string; outcome: RestoreOutcome; changed: boolean } } {
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      let ctx: ConfContext | undefined;
      try { ctx = cc.context && cc.context.length ? JSON.parse(Buffer.from(cc.context).toString()) as ConfContext : undefined; } catch { ctx = undefined; }
      const adds = cc.changes.filter((c) => c.type !== ConfChangeType.RemoveNode).map((c) => ({ id: c.nodeId, address: ctx?.address }));
      const removes = cc.changes.filter((c) => c.type === ConfChangeType.RemoveNode).map((c) => c.nodeId);
      let cs: ConfState;
      try {
        cs = this.node.applyConfChange(cc);
      } catch (err) {
        // An invalid change (e.g. removing an unknown node) is a no-op on every replica.
        this.log.warn('membership change not applied', { index: e.index, error: (err as Error).message });
        return { conf: ctx?.nonce };
      }
      this.store.setConfState(cs);
      this.state.applyMembers(adds, removes);
      this.log.info('membership changed', { index: e.index, voters: cs.voters, learners: cs.learners });
      return { conf: ctx?.nonce };
    }
    if (e.data.length === 0) return {}; // a new leader's no-op
    const tag = e.data[0];
    const payload = e.data.subarray(1);
    if (tag === TAG_COMMAND) {
      const r = this.state.applyCommandEntry(e.index, payload);
      return { key: r.dedupKey, outcome: r.outcome };
    }
    if (tag === TAG_RESTORE) return { restore: this.state.applyRestoreEntry(e.index, payload) };
    if (tag === TAG_INTERNAL) {
      this.state.applyInternal(e.index, payload);
      try { return { internal: (JSON.parse(Buffer.from(payload).toString()) as { nonce?: string }).nonce }; } catch { return {}; }
    }
    this.log.warn('skipping entry with unknown tag', { index: e.index, tag });
    return {};
  }

  private onSoftState(lead: NodeId, raftState: StateType): void {
    const wasLeader = this.raftState === StateType.Leader;
    const leadChanged = lead !== this.lead;
    this.lead = lead;
    this.raftState = raftState;
    const isLeader = raftState === StateType.Leader;
    if (leadChanged || wasLeader !== isLeader) {
      this.log.info(isLeader ? 'became leader' : 'leader changed', { term: this.term, lead, role: raftState });
    }
    if (wasLeader && !isLeader) {
      // Writes proposed here may or may not commit under the new leader: answer
      // "retry"; the client's retry carries the same request id, so it applies once.
      const err = ApiError.of('UNAVAILABLE', 'leadership lost while the write was in flight; retry with the same request id');
      this.proposals.failAll(err);
      this.internalWaiters.failAll(err);
      this.restoreWaiters.failAll(err);
    }
    if (leadChanged && this.inflightReads.size) {
      // Re-issue against the new leader rather than failing the reads.
      for (const r of this.inflightReads.values()) { clearTimeout(r.timer); this.pendingReads.unshift(...r.waiters); }
      this.inflightReads.clear();
    }
    if (leadChanged || wasLeader !== isLeader) this.events.onLeadership(isLeader, this.term, lead);
  }

  /** Automatic snapshot every N applied entries, then log compaction behind it. */
  private maybeSnapshot(): void {
    if (this.applied - this.lastSnapshotIndex < this.cfg.snapshotEveryEntries) return;
    this.lastSnapshotIndex = this.applied;
    const compactTo = this.applied - this.cfg.snapshotCatchUpEntries;
    if (compactTo > this.store.firstIndex()) {
      const started = Date.now();
      this.store.compact(compactTo);
      this.log.info('log compacted', { applied: this.applied, compactedThrough: compactTo, ms: Date.now() - started, dbBytes: this.store.dbBytes() });
    }
  }

  /** Stops timers and fails everything still waiting. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearInterval(this.metricsTimer);
    const err = ApiError.of('UNAVAILABLE', 'node is shutting down; retry on another node');
    for (const w of [this.proposals, this.internalWaiters, this.confWaiters, this.restoreWaiters]) w.failAll(err);
    for (const w of this.pendingReads) w.reject(err);
    this.pendingReads = [];
    for (const r of this.inflightReads.values()) { clearTimeout(r.timer); for (const w of r.waiters) w.reject(err); }
    this.inflightReads.clear();
    for (const r of this.readyReads) for (const w of r.waiters) w.reject(err);
    this.readyReads = [];
  }

  /** Encodes a ConfChange for tests/tools that need the raw bytes. */
  static encodeConfChange(cc: ConfChange): Uint8Array {
    return encodeConfChange(cc);
  }
}
