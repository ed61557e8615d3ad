// The state file (flagraft.db): flags, segments, the changes table (audit,
// Watch window, outbox), de-duplicated requests, the replicated address book,
// a restore's staging tables, and the applied index / membership they are at.
// Only SQL lives here; what to write is decided by the state machine
// (src/state-machine.ts, src/restore-state.ts). Its commits do not fsync
// (synchronous=NORMAL): src/durability.ts says when it must (before the log
// behind it is compacted, when a snapshot from the leader is installed).
import type Database from 'better-sqlite3';
import type { ConfState } from '@flagraft/raft-core';
import { CHANGE_ROW_OVERHEAD_BYTES, DEDUP_PAGE_SLACK_DIVISOR, DEDUP_ROW_OVERHEAD_BYTES, PAGE_SLACK_DIVISOR } from '../retention.js';
import { verifyRow, verifyTables, type CheckedTable } from './checksum.js';
import { reclaimPages } from './reclaim.js';
import { LEGACY_CHANGES_SQL, STATE_CHECKED as T, STATE_SCHEMA } from './schema.js';
import type { ChangeKind, StoredEnvironment } from '@flagraft/flag-model';

const T_OF: Record<RecordTable, CheckedTable> = { environments: T.environments, change_requests: T.changeRequests, schedules: T.schedules };

/** The default environment's row as a new or upgraded state file gets it: a production environment without a policy. */
export function defaultEnvironmentJson(name: string): string {
  const e: StoredEnvironment = { environment: { name, production: true }, isDefault: true, createRevision: 0, modRevision: 0, version: 1, updatedAt: 0, updatedBy: 'flagraft' };
  return JSON.stringify(e);
}
import { StoreCorruptError, closeDb, fileBytes, initFile, type FileIdentity } from './sqlite.js';

export type ItemKind = 'flag' | 'segment';

/**
 * A row of the changes table (before/after: the stored item as JSON text,
 * null when absent). kind: flag-model's ChangeKind; env: a flag change
 * outside the default environment (null otherwise).
 */
export interface ChangeRow { revision: number; seq: number; kind: ChangeKind; key: string; op: 'put' | 'delete'; before: string | null; after: string | null; actor: string; time: number; env?: string | null }

/** A page of the global audit log: changes before the cursor that pass every filter given. */
export interface AuditQuery {
  /** Exclusive cursor: changes with (revision, seq) below it. */
  before: { revision: number; seq: number };
  kind?: ChangeKind;
  key?: string;
  actor?: string;
  /** Flag changes in one environment: null = the default environment (rows without env). Absent: any. */
  env?: string | null;
  /** Time range in ms since the epoch, [sinceMs, untilMs). */
  sinceMs: number;
  untilMs: number;
  limit: number;
}

/** Tables of environments, change requests and schedules: (id, json). */
export type RecordTable = 'environments' | 'change_requests' | 'schedules';

/** Rows of the live tables as a snapshot carries them (column order as in the tables). */
export interface LiveRows {
  flags: [string, string][];
  segments: [string, string][];
  changes: unknown[][];
  dedup: unknown[][];
  members: [number, string][];
  /** (revision, time) samples of the replicated clock (absent in snapshots of older nodes). */
  clock?: [number, number][];
  /** Absent in snapshots of nodes from before environments (storage format 3). */
  environments?: [string, string][];
  envFlags?: [string, string, string][];
  changeRequests?: [string, string][];
  schedules?: [string, string][];
}

/** Rows of a restore's staging tables, for snapshots (environments / envFlags / changeRequests / schedules absent in snapshots of older nodes). */
export interface StagedTables {
  flags: [string, string][]; segments: [string, string][]; changes: unknown[][]; environments?: [string, string][]; envFlags?: [string, string, string][];
  changeRequests?: [string, string][]; schedules?: [string, string][];
}

const EMPTY_CONF: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
const CHANGE_COLUMNS = 'revision, seq, kind, key, op, before, after, actor, time, env';
const ENV_TABLES = ['environments', 'env_flags', 'env_flag_segments', 'change_requests', 'schedules'];
const LIVE_TABLES = ['flags', 'segments', 'flag_segments', 'changes', 'client_requests', 'members', 'clock_samples', ...ENV_TABLES];
const LEGACY_FEED = LEGACY_CHANGES_SQL;
/** SQL of a row's estimated bytes (src/retention.ts); changeBytes / requestBytes compute the same in JS. */
const UTF8 = (col: string) => `coalesce(length(CAST(${col} AS BLOB)), 0)`;
/** A row's content estimate with the pages' unused space added (retention.ts PAGE_SLACK_DIVISOR); integer division in SQL as in JS (withSlack). */
const WITH_SLACK_SQL = (e: string, divisor: number) => `(${e} + ${e} / ${divisor})`;
const CHANGE_BYTES_SQL = WITH_SLACK_SQL(`(2 * ${UTF8('key')} + ${UTF8('before')} + ${UTF8('after')} + ${UTF8('actor')} + ${CHANGE_ROW_OVERHEAD_BYTES})`, PAGE_SLACK_DIVISOR);
const REQUEST_BYTES_SQL = WITH_SLACK_SQL(`(2 * (${UTF8('client_id')} + ${UTF8('request_id')}) + ${UTF8('result')} + ${DEDUP_ROW_OVERHEAD_BYTES})`, DEDUP_PAGE_SLACK_DIVISOR);
const withSlack = (e: number, divisor: number) => e + Math.floor(e / divisor);

/** Estimated bytes on disk of a changes row: must equal CHANGE_BYTES_SQL (replicas recount from rows and must agree). */
export function changeBytes(r: { key: string; before: string | null; after: string | null; actor: string }): number {
  const u = (s: string | null) => (s === null ? 0 : Buffer.byteLength(s));
  return withSlack(2 * u(r.key) + u(r.before) + u(r.after) + u(r.actor) + CHANGE_ROW_OVERHEAD_BYTES, PAGE_SLACK_DIVISOR);
}

/** Estimated bytes on disk of a client_requests row: must equal REQUEST_BYTES_SQL. */
export function requestBytes(clientId: string, requestId: string, result: string): number {
  return withSlack(2 * (Buffer.byteLength(clientId) + Buffer.byteLength(requestId)) + Buffer.byteLength(result) + DEDUP_ROW_OVERHEAD_BYTES, DEDUP_PAGE_SLACK_DIVISOR);
}
/**
 * What a write that applied (with no fingerprint) leaves as its de-dup
 * result: the state machine's JSON, as every node before this one stored it
 * and as snapshots carry it (older nodes read it). Stored as '' instead: a
 * retried write is answered from the row's revision and the changes at it,
 * so those 11 bytes say nothing but "ok" (~13% of a row). Every node of this
 * version stores only the short form (apply, snapshot install, and once on
 * open for rows an older version wrote), so replicas hold identical rows and
 * count identical bytes.
 */
const OK_RESULT = '{"ok":true}';
const OK_STORED = '';
const storedResult = (result: string) => (result === OK_RESULT ? OK_STORED : result);
const fullResult = (stored: string) => (stored === OK_STORED ? OK_RESULT : stored);

const STAGING_TABLES = ['restore_flags', 'restore_segments', 'restore_changes', 'restore_flag_segments', 'restore_environments', 'restore_env_flags', 'restore_change_requests', 'restore_schedules'];
/** A restore's staged change requests and schedules, and the live tables they go to. */
const STAGED_RECORDS = { changeRequest: { staged: 'restore_change_requests', live: 'change_requests' }, schedule: { staged: 'restore_schedules', live: 'schedules' } } as const;

export class StateStore {
  readonly path: string;
  private readonly db: Database.Database;
  private conf: ConfState;
  private readonly q;
  private readonly records: Map<RecordTable, { get: Database.Statement; put: Database.Statement; del: Database.Statement; ids: Database.Statement }>;
  /** Estimated bytes of the changes and client_requests rows (retention.ts), kept in step with every insert and delete. */
  private historyBytes = 0;
  private dedupBytes = 0;

  /** Writes a new state file's tables, identity and starting point: nothing applied, the bootstrap voters and their addresses (none for a joining node). */
  static initialize(db: Database.Database, id: FileIdentity, bootstrap?: { members: { id: number; address: string }[] }): void {
    db.transaction(() => {
      const set = initFile(db, STATE_SCHEMA, id);
      for (const k of ['applied', 'applied_term', 'published', 'changes_pruned']) set.run(k, '0');
      const conf: ConfState = bootstrap ? { ...EMPTY_CONF, voters: bootstrap.members.map((m) => m.id).sort((a, b) => a - b) } : EMPTY_CONF;
      set.run('conf_state', JSON.stringify(conf));
      for (const m of bootstrap?.members ?? []) db.prepare('INSERT INTO members (id, address) VALUES (?, ?)').run(m.id, m.address);
      // The default environment is given by openStorage (ensureDefaultEnvironment), as for an upgraded file.
    })();
  }

  /** `db`: flagraft.db, opened and checked by src/storage/open.ts. */
  constructor(db: Database.Database, path: string) {
    this.db = db;
    this.path = path;
    this.q = {
      getMeta: db.prepare('SELECT k, v, crc FROM meta WHERE k = ?'),
      setMeta: db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)'),
      syncFull: db.prepare('PRAGMA synchronous = FULL'),
      syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
      getFlag: db.prepare('SELECT key, json, crc FROM flags WHERE key = ?'),
      getSegment: db.prepare('SELECT name, json, crc FROM segments WHERE name = ?'),
      putFlag: db.prepare('INSERT OR REPLACE INTO flags (key, json) VALUES (?, ?)'),
      delFlag: db.prepare('DELETE FROM flags WHERE key = ?'),
      putSegment: db.prepare('INSERT OR REPLACE INTO segments (name, json) VALUES (?, ?)'),
      delSegment: db.prepare('DELETE FROM segments WHERE name = ?'),
      segUsers: db.prepare('SELECT segment, flag, crc FROM flag_segments WHERE segment = ? ORDER BY flag'),
      delFlagSegs: db.prepare('DELETE FROM flag_segments WHERE flag = ?'),
      addFlagSeg: db.prepare('INSERT OR IGNORE INTO flag_segments (segment, flag) VALUES (?, ?)'),
      countFlags: db.prepare('SELECT COUNT(*) FROM flags').pluck(),
      countSegments: db.prepare('SELECT COUNT(*) FROM segments').pluck(),
      countChanges: db.prepare('SELECT COUNT(*) FROM changes').pluck(),
      addChange: db.prepare(`INSERT INTO changes (${CHANGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      changesAt: db.prepare('SELECT * FROM changes WHERE revision = ? ORDER BY seq'),
      changesAfter: db.prepare('SELECT * FROM changes WHERE revision > ? ORDER BY revision, seq LIMIT ?'),
      legacyChangesAt: db.prepare(`SELECT * FROM changes WHERE revision = ? AND ${LEGACY_FEED} ORDER BY seq`),
      legacyChangesAfter: db.prepare(`SELECT * FROM changes WHERE revision > ? AND ${LEGACY_FEED} ORDER BY revision, seq LIMIT ?`),
      history: db.prepare('SELECT * FROM changes WHERE kind = ? AND key = ? AND env IS ? AND revision < ? ORDER BY revision DESC, seq DESC LIMIT ?'),
      // The global audit log, newest first from a (revision, seq) cursor; a NULL filter matches everything.
      // An environment filter matches flag changes only (segments and the rest belong to no environment).
      audit: db.prepare(`SELECT * FROM changes WHERE (revision, seq) < (@rev, @seq)
        AND (@kind IS NULL OR kind = @kind) AND (@key IS NULL OR key = @key) AND (@actor IS NULL OR actor = @actor)
        AND (@envFilter = 0 OR (kind = 'flag' AND env IS @env)) AND time >= @since AND time < @until
        ORDER BY revision DESC, seq DESC LIMIT @limit`),
      getEnvFlag: db.prepare('SELECT env, key, json, crc FROM env_flags WHERE env = ? AND key = ?'),
      putEnvFlag: db.prepare('INSERT OR REPLACE INTO env_flags (env, key, json) VALUES (?, ?, ?)'),
      delEnvFlag: db.prepare('DELETE FROM env_flags WHERE env = ? AND key = ?'),
      envFlagKeys: db.prepare('SELECT key FROM env_flags WHERE env = ? ORDER BY key').pluck(),
      flagKeys: db.prepare('SELECT key FROM flags ORDER BY key').pluck(),
      envSegUsers: db.prepare('SELECT env, segment, flag, crc FROM env_flag_segments WHERE env = ? AND segment = ? ORDER BY flag'),
      delEnvFlagSegs: db.prepare('DELETE FROM env_flag_segments WHERE env = ? AND flag = ?'),
      addEnvFlagSeg: db.prepare('INSERT OR IGNORE INTO env_flag_segments (env, segment, flag) VALUES (?, ?, ?)'),
      countEnvFlags: db.prepare('SELECT COUNT(*) FROM env_flags').pluck(),
      pruneChanges: db.prepare('DELETE FROM changes WHERE revision <= ?'),
      pruneShifted: db.prepare('DELETE FROM changes WHERE (revision > ? AND revision <= ?) OR revision <= ?'),
      getDedup: db.prepare('SELECT client_id, request_id, revision, result, crc FROM client_requests WHERE client_id = ? AND request_id = ?'),
      putDedup: db.prepare('INSERT OR REPLACE INTO client_requests (client_id, request_id, revision, result) VALUES (?, ?, ?, ?)'),
      changesBytes: db.prepare(`SELECT coalesce(SUM(${CHANGE_BYTES_SQL}), 0) FROM changes`).pluck(),
      changesBytesThrough: db.prepare(`SELECT coalesce(SUM(${CHANGE_BYTES_SQL}), 0) FROM changes WHERE revision <= ?`).pluck(),
      changesBytesShifted: db.prepare(`SELECT coalesce(SUM(${CHANGE_BYTES_SQL}), 0) FROM changes WHERE (revision > ? AND revision <= ?) OR revision <= ?`).pluck(),
      oldestChanges: db.prepare(`SELECT revision, ${CHANGE_BYTES_SQL} AS bytes FROM changes ORDER BY revision, seq`),
      requestsBytes: db.prepare(`SELECT coalesce(SUM(${REQUEST_BYTES_SQL}), 0) FROM client_requests`).pluck(),
      requestsBytesThrough: db.prepare(`SELECT coalesce(SUM(${REQUEST_BYTES_SQL}), 0) FROM client_requests WHERE revision <= ?`).pluck(),
      oldestRequests: db.prepare(`SELECT revision, ${REQUEST_BYTES_SQL} AS bytes FROM client_requests ORDER BY revision`),
      pruneDedup: db.prepare('DELETE FROM client_requests WHERE revision <= ?'),
      minChangeRev: db.prepare('SELECT MIN(revision) FROM changes').pluck(),
      minRequestRev: db.prepare('SELECT MIN(revision) FROM client_requests').pluck(),
      addSample: db.prepare('INSERT OR REPLACE INTO clock_samples (revision, time) VALUES (?, ?)'),
      lastSample: db.prepare('SELECT revision, time, crc FROM clock_samples ORDER BY revision DESC LIMIT 1'),
      sampleAtOrBefore: db.prepare('SELECT MAX(revision) FROM clock_samples WHERE time <= ?').pluck(),
      dropSamples: db.prepare('DELETE FROM clock_samples WHERE revision < ?'),
      members: db.prepare('SELECT id, address, crc FROM members ORDER BY id'),
      putMember: db.prepare('INSERT OR REPLACE INTO members (id, address) VALUES (?, ?)'),
      delMember: db.prepare('DELETE FROM members WHERE id = ?'),
      stageFlag: db.prepare('INSERT OR REPLACE INTO restore_flags (key, json) VALUES (?, ?)'),
      stageSegment: db.prepare('INSERT OR REPLACE INTO restore_segments (name, json) VALUES (?, ?)'),
      stageChange: db.prepare(`INSERT OR REPLACE INTO restore_changes (${CHANGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      stageFlagSeg: db.prepare('INSERT OR IGNORE INTO restore_flag_segments (segment, flag) VALUES (?, ?)'),
      stagedFlag: db.prepare('SELECT 1 FROM restore_flags WHERE key = ?').pluck(),
      stagedSegment: db.prepare('SELECT 1 FROM restore_segments WHERE name = ?').pluck(),
      stagedEnvironment: db.prepare('SELECT 1 FROM restore_environments WHERE name = ?').pluck(),
      stagedEnvFlag: db.prepare('SELECT 1 FROM restore_env_flags WHERE env = ? AND key = ?').pluck(),
      stageEnvironment: db.prepare('INSERT OR REPLACE INTO restore_environments (name, json) VALUES (?, ?)'),
      stageEnvFlag: db.prepare('INSERT OR REPLACE INTO restore_env_flags (env, key, json) VALUES (?, ?, ?)'),
      stageChangeRequest: db.prepare('INSERT OR REPLACE INTO restore_change_requests (id, json) VALUES (?, ?)'),
      stageSchedule: db.prepare('INSERT OR REPLACE INTO restore_schedules (id, json) VALUES (?, ?)'),
      stagedChangeRequest: db.prepare('SELECT 1 FROM restore_change_requests WHERE id = ?').pluck(),
      stagedSchedule: db.prepare('SELECT 1 FROM restore_schedules WHERE id = ?').pluck(),
    };
    this.records = new Map((['environments', 'change_requests', 'schedules'] as const).map((t) => [t, {
      get: db.prepare(`SELECT ${T_OF[t].columns[0]}, json, crc FROM ${t} WHERE ${T_OF[t].columns[0]} = ?`),
      put: db.prepare(`INSERT OR REPLACE INTO ${t} (${T_OF[t].columns[0]}, json) VALUES (?, ?)`),
      del: db.prepare(`DELETE FROM ${t} WHERE ${T_OF[t].columns[0]} = ?`),
      ids: db.prepare(`SELECT ${T_OF[t].columns[0]} FROM ${t} ORDER BY 1`).pluck(),
    }]));
    this.conf = JSON.parse(this.meta('conf_state')) as ConfState;
    // Rows an older version wrote: into the short form every replica of this version holds (storedResult).
    db.prepare('UPDATE client_requests SET result = ? WHERE result = ?').run(OK_STORED, OK_RESULT);
    this.recount();
  }

  /** Sizes recounted from the rows (on open and whenever tables are replaced wholesale): the same on every replica at one index. */
  private recount(): void {
    this.historyBytes = this.q.changesBytes.get() as number;
    this.dedupBytes = this.q.requestsBytes.get() as number;
  }

  // ---- meta, transactions ----------------------------------------------------------

  /** A meta value every state file has. */
  meta(k: string): string {
    const r = this.q.getMeta.get(k) as { v: string } | undefined;
    if (!r) throw new StoreCorruptError(`${this.path}: meta key ${k} missing`);
    return this.check(T.meta, r).v;
  }

  /** A meta value older files may not have yet (added by later versions). */
  metaOr(k: string, fallback: string): string {
    const r = this.q.getMeta.get(k) as { v: string } | undefined;
    return r ? this.check(T.meta, r).v : fallback;
  }

  /** A row read with its crc column, checked (checksum.ts); a damaged row throws StoreCorruptError naming the file, table and row. */
  private check<R extends object>(t: CheckedTable, row: R): R {
    return verifyRow(this.path, t, row);
  }

  /** Rows of a table with the checked columns in table order (snapshots), each checked. */
  private checkedRows(t: CheckedTable, order = ''): unknown[][] {
    const rows = this.db.prepare(`SELECT ${t.columns.join(', ')}, crc FROM ${t.table} ${order}`).all() as Record<string, unknown>[];
    return rows.map((r) => {
      this.check(t, r);
      return t.columns.map((c) => r[c]);
    });
  }

  setMeta(k: string, v: string | number): void {
    this.q.setMeta.run(k, String(v));
  }

  /** Raft index and term of the last applied entry. */
  applied(): { index: number; term: number } {
    return { index: Number(this.meta('applied')), term: Number(this.meta('applied_term')) };
  }

  /** In the transaction that applies the entry at (index, term). */
  setApplied(index: number, term: number): void {
    this.setMeta('applied', index);
    this.setMeta('applied_term', term);
  }

  /** Membership as of the applied index. */
  confState(): ConfState {
    return this.conf;
  }

  setConfState(cs: ConfState): void {
    this.setMeta('conf_state', JSON.stringify(cs));
    this.conf = cs;
  }

  /** A transaction whose commit is not fsynced (apply). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** A transaction whose commit is on disk when it returns (snapshot install, before compaction). */
  durableTransaction<T>(fn: () => T): T {
    this.q.syncFull.run();
    try {
      return this.db.transaction(fn)();
    } finally {
      this.q.syncNormal.run();
    }
  }

  // ---- flags and segments ------------------------------------------------------------

  itemJson(kind: ItemKind, key: string): string | undefined {
    const r = (kind === 'flag' ? this.q.getFlag : this.q.getSegment).get(key) as { json: string } | undefined;
    return r && this.check(kind === 'flag' ? T.flags : T.segments, r).json;
  }

  /** A flag and the segments it references (for SEGMENT_IN_USE). */
  putFlag(key: string, json: string, segments: Iterable<string>): void {
    this.q.putFlag.run(key, json);
    this.q.delFlagSegs.run(key);
    for (const s of segments) this.q.addFlagSeg.run(s, key);
  }

  deleteFlag(key: string): void {
    this.q.delFlag.run(key);
    this.q.delFlagSegs.run(key);
  }

  putSegment(name: string, json: string): void {
    this.q.putSegment.run(name, json);
  }

  deleteSegment(name: string): void {
    this.q.delSegment.run(name);
  }

  /** Flags whose rules reference segment `name`, in key order. */
  segmentUsers(name: string): string[] {
    return (this.q.segUsers.all(name) as { flag: string }[]).map((r) => this.check(T.flagSegments, r).flag);
  }

  /** Items in key order after `afterKey`, with the given prefix. */
  listJson(kind: ItemKind, prefix: string, afterKey: string, limit: number): string[] {
    const table = kind === 'flag' ? 'flags' : 'segments';
    const col = kind === 'flag' ? 'key' : 'name';
    const from = afterKey > prefix ? afterKey : prefix;
    const op = afterKey > prefix ? '>' : '>=';
    const rows = this.db.prepare(`SELECT ${col}, json, crc FROM ${table} WHERE ${col} ${op} ? AND substr(${col}, 1, ?) = ? ORDER BY ${col} LIMIT ?`)
      .all(from, prefix.length, prefix, limit) as { json: string }[];
    return rows.map((r) => this.check(kind === 'flag' ? T.flags : T.segments, r).json);
  }

  allJson(kind: ItemKind): string[] {
    const t = kind === 'flag' ? T.flags : T.segments;
    return this.checkedRows(t, `ORDER BY ${t.columns[0]}`).map((r) => r[1] as string);
  }

  /** flags: every environment's (a restore into a cluster with flags in any environment needs force). */
  liveCounts(): { flags: number; segments: number; changes: number } {
    return { flags: (this.q.countFlags.get() as number) + (this.q.countEnvFlags.get() as number), segments: this.q.countSegments.get() as number, changes: this.q.countChanges.get() as number };
  }

  // ---- changes, de-duplication, members ------------------------------------------------

  addChange(r: ChangeRow): void {
    this.q.addChange.run(r.revision, r.seq, r.kind, r.key, r.op, r.before, r.after, r.actor, r.time, r.env ?? null);
    this.historyBytes += changeBytes(r);
  }

  /** `all` = false: only what consumers from before environments understand (LEGACY_FEED). */
  changesAt(revision: number, all = true): ChangeRow[] {
    return ((all ? this.q.changesAt : this.q.legacyChangesAt).all(revision) as ChangeRow[]).map((r) => this.check(T.changes, r));
  }

  changesAfter(revision: number, limit: number, all = true): ChangeRow[] {
    return ((all ? this.q.changesAfter : this.q.legacyChangesAfter).all(revision, limit) as ChangeRow[]).map((r) => this.check(T.changes, r));
  }

  /** `env`: a flag's history outside the default environment (null: the default environment's, and every other kind's). */
  history(kind: ChangeKind, key: string, beforeRevision: number, limit: number, env: string | null = null): ChangeRow[] {
    return (this.q.history.all(kind, key, env, beforeRevision, limit) as ChangeRow[]).map((r) => this.check(T.changes, r));
  }

  /** The audit log page `f` asks for (see AuditQuery), newest first. */
  auditChanges(f: AuditQuery): ChangeRow[] {
    const params = {
      rev: f.before.revision, seq: f.before.seq, kind: f.kind ?? null, key: f.key ?? null, actor: f.actor ?? null,
      envFilter: f.env === undefined ? 0 : 1, env: f.env ?? null, since: f.sinceMs, until: f.untilMs, limit: f.limit,
    };
    return (this.q.audit.all(params) as ChangeRow[]).map((r) => this.check(T.changes, r));
  }

  /** Drops changes at or below `revision`; with `shifted`, imported history (at or below `floor`) only at or below `importedBelow`. */
  pruneChanges(revision: number, shifted?: { floor: number; importedBelow: number }): void {
    if (shifted) {
      this.historyBytes -= this.q.changesBytesShifted.get(shifted.floor, revision, shifted.importedBelow) as number;
      this.q.pruneShifted.run(shifted.floor, revision, shifted.importedBelow);
    } else this.pruneChangesThrough(revision);
  }

  /** Drops every change at or below `revision` (imported history included). */
  pruneChangesThrough(revision: number): void {
    this.historyBytes -= this.q.changesBytesThrough.get(revision) as number;
    this.q.pruneChanges.run(revision);
  }

  /** Estimated bytes of the history (changes rows). */
  changesBytes(): number {
    return this.historyBytes;
  }

  /** The revision through which the oldest changes must go to leave at most `budget` bytes (0: within budget). Whole revisions. */
  changesOverBudget(budget: number): number {
    return overBudget(this.q.oldestChanges, this.historyBytes, budget);
  }

  /** The first result of a (clientId, requestId), if it applied within the window. */
  request(clientId: string, requestId: string): { revision: number; result: string } | undefined {
    const r = this.q.getDedup.get(clientId, requestId) as { client_id?: string; request_id?: string; revision: number; result: string } | undefined;
    if (!r) return undefined;
    this.check(T.requests, r);
    return { revision: r.revision, result: fullResult(r.result) };
  }

  /** Records a request's first result; (clientId, requestId) is new (request() found nothing). */
  putRequest(clientId: string, requestId: string, revision: number, result: string): void {
    const stored = storedResult(result);
    this.q.putDedup.run(clientId, requestId, revision, stored);
    this.dedupBytes += requestBytes(clientId, requestId, stored);
  }

  pruneRequests(throughRevision: number): void {
    this.dedupBytes -= this.q.requestsBytesThrough.get(throughRevision) as number;
    this.q.pruneDedup.run(throughRevision);
  }

  /** Estimated bytes of the de-duplication rows. */
  requestsBytes(): number {
    return this.dedupBytes;
  }

  /** The revision through which the oldest de-duplication rows must go to leave at most `budget` bytes (0: within budget), looking no further than `notAfter`. */
  requestsOverBudget(budget: number, notAfter: number): number {
    return overBudget(this.q.oldestRequests, this.dedupBytes, budget, notAfter);
  }

  /** Sizes recounted from the rows, for tests (they must equal the running counts). */
  countedBytes(): { history: number; dedup: number } {
    return { history: this.q.changesBytes.get() as number, dedup: this.q.requestsBytes.get() as number };
  }

  // ---- the replicated clock (retention.ts) -------------------------------------------

  /** The newest sampled time (0: none yet). */
  lastClockSample(): number {
    const r = this.q.lastSample.get() as { time: number } | undefined;
    return r ? this.check(T.clockSamples, r).time : 0;
  }

  addClockSample(revision: number, time: number): void {
    this.q.addSample.run(revision, time);
  }

  /** The newest sampled revision whose time is <= `time` (0: none): everything through it is at least that old. */
  revisionAtOrBefore(time: number): number {
    return (this.q.sampleAtOrBefore.get(time) as number | null) ?? 0;
  }

  /**
   * After a restore commit at `revision` (every live row replaced, de-dup
   * cleared): the samples of the revisions before it no longer describe the
   * rows there (imported history); one sample at `revision`, stamped with
   * the commit's own time (`time`, the clock never going back), restarts it.
   */
  restartClockSamples(revision: number, time: number): void {
    const now = Math.max(this.lastClockSample(), time);
    this.db.prepare('DELETE FROM clock_samples').run();
    if (now > 0) this.q.addSample.run(revision, now);
  }

  /** Drops samples below the oldest revision any retained row has (a later sample covers those rows). */
  dropUnusedClockSamples(): void {
    const oldest = [this.q.minChangeRev.get(), this.q.minRequestRev.get()].filter((r): r is number => typeof r === 'number');
    if (oldest.length) this.q.dropSamples.run(Math.min(...oldest));
  }

  // ---- environments, flags outside the default environment, change requests, schedules ----

  envFlagJson(env: string, key: string): string | undefined {
    const r = this.q.getEnvFlag.get(env, key) as { json: string } | undefined;
    return r && this.check(T.envFlags, r).json;
  }

  putEnvFlag(env: string, key: string, json: string, segments: Iterable<string>): void {
    this.q.putEnvFlag.run(env, key, json);
    this.q.delEnvFlagSegs.run(env, key);
    for (const s of segments) this.q.addEnvFlagSeg.run(env, s, key);
  }

  deleteEnvFlag(env: string, key: string): void {
    this.q.delEnvFlag.run(env, key);
    this.q.delEnvFlagSegs.run(env, key);
  }

  /** Keys configured in a non-default environment, or (env undefined) the default environment's flags. */
  flagKeys(env?: string): string[] {
    return (env === undefined ? this.q.flagKeys.all() : this.q.envFlagKeys.all(env)) as string[];
  }

  envSegmentUsers(env: string, name: string): string[] {
    return (this.q.envSegUsers.all(env, name) as { flag: string }[]).map((r) => this.check(T.envFlagSegments, r).flag);
  }

  recordJson(table: RecordTable, id: string): string | undefined {
    const r = this.records.get(table)!.get.get(id) as Record<string, unknown> | undefined;
    return r && (this.check(T_OF[table], r).json as string);
  }

  putRecord(table: RecordTable, id: string, json: string): void {
    this.records.get(table)!.put.run(id, json);
  }

  deleteRecord(table: RecordTable, id: string): void {
    this.records.get(table)!.del.run(id);
  }

  recordIds(table: RecordTable): string[] {
    return this.records.get(table)!.ids.all() as string[];
  }

  /** Every record of a table (JSON text, id order), each row checked. */
  allRecords(table: RecordTable): string[] {
    return this.checkedRows(T_OF[table], 'ORDER BY 1').map((r) => r[1] as string);
  }

  /**
   * Gives a state file without environments (new, or from before format 4)
   * its default environment, holding the flags table as it is: revisions and
   * history unchanged. Deterministic (revision 0, time 0), so every replica
   * upgraded from the same state holds the same row.
   */
  ensureDefaultEnvironment(name: string): void {
    if (this.recordIds('environments').length > 0) return;
    this.putRecord('environments', name, defaultEnvironmentJson(name));
  }

  members(): Map<number, string> {
    return new Map((this.q.members.all() as { id: number; address: string }[]).map((m) => [m.id, this.check(T.members, m).address]));
  }

  putMember(id: number, address: string): void {
    this.q.putMember.run(id, address);
  }

  deleteMember(id: number): void {
    this.q.delMember.run(id);
  }

  // ---- snapshots -------------------------------------------------------------------

  liveRows(): LiveRows {
    return {
      flags: this.checkedRows(T.flags) as [string, string][],
      segments: this.checkedRows(T.segments) as [string, string][],
      changes: this.checkedRows(T.changes, 'ORDER BY revision, seq'),
      // The result as older nodes store and read it (storedResult).
      dedup: this.checkedRows(T.requests).map(([c, q, rev, result]) => [c, q, rev, fullResult(result as string)]),
      members: this.checkedRows(T.members) as [number, string][],
      clock: this.checkedRows(T.clockSamples, 'ORDER BY revision') as [number, number][],
      environments: this.checkedRows(T.environments, 'ORDER BY name') as [string, string][],
      envFlags: this.checkedRows(T.envFlags, 'ORDER BY env, key') as [string, string, string][],
      changeRequests: this.checkedRows(T.changeRequests, 'ORDER BY id') as [string, string][],
      schedules: this.checkedRows(T.schedules, 'ORDER BY id') as [string, string][],
    };
  }

  /** Replaces every live table with a snapshot's rows; `segmentsOf` gives the segments a flag's JSON references. */
  replaceLiveRows(rows: LiveRows, segmentsOf: (flagJson: string) => Iterable<string>): void {
    for (const t of LIVE_TABLES) this.db.prepare(`DELETE FROM ${t}`).run();
    for (const [k, j] of rows.flags) this.putFlag(k, j, segmentsOf(j));
    for (const [k, j] of rows.segments) this.q.putSegment.run(k, j);
    // Rows from a node before environments have no env column: the default environment's.
    for (const r of rows.changes) this.q.addChange.run(...(r.length < 10 ? [...r, null] : r));
    for (const [c, q, rev, result] of rows.dedup) this.q.putDedup.run(c, q, rev, storedResult(result as string));
    for (const [id, addr] of rows.members) this.q.putMember.run(id, addr);
    for (const [rev, time] of rows.clock ?? []) this.q.addSample.run(rev, time);
    for (const [name, j] of rows.environments ?? []) this.putRecord('environments', name, j);
    for (const [env, k, j] of rows.envFlags ?? []) this.putEnvFlag(env, k, j, segmentsOf(j));
    for (const [id, j] of rows.changeRequests ?? []) this.putRecord('change_requests', id, j);
    for (const [id, j] of rows.schedules ?? []) this.putRecord('schedules', id, j);
    this.recount();
  }

  // ---- a restore's staging tables (restore_*: readers never see them) ----------------------

  stageFlag(key: string, json: string, segments: Iterable<string>): void {
    this.q.stageFlag.run(key, json);
    for (const s of segments) this.q.stageFlagSeg.run(s, key);
  }

  stageSegment(name: string, json: string): void {
    this.q.stageSegment.run(name, json);
  }

  stageChange(r: ChangeRow): void {
    this.q.stageChange.run(r.revision, r.seq, r.kind, r.key, r.op, r.before, r.after, r.actor, r.time, r.env ?? null);
  }

  stageEnvironment(name: string, json: string): void {
    this.q.stageEnvironment.run(name, json);
  }

  stageEnvFlag(env: string, key: string, json: string): void {
    this.q.stageEnvFlag.run(env, key, json);
  }

  /** A staged change request or schedule (by id). */
  stageRecord(kind: keyof typeof STAGED_RECORDS, id: string, json: string): void {
    (kind === 'changeRequest' ? this.q.stageChangeRequest : this.q.stageSchedule).run(id, json);
  }

  /** envFlag keys are `env/key` (flag-model RestoreTarget). */
  isStaged(kind: ItemKind | 'environment' | 'envFlag' | keyof typeof STAGED_RECORDS, key: string): boolean {
    if (kind === 'envFlag') {
      const i = key.indexOf('/');
      return this.q.stagedEnvFlag.get(key.slice(0, i), key.slice(i + 1)) !== undefined;
    }
    const q = kind === 'flag' ? this.q.stagedFlag : kind === 'segment' ? this.q.stagedSegment : kind === 'changeRequest' ? this.q.stagedChangeRequest
      : kind === 'schedule' ? this.q.stagedSchedule : this.q.stagedEnvironment;
    return q.get(key) !== undefined;
  }

  clearStaging(): void {
    for (const t of STAGING_TABLES) this.db.prepare(`DELETE FROM ${t}`).run();
  }

  /**
   * Moves the staged rows into the live tables. `force`: everything live is
   * replaced; otherwise (the live tables are empty) only the de-duplication
   * table is cleared: a retried write from before the restore must not be
   * answered with the outcome of a write the restore replaced.
   */
  commitStaging(force: boolean, segmentsOf: (flagJson: string) => Iterable<string>): void {
    // The copies below compute new checksums from the staged rows: check those first.
    verifyTables(this.db, this.path, [T.restoreFlags, T.restoreSegments, T.restoreChanges, T.restoreFlagSegments, T.restoreEnvironments, T.restoreEnvFlags, T.restoreChangeRequests, T.restoreSchedules], Infinity);
    const tables = force ? ['flags', 'segments', 'flag_segments', 'changes', 'client_requests', 'env_flags', 'env_flag_segments', 'change_requests', 'schedules'] : ['client_requests'];
    for (const t of tables) this.db.prepare(`DELETE FROM ${t}`).run();
    const stagedEnvs = this.checkedRows(T.restoreEnvironments) as [string, string][];
    if (stagedEnvs.length > 0) {
      // A backup with environments: they are the cluster's environments now (its default one included).
      this.db.prepare('DELETE FROM environments').run();
      for (const [name, j] of stagedEnvs) this.putRecord('environments', name, j);
      for (const [env, key, j] of this.checkedRows(T.restoreEnvFlags) as [string, string, string][]) this.putEnvFlag(env, key, j, segmentsOf(j));
    } else if (force) {
      // A backup from before environments holds the default environment: the other environments go with what it replaces.
      this.db.prepare(`DELETE FROM environments WHERE name NOT IN (${this.defaultEnvironmentNames().map(() => '?').join(', ') || "''"})`).run(...this.defaultEnvironmentNames());
    }
    this.db.prepare('INSERT INTO flags (key, json) SELECT key, json FROM restore_flags').run();
    this.db.prepare('INSERT INTO segments (name, json) SELECT name, json FROM restore_segments').run();
    this.db.prepare(`INSERT INTO changes (${CHANGE_COLUMNS}) SELECT ${CHANGE_COLUMNS} FROM restore_changes`).run();
    this.db.prepare('INSERT INTO flag_segments (segment, flag) SELECT segment, flag FROM restore_flag_segments').run();
    // Change requests and schedules of the backup (none in backups from before they were carried).
    for (const { staged, live } of Object.values(STAGED_RECORDS)) this.db.prepare(`INSERT OR REPLACE INTO ${live} (id, json) SELECT id, json FROM ${staged}`).run();
    this.clearStaging();
    this.recount();
  }

  stagedRows(): StagedTables {
    return {
      flags: this.checkedRows(T.restoreFlags) as [string, string][],
      segments: this.checkedRows(T.restoreSegments) as [string, string][],
      changes: this.checkedRows(T.restoreChanges),
      environments: this.checkedRows(T.restoreEnvironments) as [string, string][],
      envFlags: this.checkedRows(T.restoreEnvFlags) as [string, string, string][],
      changeRequests: this.checkedRows(T.restoreChangeRequests) as [string, string][],
      schedules: this.checkedRows(T.restoreSchedules) as [string, string][],
    };
  }

  /** Replaces the staging tables with a snapshot's (absent in snapshots of older nodes: empty). */
  replaceStagedRows(staged: StagedTables | undefined, segmentsOf: (flagJson: string) => Iterable<string>): void {
    this.clearStaging();
    for (const [k, j] of staged?.flags ?? []) this.stageFlag(k, j, segmentsOf(j));
    for (const [k, j] of staged?.segments ?? []) this.q.stageSegment.run(k, j);
    for (const r of staged?.changes ?? []) this.q.stageChange.run(...(r.length < 10 ? [...r, null] : r));
    for (const [n, j] of staged?.environments ?? []) this.q.stageEnvironment.run(n, j);
    for (const [e, k, j] of staged?.envFlags ?? []) this.q.stageEnvFlag.run(e, k, j);
    for (const [id, j] of staged?.changeRequests ?? []) this.q.stageChangeRequest.run(id, j);
    for (const [id, j] of staged?.schedules ?? []) this.q.stageSchedule.run(id, j);
  }

  private defaultEnvironmentNames(): string[] {
    return this.allRecords('environments').map((j) => JSON.parse(j) as { environment: { name: string }; isDefault: boolean }).filter((e) => e.isDefault).map((e) => e.environment.name);
  }

  bytes(): number {
    return fileBytes(this.path);
  }

  /** Hands up to `maxPages` free pages back to the file system (storage/reclaim.ts); local, not replicated. */
  reclaim(maxPages: number, keepFreePages: number, startAbovePages?: number): number {
    return reclaimPages(this.db, maxPages, keepFreePages, startAbovePages);
  }

  close(): void {
    closeDb(this.db);
  }
}

/**
 * Walks rows (revision, bytes) oldest first: the last revision that must go
 * for `total` to fall to `budget`; a revision goes whole. Stops at
 * `notAfter` (what may not go anyway), so a table held over its budget by a
 * floor is not walked in full at every prune.
 */
function overBudget(oldest: Database.Statement, total: number, budget: number, notAfter = Number.MAX_SAFE_INTEGER): number {
  if (total <= budget) return 0;
  let through = 0;
  for (const r of oldest.iterate() as IterableIterator<{ revision: number; bytes: number }>) {
    if ((total <= budget && r.revision !== through) || r.revision > notAfter) break;
    total -= r.bytes;
    through = r.revision;
  }
  return through;
}
