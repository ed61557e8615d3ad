// raft-core's read-only Storage over the node's two stores: the log, the
// hard state and the compaction point from the log store; membership and
// snapshots (for followers that need compacted entries) from the state machine.
import type { ConfState, Entry, HardState, Snapshot, Storage } from '@flagraft/raft-core';
import type { Fsm } from '../fsm.js';
import type { LogStore } from './log-store.js';

/** A generated snapshot is reused for this long (ms) while the log still continues it. */
const SNAPSHOT_REUSE_MS = 2000;

export class RaftStorage implements Storage {
  private cached?: Snapshot;
  private cachedAt = 0;

  constructor(private readonly log: LogStore, private readonly fsm: Fsm<unknown>) {}

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.log.hardState(), confState: this.fsm.confState() };
  }

  firstIndex(): number { return this.log.firstIndex(); }
  lastIndex(): number { return this.log.lastIndex(); }
  term(i: number): number { return this.log.term(i); }
  entries(lo: number, hi: number, maxSize: number): Entry[] { return this.log.entries(lo, hi, maxSize); }

  snapshot(): Snapshot {
    const applied = this.fsm.applied().index;
    const compacted = this.log.compactedThrough();
    const c = this.cached;
    // Reuse a recent snapshot (even if a few entries old) while the log still
    // continues it: a follower that keeps failing to receive one must not make
    // the leader serialise the whole state every few milliseconds.
    if (c && (c.metadata.index === applied || (performance.now() - this.cachedAt < SNAPSHOT_REUSE_MS && c.metadata.index >= compacted.index))) return c;
    if (applied === 0) {
      return { metadata: { index: compacted.index, term: compacted.term, confState: this.fsm.confState() }, data: new Uint8Array() };
    }
    const s = this.fsm.snapshot();
    this.cached = { metadata: { index: s.index, term: this.log.term(s.index), confState: s.confState }, data: s.data };
    // Monotonic: a backward wall jump must not keep an old snapshot for the length of the jump.
    this.cachedAt = performance.now();
    return this.cached;
  }

  /** A snapshot from the leader replaced the log: the one made here no longer continues it. */
  forgetSnapshot(): void {
    this.cached = undefined;
  }
}
