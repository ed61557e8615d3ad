// The flag state machine (the Fsm of fsm.ts): applies committed entries
// (what their tag byte says they are, entries.ts), serves reads, and makes /
// restores snapshots. Everything it does on apply is deterministic, so every
// replica holds the same rows at the same applied index. The rows themselves
// are written by storage/state-store.ts; when they reach the disk is
// durability.ts's business.
import { crc32 } from 'node:zlib';
import { ConfChangeType, type ConfChange, type ConfState, type Entry, type Snapshot } from '@flagraft/raft-core';
import {
  DEFAULT_ENVIRONMENT, applyCommand, changeEvent, applyRestoreCommand, decodeCommand, decodeRestoreCommand, referencedSegments,
  type AnyChangeEvent, type Change, type ChangeKind, type Command, type CommandError, type RestoreCommand, type RestoreError, type StateView, type StoredChangeRequest, type AuditFilter,
  type StoredEnvironment, type StoredFlag, type StoredSchedule, type StoredSegment,
} from '@flagraft/flag-model';
import { TAG_COMMAND, TAG_INTERNAL, TAG_RESTORE, decodeConfContext, restoreWaiterKey, writeWaiterKey, type InternalCommand } from './entries.js';
import type { Fsm } from './fsm.js';
import type { Logger } from './log.js';
import { OUTBOX_HOLD_FACTOR, changesPruneBelow, dedupPruneThrough, historyBudget, historyPruneThrough, type RetentionOptions } from './retention.js';
import type { ChangeEvent } from './outbox-types.js';
import { RestoreState, flagSegments, type RestoreMeta } from './restore-state.js';
import { type ChangeRow, type ItemKind, type LiveRows, type RecordTable, type StagedTables, type StateStore } from './storage/state-store.js';

export type WriteOutcome =
  | { ok: true; revision: number; changes: Change[]; deduplicated?: boolean }
  | { ok: false; revision: number; error: CommandError };

export type RestoreOutcome =
  | { ok: true; revision: number; action: 'begin' | 'stage' | 'commit' | 'abort' | 'duplicate'; restoredRevision?: number }
  | { ok: false; revision: number; error: RestoreError };

/** Who waits for an applied entry (proposer.ts): the kind of proposal, its key and what to answer. */
export type Answer =
  | { to: 'write'; key: string; outcome: WriteOutcome }
  | { to: 'restore'; key: string; outcome: RestoreOutcome }
  | { to: 'internal'; key: string }
  | { to: 'membership'; key: string };

/** What applying one entry means to the node around the state machine. */
export interface Applied {
  answer?: Answer;
  /** Live data changed: Watch streams look for new changes. */
  changed: boolean;
  /** A membership change: the transport follows the address book. */
  membersChanged: boolean;
}

export interface StateOptions extends RetentionOptions {
  /** Where an entry this code cannot read is reported (skipped on every replica alike). */
  logger?: Logger;
  /** The default environment's name when a snapshot from a node before environments is installed (open.ts says the same for files). */
  defaultEnvironment?: string;
}

/** The table of each record kind (flags and segments have their own). */
const RECORD_TABLE: Partial<Record<ChangeKind, RecordTable>> = { environment: 'environments', changeRequest: 'change_requests', schedule: 'schedules' };

const SNAPSHOT_FORMAT = 1;

export class StateMachine implements Fsm<Applied> {
  private published = 0;
  private changesPruned = 0;
  private membersCache?: Map<number, string>;
  private defaultEnvCache?: string;
  readonly view: StateView;
  readonly restoreState: RestoreState;

  constructor(private readonly store: StateStore, private readonly opts: StateOptions) {
    this.restoreState = new RestoreState(store);
    this.published = Number(store.meta('published'));
    this.changesPruned = Number(store.meta('changes_pruned'));
    this.view = this.makeView(store);
  }

  /**
   * flag-model's StateView over the state file. The default environment's
   * flags are the flags table (as before environments); the others' are
   * env_flags. Its name is read per call: it is replicated state.
   */
  private makeView(store: StateStore): StateView {
    // Read on every flag command: cached, and dropped whenever environments may have changed (writeChange, restore, snapshot).
    const defaultEnv = () => {
      if (this.defaultEnvCache !== undefined) return this.defaultEnvCache;
      for (const name of store.recordIds('environments')) {
        if (parseItem<StoredEnvironment>(store.recordJson('environments', name))?.isDefault) return (this.defaultEnvCache = name);
      }
      return this.opts.defaultEnvironment ?? DEFAULT_ENVIRONMENT;
    };
    const isDefault = (env: string) => env === defaultEnv();
    const view: StateView = {
      getFlag: (key) => parseItem<StoredFlag>(store.itemJson('flag', key)),
      getSegment: (name) => parseItem<StoredSegment>(store.itemJson('segment', name)),
      defaultEnvironment: defaultEnv,
      getEnvironment: (name) => parseItem<StoredEnvironment>(store.recordJson('environments', name)),
      environmentNames: () => store.recordIds('environments'),
      getFlagIn: (env, key) => (isDefault(env) ? view.getFlag(key) : parseItem<StoredFlag>(store.envFlagJson(env, key))),
      flagKeysIn: (env) => store.flagKeys(isDefault(env) ? undefined : env),
      segmentUsersIn: (env, name) => (isDefault(env) ? store.segmentUsers(name) : store.envSegmentUsers(env, name)),
      segmentUsers: (name) => [...new Set(store.recordIds('environments').flatMap((env) => view.segmentUsersIn(env, name)))].sort(),
      getChangeRequest: (id) => parseItem<StoredChangeRequest>(store.recordJson('change_requests', id)),
      getSchedule: (id) => parseItem<StoredSchedule>(store.recordJson('schedules', id)),
      recordIds: (kind) => store.recordIds(kind === 'changeRequest' ? 'change_requests' : 'schedules'),
    };
    return view;
  }

  // ---- the Fsm -------------------------------------------------------------------

  applied(): { index: number; term: number } {
    return this.store.applied();
  }

  confState(): ConfState {
    return this.store.confState();
  }

  atomically<T>(last: { index: number; term: number }, fn: () => T): T {
    return this.store.transaction(() => {
      const r = fn();
      this.store.setApplied(last.index, last.term);
      return r;
    });
  }

  apply(e: Entry): Applied {
    const tag = e.data[0];
    const payload = e.data.subarray(1);
    if (tag === TAG_COMMAND) {
      const r = this.applyCommandEntry(e.index, payload);
      return { answer: r.dedupKey ? { to: 'write', key: r.dedupKey, outcome: r.outcome } : undefined, changed: r.outcome.ok, membersChanged: false };
    }
    if (tag === TAG_RESTORE) {
      const r = this.applyRestoreEntry(e.index, payload);
      return { answer: r.key ? { to: 'restore', key: r.key, outcome: r.outcome } : undefined, changed: r.changed, membersChanged: false };
    }
    if (tag === TAG_INTERNAL) {
      const nonce = this.applyInternal(e.index, payload);
      return { answer: nonce ? { to: 'internal', key: nonce } : undefined, changed: false, membersChanged: false };
    }
    this.opts.logger?.warn('skipping entry with unknown tag', { index: e.index, tag });
    return { changed: false, membersChanged: false };
  }

  applyConfChange(e: Entry, cc: ConfChange, confState: ConfState | undefined): Applied {
    const ctx = decodeConfContext(cc.context);
    if (confState) {
      this.store.setConfState(confState);
      const removes = cc.changes.filter((c) => c.type === ConfChangeType.RemoveNode);
      if (ctx?.address) for (const c of cc.changes) if (c.type !== ConfChangeType.RemoveNode) this.store.putMember(c.nodeId, ctx.address);
      for (const c of removes) this.store.deleteMember(c.nodeId);
      this.membersCache = undefined;
    }
    return { answer: ctx?.nonce ? { to: 'membership', key: ctx.nonce } : undefined, changed: false, membersChanged: true };
  }

  /** The whole state at the applied index, with a checksum (see restore). */
  snapshot(): { index: number; confState: ConfState; data: Uint8Array } {
    const index = this.applied().index;
    const live = this.store.liveRows();
    const body = Buffer.from(JSON.stringify({
      format: SNAPSHOT_FORMAT,
      index,
      published: this.published,
      changesPruned: this.changesPruned,
      ...live,
      // Restore bookkeeping and any restore in progress (absent in older snapshots).
      ...this.restoreState.snapshotPart(),
    }));
    const out = Buffer.allocUnsafe(body.length + 4);
    out.writeUInt32LE(crc32(body), 0);
    body.copy(out, 4);
    return { index, confState: this.store.confState(), data: out };
  }

  restore(snapshot: Snapshot): void {
    const { index, term, confState } = snapshot.metadata;
    const data = snapshot.data;
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (buf.length < 4) throw new Error('snapshot data too short');
    const body = buf.subarray(4);
    if (crc32(body) !== buf.readUInt32LE(0)) throw new Error(`snapshot at ${index} failed its checksum`);
    const s = JSON.parse(body.toString('utf8')) as LiveRows & {
      format: number; index: number; published: number; changesPruned: number; restore?: RestoreMeta; staged?: StagedTables;
    };
    if (s.format !== SNAPSHOT_FORMAT) throw new Error(`snapshot format ${s.format} not supported`);
    if (s.index !== index) throw new Error(`snapshot data is for index ${s.index}, metadata says ${index}`);
    this.store.durableTransaction(() => {
      this.store.replaceLiveRows(s, flagSegments);
      // A snapshot from a node before environments: its flags are the default environment's.
      if (!s.environments) this.store.ensureDefaultEnvironment(this.opts.defaultEnvironment ?? DEFAULT_ENVIRONMENT);
      this.restoreState.restoreSnapshotPart(s.restore, s.staged);
      this.membersCache = undefined;
      this.defaultEnvCache = undefined;
      this.published = s.published;
      this.changesPruned = s.changesPruned;
      this.store.setMeta('published', s.published);
      this.store.setMeta('changes_pruned', s.changesPruned);
      this.store.setConfState(confState);
      this.store.setApplied(index, term);
    });
  }

  sync(): void {
    this.store.durableTransaction(() => this.store.setMeta('synced_at', this.applied().index));
  }

  // ---- applying entries -------------------------------------------------------------

  /** Applies one command entry's payload; returns the outcome for a waiting client. */
  applyCommandEntry(index: number, payload: Uint8Array): { outcome: WriteOutcome; dedupKey?: string } {
    const revision = this.revisionAt(index);
    let cmd: Command;
    try {
      cmd = decodeCommand(payload);
    } catch (e) {
      return { outcome: { ok: false, revision, error: { code: 'BAD_COMMAND', message: (e as Error).message } } };
    }
    const dedupKey = cmd.clientId && cmd.requestId ? writeWaiterKey(cmd.clientId, cmd.requestId, cmd.fingerprint) : undefined;
    if (dedupKey) {
      const prior = this.store.request(cmd.clientId!, cmd.requestId!);
      if (prior) return { outcome: this.priorOutcome(prior.revision, prior.result, cmd), dedupKey };
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
      const stored: { ok: boolean; error?: CommandError; fp?: string } = res.ok ? { ok: true } : { ok: false, error: res.error };
      if (cmd.fingerprint) stored.fp = cmd.fingerprint;
      this.store.putRequest(cmd.clientId!, cmd.requestId!, revision, JSON.stringify(stored));
    }
    this.maybePrune(revision, cmd.time);
    return { outcome, dedupKey };
  }

  private priorOutcome(revision: number, result: string, cmd: Command): WriteOutcome {
    const r = JSON.parse(result) as { ok: boolean; error?: CommandError; fp?: string };
    // The same ids with another request behind them: refuse, never answer a
    // different write with the first one's result (or apply it).
    if ((r.fp ?? '') !== (cmd.fingerprint ?? '')) {
      return {
        ok: false, revision,
        error: { code: 'IDEMPOTENCY_KEY_REUSED', message: `request id ${cmd.requestId} was first used at revision ${revision} for a different request` },
      };
    }
    if (!r.ok) return { ok: false, revision, error: r.error! };
    return { ok: true, revision, changes: this.store.changesAt(revision).map(rowToChange), deduplicated: true };
  }

  private writeChange(c: Change, seq: number): void {
    // The item row and the audit row hold the same text: serialised once (a write's hot path).
    const after = c.after ? JSON.stringify(c.after) : null;
    const table = RECORD_TABLE[c.kind];
    if (c.kind === 'environment') this.defaultEnvCache = undefined;
    if (table) {
      if (after !== null) this.store.putRecord(table, c.key, after);
      else this.store.deleteRecord(table, c.key);
    } else if (c.kind === 'flag' && c.env !== undefined) {
      // flag-model names the environment of a flag change only outside the default one.
      if (after !== null) this.store.putEnvFlag(c.env, c.key, after, referencedSegments((c.after as StoredFlag).flag));
      else this.store.deleteEnvFlag(c.env, c.key);
    } else if (c.kind === 'flag') {
      if (after !== null) this.store.putFlag(c.key, after, referencedSegments((c.after as StoredFlag).flag));
      else this.store.deleteFlag(c.key);
    } else if (after !== null) this.store.putSegment(c.key, after);
    else this.store.deleteSegment(c.key);
    this.store.addChange({
      revision: c.revision, seq, kind: c.kind, key: c.key, op: c.op,
      before: c.before ? JSON.stringify(c.before) : null, after, actor: c.actor, time: c.time, env: c.env ?? null,
    });
  }

  /** Applies a node-internal command; returns its nonce (who waits for it). */
  applyInternal(index: number, payload: Uint8Array): string | undefined {
    let cmd: InternalCommand;
    try {
      cmd = JSON.parse(Buffer.from(payload).toString('utf8')) as InternalCommand;
    } catch {
      return undefined; // a malformed internal entry cannot come from this code; skip it deterministically
    }
    if (cmd.op === 'published' && Number.isSafeInteger(cmd.revision) && cmd.revision > this.published) {
      this.published = cmd.revision;
      this.store.setMeta('published', cmd.revision);
    }
    this.maybePrune(this.revisionAt(index));
    return cmd.nonce;
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
        this.defaultEnvCache = undefined; // a restore brings its own environments
        // Imported history ages from the restore, not from when this cluster last passed its (older) revisions.
        this.store.restartClockSamples(revision, cmd.time);
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

  /**
   * At every pruneEveryRevisions-th revision: samples the replicated clock
   * (`time`: the command's, stamped by its leader; absent for internal
   * entries) and prunes history and de-duplication rows by size and age
   * (retention.ts): de-dup first, then history within what the budget
   * leaves. Only replicated inputs: every replica cuts alike.
   */
  private maybePrune(revision: number, time?: number): void {
    const o = this.opts;
    if (revision % o.pruneEveryRevisions !== 0) return;
    // Monotonic: a leader whose clock is behind never moves the clock back.
    const last = this.store.lastClockSample();
    const now = Math.max(last, time ?? 0);
    // Nor does it sample: the sample would say this revision was written at
    // the last sample's time, older than it is, and a correct clock later
    // would prune it early by the length of the lag (torture clock-jump seed
    // 5013). Unsampled, it ages with the next sample, which errs on keeping.
    if (now > last || last === 0) this.store.addClockSample(revision, now);
    const olderThan = (ageMs: number) => (ageMs > 0 ? this.store.revisionAtOrBefore(now - ageMs) : 0);
    const floor = o.dedupMinAgeMs > 0 ? olderThan(o.dedupMinAgeMs) : revision;
    const dedupThrough = dedupPruneThrough(olderThan(o.dedupMaxAgeMs), floor, this.store.requestsOverBudget(o.dedupMaxBytes, floor));
    if (dedupThrough > 0) this.store.pruneRequests(dedupThrough);
    if (o.changesRetentionRevisions > 0) this.pruneByRevisions(revision);
    // History gets what the budget leaves after the local margins and the de-dup rows just pruned (replicated counts: every replica alike).
    const budget = historyBudget(o, this.store.requestsBytes());
    const through = historyPruneThrough(olderThan(o.historyMaxAgeMs), (b) => this.store.changesOverBudget(b), budget, this.published, o.historyMaxBytes * OUTBOX_HOLD_FACTOR);
    if (through > this.changesPruned) {
      this.store.pruneChangesThrough(through);
      this.setChangesPruned(through);
    }
    this.store.dropUnusedClockSamples();
  }

  /** The optional revision cap (FLAGRAFT_CHANGES_RETENTION): imported history ages as if written importShift revisions later (restore-state.ts). */
  private pruneByRevisions(revision: number): void {
    const changesBelow = changesPruneBelow(revision, this.opts.changesRetentionRevisions, this.published);
    if (changesBelow <= this.changesPruned) return;
    const { floor, importShift = 0 } = this.restoreState.meta;
    this.store.pruneChanges(changesBelow, importShift > 0 ? { floor, importedBelow: Math.min(floor, changesBelow - importShift) } : undefined);
    this.setChangesPruned(changesBelow);
  }

  private setChangesPruned(revision: number): void {
    this.changesPruned = revision;
    this.store.setMeta('changes_pruned', revision);
  }

  // ---- reads --------------------------------------------------------------------

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

  /** The replicated address book (cached: it is consulted on every peer batch). */
  members(): Map<number, string> {
    if (!this.membersCache) this.membersCache = this.store.members();
    return this.membersCache;
  }

  getFlag(key: string): StoredFlag | undefined { return this.view.getFlag(key); }
  getSegment(name: string): StoredSegment | undefined { return this.view.getSegment(name); }

  /** Items in key order after `afterKey`, with the given prefix (JSON text). */
  list(kind: ItemKind, prefix: string, afterKey: string, limit: number): string[] {
    return this.store.listJson(kind, prefix, afterKey, limit);
  }

  allItems(kind: ItemKind): string[] {
    return this.store.allJson(kind);
  }

  /** `env`: a flag's history in that environment (absent or the default one: as before environments). */
  history(kind: ChangeKind, key: string, beforeRevision: number, limit: number, env?: string): Change[] {
    const e = kind === 'flag' && env !== undefined && env !== this.view.defaultEnvironment() ? env : null;
    return this.store.history(kind, key, beforeRevision, limit, e).map(rowToChange);
  }

  /**
   * Change events with revision > afterRevision (and above the last
   * restore), whole revisions only (a batch is never split). `all` = false
   * (consumers from before environments): only the default environment's
   * flags and the segments, in the shape those consumers always saw.
   */
  changesAfter(afterRevision: number, limit: number, all = false): AnyChangeEvent[] {
    // Never the history a restore imported: it is not a stream of new changes.
    afterRevision = Math.max(afterRevision, this.restoreState.meta.floor);
    const rows = this.store.changesAfter(afterRevision, limit + 1, all);
    if (rows.length > limit) {
      const lastRev = rows[rows.length - 1].revision;
      const whole = rows.filter((r) => r.revision !== lastRev);
      // A single batch larger than the limit is still delivered whole.
      return (whole.length ? whole : this.store.changesAt(lastRev, all)).map(rowToEvent);
    }
    return rows.map(rowToEvent);
  }

  /**
   * A page of the global audit log, newest first, and the cursor after its
   * last change (undefined: no more). The default environment's changes
   * are stored without a name, so its name is looked up as such.
   */
  auditLog(f: AuditFilter): { changes: Change[]; next?: { revision: number; seq: number } } {
    const env = f.environment === undefined ? undefined : f.environment === this.view.defaultEnvironment() ? null : f.environment;
    const { environment: _, ...q } = f;
    const rows = this.store.auditChanges({ ...q, env, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return { changes: page.map(rowToChange), next: rows.length > q.limit && last ? { revision: last.revision, seq: last.seq } : undefined };
  }

  /** Environments, change requests or schedules (JSON text, id order). */
  records(table: RecordTable): string[] {
    return this.store.allRecords(table);
  }

  /** A flag of one environment (absent: the default one). */
  getFlagIn(env: string | undefined, key: string): StoredFlag | undefined {
    return env ? this.view.getFlagIn(env, key) : this.view.getFlag(key);
  }

  /** Every flag of one environment (JSON text, key order). */
  allFlagsIn(env: string | undefined): string[] {
    if (!env || env === this.view.defaultEnvironment()) return this.store.allJson('flag');
    return this.store.flagKeys(env).map((k) => this.store.envFlagJson(env, k)!);
  }
}

function parseItem<T>(json: string | undefined): T | undefined {
  return json === undefined ? undefined : JSON.parse(json) as T;
}

function rowToChange(r: ChangeRow): Change {
  const c: Change = {
    kind: r.kind, key: r.key, op: r.op, actor: r.actor, time: r.time, revision: r.revision,
    before: r.before ? JSON.parse(r.before) : null, after: r.after ? JSON.parse(r.after) : null,
  };
  if (r.env) c.env = r.env;
  return c;
}

/**
 * A changes row as an event. `after` is the JSON of the stored item the row
 * was written with: a StoredFlag for a flag put, a StoredSegment for a
 * segment put, null on a delete (apply, and the validation of restored
 * history in flag-model's changeIssues, guarantee it), so it is not checked
 * again on every Watch page.
 */
function rowToEvent(r: ChangeRow): AnyChangeEvent {
  return changeEvent(r, r.after ? JSON.parse(r.after) : null);
}
