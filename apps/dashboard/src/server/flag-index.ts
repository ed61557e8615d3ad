// The dashboard's copy of every flag, kept current from the gateway's change
// stream instead of re-walking 10,000 flags after every change. Pure: no I/O
// (flag-feed.ts feeds it), so its rules are unit-tested on their own.
//
// Rules:
// - `load(flags, revision)` installs a full walk of the list read at (at
//   least) `revision`; everything applied before is dropped.
// - `apply(event, complete)` applies one change event. Per key, an event
//   older than or equal to what the index holds for that key (its
//   modRevision, or the revision of its deletion) is ignored, so duplicates,
//   replays after a resume and events already contained in the walk are
//   harmless, and an old put can never resurrect a deleted flag.
// - `revision` is the position up to which every change is known to be
//   applied. An event at revision R proves everything before R arrived (the
//   stream is ordered); R itself is complete only when the stream says so
//   (`complete`: the gateway's bare "R" event id ends revision R; an atomic
//   batch sends several events at one revision with ids "R:i").
// - `invalidate(reason)` (a stream reset, a gap, a lost connection that
//   cannot resume) makes the index unusable until the next `load`.
import type { ChangeEvent as FeedEvent, StoredFlag } from '@flagraft/flag-model';

/** Most deletion marks kept (keys); beyond it the oldest are forgotten (only a replay older than them could be misapplied, and the feed reloads on any gap). */
export const MAX_TOMBSTONES = 100_000;

export type { FeedEvent };

export class FlagIndex {
  /** Every change up to and including this revision is applied. */
  revision = 0;
  /** False until loaded, and after invalidate(). */
  valid = false;
  /** Why the index is not valid (for logs and Server-Timing). */
  invalidReason = 'not loaded';
  private readonly flags = new Map<string, StoredFlag>();
  private readonly tombstones = new Map<string, number>();
  /** Bumped on every change of the set; the sorted view is rebuilt lazily. */
  private version = 0;
  private sortedCache: { version: number; list: StoredFlag[] } | undefined;

  get size(): number {
    return this.flags.size;
  }

  load(flags: StoredFlag[], revision: number): void {
    this.flags.clear();
    this.tombstones.clear();
    for (const f of flags) {
      const cur = this.flags.get(f.flag.key);
      if (!cur || cur.modRevision < f.modRevision) this.flags.set(f.flag.key, f);
    }
    this.revision = revision;
    this.valid = true;
    this.invalidReason = '';
    this.version++;
  }

  /** Applies one event; returns whether the flag set changed. */
  apply(e: FeedEvent, complete: boolean): boolean {
    if (!this.valid) return false;
    let changed = false;
    if (e.kind === 'flag') {
      const held = this.flags.get(e.key)?.modRevision ?? this.tombstones.get(e.key) ?? 0;
      if (e.revision > held) {
        if (e.op === 'put') {
          this.flags.set(e.key, e.flag);
          this.tombstones.delete(e.key);
        } else {
          this.flags.delete(e.key);
          this.tombstones.set(e.key, e.revision);
          if (this.tombstones.size > MAX_TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value as string);
        }
        changed = true;
        this.version++;
      }
    }
    this.advance(complete ? e.revision : e.revision - 1);
    return changed;
  }

  /** The stream proved it has delivered everything up to `revision`. */
  advance(revision: number): void {
    if (this.valid && revision > this.revision) this.revision = revision;
  }

  invalidate(reason: string): void {
    this.valid = false;
    this.invalidReason = reason;
  }

  get(key: string): StoredFlag | undefined {
    return this.flags.get(key);
  }

  /** Every flag in key order (code point order, as the gateway pages them); rebuilt only after a change. */
  sorted(): StoredFlag[] {
    if (!this.sortedCache || this.sortedCache.version !== this.version) {
      const list = [...this.flags.values()].sort((a, b) => (a.flag.key < b.flag.key ? -1 : a.flag.key > b.flag.key ? 1 : 0));
      this.sortedCache = { version: this.version, list };
    }
    return this.sortedCache.list;
  }
}
