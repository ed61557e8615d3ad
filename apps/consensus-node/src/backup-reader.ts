// Reads a backup from the node's state file on a separate read-only SQLite
// connection inside one read transaction. In WAL mode that transaction is a
// snapshot: every page read later sees the state as of its first SELECT,
// while the node keeps applying entries on its own connection. So a large
// backup neither blocks the event loop (pages are read between other work)
// nor needs the whole data set in memory, and it is still at one revision.
import Database from 'better-sqlite3';
import { LIMITS } from '@flagraft/flag-model';
import { verifyRow } from './storage/checksum.js';
import { STATE_CHECKED } from './storage/schema.js';

export type BackupKind = 'environments' | 'segments' | 'flags' | 'envFlags' | 'changes' | 'changeRequests' | 'schedules';

export interface BackupHeader {
  /** Raft index and revision the snapshot is at. */
  appliedIndex: number;
  revision: number;
  counts: { segments: number; flags: number; changes: number; environments: number; envFlags: number; changeRequests: number; schedules: number };
  /** Bytes of the items as JSON text (the document is a little larger). */
  itemBytes: number;
  /** Revision of the oldest change in the backup (0 = none). */
  oldestChangeRevision: number;
}

export class BackupTooLargeError extends Error {
  constructor(bytes: number, max: number) {
    super(`the backup holds ${bytes} bytes of items, more than maxBackupBytes ${max}; it is refused rather than streamed half`);
    this.name = 'BackupTooLargeError';
  }
}

/** Rows read per SELECT (count); the caller yields to the event loop between pages. */
const PAGE_ROWS = 500;

const CHANGE_JSON = `'{"revision":' || revision || ',"kind":' || json_quote(kind) || ',"key":' || json_quote(key) || ',"op":' || json_quote(op)
  || ',"before":' || coalesce(before, 'null') || ',"after":' || coalesce(after, 'null') || ',"actor":' || json_quote(actor) || ',"time":' || time
  || CASE WHEN env IS NULL THEN '' ELSE ',"env":' || json_quote(env) END || '}'`;
/**
 * The history a backup holds: flags (of every environment) and segments. The
 * change requests and schedules themselves are in it (their current records),
 * not their step-by-step history.
 */
const BACKUP_CHANGES = "kind IN ('flag', 'segment')";
/** An envFlags item: {env, stored}. */
const ENV_FLAG_JSON = `'{"env":' || json_quote(env) || ',"stored":' || json || '}'`;

export class BackupReader {
  private readonly db: Database.Database;
  private open = true;

  /** `path`: the node's state file (flagraft.db). */
  constructor(private readonly path: string, private readonly maxBytes: number = LIMITS.maxBackupBytes) {
    this.db = new Database(path, { readonly: true, fileMustExist: true });
    this.db.exec('BEGIN');
  }

  /** The snapshot's revision and sizes; throws BackupTooLargeError past maxBackupBytes. */
  header(): BackupHeader {
    const meta = (k: string, d: number) => {
      // Every row is checked against its checksum (storage/checksum.ts): a damaged file fails the backup, never ships in it.
      const r = this.db.prepare('SELECT k, v, crc FROM meta WHERE k = ?').get(k) as { v: string } | undefined;
      return r === undefined ? d : Number(verifyRow(this.path, STATE_CHECKED.meta, r).v);
    };
    const appliedIndex = meta('applied', 0);
    const revision = appliedIndex + meta('revision_offset', 0);
    const count = (t: string) => this.db.prepare(`SELECT COUNT(*) FROM ${t}`).pluck().get() as number;
    const counts = {
      segments: count('segments'), flags: count('flags'), changes: count(`changes WHERE ${BACKUP_CHANGES}`),
      environments: count('environments'), envFlags: count('env_flags'), changeRequests: count('change_requests'), schedules: count('schedules'),
    };
    const itemBytes = Number(this.db.prepare(`SELECT
      (SELECT coalesce(sum(length(CAST(json AS BLOB))), 0) FROM flags) + (SELECT coalesce(sum(length(CAST(json AS BLOB))), 0) FROM segments)
      + (SELECT coalesce(sum(length(CAST(json AS BLOB))), 0) FROM environments) + (SELECT coalesce(sum(length(CAST(${ENV_FLAG_JSON} AS BLOB))), 0) FROM env_flags)
      + (SELECT coalesce(sum(length(CAST(json AS BLOB))), 0) FROM change_requests) + (SELECT coalesce(sum(length(CAST(json AS BLOB))), 0) FROM schedules)
      + (SELECT coalesce(sum(length(CAST(${CHANGE_JSON} AS BLOB))), 0) FROM changes WHERE ${BACKUP_CHANGES})`).pluck().get());
    if (itemBytes > this.maxBytes) throw new BackupTooLargeError(itemBytes, this.maxBytes);
    const oldestChangeRevision = (this.db.prepare(`SELECT min(revision) FROM changes WHERE ${BACKUP_CHANGES}`).pluck().get() as number | null) ?? 0;
    return { appliedIndex, revision, counts, itemBytes, oldestChangeRevision };
  }

  /** The items of one kind as JSON text, in backup order, PAGE_ROWS at a time. */
  *pages(kind: BackupKind): Generator<string[]> {
    if (kind === 'changes') {
      const t = STATE_CHECKED.changes;
      const q = this.db.prepare(`SELECT ${t.columns.join(', ')}, crc, ${CHANGE_JSON} AS j FROM changes WHERE (revision, seq) > (?, ?) AND ${BACKUP_CHANGES} ORDER BY revision, seq LIMIT ${PAGE_ROWS}`);
      let rev = -1;
      let seq = -1;
      for (;;) {
        const rows = q.all(rev, seq) as { revision: number; seq: number; j: string }[];
        if (!rows.length) return;
        ({ revision: rev, seq } = rows[rows.length - 1]);
        yield rows.map((r) => verifyRow(this.path, t, r).j);
      }
    }
    if (kind === 'envFlags') {
      const t = STATE_CHECKED.envFlags;
      const q = this.db.prepare(`SELECT env, key, json, crc, ${ENV_FLAG_JSON} AS j FROM env_flags WHERE (env, key) > (?, ?) ORDER BY env, key LIMIT ${PAGE_ROWS}`);
      let env = '';
      let key = '';
      for (;;) {
        const rows = q.all(env, key) as { env: string; key: string; j: string }[];
        if (!rows.length) return;
        ({ env, key } = rows[rows.length - 1]);
        yield rows.map((r) => verifyRow(this.path, t, r).j);
      }
    }
    const t = kind === 'flags' ? STATE_CHECKED.flags : kind === 'environments' ? STATE_CHECKED.environments : kind === 'changeRequests' ? STATE_CHECKED.changeRequests
      : kind === 'schedules' ? STATE_CHECKED.schedules : STATE_CHECKED.segments;
    const [table, col] = [t.table, t.columns[0]];
    const q = this.db.prepare(`SELECT ${col}, json, crc FROM ${table} WHERE ${col} > ? ORDER BY ${col} LIMIT ${PAGE_ROWS}`);
    let after = '';
    for (;;) {
      const rows = q.all(after) as Record<string, string>[];
      if (!rows.length) return;
      after = rows[rows.length - 1][col];
      yield rows.map((r) => verifyRow(this.path, t, r).json);
    }
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    try { this.db.exec('COMMIT'); } catch { /* nothing to end */ }
    this.db.close();
  }
}
