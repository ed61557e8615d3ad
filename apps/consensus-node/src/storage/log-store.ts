// The Raft log file (raft-log.db): entries with their CRC32, the hard state
// and the compaction point. Its commits fsync (synchronous=FULL) whenever the
// caller asks for it; src/durability.ts decides when (the log is what makes a
// write durable). Reads are served from an in-memory tail of recent entries
// when possible: the leader re-reads the newest entries for every follower.
import { crc32 } from 'node:zlib';
import type Database from 'better-sqlite3';
import { ErrCompacted, ErrUnavailable, type Entry, type HardState } from '@flagraft/raft-core';
import { reclaimPages } from './reclaim.js';
import { pastDeadline, verifyRow, type VerifyResult } from './checksum.js';
import { LOG_CHECKED, LOG_SCHEMA } from './schema.js';
import { StoreCorruptError, closeDb, fileBytes, initFile, type FileIdentity } from './sqlite.js';

/** CRC32 of an entry's term, index, type and data: stored beside it and checked on every read. */
export function entryCrc(term: number, index: number, type: number, data: Uint8Array): number {
  const head = Buffer.allocUnsafe(20);
  head.writeDoubleLE(term, 0);
  head.writeDoubleLE(index, 8);
  head.writeUInt32LE(type, 16);
  return crc32(data, crc32(head));
}

/** Entries kept in memory for fast reads by default (count). */
export const DEFAULT_TAIL_CACHE_ENTRIES = 4096;

/** Bytes an entry is counted for beyond its data (the same estimate raft-core's size limits use). */
export const ENTRY_OVERHEAD_BYTES = 24;

/** Rows read by one SELECT of a range (count); raft-core's maxSize usually stops far earlier. */
const MAX_RANGE_ROWS = 100_000;

export class LogStore {
  readonly path: string;
  private readonly db: Database.Database;
  private compactIndex = 0;
  private compactTerm = 0;
  private last = 0;
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private tail: Entry[] = [];
  /** Bytes of the entries in the log (data + ENTRY_OVERHEAD_BYTES each): compaction by size (durability.ts). */
  private entryBytes = 0;
  private fsyncing = true;
  /** FLAGRAFT_INJECT_BUG=ack-before-fsync only: commits held back this long (ms) in one open transaction. */
  private deferCommitMs = 0;
  private deferredTimer?: NodeJS.Timeout;
  private readonly stmts;

  /** Writes a new log file's tables, identity, empty hard state and compaction point (src/storage/open.ts). */
  static initialize(db: Database.Database, id: FileIdentity): void {
    db.transaction(() => {
      const set = initFile(db, LOG_SCHEMA, id);
      set.run('compact_index', '0');
      set.run('compact_term', '0');
      db.prepare('INSERT INTO hard_state (id, term, vote, commit_idx) VALUES (1, 0, 0, 0)').run();
    })();
  }

  /** `db`: raft-log.db, opened and checked by src/storage/open.ts. */
  constructor(db: Database.Database, path: string, private readonly tailMax = DEFAULT_TAIL_CACHE_ENTRIES) {
    this.db = db;
    this.path = path;
    this.stmts = {
      insertEntry: db.prepare('INSERT OR REPLACE INTO log (idx, term, type, data, crc) VALUES (?, ?, ?, ?, ?)'),
      deleteFrom: db.prepare('DELETE FROM log WHERE idx >= ?'),
      bytesFrom: db.prepare(`SELECT coalesce(SUM(length(data) + ${ENTRY_OVERHEAD_BYTES}), 0) FROM log WHERE idx >= ?`).pluck(),
      bytesThrough: db.prepare(`SELECT coalesce(SUM(length(data) + ${ENTRY_OVERHEAD_BYTES}), 0) FROM log WHERE idx <= ?`).pluck(),
      newestSizes: db.prepare('SELECT idx, length(data) AS n FROM log WHERE idx <= ? AND idx > ? ORDER BY idx DESC'),
      deleteThrough: db.prepare('DELETE FROM log WHERE idx <= ?'),
      deleteAll: db.prepare('DELETE FROM log'),
      range: db.prepare('SELECT idx, term, type, data, crc FROM log WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?'),
      termOf: db.prepare('SELECT term FROM log WHERE idx = ?'),
      setHard: db.prepare('INSERT OR REPLACE INTO hard_state (id, term, vote, commit_idx) VALUES (1, ?, ?, ?)'),
      setMeta: db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)'),
      getMeta: db.prepare('SELECT k, v, crc FROM meta WHERE k = ?'),
      syncFull: db.prepare('PRAGMA synchronous = FULL'),
      syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
    };
    this.load();
  }

  private meta(k: string): string {
    const r = this.stmts.getMeta.get(k) as { v: string } | undefined;
    if (!r) throw new StoreCorruptError(`${this.path}: log meta key ${k} missing`);
    return verifyRow(this.path, LOG_CHECKED.meta, r).v;
  }

  /** Reads the compaction point, hard state and bounds; checks the log is contiguous and its newest entries' checksums. */
  private load(): void {
    this.compactIndex = Number(this.meta('compact_index'));
    this.compactTerm = Number(this.meta('compact_term'));
    const h = this.db.prepare('SELECT id, term, vote, commit_idx, crc FROM hard_state WHERE id = 1').get() as { term: number; vote: number; commit_idx: number } | undefined;
    if (!h) throw new StoreCorruptError(`${this.path}: the hard state row is missing`);
    verifyRow(this.path, LOG_CHECKED.hardState, h);
    this.hard = { term: h.term, vote: h.vote, commit: h.commit_idx };
    const max = this.db.prepare('SELECT MAX(idx) AS m FROM log').get() as { m: number | null };
    this.last = max.m ?? this.compactIndex;
    const first = this.db.prepare('SELECT MIN(idx) AS m FROM log').get() as { m: number | null };
    if (first.m !== null && first.m !== this.compactIndex + 1) {
      throw new StoreCorruptError(`${this.path}: log starts at ${first.m} but the compaction point is ${this.compactIndex}: entries are missing`);
    }
    this.entryBytes = this.stmts.bytesFrom.get(0) as number;
    const count = this.db.prepare('SELECT COUNT(*) AS c FROM log').get() as { c: number };
    if (count.c !== this.last - this.compactIndex) throw new StoreCorruptError(`${this.path}: log has ${count.c} entries between ${this.compactIndex + 1} and ${this.last}: entries are missing`);
    // Verify the checksums of the newest entries now (all entries are verified when read).
    const lo = Math.max(this.compactIndex + 1, this.last - this.tailMax + 1);
    if (this.last >= lo) this.tail = this.readRange(lo, this.last + 1, Number.MAX_SAFE_INTEGER);
  }

  // ---- reads (raft-core's Storage, log part) ------------------------------------

  hardState(): HardState {
    return { ...this.hard };
  }

  /** Index and term of the last entry dropped by compaction or replaced by a snapshot. */
  compactedThrough(): { index: number; term: number } {
    return { index: this.compactIndex, term: this.compactTerm };
  }

  firstIndex(): number {
    return this.compactIndex + 1;
  }

  lastIndex(): number {
    return this.last;
  }

  term(i: number): number {
    if (i === this.compactIndex) return this.compactTerm;
    if (i < this.compactIndex) throw ErrCompacted;
    if (i > this.last) throw ErrUnavailable;
    const t = this.tail;
    if (t.length && i >= t[0].index) return t[i - t[0].index].term;
    const r = this.stmts.termOf.get(i) as { term: number } | undefined;
    if (!r) throw new StoreCorruptError(`${this.path}: log entry ${i} missing`);
    return r.term;
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    if (lo <= this.compactIndex) throw ErrCompacted;
    if (hi > this.last + 1) throw ErrUnavailable;
    if (lo >= hi) return [];
    const t = this.tail;
    if (t.length && lo >= t[0].index) {
      const out: Entry[] = [];
      let size = 0;
      for (let i = lo; i < hi; i++) {
        const e = t[i - t[0].index];
        size += e.data.length + 24;
        if (out.length > 0 && size > maxSize) break;
        out.push(e);
      }
      return out;
    }
    return this.readRange(lo, hi, maxSize);
  }

  private readRange(lo: number, hi: number, maxSize: number): Entry[] {
    const out: Entry[] = [];
    let size = 0;
    const rows = this.stmts.range.all(lo, hi, Math.min(hi - lo, MAX_RANGE_ROWS)) as { idx: number; term: number; type: number; data: Buffer; crc: number }[];
    let expect = lo;
    for (const r of rows) {
      if (r.idx !== expect) throw new StoreCorruptError(`${this.path}: log entry ${expect} missing`);
      if (entryCrc(r.term, r.idx, r.type, r.data) !== r.crc) throw this.entryCorrupt(r.idx);
      size += r.data.length + 24;
      if (out.length > 0 && size > maxSize) break;
      out.push({ term: r.term, index: r.idx, type: r.type, data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.length) });
      expect++;
    }
    if (out.length === 0 && hi > lo) throw new StoreCorruptError(`${this.path}: log entry ${lo} missing`);
    return out;
  }

  private entryCorrupt(index: number): StoreCorruptError {
    return new StoreCorruptError(`checksum mismatch in ${this.path}, table log, row idx=${index}: the file is damaged; `
      + 'this node must not serve it: rebuild it from its peers (README, "Rebuild a damaged node")');
  }

  /** On open (open.ts): checks every entry's checksum until `deadline` (performance.now() ms). */
  verifyEntries(deadline: number): VerifyResult {
    const started = performance.now();
    let rows = 0;
    const it = this.db.prepare('SELECT idx, term, type, data, crc FROM log').iterate() as IterableIterator<{ idx: number; term: number; type: number; data: Buffer; crc: number }>;
    for (const r of it) {
      if (pastDeadline(rows, deadline)) {
        it.return?.();
        return { rows, complete: false, ms: Math.round(performance.now() - started) };
      }
      if (entryCrc(r.term, r.idx, r.type, r.data) !== r.crc) {
        it.return?.();
        throw this.entryCorrupt(r.idx);
      }
      rows++;
    }
    return { rows, complete: true, ms: Math.round(performance.now() - started) };
  }

  // ---- writes ------------------------------------------------------------------------

  /**
   * Runs `fn` (the writes below) in one transaction; with `fsync` its commit
   * returns only once it is on disk. One transaction = at most one fsync,
   * however many entries it holds (group commit).
   */
  write(fsync: boolean, fn: () => void): void {
    if (this.deferCommitMs) return this.writeDeferred(fn);
    if (fsync !== this.fsyncing) {
      (fsync ? this.stmts.syncFull : this.stmts.syncNormal).run();
      this.fsyncing = fsync;
    }
    this.db.transaction(fn)();
  }

  /**
   * INJECTED BUG (FLAGRAFT_INJECT_BUG=ack-before-fsync, apps/torture): writes
   * join one open transaction that commits only every `ms`, so the node
   * acknowledges entries and votes that a kill -9 then forgets. Reads on this
   * connection see the uncommitted rows, so raft-core notices nothing.
   */
  deferCommits(ms: number): void {
    this.deferCommitMs = ms;
  }

  private writeDeferred(fn: () => void): void {
    if (!this.db.inTransaction) this.db.exec('BEGIN');
    fn();
    this.deferredTimer ??= setTimeout(() => {
      this.deferredTimer = undefined;
      if (this.db.open && this.db.inTransaction) this.db.exec('COMMIT');
    }, this.deferCommitMs);
  }

  /** Appends entries, truncating any conflicting suffix first (Raft §5.3). */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    if (first <= this.compactIndex) throw new Error(`append at ${first} below compaction point ${this.compactIndex}`);
    if (first > this.last + 1) throw new Error(`append at ${first} leaves a gap after ${this.last}`);
    if (first <= this.last) {
      this.entryBytes -= this.stmts.bytesFrom.get(first) as number;
      this.stmts.deleteFrom.run(first);
    }
    for (const e of entries) {
      const data = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
      this.stmts.insertEntry.run(e.index, e.term, e.type, data, entryCrc(e.term, e.index, e.type, e.data));
      this.entryBytes += e.data.byteLength + ENTRY_OVERHEAD_BYTES;
    }
    this.last = entries[entries.length - 1].index;
    // Keep the in-memory tail contiguous and ending at `last`.
    const t = this.tail;
    if (t.length && first > t[0].index && first <= t[t.length - 1].index + 1) t.length = first - t[0].index;
    else if (!t.length || first <= t[0].index || first > t[t.length - 1].index + 1) t.length = 0;
    for (const e of entries) t.push(e);
    if (t.length > this.tailMax * 2) this.tail = t.slice(t.length - this.tailMax);
  }

  setHardState(h: HardState): void {
    this.stmts.setHard.run(h.term, h.vote, h.commit);
    this.hard = { ...h };
  }

  /** A snapshot at (index, term) replaces the whole log (etcd's ApplySnapshot). */
  resetTo(index: number, term: number): void {
    this.stmts.deleteAll.run();
    this.entryBytes = 0;
    this.setCompactionPoint(index, term);
    this.last = index;
    this.tail = [];
  }

  /** Drops entries up to and including `index`; the caller has made the state durable past it first. */
  compactThrough(index: number): void {
    if (index <= this.compactIndex) return;
    if (index > this.last) throw new Error(`compact ${index} beyond last index ${this.last}`);
    const term = this.term(index);
    this.entryBytes -= this.stmts.bytesThrough.get(index) as number;
    this.stmts.deleteThrough.run(index);
    this.setCompactionPoint(index, term);
    if (this.tail.length && this.tail[0].index <= index) this.tail = this.tail.slice(Math.min(this.tail.length, index + 1 - this.tail[0].index));
  }

  private setCompactionPoint(index: number, term: number): void {
    this.stmts.setMeta.run('compact_index', String(index));
    this.stmts.setMeta.run('compact_term', String(term));
    this.compactIndex = index;
    this.compactTerm = term;
  }

  bytes(): number {
    return fileBytes(this.path);
  }

  /** Bytes of the entries the log holds (data + ENTRY_OVERHEAD_BYTES each). */
  entriesBytes(): number {
    return this.entryBytes;
  }

  /**
   * Where to compact so that the entries kept up to `through` (the newest
   * first, `through` included) hold at most `keepBytes`: the highest index
   * that must go. Looks no further back than `notBelow` (returned when
   * everything after it fits).
   */
  compactionPointKeeping(through: number, keepBytes: number, notBelow: number): number {
    let kept = 0;
    for (const r of this.stmts.newestSizes.iterate(through, notBelow) as IterableIterator<{ idx: number; n: number }>) {
      kept += r.n + ENTRY_OVERHEAD_BYTES;
      if (kept > keepBytes) return r.idx;
    }
    return notBelow;
  }

  /** One step of giving free pages back (storage/reclaim.ts), in a commit that does not fsync: it changes no entry. */
  reclaim(maxPages: number, keepFreePages: number): number {
    let pages = 0;
    this.write(false, () => { pages = reclaimPages(this.db, maxPages, keepFreePages); });
    return pages;
  }

  close(): void {
    closeDb(this.db);
  }
}
