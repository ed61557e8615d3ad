// The node side of backup and restore: staging tables for a restore in
// progress, the commit that swaps them into the live tables, the replicated
// restore bookkeeping (session, revision offset, restore floor). Everything applied here is decided by
// flag-model's applyRestoreCommand (deterministic); this file only writes.
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
import type Database from 'better-sqlite3';
import {
  referencedSegments,
  type RestoreSession, type RestoreTarget, type StagedRow, type StoredFlag,
} from '@flagraft/flag-model';
import type { SqliteStore } from './storage/sqlite-store.js';

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

/** Rows of the staging tables, for snapshots. */
export interface StagedTables { flags: [string, string][]; segments: [string, string][]; changes: unknown[][] }

export class RestoreState {
  meta: RestoreMeta;
  readonly target: RestoreTarget;
  private readonly q;

  constructor(private readonly store: SqliteStore) {
    const db = store.db;
    this.q = {
      stageFlag: db.prepare('INSERT OR REPLACE INTO restore_flags (key, json) VALUES (?, ?)'),
      stageSegment: db.prepare('INSERT OR REPLACE INTO restore_segments (name, json) VALUES (?, ?)'),
      stageChange: db.prepare('INSERT OR REPLACE INTO restore_changes (revision, seq, kind, key, op, before, after, actor, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      hasFlag: db.prepare('SELECT 1 FROM restore_flags WHERE key = ?').pluck(),
      hasSegment: db.prepare('SELECT 1 FROM restore_segments WHERE name = ?').pluck(),
      countFlags: db.prepare('SELECT COUNT(*) FROM flags').pluck(),
      countSegments: db.prepare('SELECT COUNT(*) FROM segments').pluck(),
      countChanges: db.prepare('SELECT COUNT(*) FROM changes').pluck(),
      stageFlagSeg: db.prepare('INSERT OR IGNORE INTO restore_flag_segments (segment, flag) VALUES (?, ?)'),
    };
    this.meta = {
      offset: Number(store.metaOr('revision_offset', '0')),
      floor: Number(store.metaOr('restore_floor', '0')),
      session: parseOr<RestoreSession>(store.metaOr('restore_session', '')),
      last: parseOr<{ restoreId: string; revision: number }>(store.metaOr('last_restore', '')),
      importShift: Number(store.metaOr('import_shift', '0')),
    };
    const q = this.q;
    this.target = {
      liveCounts: () => ({ flags: q.countFlags.get() as number, segments: q.countSegments.get() as number, changes: q.countChanges.get() as number }),
      isStaged: (kind, key) => (kind === 'flag' ? q.hasFlag.get(key) : q.hasSegment.get(key)) !== undefined,
    };
  }

  private get db(): Database.Database {
    return this.store.db;
  }

  /** Persists the bookkeeping (inside the apply transaction). */
  private save(): void {
    this.store.setMeta('revision_offset', this.meta.offset);
    this.store.setMeta('restore_floor', this.meta.floor);
    this.store.setMeta('restore_session', this.meta.session ? JSON.stringify(this.meta.session) : '');
    this.store.setMeta('last_restore', this.meta.last ? JSON.stringify(this.meta.last) : '');
    this.store.setMeta('import_shift', this.meta.importShift ?? 0);
  }

  clearStaging(): void {
    for (const t of ['restore_flags', 'restore_segments', 'restore_changes', 'restore_flag_segments']) this.db.prepare(`DELETE FROM ${t}`).run();
  }

  begin(session: RestoreSession): void {
    this.clearStaging();
    this.meta.session = session;
    this.save();
  }

  stage(session: RestoreSession, rows: StagedRow[]): void {
    for (const r of rows) {
      if (r.kind === 'flag') this.stageFlag(r.key, r.item);
      else if (r.kind === 'segment') this.q.stageSegment.run(r.key, JSON.stringify(r.item));
      else {
        const c = r.change;
        this.q.stageChange.run(c.revision, r.seq, c.kind, c.key, c.op, c.before ? JSON.stringify(c.before) : null, c.after ? JSON.stringify(c.after) : null, c.actor, c.time);
      }
    }
    this.meta.session = session;
    this.save();
  }

  /** A staged flag and the segments it references (so the commit is SQL only). */
  private stageFlag(key: string, item: StoredFlag): void {
    this.q.stageFlag.run(key, JSON.stringify(item));
    for (const s of referencedSegments(item.flag)) this.q.stageFlagSeg.run(s, key);
  }

  abort(): void {
    this.clearStaging();
    this.meta.session = undefined;
    this.save();
  }

  /**
   * Swaps the staged rows in at Raft index `index`; returns the cluster's
   * revision at that entry. `force` replaces everything that was there
   * (flags, segments, history and the write de-duplication table).
   */
  commit(index: number, session: RestoreSession): number {
    const db = this.db;
    const tables = session.force ? ['flags', 'segments', 'flag_segments', 'changes', 'client_requests'] : ['client_requests'];
    // client_requests: a retried write from before the restore must not be
    // answered with the outcome of a write the restore replaced.
    for (const t of tables) db.prepare(`DELETE FROM ${t}`).run();
    db.prepare('INSERT INTO flags (key, json) SELECT key, json FROM restore_flags').run();
    db.prepare('INSERT INTO segments (name, json) SELECT name, json FROM restore_segments').run();
    db.prepare('INSERT INTO changes (revision, seq, kind, key, op, before, after, actor, time) SELECT revision, seq, kind, key, op, before, after, actor, time FROM restore_changes').run();
    db.prepare('INSERT INTO flag_segments (segment, flag) SELECT segment, flag FROM restore_flag_segments').run();
    this.clearStaging();
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
    return {
      restore: this.meta,
      staged: {
        flags: this.db.prepare('SELECT key, json FROM restore_flags').raw().all() as [string, string][],
        segments: this.db.prepare('SELECT name, json FROM restore_segments').raw().all() as [string, string][],
        changes: this.db.prepare('SELECT revision, seq, kind, key, op, before, after, actor, time FROM restore_changes').raw().all() as unknown[][],
      },
    };
  }

  /** From a snapshot (inside its transaction); snapshots of older nodes have neither part. */
  restoreSnapshotPart(restore: RestoreMeta | undefined, staged: StagedTables | undefined): void {
    this.clearStaging();
    this.meta = { offset: restore?.offset ?? 0, floor: restore?.floor ?? 0, session: restore?.session, last: restore?.last, importShift: restore?.importShift ?? 0 };
    for (const [k, j] of staged?.flags ?? []) this.stageFlag(k, JSON.parse(j) as StoredFlag);
    for (const [k, j] of staged?.segments ?? []) this.q.stageSegment.run(k, j);
    for (const r of staged?.changes ?? []) this.q.stageChange.run(...r);
    this.save();
  }
}

function parseOr<T>(s: string): T | undefined {
  if (!s) return undefined;
  try {
    return JSON.parse(s) as T;
  } catch {
    return undefined;
  }
}
