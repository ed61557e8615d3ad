// The read-only storage the core consults (etcd's Storage). The application
// writes to it only from Ready (entries, hard state, snapshot) and when it
// compacts; the core never writes. All methods are synchronous: the consensus
// node backs it with better-sqlite3, the simulator with MemoryStorage.
import type { ConfState, Entry, HardState, Snapshot } from './types.js';

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

export interface Storage {
  /** Hard state and membership saved on disk (membership as of the snapshot plus applied conf changes). */
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), stopping once their total size exceeds maxSize bytes
   * but always returning at least one entry when lo < hi.
   * Throws ErrCompacted if lo <= the snapshot index, ErrUnavailable if hi > lastIndex()+1.
   */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /** Term of entry i, for i in [firstIndex()-1, lastIndex()]; throws ErrCompacted / ErrUnavailable outside. */
  term(i: number): number;
  /** Index of the first entry still available (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The most recent snapshot; may throw ErrSnapshotTemporarilyUnavailable while one is being made. */
  snapshot(): Snapshot;
}
