// The read-only storage the core consults (etcd's Storage). The application
// writes to it only from Ready (entries, hard state, snapshot) and when it
// compacts; the core never writes. All methods are synchronous: the consensus
// node backs it with better-sqlite3, the simulator with MemoryStorage.
import type { ConfState, Entry, HardState, Snapshot } from './types.js';
import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable, RaftError } from './errors.js';
import { limitSize } from './util.js';

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


export interface MemoryStorageOptions {
  /** Initial voters of a new cluster (bootstrap). */
  voters?: number[];
  /** Initial learners of a new cluster. */
  learners?: number[];
}

function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

function cloneConfState(cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave,
  };
}

/**
 * Storage held in memory (etcd's MemoryStorage): the simulator's "disk", the
 * demo's and the tests'. ents[0] is a dummy entry standing for the snapshot
 * point (its index and term), so term(firstIndex-1) always works.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot;
  private ents: Entry[];
  private confState: ConfState;

  constructor(opts: MemoryStorageOptions = {}) {
    const cs = emptyConfState();
    cs.voters = [...(opts.voters ?? [])];
    cs.learners = [...(opts.learners ?? [])];
    this.snap = { metadata: { index: 0, term: 0, confState: cs }, data: new Uint8Array(0) };
    this.confState = cloneConfState(cs);
    this.ents = [{ index: 0, term: 0, type: 0, data: new Uint8Array(0) }];
  }

  initialState(): InitialState {
    return { hardState: { ...this.hardState }, confState: cloneConfState(this.confState) };
  }

  /** Persist the hard state (from Ready.hardState). */
  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  /** Record the membership after the application applied a conf change (initialState() returns it on restart). */
  setConfState(cs: ConfState): void {
    this.confState = cloneConfState(cs);
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= offset) throw ErrCompacted;
    if (hi > this.lastIndex() + 1) throw ErrUnavailable;
    if (this.ents.length === 1) throw ErrUnavailable;
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.ents[0].index;
    if (i < offset) throw ErrCompacted;
    if (i - offset >= this.ents.length) throw ErrUnavailable;
    return this.ents[i - offset].term;
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replace everything with a snapshot received from the leader (Ready.snapshot). */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) throw ErrSnapOutOfDate;
    this.snap = snap;
    this.ents = [{ index: snap.metadata.index, term: snap.metadata.term, type: 0, data: new Uint8Array(0) }];
    this.confState = cloneConfState(snap.metadata.confState);
  }

  /**
   * Record that the application's state at applied index i is `data`, with
   * membership cs. Entries are kept until compact() (so slow followers can
   * still be caught up from the log).
   */
  createSnapshot(i: number, cs: ConfState, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw ErrSnapOutOfDate;
    if (i > this.lastIndex()) throw new RaftError('ErrUnavailable', `snapshot index ${i} is beyond lastIndex ${this.lastIndex()}`);
    const offset = this.ents[0].index;
    this.snap = { metadata: { index: i, term: this.ents[i - offset].term, confState: cloneConfState(cs) }, data };
    return this.snap;
  }

  /** Discard entries up to and including compactIndex (must be <= the snapshot index the app holds). */
  compact(compactIndex: number): void {
    const offset = this.ents[0].index;
    if (compactIndex <= offset) throw ErrCompacted;
    if (compactIndex > this.lastIndex()) throw new RaftError('ErrUnavailable', `compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    const i = compactIndex - offset;
    const head: Entry = { index: this.ents[i].index, term: this.ents[i].term, type: 0, data: new Uint8Array(0) };
    this.ents = [head, ...this.ents.slice(i + 1)];
  }

  /** Persist entries from Ready.entries; a suffix that conflicts is replaced. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return; // all compacted already
    if (first > entries[0].index) entries = entries.slice(first - entries[0].index);
    const offset = entries[0].index - this.ents[0].index;
    if (this.ents.length > offset) {
      this.ents = this.ents.slice(0, offset);
      for (const e of entries) this.ents.push(e);
    } else if (this.ents.length === offset) {
      for (const e of entries) this.ents.push(e);
    } else {
      throw new RaftError('ErrUnavailable', `missing log entry [last: ${this.lastIndex()}, append at: ${entries[0].index}]`);
    }
  }
}
