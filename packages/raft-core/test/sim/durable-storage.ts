// A storage double that knows what is on disk: MemoryStorage plus an undo
// journal of the writes made since the last fsync. A process crash (kill -9)
// keeps every write (the OS page cache survives); a power loss rolls the
// journal back, losing what the node wrote but never synced. The core says
// when a sync is needed (Ready.mustSync): entries, snapshots, term and vote
// changes must be synced; a commit-index-only hard state need not be. A core
// that gets mustSync wrong loses votes or acknowledged entries here, which
// the checker then sees (durability, election safety, committed entries).
//
// Snapshots and compaction are the application's own writes; like
// apps/consensus-node (which fsyncs the state file before it cuts the log)
// they sync everything before them.
import { MemoryStorage, type ConfState, type Entry, type HardState, type Snapshot } from '../../src/index.js';

type Undo = { kind: 'hardState'; prev: HardState } | { kind: 'append'; at: number; removed: Entry[] };

/** MemoryStorage's private fields this double journals (ents[0] is the dummy entry at the snapshot point). */
interface Internals {
  ents: Entry[];
  hardState: HardState;
}

export class DurableMemoryStorage extends MemoryStorage {
  private journal: Undo[] = [];
  /** Writes rolled back by power losses (for the simulator's stats). */
  lostWrites = 0;

  private get log(): Entry[] {
    return (this as unknown as Internals).ents;
  }

  override setHardState(hs: HardState): void {
    // MemoryStorage replaces (never mutates) its hard state object, so the old one can be kept as is.
    this.journal.push({ kind: 'hardState', prev: (this as unknown as Internals).hardState });
    super.setHardState(hs);
  }

  override append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const ents = this.log;
    const offset = ents[0].index;
    // Entirely compacted already: MemoryStorage ignores them, nothing to undo.
    if (entries[0].index + entries.length - 1 <= offset) return;
    // Position in the array where the new entries start (after MemoryStorage's clipping to firstIndex).
    const at = Math.max(entries[0].index, offset + 1) - offset;
    const removed = ents.slice(at);
    super.append(entries);
    this.journal.push({ kind: 'append', at, removed });
  }

  override applySnapshot(snap: Snapshot): void {
    super.applySnapshot(snap);
    this.sync();
  }

  override createSnapshot(i: number, cs: ConfState, data: Uint8Array): Snapshot {
    this.sync();
    return super.createSnapshot(i, cs, data);
  }

  override compact(compactIndex: number): void {
    this.sync();
    super.compact(compactIndex);
  }

  /** fsync: everything written so far is durable. */
  sync(): void {
    this.journal.length = 0;
  }

  /** Unsynced writes outstanding (0 after a sync). */
  get unsynced(): number {
    return this.journal.length;
  }

  /** Power loss: undo every write since the last sync, newest first. Returns how many were lost. */
  losePowerWrites(): number {
    const n = this.journal.length;
    for (let i = n - 1; i >= 0; i--) {
      const u = this.journal[i];
      if (u.kind === 'hardState') super.setHardState(u.prev);
      else {
        const ents = this.log;
        ents.length = u.at;
        for (const e of u.removed) ents.push(e);
      }
    }
    this.journal.length = 0;
    this.lostWrites += n;
    return n;
  }
}
