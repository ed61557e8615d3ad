// The flag state machine over the node's SQLite file: applies committed
// entries (inside the node's per-Ready transaction), serves reads, and makes /
// restores snapshots. Everything it does on apply is deterministic, so every
// replica holds the same rows at the same applied index.
import { crc32 } from 'node:zlib';
import type Database from 'better-sqlite3';
import type { ConfState } from '@flagraft/raft-core';
import {
  applyCommand, applyRestoreCommand, decodeCommand, decodeRestoreCommand, referencedSegments,
  type Change, type Command, type CommandError, type RestoreCommand, type RestoreError, type StateView, type StoredFlag, type StoredSegment,
} from '@flagraft/flag-model';
import type { ChangeEvent } from './outbox-types.js';
import { RestoreState, type RestoreMeta, type StagedTables } from './restore-state.js';
import type { SqliteStore } from './storage/sqlite-store.js';

/** First byte of every Normal entry's data: what kind of payload follows. */
export const TAG_COMMAND = 1; // a flag-model Command (encodeCommand)
export const TAG_INTERNAL = 2; // a node-internal JSON command, e.g. published(R)
export const TAG_RESTORE = 3; // a flag-model RestoreCommand (encodeRestoreCommand)

export interface InternalCommand { op: 'published'; revision: number }

export function encodeEntry(tag: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = tag;
  out.set(payload, 1);
  return out;
}

export type WriteOutcome =
  | { ok: true; revision: number; changes: Change[]; deduplicated?: boolean }
  | { ok: false; revision: number; error: CommandError };

export type RestoreOutcome =
  | { ok: true; revision: number; action: 'begin' | 'stage' | 'commit' | 'abort' | 'duplicate'; restoredRevision?: number }
  | { ok: false; revision: number; error: RestoreError };

/** Waiter key of a restore entry: a retried entry shares its waiter with the first. */
export function restoreWaiterKey(c: Pick<RestoreCommand, 'restoreId' | 'op'> & { seq?: number }): string {
  return `${c.restoreId}\u0000${c.op}\u0000${c.seq ?? ''}`;
}

export interface StateOptions {
  /** Changes of the last N revisions are kept (Watch resume window, history, outbox). */
  changesRetentionRevisions: number;
  /** A (clientId, requestId) is remembered for N revisions after it applied. */
  dedupWindowRevisions: number;
  /** Pruning runs at revisions that are multiples of this (deterministic on every replica). */
  pruneEveryRevisions: number;
}

interface ChangeRow { revision: number; seq: number; kind: 'flag' | 'segment'; key: string; op: 'put' | 'delete'; before: string | null; after: string | null; actor: string; time: number }

const SNAPSHOT_FORMAT = 1;

/** How far past the retention window unpublished changes are kept for the outbox during an SNS outage. */
export const OUTBOX_HOLD_FACTOR = 10;

/**
 * The revision at or below which changes may be pruned at `index`. Once an
 * outbox has published anything (published > 0, replicated state, so every
 * replica decides alike), changes not yet acknowledged by SNS are kept so a
 * new leader can still publish them — but never more than
 * OUTBOX_HOLD_FACTOR x retention, so disk stays bounded in a very long outage
 * (the relay then tells clients to resync: never a silent gap).
 */
export function changesPruneBelow(index: number, retention: number, published: number): number {
  const byRetention = index - retention;
  if (published <= 0) return byRetention;
  return Math.max(Math.min(byRetention, published), index - retention * OUTBOX_HOLD_FACTOR);
}

export class StateMachine {
  private readonly db: Database.Database;
  private published = 0;
  private changesPruned = 0;
  private readonly q;
  readonly view: StateView;
  readonly restoreState: RestoreState;

  constructor(private readonly store: SqliteStore, private readonly opts: StateOptions) {
    this.db = store.db;
    const db = this.db;
    this.q = {
      getFlag: db.prepare('SELECT json FROM flags WHERE key = ?').pluck(),
      getSegment: db.prepare('SELECT json FROM segments WHERE name = ?').pluck(),
      putFlag: db.prepare('INSERT OR REPLACE INTO flags (key, json) VALUES (?, ?)'),
      delFlag: db.prepare('DELETE FROM flags WHERE key = ?'),
      putSegment: db.prepare('INSERT OR REPLACE INTO segments (name, json) VALUES (?, ?)'),
      delSegment: db.prepare('DELETE FROM segments WHERE name = ?'),
      segUsers: db.prepare('SELECT flag FROM flag_segments WHERE segment = ? ORDER BY flag').pluck(),
      delFlagSegs: db.prepare('DELETE FROM flag_segments WHERE flag = ?'),
      addFlagSeg: db.prepare('INSERT OR IGNORE INTO flag_segments (segment, flag) VALUES (?, ?)'),
      addChange: db.prepare('INSERT INTO changes (revision, seq, kind, key, op, before, after, actor, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      changesAt: db.prepare('SELECT * FROM changes WHERE revision = ? ORDER BY seq'),
      changesAfter: db.prepare('SELECT * FROM changes WHERE revision > ? ORDER BY revision, seq LIMIT ?'),
      history: db.prepare('SELECT * FROM changes WHERE kind = ? AND key = ? AND revision < ? ORDER BY revision DESC, seq DESC LIMIT ?'),
      getDedup: db.prepare('SELECT revision, result FROM client_requests WHERE client_id = ? AND request_id = ?'),
      putDedup: db.prepare('INSERT OR REPLACE INTO client_requests (client_id, request_id, revision, result) VALUES (?, ?, ?, ?)'),
      pruneDedup: db.prepare('DELETE FROM client_requests WHERE revision <= ?'),
      pruneChanges: db.prepare('DELETE FROM changes WHERE revision <= ?'),
      pruneShifted: db.prepare('DELETE FROM changes WHERE (revision > ? AND revision <= ?) OR revision <= ?'),
      members: db.prepare('SELECT id, address FROM members ORDER BY id'),
      putMember: db.prepare('INSERT OR REPLACE INTO members (id, address) VALUES (?, ?)'),
      delMember: db.prepare('DELETE FROM members WHERE id = ?'),
    };
    this.restoreState = new RestoreState(store);
    this.published = Number(store.meta('published'));
    this.changesPruned = Number(store.meta('changes_pruned'));
    const q = this.q;
    this.view = {
      getFlag: (key) => { const j = q.getFlag.get(key) as string | undefined; return j === undefined ? undefined : JSON.parse(j) as StoredFlag; },
      getSegment: (name) => { const j = q.getSegment.get(name) as string | undefined; return j === undefined ? undefined : JSON.parse(j) as StoredSegment; },
      segmentUsers: (name) => q.segUsers.all(name) as string[],
    };
  }

  appliedIndex(): number {
    return Number(this.store.meta('applied'));
  }

  /** Must run inside the Ready transaction, together with the entry's effects. */
  setApplied(index: number, term: number): void {
    this.store.setMeta('applied', index);
    this.store.setMeta('applied_term', term);
  }

  publishedRevision(): number {
    return this.published;
  }

  /** Changes at or below the last restore's revision were imported, never live: Watch and the outbox start above them. */
  oldestRetainedRevision(): number {
    return Math.max(this.changesPruned, this.restoreState.meta.floor) + 1;
  }

  /** The revision of the entry at Raft index `index` (index + the replicated restore offset). */
  revisionAt(index: number): number {
    return index + this.restoreState.meta.offset;
  }

  /** Revision of the last restore commit (0 = never restored). */
  restoredRevision(): number {
    return this.restoreState.meta.floor;
  }

  // ---- apply ------------------------------------------------------------------

  /** Applies one Normal entry's command; returns the outcome for a waiting client. */
  applyCommandEntry(index: number, payload: Uint8Array): { outcome: WriteOutcome; dedupKey?: string } {
    const revision = this.revisionAt(index);
    let cmd: Command;
    try {
      cmd = decodeCommand(payload);
    } catch (e) {
      return { outcome: { ok: false, revision, error: { code: 'BAD_COMMAND', message: (e as Error).message } } };
    }
    const dedupKey = cmd.clientId && cmd.requestId ? `${cmd.clientId}\u0000${cmd.requestId}` : undefined;
    if (dedupKey) {
      const prior = this.q.getDedup.get(cmd.clientId, cmd.requestId) as { revision: number; result: string } | undefined;
      if (prior) return { outcome: this.priorOutcome(prior.revision, prior.result), dedupKey };
    }
    const res = applyCommand(this.view, cmd, revision);
    let outcome: WriteOutcome;
    if (res.ok) {
      res.changes.forEach((c, seq) => this.writeChange(c, seq));
      outcome = { ok: true, revision, changes: res.changes };
    } else {
      outcome = { ok: false, revision, error: res.error };
    }
    if (dedupKey) {
      const stored = res.ok ? { ok: true } : { ok: false, error: res.error };
      this.q.putDedup.run(cmd.clientId, cmd.requestId, revision, JSON.stringify(stored));
    }
    this.maybePrune(revision);
    return { outcome, dedupKey };
  }

  private priorOutcome(revision: number, result: string): WriteOutcome {
    const r = JSON.parse(result) as { ok: boolean; error?: CommandError };
    if (!r.ok) return { ok: false, revision, error: r.error! };
    const changes = (this.q.changesAt.all(revision) as ChangeRow[]).map(rowToChange);
    return { ok: true, revision, changes, deduplicated: true };
  }

  private writeChange(c: Change, seq: number): void {
    if (c.kind === 'flag') {
      if (c.after) {
        const sf = c.after as StoredFlag;
        this.q.putFlag.run(c.key, JSON.stringify(sf));
        this.q.delFlagSegs.run(c.key);
        for (const s of referencedSegments(sf.flag)) this.q.addFlagSeg.run(s, c.key);
      } else {
        this.q.delFlag.run(c.key);
        this.q.delFlagSegs.run(c.key);
      }
    } else if (c.after) this.q.putSegment.run(c.key, JSON.stringify(c.after));
    else this.q.delSegment.run(c.key);
    this.q.addChange.run(c.revision, seq, c.kind, c.key, c.op,
      c.before ? JSON.stringify(c.before) : null, c.after ? JSON.stringify(c.after) : null, c.actor, c.time);
  }

  applyInternal(index: number, payload: Uint8Array): void {
    let cmd: InternalCommand;
    try {
      cmd = JSON.parse(Buffer.from(payload).toString('utf8')) as InternalCommand;
    } catch {
      return; // a malformed internal entry cannot come from this code; skip it deterministically
    }
    if (cmd.op === 'published' && Number.isSafeInteger(cmd.revision) && cmd.revision > this.published) {
      this.published = cmd.revision;
      this.store.setMeta('published', cmd.revision);
    }
    this.maybePrune(this.revisionAt(index));
  }

  /**
   * Applies one restore entry (begin / chunk / commit / abort) as
   * flag-model's applyRestoreCommand decides. Bad input is an outcome, never
   * an exception: every replica reaches the same verdict from the same bytes.
   */
  applyRestoreEntry(index: number, payload: Uint8Array): { outcome: RestoreOutcome; key?: string; changed: boolean } {
    const rs = this.restoreState;
    let cmd: RestoreCommand;
    try {
      cmd = decodeRestoreCommand(payload);
    } catch (e) {
      return { outcome: { ok: false, revision: this.revisionAt(index), error: { code: 'BAD_COMMAND', message: (e as Error).message } }, changed: false };
    }
    const key = restoreWaiterKey(cmd as RestoreCommand & { seq?: number });
    const step = applyRestoreCommand(rs.meta.session, cmd, rs.target, rs.meta.last?.restoreId);
    if (!step.ok) {
      if (step.abort) rs.abort();
      return { outcome: { ok: false, revision: this.revisionAt(index), error: step.error }, key, changed: false };
    }
    switch (step.action) {
      case 'begin': rs.begin(step.session); break;
      case 'stage': rs.stage(step.session, step.rows); break;
      case 'abort': rs.abort(); break;
      case 'commit': {
        const revision = rs.commit(index, step.session);
        return { outcome: { ok: true, revision, action: 'commit', restoredRevision: step.session.source.revision }, key, changed: true };
      }
      case 'duplicate':
        if (cmd.op === 'restoreCommit' && rs.meta.last?.restoreId === cmd.restoreId) {
          return { outcome: { ok: true, revision: rs.meta.last.revision, action: 'duplicate' }, key, changed: false };
        }
        break;
    }
    return { outcome: { ok: true, revision: this.revisionAt(index), action: step.action }, key, changed: false };
  }

  private maybePrune(revision: number): void {
    if (revision % this.opts.pruneEveryRevisions !== 0) return;
    const dedupBelow = revision - this.opts.dedupWindowRevisions;
    if (dedupBelow > 0) this.q.pruneDedup.run(dedupBelow);
    const changesBelow = changesPruneBelow(revision, this.opts.changesRetentionRevisions, this.published);
    if (changesBelow > this.changesPruned) {
      const { floor, importShift = 0 } = this.restoreState.meta;
      if (importShift > 0) {
        // Live changes (above the restore) by retention; imported history as
        // if it had been written importShift revisions later (restore-state.ts).
        this.q.pruneShifted.run(floor, changesBelow, Math.min(floor, changesBelow - importShift));
      } else this.q.pruneChanges.run(changesBelow);
      this.changesPruned = changesBelow;
      this.store.setMeta('changes_pruned', changesBelow);
    }
  }

  /** A membership change entry: keeps the replicated address book in step. */
  applyMembers(adds: { id: number; address?: string }[], removes: number[]): void {
    for (const a of adds) if (a.address) this.q.putMember.run(a.id, a.address);
    for (const id of removes) this.q.delMember.run(id);
    this.membersCache = undefined;
  }

  private membersCache?: Map<number, string>;

  /** The replicated address book (cached: it is consulted on every peer batch). */
  members(): Map<number, string> {
    if (!this.membersCache) this.membersCache = new Map((this.q.members.all() as { id: number; address: string }[]).map((m) => [m.id, m.address]));
    return this.membersCache;
  }

  // ---- reads --------------------------------------------------------------------

  getFlag(key: string): StoredFlag | undefined { return this.view.getFlag(key); }
  getSegment(name: string): StoredSegment | undefined { return this.view.getSegment(name); }

  /** Items in key order after `afterKey`, with the given prefix. */
  list(kind: 'flag' | 'segment', prefix: string, afterKey: string, limit: number): string[] {
    const table = kind === 'flag' ? 'flags' : 'segments';
    const col = kind === 'flag' ? 'key' : 'name';
    const from = afterKey > prefix ? afterKey : prefix;
    const op = afterKey > prefix ? '>' : '>=';
    return this.db.prepare(`SELECT json FROM ${table} WHERE ${col} ${op} ? AND substr(${col}, 1, ?) = ? ORDER BY ${col} LIMIT ?`)
      .pluck().all(from, prefix.length, prefix, limit) as string[];
  }

  allItems(kind: 'flag' | 'segment'): string[] {
    return this.db.prepare(kind === 'flag' ? 'SELECT json FROM flags ORDER BY key' : 'SELECT json FROM segments ORDER BY name').pluck().all() as string[];
  }

  history(kind: 'flag' | 'segment', key: string, beforeRevision: number, limit: number): Change[] {
    return (this.q.history.all(kind, key, beforeRevision, limit) as ChangeRow[]).map(rowToChange);
  }

  /** Change events with revision > afterRevision (and above the last restore), whole revisions only (a batch is never split). */
  changesAfter(afterRevision: number, limit: number): ChangeEvent[] {
    // Never the history a restore imported: it is not a stream of new changes.
    afterRevision = Math.max(afterRevision, this.restoreState.meta.floor);
    const rows = this.q.changesAfter.all(afterRevision, limit + 1) as ChangeRow[];
    if (rows.length > limit) {
      const lastRev = rows[rows.length - 1].revision;
      const whole = rows.filter((r) => r.revision !== lastRev);
      // A single batch larger than the limit is still delivered whole.
      const out = whole.length ? whole : (this.q.changesAt.all(lastRev) as ChangeRow[]);
      return out.map(rowToEvent);
    }
    return rows.map(rowToEvent);
  }

  // ---- snapshots ------------------------------------------------------------------

  /** The whole state at the applied index, with a checksum (see restore). */
  makeSnapshot(confState: ConfState): { index: number; confState: ConfState; data: Uint8Array } {
    const index = this.appliedIndex();
    const body = Buffer.from(JSON.stringify({
      format: SNAPSHOT_FORMAT,
      index,
      published: this.published,
      changesPruned: this.changesPruned,
      flags: this.db.prepare('SELECT key, json FROM flags').raw().all(),
      segments: this.db.prepare('SELECT name, json FROM segments').raw().all(),
      changes: this.db.prepare('SELECT revision, seq, kind, key, op, before, after, actor, time FROM changes ORDER BY revision, seq').raw().all(),
      dedup: this.db.prepare('SELECT client_id, request_id, revision, result FROM client_requests').raw().all(),
      members: this.db.prepare('SELECT id, address FROM members').raw().all(),
      // Restore bookkeeping and any restore in progress (absent in older snapshots).
      ...this.restoreState.snapshotPart(),
    }));
    const out = Buffer.allocUnsafe(body.length + 4);
    out.writeUInt32LE(crc32(body), 0);
    body.copy(out, 4);
    return { index, confState, data: out };
  }

  /** Replaces the whole state with a snapshot's (inside the Ready transaction). */
  restore(data: Uint8Array, index: number, term: number): void {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (buf.length < 4) throw new Error('snapshot data too short');
    const body = buf.subarray(4);
    if (crc32(body) !== buf.readUInt32LE(0)) throw new Error(`snapshot at ${index} failed its checksum`);
    const s = JSON.parse(body.toString('utf8')) as {
      format: number; index: number; published: number; changesPruned: number;
      flags: [string, string][]; segments: [string, string][]; changes: unknown[][]; dedup: unknown[][]; members: [number, string][];
      restore?: RestoreMeta; staged?: StagedTables;
    };
    if (s.format !== SNAPSHOT_FORMAT) throw new Error(`snapshot format ${s.format} not supported`);
    if (s.index !== index) throw new Error(`snapshot data is for index ${s.index}, metadata says ${index}`);
    for (const t of ['flags', 'segments', 'flag_segments', 'changes', 'client_requests', 'members']) this.db.prepare(`DELETE FROM ${t}`).run();
    for (const [k, j] of s.flags) {
      this.q.putFlag.run(k, j);
      for (const seg of referencedSegments((JSON.parse(j) as StoredFlag).flag)) this.q.addFlagSeg.run(seg, k);
    }
    for (const [k, j] of s.segments) this.q.putSegment.run(k, j);
    for (const r of s.changes) this.q.addChange.run(...r);
    for (const r of s.dedup) this.q.putDedup.run(...r);
    for (const [id, addr] of s.members) this.q.putMember.run(id, addr);
    this.restoreState.restoreSnapshotPart(s.restore, s.staged);
    this.membersCache = undefined;
    this.published = s.published;
    this.changesPruned = s.changesPruned;
    this.store.setMeta('published', s.published);
    this.store.setMeta('changes_pruned', s.changesPruned);
    this.setApplied(index, term);
  }
}

function rowToChange(r: ChangeRow): Change {
  return {
    kind: r.kind, key: r.key, op: r.op, actor: r.actor, time: r.time, revision: r.revision,
    before: r.before ? JSON.parse(r.before) : null, after: r.after ? JSON.parse(r.after) : null,
  };
}

/**
 * The event of a change apply produced. Change does not tie `after` to
 * `kind`, so the item is narrowed here; apply never makes a put without its
 * item (nor a flag put with a segment), so the throw marks a bug, not input.
 */
export function changeToEvent(c: Change): ChangeEvent {
  const { revision, key, actor } = c;
  const time = new Date(c.time).toISOString();
  const after = c.after;
  if (c.kind === 'flag') {
    if (c.op === 'delete') return { v: 1, revision, kind: 'flag', key, op: 'delete', actor, time, flag: null };
    if (after && isStoredFlag(after)) return { v: 1, revision, kind: 'flag', key, op: 'put', actor, time, flag: after };
  } else {
    if (c.op === 'delete') return { v: 1, revision, kind: 'segment', key, op: 'delete', actor, time, segment: null };
    if (after && !isStoredFlag(after)) return { v: 1, revision, kind: 'segment', key, op: 'put', actor, time, segment: after };
  }
  throw new Error(`change at revision ${revision} (${c.kind} ${key}): a put without the stored ${c.kind} after it`);
}

function isStoredFlag(x: StoredFlag | StoredSegment): x is StoredFlag {
  return 'flag' in x;
}

/**
 * A changes row as an event. `after` is the JSON of the stored item the row
 * was written with: a StoredFlag for a flag put, a StoredSegment for a
 * segment put, null on a delete (apply, and the validation of restored
 * history in flag-model's changeIssues, guarantee it), so it is not checked
 * again on every Watch page. Keys in the order consumers have always seen.
 */
function rowToEvent(r: ChangeRow): ChangeEvent {
  const { revision, key, op, actor } = r;
  const time = new Date(r.time).toISOString();
  const after = r.after ? JSON.parse(r.after) : null;
  return r.kind === 'flag'
    ? { v: 1, revision, kind: 'flag', key, op, actor, time, flag: after }
    : { v: 1, revision, kind: 'segment', key, op, actor, time, segment: after };
}
