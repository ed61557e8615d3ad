// SQLite-backed raft-core Storage plus the node's writes from Ready.
// Reads are served from an in-memory tail of recent entries when possible:
// the leader re-reads the newest entries for every follower it replicates to.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import Database from 'better-sqlite3';
import type { ConfState, Entry, HardState, Snapshot } from '@flagraft/raft-core';
import { ErrCompacted, ErrUnavailable } from '@flagraft/raft-core';
import { FORMAT_VERSION, LOG_SCHEMA, STATE_SCHEMA } from './schema.js';

export class StoreOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreOpenError';
  }
}

export class StoreCorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreCorruptError';
  }
}

export interface StoreOptions {
  path: string;
  clusterId: string;
  nodeId: number;
  /** Only for a brand-new file: the initial voters and their addresses. Absent = joining node (empty membership). */
  bootstrap?: { members: { id: number; address: string }[] };
  /** Entries kept in memory for fast reads (count). */
  tailCacheEntries?: number;
}

/** State the node produces for a snapshot (at its applied index). */
export type SnapshotProvider = () => { index: number; confState: ConfState; data: Uint8Array };

/** A generated snapshot is reused for this long (ms) while the log still continues it. */
const SNAPSHOT_REUSE_MS = 2000;

const EMPTY_CONF: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

export function entryCrc(term: number, index: number, type: number, data: Uint8Array): number {
  const head = Buffer.allocUnsafe(20);
  head.writeDoubleLE(term, 0);
  head.writeDoubleLE(index, 8);
  head.writeUInt32LE(type, 16);
  return crc32(data, crc32(head));
}

function openDb(path: string, what: string, synchronous: 'FULL' | 'NORMAL'): { db: Database.Database; fresh: boolean } {
  const fresh = !existsSync(path) || statSync(path).size === 0;
  let db: Database.Database;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    // Bound the WAL file after checkpoints (bytes).
    db.pragma('journal_size_limit = 67108864');
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
  return { db, fresh };
}

export class SqliteStore {
  /** The state machine's file (flags, changes, applied index, membership). */
  readonly db: Database.Database;
  /** The Raft log's file (entries, hard state, compaction point). */
  readonly logDb: Database.Database;
  readonly logPath: string;
  private compactIndex = 0;
  private compactTerm = 0;
  private last = 0;
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private conf: ConfState = EMPTY_CONF;
  private tail: Entry[] = [];
  private readonly tailMax: number;
  private snapshotProvider?: SnapshotProvider;
  private snapCache?: Snapshot;
  private snapCachedAt = 0;
  private readonly stmts;

  constructor(private readonly opts: StoreOptions) {
    this.tailMax = opts.tailCacheEntries ?? 4096;
    this.logPath = join(dirname(opts.path), 'raft-log.db');
    const state = openDb(opts.path, 'state', 'NORMAL');
    let log: { db: Database.Database; fresh: boolean };
    try {
      log = openDb(this.logPath, 'log', 'FULL');
    } catch (e) {
      state.db.close();
      throw e;
    }
    this.db = state.db;
    this.logDb = log.db;
    try {
      if (!state.fresh) this.checkExisting(this.db, opts.path, STATE_SCHEMA);
      if (!log.fresh) this.checkExisting(this.logDb, this.logPath, LOG_SCHEMA);
      if (state.fresh !== log.fresh) {
        throw new StoreCorruptError(`${state.fresh ? opts.path : this.logPath} is missing or empty while ${state.fresh ? this.logPath : opts.path} holds data: restore both files or wipe the data dir and rejoin`);
      }
      if (state.fresh) this.initFresh();
    } catch (e) {
      this.db.close();
      this.logDb.close();
      throw e;
    }
    this.stmts = {
      insertEntry: this.logDb.prepare('INSERT OR REPLACE INTO log (idx, term, type, data, crc) VALUES (?, ?, ?, ?, ?)'),
      deleteFrom: this.logDb.prepare('DELETE FROM log WHERE idx >= ?'),
      deleteThrough: this.logDb.prepare('DELETE FROM log WHERE idx <= ?'),
      range: this.logDb.prepare('SELECT idx, term, type, data, crc FROM log WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?'),
      termOf: this.logDb.prepare('SELECT term FROM log WHERE idx = ?'),
      setHard: this.logDb.prepare('INSERT OR REPLACE INTO hard_state (id, term, vote, commit_idx) VALUES (1, ?, ?, ?)'),
      setLogMeta: this.logDb.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)'),
      getLogMeta: this.logDb.prepare('SELECT v FROM meta WHERE k = ?'),
      setMeta: this.db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)'),
      getMeta: this.db.prepare('SELECT v FROM meta WHERE k = ?'),
      syncFull: this.logDb.prepare('PRAGMA synchronous = FULL'),
      syncNormal: this.logDb.prepare('PRAGMA synchronous = NORMAL'),
      stateSyncFull: this.db.prepare('PRAGMA synchronous = FULL'),
      stateSyncNormal: this.db.prepare('PRAGMA synchronous = NORMAL'),
    };
    this.loadState();
  }

  private initFresh(): void {
    const { clusterId, nodeId, bootstrap } = this.opts;
    const identity = (db: Database.Database) => {
      const set = db.prepare('INSERT INTO meta (k, v) VALUES (?, ?)');
      set.run('format', String(FORMAT_VERSION));
      set.run('cluster_id', clusterId);
      set.run('node_id', String(nodeId));
      return set;
    };
    this.logDb.transaction(() => {
      this.logDb.exec(LOG_SCHEMA);
      const set = identity(this.logDb);
      set.run('compact_index', '0');
      set.run('compact_term', '0');
      this.logDb.prepare('INSERT INTO hard_state (id, term, vote, commit_idx) VALUES (1, 0, 0, 0)').run();
    })();
    this.db.transaction(() => {
      this.db.exec(STATE_SCHEMA);
      const set = identity(this.db);
      set.run('applied', '0');
      set.run('applied_term', '0');
      set.run('published', '0');
      set.run('changes_pruned', '0');
      const conf: ConfState = bootstrap
        ? { ...EMPTY_CONF, voters: bootstrap.members.map((m) => m.id).sort((a, b) => a - b) }
        : EMPTY_CONF;
      set.run('conf_state', JSON.stringify(conf));
      for (const m of bootstrap?.members ?? []) this.db.prepare('INSERT INTO members (id, address) VALUES (?, ?)').run(m.id, m.address);
    })();
  }

  private checkExisting(db: Database.Database, path: string, schema: string): void {
    const { clusterId, nodeId } = this.opts;
    let rows: { k: string; v: string }[];
    try {
      rows = db.prepare('SELECT k, v FROM meta').all() as { k: string; v: string }[];
    } catch {
      throw new StoreOpenError(`${path} is an SQLite file but not a flagraft node database (no meta table)`);
    }
    const meta = new Map(rows.map((r) => [r.k, r.v]));
    if (!meta.has('cluster_id')) throw new StoreOpenError(`${path} is not a flagraft node database (no cluster id)`);
    if (meta.get('format') !== String(FORMAT_VERSION)) throw new StoreOpenError(`${path} has storage format ${meta.get('format')}, this node reads format ${FORMAT_VERSION}`);
    if (meta.get('cluster_id') !== clusterId) throw new StoreOpenError(`${path} belongs to cluster "${meta.get('cluster_id')}", not "${clusterId}": refusing to serve foreign data`);
    if (meta.get('node_id') !== String(nodeId)) throw new StoreOpenError(`${path} belongs to node ${meta.get('node_id')}, not node ${nodeId}`);
    db.exec(schema);
  }

  private logMeta(k: string): string {
    const r = this.stmts.getLogMeta.get(k) as { v: string } | undefined;
    if (!r) throw new StoreCorruptError(`log meta key ${k} missing`);
    return r.v;
  }

  private loadState(): void {
    this.compactIndex = Number(this.logMeta('compact_index'));
    this.compactTerm = Number(this.logMeta('compact_term'));
    this.conf = JSON.parse(this.meta('conf_state')) as ConfState;
    const h = this.logDb.prepare('SELECT term, vote, commit_idx FROM hard_state WHERE id = 1').get() as { term: number; vote: number; commit_idx: number };
    this.hard = { term: h.term, vote: h.vote, commit: h.commit_idx };
    const max = this.logDb.prepare('SELECT MAX(idx) AS m FROM log').get() as { m: number | null };
    this.last = max.m ?? this.compactIndex;
    const first = this.logDb.prepare('SELECT MIN(idx) AS m FROM log').get() as { m: number | null };
    if (first.m !== null && first.m !== this.compactIndex + 1) {
      throw new StoreCorruptError(`log starts at ${first.m} but the compaction point is ${this.compactIndex}: entries are missing`);
    }
    const count = this.logDb.prepare('SELECT COUNT(*) AS c FROM log').get() as { c: number };
    if (count.c !== this.last - this.compactIndex) throw new StoreCorruptError(`log has ${count.c} entries between ${this.compactIndex + 1} and ${this.last}: entries are missing`);
    // Verify the checksums of the newest entries now (all entries are verified when read).
    const lo = Math.max(this.compactIndex + 1, this.last - this.tailMax + 1);
    if (this.last >= lo) this.tail = this.readRange(lo, this.last + 1, Number.MAX_SAFE_INTEGER);
    this.reconcile();
  }

  /**
   * The state file is written after the log file, except when a snapshot from
   * the leader is installed (state first, then the log is cut). A crash in
   * between leaves the state ahead of the log: finish the cut now.
   */
  private reconcile(): void {
    const applied = Number(this.meta('applied'));
    const appliedTerm = Number(this.meta('applied_term'));
    if (applied === 0) return;
    if (applied < this.compactIndex) {
      throw new StoreCorruptError(`state is at index ${applied} but the log was compacted through ${this.compactIndex}: state file is older than the log; wipe the data dir and rejoin`);
    }
    const termAt = applied === this.compactIndex ? this.compactTerm : applied <= this.last ? this.term(applied) : undefined;
    if (termAt !== appliedTerm) {
      this.logDb.transaction(() => this.applySnapshotMeta(applied, appliedTerm))();
    }
    if (this.hard.commit < applied) this.logDb.transaction(() => this.setHardState({ ...this.hard, commit: applied }))();
  }

  /** State-file meta (applied index, conf state, published revision, ...). */
  meta(k: string): string {
    const r = this.stmts.getMeta.get(k) as { v: string } | undefined;
    if (!r) throw new StoreCorruptError(`meta key ${k} missing`);
    return r.v;
  }

  /** State-file meta that older files may not have yet (added by later versions). */
  metaOr(k: string, fallback: string): string {
    const r = this.stmts.getMeta.get(k) as { v: string } | undefined;
    return r ? r.v : fallback;
  }

  setMeta(k: string, v: string | number): void {
    this.stmts.setMeta.run(k, String(v));
  }

  setSnapshotProvider(p: SnapshotProvider): void {
    this.snapshotProvider = p;
  }

  // ---- raft-core Storage ----------------------------------------------------

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hard }, confState: this.conf };
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
    if (!r) throw new StoreCorruptError(`log entry ${i} missing`);
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
    const rows = this.stmts.range.all(lo, hi, Math.min(hi - lo, 100_000)) as { idx: number; term: number; type: number; data: Buffer; crc: number }[];
    let expect = lo;
    for (const r of rows) {
      if (r.idx !== expect) throw new StoreCorruptError(`log entry ${expect} missing`);
      if (entryCrc(r.term, r.idx, r.type, r.data) !== r.crc) throw new StoreCorruptError(`checksum mismatch in log entry ${r.idx}`);
      size += r.data.length + 24;
      if (out.length > 0 && size > maxSize) break;
      out.push({ term: r.term, index: r.idx, type: r.type, data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.length) });
      expect++;
    }
    if (out.length === 0 && hi > lo) throw new StoreCorruptError(`log entry ${lo} missing`);
    return out;
  }

  snapshot(): Snapshot {
    if (!this.snapshotProvider) throw new Error('snapshot provider not set');
    const applied = Number(this.meta('applied'));
    const c = this.snapCache;
    // Reuse a recent snapshot (even if a few entries old) while the log still
    // continues it: a follower that keeps failing to receive one must not make
    // the leader serialise the whole state every few milliseconds.
    if (c && (c.metadata.index === applied || (Date.now() - this.snapCachedAt < SNAPSHOT_REUSE_MS && c.metadata.index >= this.compactIndex))) return c;
    if (applied === 0) {
      return { metadata: { index: this.compactIndex, term: this.compactTerm, confState: this.conf }, data: new Uint8Array() };
    }
    const s = this.snapshotProvider();
    this.snapCache = { metadata: { index: s.index, term: this.term(s.index), confState: s.confState }, data: s.data };
    this.snapCachedAt = Date.now();
    return this.snapCache;
  }

  // ---- writes (inside the node's per-Ready transaction) -----------------------

  private syncFull = true;

  /** FULL: the next commit fsyncs (log entries, votes). NORMAL: it does not (apply only). */
  setSync(full: boolean): void {
    if (full === this.syncFull) return;
    (full ? this.stmts.syncFull : this.stmts.syncNormal).run();
    this.syncFull = full;
  }

  /** A transaction on the state file (apply, snapshot restore). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** A transaction on the log file (entries, hard state, compaction point). */
  logTransaction<T>(fn: () => T): T {
    return this.logDb.transaction(fn)();
  }

  /** Runs fn in a state transaction that is fsynced (snapshot restore, before compaction). */
  durableStateTransaction<T>(fn: () => T): T {
    this.stmts.stateSyncFull.run();
    try {
      return this.db.transaction(fn)();
    } finally {
      this.stmts.stateSyncNormal.run();
    }
  }

  /** Appends entries, truncating any conflicting suffix first (Raft 5.3). */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    if (first <= this.compactIndex) throw new Error(`append at ${first} below compaction point ${this.compactIndex}`);
    if (first > this.last + 1) throw new Error(`append at ${first} leaves a gap after ${this.last}`);
    if (first <= this.last) this.stmts.deleteFrom.run(first);
    for (const e of entries) {
      const data = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
      this.stmts.insertEntry.run(e.index, e.term, e.type, data, entryCrc(e.term, e.index, e.type, e.data));
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

  /** In a state transaction: membership as of the applied index. */
  setConfState(cs: ConfState): void {
    this.setMeta('conf_state', JSON.stringify(cs));
    this.conf = cs;
  }

  /** In a log transaction: a snapshot received from the leader replaces the whole log (etcd's ApplySnapshot). */
  applySnapshotMeta(index: number, term: number): void {
    this.logDb.prepare('DELETE FROM log').run();
    this.compactIndex = index;
    this.compactTerm = term;
    this.last = index;
    this.tail = [];
    this.stmts.setLogMeta.run('compact_index', String(index));
    this.stmts.setLogMeta.run('compact_term', String(term));
    this.snapCache = undefined;
  }

  /** Drops log entries up to and including `index` (which must be applied). */
  compact(index: number): void {
    if (index <= this.compactIndex) return;
    if (index > this.last) throw new Error(`compact ${index} beyond last index ${this.last}`);
    const term = this.term(index);
    // The state must be durable past `index` before the entries behind it go.
    this.durableStateTransaction(() => this.setMeta('synced_at', index));
    this.setSync(true);
    this.logTransaction(() => {
      this.stmts.deleteThrough.run(index);
      this.stmts.setLogMeta.run('compact_index', String(index));
      this.stmts.setLogMeta.run('compact_term', String(term));
    });
    this.compactIndex = index;
    this.compactTerm = term;
    if (this.tail.length && this.tail[0].index <= index) this.tail = this.tail.slice(Math.min(this.tail.length, index + 1 - this.tail[0].index));
  }

  dbBytes(): number {
    let total = 0;
    for (const base of [this.opts.path, this.logPath]) {
      for (const suffix of ['', '-wal', '-shm']) {
        try { total += statSync(base + suffix).size; } catch { /* absent */ }
      }
    }
    return total;
  }

  close(): void {
    for (const db of [this.db, this.logDb]) {
      if (!db.open) continue;
      try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch { /* best effort */ }
      db.close();
    }
  }
}
