// What the node's two SQLite files share: how one is opened (WAL, the sync
// level its store needs, a bounded WAL, an integrity check of existing files),
// the identity every file carries (format, cluster id, node id) and the errors
// a node refuses to start with.
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { addRowChecksums, registerChecksumFunctions, type CheckedTable } from './checksum.js';
import { JOURNAL_SIZE_LIMIT_BYTES, WAL_AUTOCHECKPOINT_PAGES } from './reclaim.js';
import { FORMAT_VERSION, OLDER_FORMAT_VERSIONS } from './schema.js';
import { StoreCorruptError, StoreOpenError } from './store-errors.js';

export { StoreCorruptError, StoreOpenError } from './store-errors.js';

/** Which node a file belongs to. */
export interface FileIdentity { clusterId: string; nodeId: number }


/**
 * Opens (or creates) one of the node's files; `fresh` = it did not exist or
 * was empty. Every file uses auto_vacuum=INCREMENTAL so pages freed by
 * pruning and compaction can be handed back to the file system in small steps
 * (storage/reclaim.ts); `vacuumedMs` > 0: an older file was converted (one
 * VACUUM, which rewrites it: SQLite can only change auto_vacuum that way).
 */
export function openDb(path: string, what: string, synchronous: 'FULL' | 'NORMAL'): { db: Database.Database; fresh: boolean; vacuumedMs: number } {
  const fresh = !existsSync(path) || statSync(path).size === 0;
  let db: Database.Database;
  try {
    db = new Database(path);
    registerChecksumFunctions(db);
    // Before the first table exists, this needs no VACUUM.
    if (fresh) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  } catch (e) {
    throw new StoreOpenError(`cannot open ${path} as a flagraft ${what} database: ${(e as Error).message}`);
  }
  if (!fresh) {
    let check: unknown;
    try {
      check = db.pragma('quick_check', { simple: true });
    } catch (e) {
      db.close();
      throw new StoreOpenError(`cannot open ${path} as a flagraft ${what} database: ${(e as Error).message}`);
    }
    if (check !== 'ok') { db.close(); throw new StoreCorruptError(`database ${path} failed quick_check: ${String(check)}`); }
  }
  let vacuumedMs = 0;
  if (!fresh) {
    try {
      vacuumedMs = ensureIncrementalVacuum(db);
    } catch (e) {
      db.close();
      throw new StoreOpenError(`cannot convert ${path} to auto_vacuum=INCREMENTAL: ${(e as Error).message}`);
    }
  }
  return { db, fresh, vacuumedMs };
}

/** SQLite's auto_vacuum value for INCREMENTAL. */
const AUTO_VACUUM_INCREMENTAL = 2;

/**
 * A file made before auto_vacuum=INCREMENTAL (format 2 data dirs) is
 * converted once with VACUUM (which also drops its free pages); returns the
 * milliseconds it took, 0 if nothing was to do. A crash during VACUUM leaves
 * the old file (it is one transaction), and the next start tries again.
 */
export function ensureIncrementalVacuum(db: Database.Database): number {
  if (db.pragma('auto_vacuum', { simple: true }) === AUTO_VACUUM_INCREMENTAL) return 0;
  const started = performance.now();
  db.pragma('auto_vacuum = INCREMENTAL');
  db.exec('VACUUM');
  return Math.max(1, Math.round(performance.now() - started));
}

/**
 * Refuses a file of another cluster, node or format; then makes sure every
 * table of `schema` exists. A file of an older format is converted in one
 * transaction: format 2 gets row checksums on `tables`; format 3 gets
 * `rebuiltIn4` rebuilt (their new columns NULL, their checksums recomputed).
 */
export function checkIdentity(db: Database.Database, path: string, schema: string, id: FileIdentity, tables: readonly CheckedTable[], rebuiltIn4: readonly CheckedTable[] = []): void {
  let rows: { k: string; v: string }[];
  try {
    rows = db.prepare('SELECT k, v FROM meta').all() as { k: string; v: string }[];
  } catch {
    throw new StoreOpenError(`${path} is an SQLite file but not a flagraft node database (no meta table)`);
  }
  const meta = new Map(rows.map((r) => [r.k, r.v]));
  if (!meta.has('cluster_id')) throw new StoreOpenError(`${path} is not a flagraft node database (no cluster id)`);
  const format = meta.get('format');
  if (format !== String(FORMAT_VERSION) && !OLDER_FORMAT_VERSIONS.map(String).includes(format ?? '')) {
    throw new StoreOpenError(`${path} has storage format ${format}, this node reads formats ${OLDER_FORMAT_VERSIONS.join(', ')} (converted on open) and ${FORMAT_VERSION}`);
  }
  if (meta.get('cluster_id') !== id.clusterId) throw new StoreOpenError(`${path} belongs to cluster "${meta.get('cluster_id')}", not "${id.clusterId}": refusing to serve foreign data`);
  if (meta.get('node_id') !== String(id.nodeId)) throw new StoreOpenError(`${path} belongs to node ${meta.get('node_id')}, not node ${id.nodeId}`);
  if (format === String(FORMAT_VERSION)) {
    db.exec(schema);
    return;
  }
  db.transaction(() => {
    // addRowChecksums copies the columns the old table has: new ones start NULL.
    addRowChecksums(db, schema, format === '2' ? tables : rebuiltIn4);
    db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)').run('format', String(FORMAT_VERSION));
  })();
}

/** In a new file's first transaction: its tables and identity; returns the meta insert for the store's own keys. */
export function initFile(db: Database.Database, schema: string, id: FileIdentity): Database.Statement {
  db.exec(schema);
  const set = db.prepare('INSERT INTO meta (k, v) VALUES (?, ?)');
  set.run('format', String(FORMAT_VERSION));
  set.run('cluster_id', id.clusterId);
  set.run('node_id', String(id.nodeId));
  return set;
}

/** Bytes of an SQLite file with its -wal and -shm files. */
export function fileBytes(path: string): number {
  let total = 0;
  for (const suffix of ['', '-wal', '-shm']) {
    try { total += statSync(path + suffix).size; } catch { /* absent */ }
  }
  return total;
}

/** Folds the WAL back into the file (best effort) and closes it. */
export function closeDb(db: Database.Database): void {
  if (!db.open) return;
  try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch { /* best effort */ }
  db.close();
}
