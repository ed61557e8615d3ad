// SQLite-backed raft-core Storage plus the node's writes from Ready.
// Reads are served from an in-memory tail of recent entries when possible:
// the leader re-reads the newest entries for every follower it replicates to.
import { existsSync, statSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import Database from 'better-sqlite3';
import type { ConfState, Entry, HardState, Snapshot } from '@flagraft/raft-core';
import { ErrCompacted, ErrUnavailable } from '@flagraft/raft-core';
import { FORMAT_VERSION, SCHEMA } from './schema.js';

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

const EMPTY_CONF: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

export function entryCrc(term: number, index: number, type: number, data: Uint8Array): number {
  const head = Buffer.allocUnsafe(20);
  head.writeDoubleLE(term, 0);
  head.writeDoubleLE(index, 8);
  head.writeUInt32LE(type, 16);
  return crc32(data, crc32(head));
}

export class SqliteStore {
  readonly db: Database.Database;
  private compactIndex = 0;
  private compactTerm = 0;
  private last = 0;
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private conf: ConfState = EMPTY_CONF;
  private tail: Entry[] = [];
  private readonly tailMax: number;
  private snapshotProvider?: SnapshotProvider;
  private snapCache?: Snapshot;
  private readonly stmts;

  constructor(private readonly opts: StoreOptions) {
    this.tailMax = opts.tailCacheEntries ?? 4096;
    const fresh = !existsSync(opts.path) || statSync(opts.path).size === 0;
    try {
      this.db = new Database(opts.path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      // Bound the WAL file after checkpoints (bytes).
      this.db.pragma('journal_size_limit = 67108864');
      this.db.pragma('foreign_keys = OFF');
      if (!fresh) {
        const check = this.db.pragma('quick_check', { simple: true });
        if (check !== 'ok') throw new StoreCorruptError(`database ${opts.path} failed quick_check: ${String(check)}`);
      }
    } catch (e) {
      if (e instanceof StoreCorruptError) throw e;
      throw new StoreOpenError(`cannot open ${opts.path} as a flagraft database: ${(e as Error).message}`);
    }
    if (fresh) this.initFresh();
    else this.checkExisting();
    this.stmts = {
      insertEntry: this.db.prepare('INSERT OR REPLACE INTO log (idx, term, type, data, crc) VALUES (?, ?, ?, ?, ?)'),
      deleteFrom: this.db.prepare('DELETE FROM log WHERE idx >= ?'),
      deleteThrough: this.db.prepare('DELETE FROM log WHERE idx <= ?'),
      range: this.db.prepare('SELECT idx, term, type, data, crc FROM log WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?'),
      termOf: this.db.prepare('SELECT term FROM log WHERE idx = ?'),
      setHard: this.db.prepare('INSERT OR REPLACE INTO hard_state (id, term, vote, commit_idx) VALUES (1, ?, ?, ?)'),
      setMeta: this.db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)'),
      getMeta: this.db.prepare('SELECT v FROM meta WHERE k = ?'),
      syncFull: this.db.prepare('PRAGMA synchronous = FULL'),
      syncNormal: this.db.prepare('PRAGMA synchronous = NORMAL'),
    };
    this.loadState();
  }

  private initFresh(): void {
    const { clusterId, nodeId, bootstrap } = this.opts;
    this.db.transaction(() => {
      this.db.exec(SCHEMA);
      const set = this.db.prepare('INSERT INTO meta (k, v) VALUES (?, ?)');
      set.run('format', String(FORMAT_VERSION));
      set.run('cluster_id', clusterId);
      set.run('node_id', String(nodeId));
      set.run('applied', '0');
      set.run('compact_index', '0');
      set.run('compact_term', '0');
      set.run('published', '0');
      set.run('changes_pruned', '0');
      const conf: ConfState = bootstrap
        ? { ...EMPTY_CONF, voters: bootstrap.members.map((m) => m.id).sort((a, b) => a - b) }
        : EMPTY_CONF;
      set.run('conf_state', JSON.stringify(conf));
      for (const m of bootstrap?.members ?? []) this.db.prepare('INSERT INTO members (id, address) VALUES (?, ?)').run(m.id, m.address);
      this.db.prepare('INSERT INTO hard_state (id, term, vote, commit_idx) VALUES (1, 0, 0, 0)').run();
    })();
  }

  private checkExisting(): void {
    const { path, clusterId, nodeId } = this.opts;
    let rows: { k: string; v: string }[];
    try {
      rows = this.db.prepare('SELECT k, v FROM meta').all() as { k: string; v: string }[];
    } catch {
      throw new StoreOpenError(`${path} is an SQLite file but not a flagraft node database (no meta table)`);
    }
    const meta = new Map(rows.map((r) => [r.k, r.v]));
    if (!meta.has('cluster_id')) throw new StoreOpenError(`${path} is not a flagraft node database (no cluster id)`);
    if (meta.get('format') !== String(FORMAT_VERSION)) throw new StoreOpenError(`${path} has storage format ${meta.get('format')}, this node reads format ${FORMAT_VERSION}`);
    if (meta.get('cluster_id') !== clusterId) throw new StoreOpenError(`${path} belongs to cluster "${meta.get('cluster_id')}", not "${clusterId}": refusing to serve foreign data`);
    if (meta.get('node_id') !== String(nodeId)) throw new StoreOpenError(`${path} belongs to node ${meta.get('node_id')}, not node ${nodeId}`);
    this.db.exec(SCHEMA);
  }

  private loadState(): void {
    this.compactIndex = Number(this.meta('compact_index'));
    this.compactTerm = Number(this.meta('compact_term'));
    this.conf = JSON.parse(this.meta('conf_state')) as ConfState;
    const h = this.db.prepare('SELECT term, vote, commit_idx FROM hard_state WHERE id = 1').get() as { term: number; vote: number; commit_idx: number };
    this.hard = { term: h.term, vote: h.vote, commit: h.commit_idx };
    const max = this.db.prepare('SELECT MAX(idx) AS m FROM log').get() as { m: number | null };
    this.last = max.m ?? this.compactIndex;
    const first = this.db.prepare('SELECT MIN(idx) AS m FROM log').get() as { m: number | null };
    if (first.m !== null && first.m !== this.compactIndex + 1) {
      throw new StoreCorruptError(`log starts at ${first.m} but the compaction point is ${this.compactIndex}: entries are missing`);
    }
    const count = this.db.prepare('SELECT COUNT(*) AS c FROM log').get() as { c: number };
    if (count.c !== this.last - this.compactIndex) throw new StoreCorruptError(`log has ${count.c} entries between ${this.compactIndex + 1} and ${this.last}: entries are missing`);
    // Verify the checksums of the newest entries now (all entries are verified when read).
    const lo = Math.max(this.compactIndex + 1, this.last - this.tailMax + 1);
    if (this.last >= lo) this.tail = this.readRange(lo, this.last + 1, Number.MAX_SAFE_INTEGER);
  }

  meta(k: string): string {
    const r = this.stmts.getMeta.get(k) as { v: string } | undefined;
    if (!r) throw new StoreCorruptError(`meta key ${k} missing`);
    return r.v;
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
    if (this.snapCache && this.snapCache.metadata.index === applied) return this.snapCache;
    if (applied === 0) {
      return { metadata: { index: this.compactIndex, term: this.compactTerm, confState: this.conf }, data: new Uint8Array() };
    }
    const s = this.snapshotProvider();
    this.snapCache = { metadata: { index: s.index, term: this.term(s.index), confState: s.confState }, data: s.data };
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

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
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

  setConfState(cs: ConfState): void {
    this.setMeta('conf_state', JSON.stringify(cs));
    this.conf = cs;
  }

  /** A snapshot received from the leader replaces the whole log (etcd's ApplySnapshot). */
  applySnapshotMeta(index: number, term: number, cs: ConfState): void {
    this.db.prepare('DELETE FROM log').run();
    this.compactIndex = index;
    this.compactTerm = term;
    this.last = index;
    this.tail = [];
    this.setMeta('compact_index', index);
    this.setMeta('compact_term', term);
    this.setConfState(cs);
    this.snapCache = undefined;
  }

  /** Drops log entries up to and including `index` (which must be applied). */
  compact(index: number): void {
    if (index <= this.compactIndex) return;
    if (index > this.last) throw new Error(`compact ${index} beyond last index ${this.last}`);
    this.setSync(true);
    const term = this.term(index);
    this.transaction(() => {
      this.stmts.deleteThrough.run(index);
      this.setMeta('compact_index', index);
      this.setMeta('compact_term', term);
    });
    this.compactIndex = index;
    this.compactTerm = term;
    if (this.tail.length && this.tail[0].index <= index) this.tail = this.tail.slice(Math.min(this.tail.length, index + 1 - this.tail[0].index));
  }

  dbBytes(): number {
    let total = 0;
    for (const suffix of ['', '-wal', '-shm']) {
      try { total += statSync(this.opts.path + suffix).size; } catch { /* absent */ }
    }
    return total;
  }

  close(): void {
    if (this.db.open) {
      try { this.db.pragma('wal_checkpoint(TRUNCATE)'); } catch { /* best effort */ }
      this.db.close();
    }
  }
}
