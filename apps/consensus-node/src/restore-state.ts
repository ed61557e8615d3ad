// The node side of backup and restore: what a restore in progress stages,
// the commit that swaps the staged rows into the live tables, and the
// replicated restore bookkeeping (session, revision offset, restore floor).
// Everything applied here is decided by flag-model's applyRestoreCommand
// (deterministic); the rows are written by storage/state-store.ts.
//
// Revisions after a restore: a revision is the Raft index of the entry that
// made a change PLUS a replicated offset. A restore into a new cluster sets
// the offset so that the commit entry's revision is the backup's revision (or
// stays where the cluster already was, if that is higher): the restored rows
// keep their original revisions and every later change sorts after them.
//
// The restore floor is the revision of the last restore commit. Changes at or
// below it (the imported history) were never published as live changes, so
// the Watch window and the outbox start above it: a watcher or outbox behind
// it is told COMPACTED / linked past it, and resyncs from a snapshot.
import {
  referencedSegments,
  type RestoreSession, type RestoreTarget, type StagedRow, type StoredFlag,
} from '@flagraft/flag-model';
import type { StagedTables, StateStore } from './storage/state-store.js';

export interface RestoreMeta {
  /** revision = Raft index + offset. */
  offset: number;
  /** Revision of the last restore commit (0 = never restored). */
  floor: number;
  session?: RestoreSession;
  last?: { restoreId: string; revision: number };
  /**
   * Restore revision minus the backup's revision (> 0 when the cluster was
   * already past the backup). Imported history is aged for pruning as if it
   * had been written that much later, so it keeps the retention it had in the
   * source instead of being pruned at once.
   */
  importShift?: number;
}

export class RestoreState {
  meta: RestoreMeta;
  readonly target: RestoreTarget;

  constructor(private readonly store: StateStore) {
    this.meta = {
      offset: Number(store.metaOr('revision_offset', '0')),
      floor: Number(store.metaOr('restore_floor', '0')),
      session: parseOr<RestoreSession>(store.metaOr('restore_session', '')),
      last: parseOr<{ restoreId: string; revision: number }>(store.metaOr('last_restore', '')),
      importShift: Number(store.metaOr('import_shift', '0')),
    };
    this.target = {
      liveCounts: () => store.liveCounts(),
      isStaged: (kind, key) => store.isStaged(kind, key),
    };
  }

  /** Persists the bookkeeping (inside the apply transaction). */
  private save(): void {
    this.store.setMeta('revision_offset', this.meta.offset);
    this.store.setMeta('restore_floor', this.meta.floor);
    this.store.setMeta('restore_session', this.meta.session ? JSON.stringify(this.meta.session) : '');
    this.store.setMeta('last_restore', this.meta.last ? JSON.stringify(this.meta.last) : '');
    this.store.setMeta('import_shift', this.meta.importShift ?? 0);
  }

  begin(session: RestoreSession): void {
    this.store.clearStaging();
    this.meta.session = session;
    this.save();
  }

  stage(session: RestoreSession, rows: StagedRow[]): void {
    for (const r of rows) {
      if (r.kind === 'flag') this.store.stageFlag(r.key, JSON.stringify(r.item), referencedSegments(r.item.flag));
      else if (r.kind === 'segment') this.store.stageSegment(r.key, JSON.stringify(r.item));
      else if (r.kind === 'environment') this.store.stageEnvironment(r.key, JSON.stringify(r.item));
      else if (r.kind === 'envFlag') this.store.stageEnvFlag(r.env, r.key, JSON.stringify(r.item));
      else if (r.kind === 'changeRequest' || r.kind === 'schedule') this.store.stageRecord(r.kind, r.key, JSON.stringify(r.item));
      else {
        const c = r.change;
        this.store.stageChange({
          revision: c.revision, seq: r.seq, kind: c.kind, key: c.key, op: c.op,
          before: c.before ? JSON.stringify(c.before) : null, after: c.after ? JSON.stringify(c.after) : null, actor: c.actor, time: c.time, env: c.env ?? null,
        });
      }
    }
    this.meta.session = session;
    this.save();
  }

  abort(): void {
    this.store.clearStaging();
    this.meta.session = undefined;
    this.save();
  }

  /**
   * Swaps the staged rows in at Raft index `index`; returns the cluster's
   * revision at that entry. `force` replaces everything that was there
   * (flags, segments, history and the write de-duplication table).
   */
  commit(index: number, session: RestoreSession): number {
    this.store.commitStaging(session.force, flagSegments);
    // Never backwards: the commit's revision is the backup's, or the next one
    // in this cluster's sequence when that is already higher.
    this.meta.offset = Math.max(this.meta.offset, session.source.revision - index);
    const revision = index + this.meta.offset;
    this.meta.floor = revision;
    this.meta.session = undefined;
    this.meta.last = { restoreId: session.restoreId, revision };
    this.meta.importShift = revision - session.source.revision;
    this.save();
    return revision;
  }

  // ---- snapshots ---------------------------------------------------------------

  snapshotPart(): { restore: RestoreMeta; staged: StagedTables } {
    return { restore: this.meta, staged: this.store.stagedRows() };
  }

  /** From a snapshot (inside its transaction); snapshots of older nodes have neither part. */
  restoreSnapshotPart(restore: RestoreMeta | undefined, staged: StagedTables | undefined): void {
    this.store.replaceStagedRows(staged, flagSegments);
    this.meta = { offset: restore?.offset ?? 0, floor: restore?.floor ?? 0, session: restore?.session, last: restore?.last, importShift: restore?.importShift ?? 0 };
    this.save();
  }
}

/** The segments a stored flag's JSON references. */
export function flagSegments(json: string): Iterable<string> {
  return referencedSegments((JSON.parse(json) as StoredFlag).flag);
}

function parseOr<T>(s: string): T | undefined {
  if (!s) return undefined;
  try {
    return JSON.parse(s) as T;
  } catch {
    return undefined;
  }
}
