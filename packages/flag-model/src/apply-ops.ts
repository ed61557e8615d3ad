// One write op -> the changes it makes (or a typed error), against a view
// that already holds the effects of the ops before it (overlay.ts). Flags:
// a put writes the flag's configuration in one environment and its
// definition in all of them; environments and promotion: environments.ts.
import { ValidationError } from './errors.js';
import { LIMITS } from './limits.js';
import { defaultConfigFor, promotionPlan, sameDefinition, validateEnvironment, withConfig } from './environments.js';
import { referencedSegments, validateFlag, validateSegment } from './validate.js';
import type {
  ApplyResult, Change, CommandError, DeleteEnvironmentOp, EnvironmentDefinition, FlagDefinition, PromoteOp, PutEnvironmentOp,
  SegmentDefinition, StateView, StoredChangeRequest, StoredEnvironment, StoredFlag, StoredSchedule, StoredSegment, SubCommand,
} from './types.js';

/** What every change of one command shares; `unlocked`: the environment a change request being applied may write into. */
export interface Ctx { actor: string; actorRole?: string; time: number; revision: number; unlocked?: string }

export type WriteOp = SubCommand | PutEnvironmentOp | DeleteEnvironmentOp | PromoteOp;

export function fail(error: CommandError): ApplyResult {
  return { ok: false, error };
}

export function checkRevision(kind: string, key: string, expected: number | undefined, current: number): CommandError | undefined {
  if (expected === undefined || expected === current) return undefined;
  const message = expected === 0
    ? `${kind} "${key}" already exists (revision ${current}); expected it not to exist`
    : current === 0
      ? `${kind} "${key}" does not exist; expected revision ${expected}`
      : `${kind} "${key}" is at revision ${current}; expected revision ${expected}`;
  return { code: 'REVISION_MISMATCH', message, key, currentRevision: current, expectedRevision: expected };
}

function validationError(kind: string, e: unknown, key: string | undefined): CommandError {
  const issues = e instanceof ValidationError ? e.issues : [{ path: '', message: String(e) }];
  const err: CommandError = { code: 'VALIDATION', message: `invalid ${kind}: ${e instanceof Error ? e.message : String(e)}`, issues };
  if (key !== undefined) err.key = key;
  return err;
}

/** Revision bookkeeping of a put: createRevision survives updates, version counts them. */
export function nextRecord(before: { createRevision: number; version: number } | null | undefined, ctx: Ctx) {
  return {
    createRevision: before?.createRevision ?? ctx.revision, modRevision: ctx.revision,
    version: (before?.version ?? 0) + 1, updatedAt: ctx.time, updatedBy: ctx.actor,
  };
}

/** A change record; `env` only for a flag outside the default environment (old consumers see the shape they always saw). */
export function change(view: StateView, kind: Change['kind'], key: string, op: Change['op'], before: Change['before'], after: Change['after'], ctx: Ctx, env?: string): Change {
  if (env !== undefined && env !== view.defaultEnvironment()) return { kind, key, env, op, before, after, actor: ctx.actor, time: ctx.time, revision: ctx.revision };
  return { kind, key, op, before, after, actor: ctx.actor, time: ctx.time, revision: ctx.revision };
}

function unknownEnv(env: string): CommandError {
  return { code: 'NOT_FOUND', env, key: env, message: `environment "${env}" does not exist`, currentRevision: 0 };
}

export function applyOp(view: StateView, op: WriteOp, ctx: Ctx): Change[] | CommandError {
  switch (op.op) {
    case 'putFlag': return putFlag(view, op.flag, op.env ?? view.defaultEnvironment(), op.expectedRevision, ctx);
    case 'deleteFlag': return deleteFlag(view, op.key, op.env ?? view.defaultEnvironment(), op.expectedRevision, ctx);
    case 'putSegment': return putSegment(view, op.segment, op.expectedRevision, ctx);
    case 'deleteSegment': return deleteSegment(view, op.name, op.expectedRevision, ctx);
    case 'putEnvironment': return putEnvironment(view, op, ctx);
    case 'deleteEnvironment': return deleteEnvironment(view, op, ctx);
    case 'promote': return promote(view, op, ctx);
  }
}

/**
 * Writes `input` as the flag in `env`; its definition (everything but the
 * configuration) goes to every other environment too, and a new flag gets a
 * default configuration there (environments.ts defaultConfigFor).
 */
function putFlag(view: StateView, input: unknown, env: string, expected: number | undefined, ctx: Ctx): Change[] | CommandError {
  let flag: FlagDefinition;
  try {
    flag = validateFlag(input);
  } catch (e) {
    const k = (input as { key?: unknown }).key;
    return validationError('flag', e, typeof k === 'string' ? k : undefined);
  }
  if (!view.getEnvironment(env)) return unknownEnv(env);
  const before = view.getFlagIn(env, flag.key) ?? null;
  const mismatch = checkRevision('flag', flag.key, expected, before?.modRevision ?? 0);
  if (mismatch) return mismatch;
  const missing = referencedSegments(flag).filter((s) => view.getSegment(s) === undefined);
  if (missing.length > 0) {
    return {
      code: 'SEGMENT_MISSING', key: flag.key,
      message: `flag "${flag.key}" references segment${missing.length > 1 ? 's' : ''} that do${missing.length > 1 ? '' : 'es'} not exist: ${missing.join(', ')}`,
    };
  }
  const out = [change(view, 'flag', flag.key, 'put', before, { flag, ...nextRecord(before, ctx) }, ctx, env)];
  for (const other of view.environmentNames()) {
    if (other === env) continue;
    const b = view.getFlagIn(other, flag.key) ?? null;
    if (b && sameDefinition(b.flag, flag)) continue;
    let f: FlagDefinition;
    try {
      // Re-validated: the new variants must still hold what this environment's configuration names.
      f = b ? validateFlag(withConfig(flag, b.flag)) : defaultConfigFor(view.getEnvironment(other), flag);
    } catch (e) {
      const err = validationError('flag', e, flag.key);
      return { ...err, env: other, message: `the definition change does not fit environment "${other}"'s configuration: ${err.message}` };
    }
    out.push(change(view, 'flag', flag.key, 'put', b, { flag: f, ...nextRecord(b, ctx) }, ctx, other));
  }
  return out;
}

/** A flag has one definition: deleting it deletes it from every environment. */
function deleteFlag(view: StateView, key: string, env: string, expected: number | undefined, ctx: Ctx): Change[] | CommandError {
  if (!view.getEnvironment(env)) return unknownEnv(env);
  const before = view.getFlagIn(env, key);
  if (!before) return { code: 'NOT_FOUND', key, message: `flag "${key}" does not exist`, currentRevision: 0 };
  const mismatch = checkRevision('flag', key, expected, before.modRevision);
  if (mismatch) return mismatch;
  const out = [change(view, 'flag', key, 'delete', before, null, ctx, env)];
  for (const other of view.environmentNames()) {
    const b = other === env ? undefined : view.getFlagIn(other, key);
    if (b) out.push(change(view, 'flag', key, 'delete', b, null, ctx, other));
  }
  return out;
}

function putSegment(view: StateView, input: unknown, expected: number | undefined, ctx: Ctx): Change[] | CommandError {
  let segment: SegmentDefinition;
  try {
    segment = validateSegment(input);
  } catch (e) {
    const n = (input as { name?: unknown }).name;
    return validationError('segment', e, typeof n === 'string' ? n : undefined);
  }
  const before = view.getSegment(segment.name) ?? null;
  const mismatch = checkRevision('segment', segment.name, expected, before?.modRevision ?? 0);
  if (mismatch) return mismatch;
  const after: StoredSegment = { segment, ...nextRecord(before, ctx) };
  return [change(view, 'segment', segment.name, 'put', before, after, ctx)];
}

function deleteSegment(view: StateView, name: string, expected: number | undefined, ctx: Ctx): Change[] | CommandError {
  const before = view.getSegment(name);
  if (!before) return { code: 'NOT_FOUND', key: name, message: `segment "${name}" does not exist`, currentRevision: 0 };
  const mismatch = checkRevision('segment', name, expected, before.modRevision);
  if (mismatch) return mismatch;
  const users = view.segmentUsers(name);
  if (users.length > 0) {
    const shown = users.slice(0, 10).join(', ') + (users.length > 10 ? ` and ${users.length - 10} more` : '');
    return { code: 'SEGMENT_IN_USE', key: name, usedBy: users, message: `segment "${name}" is referenced by flag${users.length > 1 ? 's' : ''} ${shown}` };
  }
  return [change(view, 'segment', name, 'delete', before, null, ctx)];
}

/** Creates an environment (every flag gets a configuration there, copied from `copyFrom`) or updates one's display name, production mark or policy. */
function putEnvironment(view: StateView, op: PutEnvironmentOp, ctx: Ctx): Change[] | CommandError {
  let def: EnvironmentDefinition;
  try {
    def = validateEnvironment(op.environment);
  } catch (e) {
    const n = (op.environment as { name?: unknown }).name;
    return validationError('environment', e, typeof n === 'string' ? n : undefined);
  }
  const before = view.getEnvironment(def.name) ?? null;
  const mismatch = checkRevision('environment', def.name, op.expectedRevision, before?.modRevision ?? 0);
  if (mismatch) return mismatch;
  const after: StoredEnvironment = { environment: def, isDefault: before?.isDefault ?? false, ...nextRecord(before, ctx) };
  const out = [change(view, 'environment', def.name, 'put', before, after, ctx)];
  if (before) {
    if (op.copyFrom !== undefined) return { code: 'BAD_COMMAND', key: def.name, message: `copyFrom is only for a new environment; "${def.name}" exists (promote copies configurations)` };
    return out;
  }
  if (view.environmentNames().length >= LIMITS.maxEnvironments) {
    return { code: 'VALIDATION', key: def.name, message: `a cluster holds at most maxEnvironments ${LIMITS.maxEnvironments} environments`, issues: [{ path: 'name', message: 'too many environments' }] };
  }
  const from = op.copyFrom ?? view.defaultEnvironment();
  if (!view.getEnvironment(from)) return unknownEnv(from);
  for (const k of view.flagKeysIn(from)) {
    const src = view.getFlagIn(from, k)!;
    out.push(change(view, 'flag', k, 'put', null, { flag: defaultConfigFor(after, src.flag), ...nextRecord(null, ctx) }, ctx, def.name));
  }
  return out;
}

/** The change requests and schedules of one environment; `open`: those still to be decided or applied. */
function environmentRecords(view: StateView, env: string): { kind: 'changeRequest' | 'schedule'; id: string; before: StoredChangeRequest | StoredSchedule; open: boolean }[] {
  const out: { kind: 'changeRequest' | 'schedule'; id: string; before: StoredChangeRequest | StoredSchedule; open: boolean }[] = [];
  for (const id of view.recordIds('changeRequest')) {
    const cr = view.getChangeRequest(id)!;
    if (cr.changeRequest.env === env) out.push({ kind: 'changeRequest', id, before: cr, open: OPEN_CHANGE_REQUEST.has(cr.changeRequest.status) });
  }
  for (const id of view.recordIds('schedule')) {
    const s = view.getSchedule(id)!;
    if (s.schedule.env === env) out.push({ kind: 'schedule', id, before: s, open: s.schedule.steps.some((st) => st.status === 'pending') });
  }
  return out;
}
const OPEN_CHANGE_REQUEST: ReadonlySet<string> = new Set(['draft', 'inReview', 'approved', 'conflicted']);

/**
 * Never the default environment; with flags configured in it, or change
 * requests / schedules still open there, only with `force`, which deletes
 * those configurations and records (audited) too. Closed change requests and
 * finished schedules go with it: every record belongs to an environment that
 * exists (backups rely on it), and their history stays in the audit log.
 */
function deleteEnvironment(view: StateView, op: DeleteEnvironmentOp, ctx: Ctx): Change[] | CommandError {
  const before = view.getEnvironment(op.name);
  if (!before) return unknownEnv(op.name);
  const mismatch = checkRevision('environment', op.name, op.expectedRevision, before.modRevision);
  if (mismatch) return mismatch;
  if (before.isDefault) return { code: 'ENVIRONMENT_IN_USE', env: op.name, key: op.name, message: `environment "${op.name}" is the default environment (legacy endpoints and commands without env use it): it cannot be deleted` };
  const keys = view.flagKeysIn(op.name);
  if (keys.length > 0 && !op.force) {
    return { code: 'ENVIRONMENT_IN_USE', env: op.name, key: op.name, usedBy: keys.slice(0, 100), message: `environment "${op.name}" still has ${keys.length} flag${keys.length > 1 ? 's' : ''} configured; delete with force to drop their configurations too` };
  }
  const records = environmentRecords(view, op.name);
  const open = records.filter((r) => r.open).map((r) => r.id);
  if (open.length > 0 && !op.force) {
    return { code: 'ENVIRONMENT_IN_USE', env: op.name, key: op.name, usedBy: open.slice(0, 100), message: `environment "${op.name}" has ${open.length} open change request${open.length > 1 ? 's' : ''} or pending schedule${open.length > 1 ? 's' : ''} (${open.slice(0, 5).join(', ')}${open.length > 5 ? ', ...' : ''}); finish or cancel them, or delete with force to drop them too` };
  }
  const out = keys.map((k) => change(view, 'flag', k, 'delete', view.getFlagIn(op.name, k)!, null, ctx, op.name));
  for (const r of records) out.push(change(view, r.kind, r.id, 'delete', r.before, null, ctx));
  out.push(change(view, 'environment', op.name, 'delete', before, null, ctx));
  return out;
}

/** Copies configurations between environments, as promotionPlan shows them. */
function promote(view: StateView, op: PromoteOp, ctx: Ctx): Change[] | CommandError {
  const plan = promotionPlan(view, op.from, op.to, op.keys);
  if (typeof plan === 'string') return { code: plan.includes('does not exist') ? 'NOT_FOUND' : 'BAD_COMMAND', message: plan };
  const out: Change[] = [];
  for (const item of plan) {
    let flag: FlagDefinition;
    try {
      flag = validateFlag(item.after);
    } catch (e) {
      return validationError('flag', e, item.key);
    }
    out.push(change(view, 'flag', item.key, 'put', item.before, { flag, ...nextRecord(item.before, ctx) } as StoredFlag, ctx, op.to));
  }
  return out;
}
