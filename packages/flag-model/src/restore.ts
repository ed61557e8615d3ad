// Restore commands: how a backup document enters the replicated state machine.
//
// A backup can be far larger than one Raft entry may be (maxCommandBytes), so
// it is imported as a session of bounded entries:
//   restoreBegin   checks the cluster is empty (or `force`), opens a session
//   restoreChunk*  stages rows (segments, then flags, then changes), each
//                  chunk validated and at most maxRestoreChunkBytes of items
//   restoreCommit  checks every announced row arrived and the cluster is
//                  still empty (or `force`), then swaps the staged rows in
// Readers never see a half-restored cluster: staged rows live apart from the
// live tables until the commit entry moves them in one transaction. Any error
// in a chunk or at commit aborts the session (its staged rows are dropped).
// One code path for every size (a small backup is 3 entries), so the path
// that handles a 100 MB backup is the one every test exercises.
//
// applyRestoreCommand is the deterministic decision; the node performs the
// writes it asks for (staging table inserts, the commit's swap).
import { CommandDecodeError } from './errors.js';
import { LIMITS } from './limits.js';
import { isPlainObject, utf8Length } from './json-util.js';
import { referencedSegments } from './validate.js';
import { MAX_BACKUP_REVISION, changeIssues, envFlagIssues, normalizeChange, storedEnvironmentIssues, storedItemIssues, storedRecordIssues } from './backup.js';
import type { Change, StoredChangeRequest, StoredEnvironment, StoredFlag, StoredSchedule, StoredSegment, ValidationIssue } from './types.js';

/** In the order they must arrive: environments first, a flag's segments before it, a flag's definition (flags) before its other environments' configurations. */
export type RestoreKind = 'environments' | 'segments' | 'flags' | 'envFlags' | 'changes' | 'changeRequests' | 'schedules';
export const RESTORE_KINDS: readonly RestoreKind[] = ['environments', 'segments', 'flags', 'envFlags', 'changes', 'changeRequests', 'schedules'];
/** Kinds a restore from before environments (or before change requests were backed up) does not announce (counted as 0). */
const OPTIONAL_KINDS: ReadonlySet<RestoreKind> = new Set(['environments', 'envFlags', 'changeRequests', 'schedules']);

export interface RestoreCounts { segments: number; flags: number; changes: number; environments?: number; envFlags?: number; changeRequests?: number; schedules?: number }
export interface RestoreSource { clusterId: string; revision: number; createdAt: string }

interface RestoreEnvelope { v: 1; restoreId: string; actor: string; time: number }
export type RestoreCommand = RestoreEnvelope & (
  | { op: 'restoreBegin'; force: boolean; source: RestoreSource; counts: RestoreCounts }
  | { op: 'restoreChunk'; seq: number; kind: RestoreKind; items: unknown[] }
  | { op: 'restoreCommit' }
  | { op: 'restoreAbort' }
);

/** An open restore, kept in the replicated state (and in snapshots) between its entries. */
export interface RestoreSession {
  restoreId: string;
  actor: string;
  force: boolean;
  source: RestoreSource;
  counts: RestoreCounts;
  received: RestoreCounts;
  /** seq the next chunk must carry. */
  nextSeq: number;
  /** Revision and seq of the last staged change (seq numbers the rows of one revision). */
  lastRevision: number;
  lastSeq: number;
  /** Bytes of items staged so far (bounded by maxBackupBytes: staging is replicated and snapshotted). */
  bytes?: number;
  /** A staged environment was the default one. */
  sawDefault?: boolean;
}

/** Read access the decision needs: the live tables' sizes and what is already staged. */
export interface RestoreTarget {
  liveCounts(): { flags: number; segments: number; changes: number };
  /** envFlag keys are `env/key` (neither may hold a slash). */
  isStaged(kind: 'flag' | 'segment' | 'environment' | 'envFlag' | 'changeRequest' | 'schedule', key: string): boolean;
}

export type StagedRow =
  | { kind: 'segment'; key: string; item: StoredSegment }
  | { kind: 'flag'; key: string; item: StoredFlag }
  | { kind: 'environment'; key: string; item: StoredEnvironment }
  | { kind: 'envFlag'; env: string; key: string; item: StoredFlag }
  | { kind: 'change'; seq: number; change: Change }
  | { kind: 'changeRequest'; key: string; item: StoredChangeRequest }
  | { kind: 'schedule'; key: string; item: StoredSchedule };

export type RestoreErrorCode = 'NOT_EMPTY' | 'VALIDATION' | 'NO_RESTORE' | 'BAD_COMMAND';
export interface RestoreError { code: RestoreErrorCode; message: string; issues?: ValidationIssue[]; liveCounts?: { flags: number; segments: number; changes: number } }

export type RestoreStep =
  | { ok: true; action: 'begin'; session: RestoreSession }
  | { ok: true; action: 'stage'; session: RestoreSession; rows: StagedRow[] }
  | { ok: true; action: 'commit'; session: RestoreSession }
  | { ok: true; action: 'abort' }
  /** A retried entry that already took effect: nothing to do, answer success. */
  | { ok: true; action: 'duplicate' }
  /** `abort`: the open session is dropped with its staged rows. */
  | { ok: false; error: RestoreError; abort: boolean };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

function countsProblem(x: unknown, name: string): string | undefined {
  if (!isPlainObject(x)) return `${name} must be an object`;
  for (const k of RESTORE_KINDS) {
    const n = x[k];
    if (n === undefined && OPTIONAL_KINDS.has(k)) continue;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return `${name}.${k} must be a non-negative integer`;
  }
  return undefined;
}

/** Why a value is not a well-formed restore command, or undefined. Never throws. */
export function restoreCommandProblem(x: unknown): string | undefined {
  if (!isPlainObject(x)) return 'restore command must be a JSON object';
  if (x.v !== 1) return 'unsupported restore command version (expected v: 1)';
  if (typeof x.restoreId !== 'string' || !ID_PATTERN.test(x.restoreId)) return 'restoreId must be 1-128 characters of A-Z a-z 0-9 . _ : -';
  if (typeof x.actor !== 'string' || x.actor.length === 0 || x.actor.length > LIMITS.maxActorChars) return `actor must be a non-empty string of at most ${LIMITS.maxActorChars} characters`;
  if (typeof x.time !== 'number' || !Number.isSafeInteger(x.time) || x.time < 0) return 'time must be a non-negative integer (ms since the epoch)';
  switch (x.op) {
    case 'restoreBegin': {
      if (typeof x.force !== 'boolean') return 'force must be a boolean';
      const s = x.source;
      if (!isPlainObject(s)) return 'source must be an object';
      if (typeof s.clusterId !== 'string' || s.clusterId.length > 256) return 'source.clusterId must be a string of at most 256 characters';
      if (typeof s.revision !== 'number' || !Number.isSafeInteger(s.revision) || s.revision < 0 || s.revision > MAX_BACKUP_REVISION) return `source.revision must be an integer from 0 to ${MAX_BACKUP_REVISION}`;
      if (typeof s.createdAt !== 'string' || s.createdAt.length > 64) return 'source.createdAt must be a string';
      return countsProblem(x.counts, 'counts');
    }
    case 'restoreChunk':
      if (typeof x.seq !== 'number' || !Number.isSafeInteger(x.seq) || x.seq < 0) return 'seq must be a non-negative integer';
      if (!RESTORE_KINDS.includes(x.kind as RestoreKind)) return `kind must be one of ${RESTORE_KINDS.map((k) => `"${k}"`).join(', ')}`;
      if (!Array.isArray(x.items) || x.items.length === 0) return 'items must be a non-empty array';
      return undefined;
    case 'restoreCommit':
    case 'restoreAbort':
      return undefined;
    default:
      return `unknown restore op ${JSON.stringify(x.op) ?? 'undefined'}`;
  }
}

/** Encodes a restore command; chunks must keep their items within maxRestoreChunkBytes. */
export function encodeRestoreCommand(cmd: RestoreCommand): Uint8Array {
  const problem = restoreCommandProblem(cmd);
  if (problem) throw new CommandDecodeError(`cannot encode restore command: ${problem}`);
  const bytes = encoder.encode(JSON.stringify(cmd));
  if (bytes.length > LIMITS.maxCommandBytes) throw new CommandDecodeError(`restore command is ${bytes.length} bytes, more than maxCommandBytes ${LIMITS.maxCommandBytes}`);
  return bytes;
}

export function decodeRestoreCommand(bytes: Uint8Array): RestoreCommand {
  if (bytes.length > LIMITS.maxCommandBytes) throw new CommandDecodeError(`restore command is ${bytes.length} bytes, more than maxCommandBytes ${LIMITS.maxCommandBytes}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    throw new CommandDecodeError(`restore command is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  const problem = restoreCommandProblem(parsed);
  if (problem) throw new CommandDecodeError(problem);
  return parsed as RestoreCommand;
}

/** UTF-8 bytes of a chunk's items as JSON (what maxRestoreChunkBytes bounds). */
export function restoreItemsBytes(items: unknown[]): number {
  let n = 2 + Math.max(0, items.length - 1);
  for (const it of items) n += utf8Length(JSON.stringify(it) ?? 'null');
  return n;
}

const ZERO: RestoreCounts = { segments: 0, flags: 0, changes: 0, environments: 0, envFlags: 0, changeRequests: 0, schedules: 0 };
const fail = (error: RestoreError, abort: boolean): RestoreStep => ({ ok: false, error, abort });

function notEmpty(target: RestoreTarget): RestoreError | undefined {
  const live = target.liveCounts();
  if (live.flags === 0 && live.segments === 0 && live.changes === 0) return undefined;
  return {
    code: 'NOT_EMPTY', liveCounts: live,
    message: `the cluster is not empty (${live.flags} flag(s), ${live.segments} segment(s), ${live.changes} retained change(s)): restore only into an empty cluster, or pass force to replace everything`,
  };
}

/**
 * The deterministic decision for one restore entry, given the open session
 * (if any), the live state, and the id of the last committed restore (so a
 * retried commit is answered as done rather than as an error).
 */
export function applyRestoreCommand(session: RestoreSession | undefined, cmd: RestoreCommand, target: RestoreTarget, lastCommittedId?: string): RestoreStep {
  const problem = restoreCommandProblem(cmd);
  if (problem) return fail({ code: 'BAD_COMMAND', message: problem }, false);
  const mine = session?.restoreId === cmd.restoreId;
  switch (cmd.op) {
    case 'restoreBegin': {
      if (mine) return { ok: true, action: 'duplicate' };
      if (lastCommittedId === cmd.restoreId) return { ok: true, action: 'duplicate' };
      if (!cmd.force) {
        const e = notEmpty(target);
        if (e) return fail(e, false);
      }
      // A new session replaces an unfinished one (its client is gone or gave up).
      return {
        ok: true, action: 'begin',
        session: { restoreId: cmd.restoreId, actor: cmd.actor, force: cmd.force, source: { ...cmd.source }, counts: { ...cmd.counts }, received: { ...ZERO }, nextSeq: 0, lastRevision: 0, lastSeq: -1, bytes: 0 },
      };
    }
    case 'restoreAbort':
      return mine ? { ok: true, action: 'abort' } : { ok: true, action: 'duplicate' };
    case 'restoreCommit': {
      if (!mine) {
        if (lastCommittedId === cmd.restoreId) return { ok: true, action: 'duplicate' };
        return fail({ code: 'NO_RESTORE', message: `no restore "${cmd.restoreId}" is in progress (it was aborted, replaced or never begun)` }, false);
      }
      const s = session!;
      for (const k of RESTORE_KINDS) {
        const [got, want] = [s.received[k] ?? 0, s.counts[k] ?? 0];
        if (got !== want) {
          return fail({ code: 'VALIDATION', message: `restore incomplete: ${got} of ${want} ${k} arrived`, issues: [{ path: k, message: `${got} of ${want} items arrived` }] }, true);
        }
      }
      if ((s.counts.environments ?? 0) > 0 && !s.sawDefault) {
        return fail({ code: 'VALIDATION', message: 'the backup\'s environments have no default one', issues: [{ path: 'environments', message: 'exactly one environment must be isDefault' }] }, true);
      }
      if (!s.force) {
        const e = notEmpty(target);
        if (e) return fail({ ...e, message: `${e.message} (written while the restore was in progress)` }, true);
      }
      return { ok: true, action: 'commit', session: s };
    }
    case 'restoreChunk':
      if (!mine) return fail({ code: 'NO_RESTORE', message: `no restore "${cmd.restoreId}" is in progress (it was aborted, replaced or never begun)` }, false);
      return stageChunk(session!, cmd, target);
  }
}

function stageChunk(s: RestoreSession, cmd: Extract<RestoreCommand, { op: 'restoreChunk' }>, target: RestoreTarget): RestoreStep {
  if (cmd.seq < s.nextSeq) return { ok: true, action: 'duplicate' };
  if (cmd.seq > s.nextSeq) return fail({ code: 'BAD_COMMAND', message: `chunk ${cmd.seq} arrived but chunk ${s.nextSeq} was expected next` }, true);
  const bytes = restoreItemsBytes(cmd.items);
  if (bytes > LIMITS.maxRestoreChunkBytes) {
    return fail({ code: 'BAD_COMMAND', message: `chunk ${cmd.seq} holds ${bytes} bytes of items, more than maxRestoreChunkBytes ${LIMITS.maxRestoreChunkBytes}` }, true);
  }
  const staged = (s.bytes ?? 0) + bytes;
  if (staged > LIMITS.maxBackupBytes) {
    return fail({ code: 'VALIDATION', message: `the restore would stage more than maxBackupBytes ${LIMITS.maxBackupBytes} bytes`, issues: [{ path: cmd.kind, message: `more than maxBackupBytes (${LIMITS.maxBackupBytes}) in total` }] }, true);
  }
  const kind = cmd.kind;
  // Segments, then flags, then changes: a flag's segments are staged before it.
  const later = RESTORE_KINDS.slice(RESTORE_KINDS.indexOf(kind) + 1);
  if (later.some((k) => (s.received[k] ?? 0) > 0)) return fail({ code: 'BAD_COMMAND', message: `${kind} must be sent before ${later.join(' and ')}` }, true);
  const base = s.received[kind] ?? 0;
  const announced = s.counts[kind] ?? 0;
  if (base + cmd.items.length > announced) {
    return fail({ code: 'VALIDATION', message: `more ${kind} than the ${announced} announced`, issues: [{ path: `${kind}[${announced}]`, message: `more ${kind} than the ${announced} announced at restoreBegin` }] }, true);
  }
  const issues: ValidationIssue[] = [];
  const rows: StagedRow[] = [];
  const seen = new Set<string>();
  let lastRevision = s.lastRevision;
  let lastSeq = s.lastSeq;
  let sawDefault = s.sawDefault ?? false;
  for (let i = 0; i < cmd.items.length; i++) {
    const path = `${kind}[${base + i}]`;
    const item = cmd.items[i];
    if (kind === 'environments') {
      const r = storedEnvironmentIssues(item, path, s.source.revision);
      if (r.issues.length) { issues.push(...r.issues); break; }
      const env = r.normalized!;
      const name = env.environment.name;
      if (seen.has(name) || target.isStaged('environment', name)) { issues.push({ path: `${path}.environment.name`, message: `"${name}" appears more than once` }); break; }
      if (env.isDefault && sawDefault) { issues.push({ path: `${path}.isDefault`, message: 'a second default environment' }); break; }
      sawDefault ||= env.isDefault;
      seen.add(name);
      rows.push({ kind: 'environment', key: name, item: env });
      continue;
    }
    if (kind === 'envFlags') {
      const r = envFlagIssues(item, path, s.source.revision);
      if (r.issues.length) { issues.push(...r.issues); break; }
      const { env, stored } = r.normalized!;
      const id = `${env}/${stored.flag.key}`;
      if (!target.isStaged('environment', env)) { issues.push({ path: `${path}.env`, message: `environment "${env}" is not in the backup` }); break; }
      if (!target.isStaged('flag', stored.flag.key)) { issues.push({ path: `${path}.stored.flag.key`, message: `"${stored.flag.key}" is not a flag of the backup` }); break; }
      if (seen.has(id) || target.isStaged('envFlag', id)) { issues.push({ path, message: `"${stored.flag.key}" appears more than once in "${env}"` }); break; }
      const missing = referencedSegments(stored.flag).filter((n) => !target.isStaged('segment', n));
      if (missing.length) { issues.push({ path: `${path}.stored.flag.rules`, message: `references segment(s) not in the backup: ${missing.join(', ')}` }); break; }
      seen.add(id);
      rows.push({ kind: 'envFlag', env, key: stored.flag.key, item: stored });
      continue;
    }
    if (kind === 'changeRequests' || kind === 'schedules') {
      const one = kind === 'changeRequests' ? 'changeRequest' : 'schedule';
      const r = storedRecordIssues(one, item, path, s.source.revision);
      if (r.issues.length) { issues.push(...r.issues); break; }
      const body = one === 'changeRequest' ? (r.normalized as StoredChangeRequest).changeRequest : (r.normalized as StoredSchedule).schedule;
      if (!target.isStaged('environment', body.env)) { issues.push({ path: `${path}.${one}.env`, message: `environment "${body.env}" is not in the backup` }); break; }
      if (seen.has(body.id) || target.isStaged(one, body.id)) { issues.push({ path: `${path}.${one}.id`, message: `"${body.id}" appears more than once` }); break; }
      seen.add(body.id);
      rows.push(one === 'changeRequest' ? { kind: one, key: body.id, item: r.normalized as StoredChangeRequest } : { kind: one, key: body.id, item: r.normalized as StoredSchedule });
      continue;
    }
    if (kind === 'changes') {
      const found = changeIssues(item, path, s.source.revision, lastRevision);
      if (found.length) { issues.push(...found); break; }
      const change = normalizeChange(item as Record<string, unknown>);
      lastSeq = change.revision === lastRevision ? lastSeq + 1 : 0;
      lastRevision = change.revision;
      rows.push({ kind: 'change', seq: lastSeq, change });
      continue;
    }
    const one = kind === 'flags' ? 'flag' : 'segment';
    const r = storedItemIssues(one, item, path, s.source.revision);
    if (r.issues.length) { issues.push(...r.issues); break; }
    const key = one === 'flag' ? (r.normalized as StoredFlag).flag.key : (r.normalized as StoredSegment).segment.name;
    if (seen.has(key) || target.isStaged(one, key)) {
      issues.push({ path: `${path}.${one === 'flag' ? 'flag.key' : 'segment.name'}`, message: `"${key}" appears more than once` });
      break;
    }
    seen.add(key);
    if (one === 'flag') {
      const missing = referencedSegments((r.normalized as StoredFlag).flag).filter((n) => !target.isStaged('segment', n));
      if (missing.length) { issues.push({ path: `${path}.flag.rules`, message: `references segment(s) not in the backup: ${missing.join(', ')}` }); break; }
      rows.push({ kind: 'flag', key, item: r.normalized as StoredFlag });
    } else rows.push({ kind: 'segment', key, item: r.normalized as StoredSegment });
  }
  if (issues.length) return fail({ code: 'VALIDATION', message: `invalid backup: ${issues.map((i) => `${i.path}: ${i.message}`).slice(0, 5).join('; ')}`, issues }, true);
  const session: RestoreSession = {
    ...s, received: { ...s.received, [kind]: base + cmd.items.length }, nextSeq: s.nextSeq + 1, lastRevision, lastSeq, bytes: staged,
    ...(sawDefault ? { sawDefault } : {}),
  };
  return { ok: true, action: 'stage', session, rows };
}

/**
 * Splits items into chunks whose items stay within `maxBytes` as JSON
 * (one item larger than that is a chunk of its own and is refused where it
 * is applied; valid flags, segments and changes are far smaller).
 */
export function chunkItems<T>(items: T[], maxBytes: number = LIMITS.maxRestoreChunkBytes, maxItems = 10_000): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let size = 2;
  for (const it of items) {
    const n = utf8Length(JSON.stringify(it) ?? 'null') + 1;
    if (cur.length > 0 && (size + n > maxBytes || cur.length >= maxItems)) { out.push(cur); cur = []; size = 2; }
    cur.push(it);
    size += n;
  }
  if (cur.length) out.push(cur);
  return out;
}
