// Where a write becomes durable: the order in which a node persists, sends,
// applies and acknowledges each Raft Ready, and the order of snapshots,
// compaction and crash recovery. Every rule below is enforced in this file;
// raft-driver.ts only schedules Readies and storage/ only executes SQL.
//
// The two files (storage/schema.ts):
//   raft-log.db  the Raft log and hard state (LogStore). Its commit fsyncs
//                (synchronous=FULL) when raft-core says so (Ready.mustSync: new
//                entries, a vote, a new term): one fsync per Ready, however
//                many entries it carries (group commit).
//   flagraft.db  the state machine and its applied index (StateStore, through
//                the Fsm). Its commits do not fsync (NORMAL): after an OS crash
//                it may be a few entries behind the log, and those entries are
//                applied again from the log. Keeping the files apart means the
//                per-Ready fsync covers the appended log pages only, not the
//                random B-tree pages an apply dirties.
//
// A write is durable on a node once the Ready carrying its entry has been
// persisted (step 2 below); committed once a quorum has persisted it; and its
// client is answered once it has been applied on the leader (step 4).
//
// Per Ready, in this order (handle):
//  1. A node that was leader before this Ready and still is sends its
//     replication messages (MsgApp, heartbeats) at once, so followers write to
//     their disks while it writes to its own (Raft thesis §10.2.1). They only
//     reach the sockets when the event loop turns (grpc-js writes from
//     microtasks, http2 flushes from an immediate), and better-sqlite3's
//     fsync blocks the loop: so when the Ready has entries to persist, steps
//     2-6 run on the next turn (setImmediate), after the sockets took the
//     messages. The Ready stays outstanding meanwhile: raft-core hands out no
//     other, and what is stepped in the meantime appears in the next one.
//  2. Persist: a snapshot from the leader first goes into the state file
//     (durably), then one log transaction holds the log cut to that snapshot,
//     the new entries (a conflicting suffix replaced, Raft §5.3) and the hard
//     state, fsynced when the Ready must be (or carries a snapshot).
//  3. Send every other message. Votes and append acknowledgements leave only
//     now: a vote must never be granted, nor an entry acknowledged, before it
//     is on disk (Raft §5.2, §5.3; a restart would forget it). When they
//     include an append acknowledgement and there is something to apply,
//     steps 4-6 run on the next loop turn, so the acknowledgement reaches the
//     socket without waiting for the apply (the leader commits sooner).
//  4. Apply the committed entries not applied yet, in log order, in one state
//     transaction that also moves the applied index: a crash never applies an
//     entry twice or skips one. Then waiting clients are answered (hook).
//  5. advance(): raft-core may hand out the next Ready (only one is
//     outstanding at a time).
//  6. Every `snapshotEveryEntries` applied entries, or once the log holds more
//     than `snapshotEveryBytes` + `snapshotCatchUpBytes` of entries, compact the
//     log: the state file is fsynced through the applied index first, then the
//     log behind it (minus a catch-up margin for slow followers: at most
//     `snapshotCatchUpEntries` entries and `snapshotCatchUpBytes` bytes) is
//     dropped in an fsynced log transaction. The snapshot is the state itself; a follower
//     that needs compacted entries gets it from storage/raft-storage.ts.
//
// Why step 1 is safe: raft-core counts the leader's own copy towards the
// commit index only from advance() on (step 5, after the fsync of step 2),
// not at append. Followers' acknowledgements stepped while the leader's own
// write is pending (they may arrive in the turn between step 1 and step 2)
// count only their own durable copies: no entry counts as committed on fewer
// durable copies than a quorum. (A one-node cluster commits in the Ready
// after the one that persisted the entry.)
//
// Crash recovery (recoverAfterCrash, on open): the state file is written
// after the log, except when a snapshot from the leader is installed (state
// first, then the log is cut). A crash in between leaves the state ahead of
// the log: the cut is finished, and the commit index moved up to the applied
// index. A state file behind the compaction point cannot be repaired here
// (the entries to replay are gone): the node refuses to start.
//
// For later (issue 15, a faster write path), what may change and what may
// not: the leader's own log write may also run beside the next Ready (an
// asynchronous log writer, etcd's MsgStorageAppend) now that its
// self-acknowledgement is counted after its fsync; rules 3, 4 (order and
// atomicity of apply) and 6 (state durable before the log behind it goes)
// hold whatever runs in parallel. persist() and apply() are separate steps
// for that reason: an asynchronous log writer would complete persist() later
// and release the messages of step 3 then.
import { EntryType, MessageType, decodeConfChange, type ConfChange, type ConfState, type Entry, type Message, type Ready, type Snapshot } from '@flagraft/raft-core';
import type { Fsm } from './fsm.js';
import type { Logger } from './log.js';
import type { LogStore } from './storage/log-store.js';
import type { RaftStorage } from './storage/raft-storage.js';
import type { StateStore } from './storage/state-store.js';
import { StoreCorruptError } from './storage/sqlite.js';
import type { WriteTrace } from './write-trace.js';

/** Exit code when the log or the state cannot be written: stopping is safe, going on would diverge. */
export const EXIT_STORAGE_FAILED = 70;

/** Messages of a continuing leader that may leave before its own fsync (step 1). */
const EARLY_TYPES = new Set<MessageType>([MessageType.MsgApp, MessageType.MsgHeartbeat]);

/** Counters for the metrics log line and benchmarks. */
export interface ReadyMetrics { readies: number; fsyncs: number; txMs: number; entriesPersisted: number; entriesApplied: number; messagesSent: number }

export interface DurabilityOptions<R> {
  log: LogStore;
  storage: RaftStorage;
  fsm: Fsm<R>;
  /** raft-core's applyConfChange (the node's membership) and advance(). */
  node: { applyConfChange(cc: ConfChange): ConfState; advance(): void };
  send(messages: Message[]): void;
  logger: Logger;
  /** Compact the log every N applied entries. */
  snapshotEveryEntries: number;
  /** Entries kept in the log behind the compaction point for slow followers. */
  snapshotCatchUpEntries: number;
  /** Also compact once the log holds more than this + snapshotCatchUpBytes of entries (bytes): the log is bounded by size too. */
  snapshotEveryBytes: number;
  /** The catch-up margin holds at most this many bytes of entries. */
  snapshotCatchUpBytes: number;
  metrics: ReadyMetrics;
  /** Bytes of the data dir, for the compaction log line. */
  dataBytes(): number;
  /** The node is shutting down: a Ready deferred by step 1 is dropped, not persisted (nothing of it was acknowledged, as after a crash before the fsync). */
  stopped(): boolean;
  /** INJECTED BUG (FLAGRAFT_INJECT_BUG=apply-uncommitted, apps/torture): a follower applies entries once persisted, before they commit. */
  applyUncommitted?: boolean;
  /** Stage timings of writes (FLAGRAFT_TRACE_WRITES=1); undefined when off. */
  trace?: WriteTrace;
}

/** What one Ready applied, for the hooks. */
export interface AppliedReady<R> {
  /** One result per applied entry (leader no-ops have none). */
  results: R[];
  /** A snapshot from the leader replaced the state. */
  snapshot: boolean;
  /** Anything applied (entries or a snapshot). */
  any: boolean;
}

export interface ReadyHooks<R> {
  /** Step 4, after apply and before advance(): answer whoever waits (clients, reads, leadership). */
  answer(applied: AppliedReady<R>): void;
  /** After advance(). */
  afterAdvance(applied: AppliedReady<R>): void;
}

export class Durability<R> {
  private applied: number;
  private lastCompactionAt: number;

  constructor(private readonly o: DurabilityOptions<R>) {
    this.applied = o.fsm.applied().index;
    this.lastCompactionAt = this.applied;
  }

  appliedIndex(): number {
    return this.applied;
  }

  /** One Ready, steps 1-6. `leaderThroughout`: this node was leader before the Ready and the Ready does not change that. */
  handle(rd: Ready, leaderThroughout: boolean, hooks: ReadyHooks<R>): void {
    const snap = rd.snapshot && rd.snapshot.metadata.index > 0 ? rd.snapshot : undefined;
    let toApply = rd.committedEntries.filter((e) => e.index > this.applied);
    if (this.o.applyUncommitted && !leaderThroughout) toApply = withUncommitted(toApply, rd.entries, this.applied);
    let late = rd.messages;
    if (leaderThroughout && rd.messages.length) {
      const early: Message[] = [];
      late = [];
      for (const m of rd.messages) (EARLY_TYPES.has(m.type) ? early : late).push(m);
      if (early.length) {
        this.o.send(early);
        if (this.o.trace && rd.entries.length) this.o.trace.leaderStage('sent', rd.entries[0].index, rd.entries[rd.entries.length - 1].index);
        if (rd.entries.length > 0) {
          // Let the sockets take them before the fsync blocks the loop (step 1).
          setImmediate(() => {
            if (!this.o.stopped()) this.finish(rd, snap, toApply, late, hooks);
          });
          return;
        }
      }
    }
    this.finish(rd, snap, toApply, late, hooks);
  }

  /** Steps 2-6. */
  private finish(rd: Ready, snap: Snapshot | undefined, toApply: Entry[], late: Message[], hooks: ReadyHooks<R>): void {
    const t0 = performance.now();
    const { trace } = this.o;
    const [from, to] = rd.entries.length ? [rd.entries[0].index, rd.entries[rd.entries.length - 1].index] : [1, 0];
    trace?.leaderStage('persistStart', from, to);
    try {
      this.persist(rd, snap);
    } catch (e) {
      this.fatal('fatal: persisting a Ready failed', e as Error);
    }
    if (trace) { trace.leaderStage('persisted', from, to); trace.followerStage('persisted', from, to); }
    if (late.length) this.o.send(late);
    trace?.followerStage('acked', from, to);
    this.o.metrics.txMs += performance.now() - t0;
    if (toApply.length && late.some((m) => m.type === MessageType.MsgAppResp)) {
      // A follower's acknowledgement reaches the socket only when the loop
      // turns: apply on the next turn, so the leader hears of the durable copy
      // without waiting for this node's apply (step 3 before step 4 still).
      setImmediate(() => {
        if (!this.o.stopped()) this.applyAndAdvance(rd, snap, toApply, hooks);
      });
      return;
    }
    this.applyAndAdvance(rd, snap, toApply, hooks);
  }

  /** Steps 4-6. */
  private applyAndAdvance(rd: Ready, snap: Snapshot | undefined, toApply: Entry[], hooks: ReadyHooks<R>): void {
    const { metrics } = this.o;
    const t0 = performance.now();
    let results: R[] = [];
    if (toApply.length) {
      try {
        results = this.apply(toApply);
      } catch (e) {
        this.fatal('fatal: applying committed entries failed', e as Error);
      }
      this.o.trace?.leaderStage('applied', toApply[0].index, toApply[toApply.length - 1].index);
    }
    metrics.txMs += performance.now() - t0;
    metrics.readies++;
    metrics.entriesPersisted += rd.entries.length;
    metrics.entriesApplied += toApply.length;
    metrics.messagesSent += rd.messages.length;
    const applied: AppliedReady<R> = { results, snapshot: !!snap, any: !!snap || toApply.length > 0 };
    hooks.answer(applied);
    this.o.node.advance();
    hooks.afterAdvance(applied);
    this.maybeCompact();
  }

  /** Step 2. */
  private persist(rd: Ready, snap: Snapshot | undefined): void {
    const { log, fsm } = this.o;
    if (snap) {
      // The state file first (on disk when restore returns), then the log is cut to it below;
      // recoverAfterCrash finishes the cut if the node dies in between.
      fsm.restore(snap);
      this.o.storage.forgetSnapshot();
      this.applied = snap.metadata.index;
      this.lastCompactionAt = snap.metadata.index;
    }
    if (!snap && rd.entries.length === 0 && !rd.hardState) return;
    const fsync = rd.mustSync || !!snap;
    log.write(fsync, () => {
      if (snap) log.resetTo(snap.metadata.index, snap.metadata.term);
      log.append(rd.entries);
      if (rd.hardState) log.setHardState(rd.hardState);
    });
    if (fsync) this.o.metrics.fsyncs++;
  }

  /** Step 4: one state transaction for the whole batch, ending with the applied index. */
  private apply(entries: Entry[]): R[] {
    const { fsm } = this.o;
    const last = entries[entries.length - 1];
    const results: R[] = [];
    fsm.atomically({ index: last.index, term: last.term }, () => {
      for (const e of entries) {
        if (e.type === EntryType.ConfChange) results.push(this.applyConfChange(e));
        else if (e.data.length > 0) results.push(fsm.apply(e)); // empty: a new leader's no-op
      }
    });
    this.applied = last.index;
    return results;
  }

  private applyConfChange(e: Entry): R {
    const cc = decodeConfChange(e.data);
    let cs: ConfState | undefined;
    try {
      cs = this.o.node.applyConfChange(cc);
    } catch (err) {
      // An invalid change (e.g. removing an unknown node) is a no-op on every replica.
      this.o.logger.warn('membership change not applied', { index: e.index, error: (err as Error).message });
      return this.o.fsm.applyConfChange(e, cc, undefined);
    }
    const r = this.o.fsm.applyConfChange(e, cc, cs);
    this.o.logger.info('membership changed', { index: e.index, voters: cs.voters, learners: cs.learners });
    return r;
  }

  /** Step 6: state on disk through `applied`, then the log behind it goes. */
  private maybeCompact(): void {
    const { log, fsm } = this.o;
    const byCount = this.applied - this.lastCompactionAt >= this.o.snapshotEveryEntries;
    // By size only once something new applied: entries not applied yet cannot go, and the walk below should not repeat every Ready.
    const bySize = this.applied > this.lastCompactionAt && log.entriesBytes() > this.o.snapshotEveryBytes + this.o.snapshotCatchUpBytes;
    if (!byCount && !bySize) return;
    this.lastCompactionAt = this.applied;
    const byEntries = this.applied - this.o.snapshotCatchUpEntries;
    const compactTo = log.compactionPointKeeping(this.applied, this.o.snapshotCatchUpBytes, Math.max(byEntries, log.firstIndex() - 1));
    if (compactTo <= log.firstIndex()) return;
    const started = Date.now();
    fsm.sync();
    log.write(true, () => log.compactThrough(compactTo));
    this.o.logger.info('log compacted', { applied: this.applied, compactedThrough: compactTo, ms: Date.now() - started, dbBytes: this.o.dataBytes() });
  }

  /** A failed write to the log or the state cannot be retried safely: stop rather than diverge. */
  private fatal(msg: string, e: Error): never {
    this.o.logger.error(msg, { error: e.message, stack: e.stack });
    process.exit(EXIT_STORAGE_FAILED);
  }
}

/**
 * INJECTED BUG (apply-uncommitted): the committed entries followed by the
 * newly persisted ones not yet committed, up to the first membership change
 * (raft-core must not see those early). An entry a later leader replaces is
 * never applied again: the state keeps the phantom write.
 */
function withUncommitted(committed: Entry[], persisted: Entry[], applied: number): Entry[] {
  const out = [...committed];
  let next = (out.length ? out[out.length - 1].index : applied) + 1;
  for (const e of persisted) {
    if (e.index < next) continue;
    if (e.index !== next || e.type === EntryType.ConfChange) break;
    out.push(e);
    next++;
  }
  return out;
}

/**
 * On open, before the node starts: finishes a snapshot install a crash
 * interrupted (state ahead of the log), and refuses a state file older than
 * the compacted log.
 */
export function recoverAfterCrash(log: LogStore, state: StateStore): void {
  const { index: applied, term: appliedTerm } = state.applied();
  if (applied === 0) return;
  const compacted = log.compactedThrough();
  if (applied < compacted.index) {
    throw new StoreCorruptError(`state is at index ${applied} but the log was compacted through ${compacted.index}: state file is older than the log; wipe the data dir and rejoin`);
  }
  const termAt = applied === compacted.index ? compacted.term : applied <= log.lastIndex() ? log.term(applied) : undefined;
  if (termAt !== appliedTerm) log.write(true, () => log.resetTo(applied, appliedTerm));
  const hard = log.hardState();
  if (hard.commit < applied) log.write(true, () => log.setHardState({ ...hard, commit: applied }));
}
