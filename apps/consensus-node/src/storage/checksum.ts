// Row checksums (storage format 3). SQLite's own checks (quick_check) look at
// the shape of the B-trees, not at what a cell holds: a byte flipped inside a
// stored flag, a revision or the vote passes them, and the node would serve
// or act on it. So every row of every table carries a CRC32 of its columns
// in a STORED generated column (`crc`, schema.ts): SQLite computes it on
// every insert or replace by calling the application function flagraft_crc,
// so no write path can forget it, and a connection without the function
// (an sqlite3 shell) cannot write a row at all. It is verified when a row is
// read (verifyRow) and, on open, by a scan of every row bounded in time
// (verifyFile). A mismatch is a StoreCorruptError naming the file, the table
// and the row: the node refuses to start (or stops) instead of serving it.
// CRC32 finds every flip of up to 32 adjacent bits; it is not a defence
// against someone who can write the file.
import { crc32 } from 'node:zlib';
import type Database from 'better-sqlite3';
import { StoreCorruptError } from './store-errors.js';

/** The function the generated `crc` columns call. */
export const CRC_FUNCTION = 'flagraft_crc';

/** The checksummed columns of one table, in the order the checksum covers them; the first `keyColumns` name the row. */
export interface CheckedTable { table: string; columns: readonly string[]; keyColumns: number }

/** CRC32 of a row's values: each as text with its length (null apart), so values cannot run into each other. */
export function rowCrc(values: readonly unknown[]): number {
  // One crc32 call over the whole row: each call crosses into native code, which costs more than the concatenation.
  let text = '';
  for (const v of values) {
    if (v === null || v === undefined) {
      text += '\u0000N';
      continue;
    }
    const s = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('hex') : String(v);
    text += `\u0000${s.length}:${s}`;
  }
  return crc32(text);
}

/** The SQL expression of a table's `crc` column (schema.ts). */
export function crcColumn(t: CheckedTable): string {
  return `crc INTEGER NOT NULL GENERATED ALWAYS AS (${CRC_FUNCTION}(${t.columns.join(', ')})) STORED`;
}

/** On every connection that writes a node file (and before its first statement). */
export function registerChecksumFunctions(db: Database.Database): void {
  db.function(CRC_FUNCTION, { deterministic: true, varargs: true }, (...values: unknown[]) => rowCrc(values));
}

function describeRow(t: CheckedTable, row: Record<string, unknown>): string {
  return t.columns.slice(0, t.keyColumns).map((c) => `${c}=${JSON.stringify(row[c])}`.slice(0, 120)).join(', ');
}

export function checksumError(path: string, t: CheckedTable, row: Record<string, unknown>): StoreCorruptError {
  return new StoreCorruptError(`checksum mismatch in ${path}, table ${t.table}, row ${describeRow(t, row)}: the file is damaged; `
    + 'this node must not serve it: rebuild it from its peers (README, "Rebuild a damaged node")');
}

/** Checks a row read with its `crc` column and returns it without that column. */
export function verifyRow<T extends object>(path: string, t: CheckedTable, row: T): T {
  const r = row as Record<string, unknown>;
  if (rowCrc(t.columns.map((c) => r[c])) !== r.crc) throw checksumError(path, t, r);
  delete r.crc;
  return row;
}

/** What the scan on open looked at. */
export interface VerifyResult { rows: number; complete: boolean; ms: number }

/** Rows checked between two looks at the clock. */
const SCAN_CLOCK_EVERY_ROWS = 1024;

/** True (every SCAN_CLOCK_EVERY_ROWS rows) once the deadline (performance.now() ms: monotonic, so a wall jump neither cuts the scan short nor lets it run on) has passed. */
export function pastDeadline(i: number, deadline: number): boolean {
  return i % SCAN_CLOCK_EVERY_ROWS === 0 && performance.now() > deadline;
}

/**
 * Checks every row of `tables`, in the order given (the large ones last),
 * until `deadline`; rows it did not reach are still checked whenever they are
 * read. The first damaged row throws.
 */
export function verifyTables(db: Database.Database, path: string, tables: readonly CheckedTable[], deadline: number): VerifyResult {
  const started = performance.now();
  let rows = 0;
  for (const t of tables) {
    // Raw rows (arrays): the scan reads every row, objects would double its cost.
    const n = t.columns.length;
    const it = db.prepare(`SELECT ${t.columns.join(', ')}, crc FROM ${t.table}`).raw().iterate() as IterableIterator<unknown[]>;
    for (const row of it) {
      if (pastDeadline(rows, deadline)) {
        it.return?.();
        return { rows, complete: false, ms: Math.round(performance.now() - started) };
      }
      if (rowCrc(row.slice(0, n)) !== row[n]) {
        it.return?.();
        throw checksumError(path, t, Object.fromEntries(t.columns.map((c, i) => [c, row[i]])));
      }
      rows++;
    }
  }
  return { rows, complete: true, ms: Math.round(performance.now() - started) };
}

/**
 * Format 2 -> 3: rebuilds each table with its `crc` column (SQLite cannot add
 * a stored generated column to an existing table) and computes the checksum
 * of every row once. Runs in the caller's transaction; the rows are trusted
 * as they are (they passed quick_check; format 2 had nothing else to check).
 * `schema` creates the new tables, then (a second time) their indexes.
 */
export function addRowChecksums(db: Database.Database, schema: string, tables: readonly CheckedTable[]): void {
  const old = (t: CheckedTable) => `${t.table}__format2`;
  const present = tables.filter((t) => db.prepare('SELECT 1 FROM sqlite_schema WHERE type = ? AND name = ?').get('table', t.table));
  for (const t of present) db.exec(`ALTER TABLE ${t.table} RENAME TO ${old(t)}`);
  db.exec(schema);
  for (const t of present) {
    const cols = (db.prepare(`PRAGMA table_info(${old(t)})`).all() as { name: string }[]).map((c) => c.name).join(', ');
    db.exec(`INSERT INTO ${t.table} (${cols}) SELECT ${cols} FROM ${old(t)}; DROP TABLE ${old(t)};`);
  }
  db.exec(schema);
}
