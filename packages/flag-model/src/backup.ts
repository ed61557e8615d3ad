// The backup document (GET /api/v1/admin/backup, POST /api/v1/admin/restore)
// and the checks that name the bad field of one. The same item checks run in
// the gateway (whole document, before anything is proposed) and in every
// node when a restore chunk is applied (so a document that slipped past a
// gateway still cannot put bad rows into the state machine).
import { LIMITS, KEY_PATTERN } from './limits.js';
import { isPlainObject } from './json-util.js';
import { ValidationError } from './errors.js';
import { referencedSegments, validateFlag, validateSegment } from './validate.js';
import { validateEnvironment } from './environments.js';
import type { Change, StoredChangeRequest, StoredEnvironment, StoredFlag, StoredSchedule, StoredSegment, ValidationIssue } from './types.js';

/** A flag's configuration in an environment other than the default one (the default one's are `flags`). */
export interface EnvFlagBackupItem { env: string; stored: StoredFlag }

export const BACKUP_FORMAT = 'flagraft-backup';
export const BACKUP_VERSION = 1;

/** A consistent copy of a cluster's flags, segments and retained audit history at one revision. */
export interface BackupDocument {
  format: typeof BACKUP_FORMAT;
  v: 1;
  /** The cluster the backup was taken from (informational: a restore may target another cluster). */
  clusterId: string;
  /** Every row below reflects the cluster exactly at this revision. */
  revision: number;
  /** ISO 8601. */
  createdAt: string;
  flags: StoredFlag[];
  segments: StoredSegment[];
  /** Every retained change, ascending by revision (rows of one atomic batch share a revision, in order). */
  changes: Change[];
  /** Changes below this revision had been pruned by the source cluster (informational). */
  oldestRetainedRevision?: number;
  /**
   * The environments (exactly one isDefault: `flags` are its flags). Absent
   * in backups from before environments: they restore into the cluster's
   * default environment.
   */
  environments?: StoredEnvironment[];
  /** Every other environment's flag configurations. */
  envFlags?: EnvFlagBackupItem[];
  /**
   * Change requests (every status: the open ones are work to carry over, the
   * closed ones their record) and schedules. Absent in backups from before
   * they were carried: a restore then keeps none (force) or has none.
   * Both need `environments` (each belongs to one of them).
   */
  changeRequests?: StoredChangeRequest[];
  schedules?: StoredSchedule[];
}

/** Largest revision a backup may carry: keeps revision arithmetic exact (below 2^52). */
export const MAX_BACKUP_REVISION = 2 ** 52;
/** Issues reported for one document before the list is cut short (count). */
export const MAX_REPORTED_ISSUES = 50;

type Kind = 'flag' | 'segment';

/** The bookkeeping every stored item carries (revisions, version, who and when), each bad field an issue at `at(field)`. */
function storedMetaIssues(x: Record<string, unknown>, at: (field: string) => string, maxRevision: number, issues: ValidationIssue[]): void {
  const { createRevision: cr, modRevision: mr, version, updatedAt, updatedBy } = x;
  if (!isRevision(cr, maxRevision)) issues.push({ path: at('createRevision'), message: `must be an integer from 1 to the backup's revision ${maxRevision}` });
  if (!isRevision(mr, maxRevision)) issues.push({ path: at('modRevision'), message: `must be an integer from 1 to the backup's revision ${maxRevision}` });
  else if (isRevision(cr, maxRevision) && (mr as number) < (cr as number)) issues.push({ path: at('modRevision'), message: `must not be below createRevision ${cr}` });
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) issues.push({ path: at('version'), message: 'must be a positive integer' });
  if (typeof updatedAt !== 'number' || !Number.isSafeInteger(updatedAt) || updatedAt < 0) issues.push({ path: at('updatedAt'), message: 'must be a non-negative integer (ms since the epoch)' });
  if (!isActor(updatedBy)) issues.push({ path: at('updatedBy'), message: `must be a non-empty string of at most ${LIMITS.maxActorChars} characters` });
}

function isRevision(x: unknown, max: number): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 1 && x <= max;
}

function isActor(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= LIMITS.maxActorChars;
}

function isKey(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= LIMITS.maxKeyChars && KEY_PATTERN.test(x);
}

/**
 * Issues of one stored flag / segment view (`{flag|segment, createRevision,
 * modRevision, version, updatedAt, updatedBy}`) whose revisions may not pass
 * `maxRevision`. On success `normalized` is the view with its definition as
 * validateFlag / validateSegment return it.
 */
export function storedItemIssues(kind: Kind, x: unknown, path: string, maxRevision: number): { issues: ValidationIssue[]; normalized?: StoredFlag | StoredSegment } {
  const issues: ValidationIssue[] = [];
  const at = (f: string) => `${path}.${f}`;
  if (!isPlainObject(x)) return { issues: [{ path, message: `must be a stored ${kind} object` }] };
  const body = kind === 'flag' ? 'flag' : 'segment';
  let def: unknown;
  try {
    def = kind === 'flag' ? validateFlag(x[body]) : validateSegment(x[body]);
  } catch (e) {
    if (e instanceof ValidationError) {
      for (const i of e.issues) issues.push({ path: i.path ? (i.path.startsWith('[') ? `${at(body)}${i.path}` : `${at(body)}.${i.path}`) : at(body), message: i.message });
    } else issues.push({ path: at(body), message: String(e) });
  }
  storedMetaIssues(x, at, maxRevision, issues);
  if (issues.length) return { issues };
  const { createRevision, modRevision, version, updatedAt, updatedBy } = x;
  const normalized = { [body]: def, createRevision, modRevision, version, updatedAt, updatedBy } as unknown as StoredFlag | StoredSegment;
  return { issues, normalized };
}

/** The key of a stored view's definition, if it has one. */
function viewKey(kind: Kind, v: unknown): unknown {
  if (!isPlainObject(v)) return undefined;
  const body = v[kind === 'flag' ? 'flag' : 'segment'];
  return isPlainObject(body) ? body[kind === 'flag' ? 'key' : 'name'] : undefined;
}

/**
 * Issues of one change row. History is checked for shape only (its bodies
 * were valid when written; a later, stricter validator must not make an old
 * backup unrestorable): kind/key/op, the before/after views belong to the
 * key, revision ascending after `prevRevision`.
 */
export function changeIssues(x: unknown, path: string, maxRevision: number, prevRevision: number): ValidationIssue[] {
  if (!isPlainObject(x)) return [{ path, message: 'must be a change object' }];
  const issues: ValidationIssue[] = [];
  const at = (f: string) => `${path}.${f}`;
  const { revision, kind, key, op, before, after, actor, time, env } = x;
  if (env !== undefined && (kind !== 'flag' || !isKey(env))) issues.push({ path: at('env'), message: 'must be an environment name, on flag changes only' });
  if (!isRevision(revision, maxRevision)) issues.push({ path: at('revision'), message: `must be an integer from 1 to the backup's revision ${maxRevision}` });
  else if (revision < prevRevision) issues.push({ path: at('revision'), message: `must be ascending (${revision} follows ${prevRevision})` });
  if (kind !== 'flag' && kind !== 'segment') issues.push({ path: at('kind'), message: 'must be "flag" or "segment"' });
  if (!isKey(key)) issues.push({ path: at('key'), message: 'must be a valid flag key / segment name' });
  if (op !== 'put' && op !== 'delete') issues.push({ path: at('op'), message: 'must be "put" or "delete"' });
  for (const [name, v] of [['before', before], ['after', after]] as const) {
    if (v === null) continue;
    if (!isPlainObject(v)) { issues.push({ path: at(name), message: 'must be null or a stored view object' }); continue; }
    if ((kind === 'flag' || kind === 'segment') && viewKey(kind, v) !== key) issues.push({ path: at(name), message: `must be a stored ${kind} whose ${kind === 'flag' ? 'flag.key' : 'segment.name'} is the change's key` });
  }
  if (op === 'put' && after === null) issues.push({ path: at('after'), message: 'must not be null for a put' });
  if (op === 'delete' && after !== null) issues.push({ path: at('after'), message: 'must be null for a delete' });
  if (op === 'delete' && before === null) issues.push({ path: at('before'), message: 'must not be null for a delete' });
  if (before === undefined) issues.push({ path: at('before'), message: 'is required (null when there was none)' });
  if (after === undefined && op !== 'delete') issues.push({ path: at('after'), message: 'is required (null for a delete)' });
  if (!isActor(actor)) issues.push({ path: at('actor'), message: `must be a non-empty string of at most ${LIMITS.maxActorChars} characters` });
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0) issues.push({ path: at('time'), message: 'must be a non-negative integer (ms since the epoch)' });
  return issues;
}

/** Normalizes a change row once changeIssues found nothing (drops unknown fields, `after` undefined -> null). */
export function normalizeChange(x: Record<string, unknown>): Change {
  return {
    revision: x.revision as number, kind: x.kind as Kind, key: x.key as string, op: x.op as 'put' | 'delete',
    before: (x.before ?? null) as Change['before'], after: (x.after ?? null) as Change['after'],
    actor: x.actor as string, time: x.time as number, ...(typeof x.env === 'string' ? { env: x.env } : {}),
  };
}

/** Issues of one stored environment (the default one's revisions may be 0: it predates every change). */
export function storedEnvironmentIssues(x: unknown, path: string, maxRevision: number): { issues: ValidationIssue[]; normalized?: StoredEnvironment } {
  if (!isPlainObject(x)) return { issues: [{ path, message: 'must be a stored environment object' }] };
  const issues: ValidationIssue[] = [];
  const at = (f: string) => `${path}.${f}`;
  let environment;
  try {
    environment = validateEnvironment(x.environment);
  } catch (e) {
    for (const i of (e as ValidationError).issues ?? [{ path: '', message: String(e) }]) issues.push({ path: i.path ? `${at('environment')}.${i.path}` : at('environment'), message: i.message });
  }
  const { isDefault, createRevision: cr, modRevision: mr, version, updatedAt, updatedBy } = x;
  const rev = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= maxRevision;
  if (typeof isDefault !== 'boolean') issues.push({ path: at('isDefault'), message: 'must be a boolean' });
  if (!rev(cr)) issues.push({ path: at('createRevision'), message: `must be an integer from 0 to the backup's revision ${maxRevision}` });
  if (!rev(mr)) issues.push({ path: at('modRevision'), message: `must be an integer from 0 to the backup's revision ${maxRevision}` });
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) issues.push({ path: at('version'), message: 'must be a positive integer' });
  if (typeof updatedAt !== 'number' || !Number.isSafeInteger(updatedAt) || updatedAt < 0) issues.push({ path: at('updatedAt'), message: 'must be a non-negative integer (ms since the epoch)' });
  if (!isActor(updatedBy)) issues.push({ path: at('updatedBy'), message: `must be a non-empty string of at most ${LIMITS.maxActorChars} characters` });
  if (issues.length) return { issues };
  return { issues, normalized: { environment: environment!, isDefault: isDefault as boolean, createRevision: cr as number, modRevision: mr as number, version: version as number, updatedAt: updatedAt as number, updatedBy: updatedBy as string } };
}

/** Issues of one envFlags item: `{env, stored}` with a valid stored flag. */
export function envFlagIssues(x: unknown, path: string, maxRevision: number): { issues: ValidationIssue[]; normalized?: EnvFlagBackupItem } {
  if (!isPlainObject(x)) return { issues: [{ path, message: 'must be an object {env, stored}' }] };
  if (!isKey(x.env)) return { issues: [{ path: `${path}.env`, message: 'must be an environment name' }] };
  const r = storedItemIssues('flag', x.stored, `${path}.stored`, maxRevision);
  return r.issues.length ? { issues: r.issues } : { issues: [], normalized: { env: x.env, stored: r.normalized as StoredFlag } };
}

const CR_STATUSES: ReadonlySet<unknown> = new Set(['draft', 'inReview', 'approved', 'applied', 'rejected', 'withdrawn', 'conflicted']);
const STEP_STATUSES: ReadonlySet<unknown> = new Set(['pending', 'applied', 'conflicted', 'failed', 'cancelled']);
/** Ids the cluster gives them: `cr-<revision>`, `sch-<revision>`. */
const RECORD_ID = { changeRequest: /^cr-[1-9][0-9]{0,15}$/, schedule: /^sch-[1-9][0-9]{0,15}$/ };

/**
 * Issues of one stored change request or schedule. Checked for shape only,
 * like history: their ops were valid when written, and anything they would
 * write is validated again when they are applied or fired (which also
 * re-checks their bases), so an old request cannot put a bad row anywhere.
 */
export function storedRecordIssues(kind: 'changeRequest' | 'schedule', x: unknown, path: string, maxRevision: number): { issues: ValidationIssue[]; normalized?: StoredChangeRequest | StoredSchedule } {
  if (!isPlainObject(x)) return { issues: [{ path, message: `must be a stored ${kind} object` }] };
  const issues: ValidationIssue[] = [];
  const at = (f: string) => `${path}.${f}`;
  const body = x[kind];
  if (!isPlainObject(body)) issues.push({ path: at(kind), message: 'must be an object' });
  else {
    const b = (f: string) => `${at(kind)}.${f}`;
    if (typeof body.id !== 'string' || !RECORD_ID[kind].test(body.id)) issues.push({ path: b('id'), message: `must be an id like ${kind === 'changeRequest' ? 'cr-12' : 'sch-12'}` });
    if (!isKey(body.env)) issues.push({ path: b('env'), message: 'must be an environment name' });
    if (typeof body.title !== 'string' || body.title.length === 0) issues.push({ path: b('title'), message: 'must be a non-empty string' });
    if (!Array.isArray(body.bases)) issues.push({ path: b('bases'), message: 'must be an array' });
    if (kind === 'changeRequest') {
      if (!CR_STATUSES.has(body.status)) issues.push({ path: b('status'), message: `must be one of ${[...CR_STATUSES].join(', ')}` });
      if (!isActor(body.author)) issues.push({ path: b('author'), message: 'must be a non-empty actor name' });
      for (const f of ['ops', 'approvals', 'rejections', 'comments']) if (!Array.isArray(body[f])) issues.push({ path: b(f), message: 'must be an array' });
    } else {
      if (!isActor(body.createdBy)) issues.push({ path: b('createdBy'), message: 'must be a non-empty actor name' });
      if (!Array.isArray(body.steps) || body.steps.length === 0) issues.push({ path: b('steps'), message: 'must be a non-empty array' });
      else {
        body.steps.forEach((st: unknown, i: number) => {
          if (!isPlainObject(st) || typeof st.at !== 'number' || !Number.isSafeInteger(st.at) || st.at < 0 || !STEP_STATUSES.has(st.status)) {
            issues.push({ path: b(`steps[${i}]`), message: `must be {at: ms since the epoch, status: ${[...STEP_STATUSES].join(' | ')}, ops | changeRequest}` });
          }
        });
      }
    }
  }
  storedMetaIssues(x, at, maxRevision, issues);
  if (issues.length) return { issues };
  return { issues, normalized: x as unknown as StoredChangeRequest | StoredSchedule };
}

/** Every problem of a backup document, each naming its field (`changes[12].revision: ...`); at most MAX_REPORTED_ISSUES. */
export function backupIssues(doc: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const full = () => issues.length >= MAX_REPORTED_ISSUES;
  const add = (list: ValidationIssue[]) => { for (const i of list) if (!full()) issues.push(i); };
  if (!isPlainObject(doc)) return [{ path: '', message: 'a backup must be a JSON object' }];
  if (doc.format !== BACKUP_FORMAT) add([{ path: 'format', message: `must be "${BACKUP_FORMAT}"` }]);
  if (doc.v !== BACKUP_VERSION) add([{ path: 'v', message: `must be ${BACKUP_VERSION} (this version reads backup format v1)` }]);
  const rev = doc.revision;
  const revOk = typeof rev === 'number' && Number.isSafeInteger(rev) && rev >= 0 && rev <= MAX_BACKUP_REVISION;
  if (!revOk) add([{ path: 'revision', message: `must be an integer from 0 to ${MAX_BACKUP_REVISION}` }]);
  if (doc.clusterId !== undefined && (typeof doc.clusterId !== 'string' || doc.clusterId.length > 256)) add([{ path: 'clusterId', message: 'must be a string of at most 256 characters' }]);
  if (doc.createdAt !== undefined && (typeof doc.createdAt !== 'string' || Number.isNaN(Date.parse(doc.createdAt)))) add([{ path: 'createdAt', message: 'must be an ISO 8601 date-time' }]);
  const max = revOk ? (rev as number) : MAX_BACKUP_REVISION;
  const segmentNames = new Set<string>();
  for (const [field, kind] of [['segments', 'segment'], ['flags', 'flag']] as const) {
    const list = doc[field];
    if (!Array.isArray(list)) { add([{ path: field, message: 'must be an array' }]); continue; }
    const seen = new Set<string>();
    for (let i = 0; i < list.length && !full(); i++) {
      const path = `${field}[${i}]`;
      const r = storedItemIssues(kind, list[i], path, max);
      add(r.issues);
      const k = viewKey(kind, list[i]);
      if (typeof k !== 'string') continue;
      if (seen.has(k)) add([{ path: `${path}.${kind === 'flag' ? 'flag.key' : 'segment.name'}`, message: `"${k}" appears more than once` }]);
      seen.add(k);
      if (kind === 'segment') segmentNames.add(k);
      else if (r.normalized) {
        const missing = referencedSegments((r.normalized as StoredFlag).flag).filter((s) => !segmentNames.has(s));
        if (missing.length) add([{ path: `${path}.flag.rules`, message: `references segment(s) not in the backup: ${missing.join(', ')}` }]);
      }
    }
  }
  add(environmentIssues(doc, max, segmentNames));
  add(recordIssues(doc, max));
  const changes = doc.changes;
  if (!Array.isArray(changes)) add([{ path: 'changes', message: 'must be an array' }]);
  else {
    let prev = 0;
    for (let i = 0; i < changes.length && !full(); i++) {
      add(changeIssues(changes[i], `changes[${i}]`, max, prev));
      const r = (changes[i] as { revision?: unknown } | null)?.revision;
      if (typeof r === 'number' && Number.isSafeInteger(r) && r > prev) prev = r;
    }
  }
  return issues;
}

/** The environments and envFlags of a document (both optional; together). */
function environmentIssues(doc: Record<string, unknown>, max: number, segmentNames: Set<string>): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const envs = doc.environments;
  const envFlags = doc.envFlags;
  if (envs === undefined) {
    if (envFlags !== undefined) issues.push({ path: 'envFlags', message: 'needs environments (the environments they belong to)' });
    return issues;
  }
  if (!Array.isArray(envs)) return [{ path: 'environments', message: 'must be an array' }];
  const names = new Map<string, boolean>();
  for (let i = 0; i < envs.length && issues.length < MAX_REPORTED_ISSUES; i++) {
    const r = storedEnvironmentIssues(envs[i], `environments[${i}]`, max);
    issues.push(...r.issues);
    if (!r.normalized) continue;
    const n = r.normalized.environment.name;
    if (names.has(n)) issues.push({ path: `environments[${i}].environment.name`, message: `"${n}" appears more than once` });
    names.set(n, r.normalized.isDefault);
  }
  if ([...names.values()].filter(Boolean).length !== 1 && issues.length === 0) issues.push({ path: 'environments', message: 'exactly one environment must be isDefault' });
  if (envFlags === undefined) return issues;
  if (!Array.isArray(envFlags)) return [...issues, { path: 'envFlags', message: 'must be an array' }];
  const flagKeys = new Set((Array.isArray(doc.flags) ? doc.flags : []).map((f) => viewKey('flag', f)));
  const seen = new Set<string>();
  for (let i = 0; i < envFlags.length && issues.length < MAX_REPORTED_ISSUES; i++) {
    const path = `envFlags[${i}]`;
    const r = envFlagIssues(envFlags[i], path, max);
    issues.push(...r.issues);
    if (!r.normalized) continue;
    const { env, stored } = r.normalized;
    if (names.get(env) !== false) issues.push({ path: `${path}.env`, message: `"${env}" is not a non-default environment of the backup` });
    if (!flagKeys.has(stored.flag.key)) issues.push({ path: `${path}.stored.flag.key`, message: `"${stored.flag.key}" is not a flag of the backup (a flag has one definition, in flags)` });
    if (seen.has(`${env}/${stored.flag.key}`)) issues.push({ path, message: `"${stored.flag.key}" appears more than once in "${env}"` });
    seen.add(`${env}/${stored.flag.key}`);
    const missing = referencedSegments(stored.flag).filter((s) => !segmentNames.has(s));
    if (missing.length) issues.push({ path: `${path}.stored.flag.rules`, message: `references segment(s) not in the backup: ${missing.join(', ')}` });
  }
  return issues;
}

/** The changeRequests and schedules of a document (optional; each in an environment of the backup, ids unique). */
function recordIssues(doc: Record<string, unknown>, max: number): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const envs = new Set(Array.isArray(doc.environments) ? doc.environments.map((e) => (isPlainObject(e) && isPlainObject(e.environment) ? e.environment.name : undefined)) : []);
  for (const [field, kind] of [['changeRequests', 'changeRequest'], ['schedules', 'schedule']] as const) {
    const list = doc[field];
    if (list === undefined) continue;
    if (!Array.isArray(list)) { issues.push({ path: field, message: 'must be an array' }); continue; }
    if (list.length > 0 && doc.environments === undefined) { issues.push({ path: field, message: 'needs environments (each belongs to one)' }); continue; }
    const seen = new Set<string>();
    for (let i = 0; i < list.length && issues.length < MAX_REPORTED_ISSUES; i++) {
      const path = `${field}[${i}]`;
      const r = storedRecordIssues(kind, list[i], path, max);
      issues.push(...r.issues);
      if (!r.normalized) continue;
      const body = (r.normalized as unknown as Record<string, { id: string; env: string }>)[kind]!;
      if (!envs.has(body.env)) issues.push({ path: `${path}.${kind}.env`, message: `"${body.env}" is not an environment of the backup` });
      if (seen.has(body.id)) issues.push({ path: `${path}.${kind}.id`, message: `"${body.id}" appears more than once` });
      seen.add(body.id);
    }
  }
  return issues;
}

/** Checks a backup document; throws ValidationError (issues name the fields) or returns it typed. */
export function validateBackup(doc: unknown): BackupDocument {
  const issues = backupIssues(doc);
  if (issues.length) throw new ValidationError(issues, 'backup');
  return doc as BackupDocument;
}
