// Scheduled changes: steps at UTC times, each either ops (in an unprotected
// environment: a toggle, a rollout step) or an approved change request. The
// leader proposes `fire` for the first pending step once the replicated
// command time reaches it; `fire` is idempotent by (schedule id, step): a
// second proposal (a new leader that did not see the first applied, a retry)
// applies nothing. A step whose base moved (someone changed a flag it touches
// since the schedule was made, or since its previous step) is not applied but
// marked conflicted, with the three-way data, and reported as an event.
import { isProtected } from './environments.js';
import { applyApproved, basesOf, conflictsOf, currentOf, dryRun, inEnv } from './change-requests.js';
import { change, fail, nextRecord, type Ctx } from './apply-ops.js';
import { Overlay } from './overlay.js';
import type { ApplyResult, Change, ChangeRequestOp, Schedule, ScheduleCommandOp, ScheduleStep, StoredItem, StoredSchedule } from './types.js';

export function applyScheduleCommand(view: Overlay, cmd: ScheduleCommandOp, ctx: Ctx): ApplyResult {
  if (cmd.action === 'create') return create(view, cmd, ctx);
  const before = view.getSchedule(cmd.id);
  if (!before) return fail({ code: 'NOT_FOUND', key: cmd.id, message: `schedule "${cmd.id}" does not exist` });
  const s: Schedule = structuredClone(before.schedule);
  if (cmd.action === 'cancel') {
    const pending = s.steps.filter((st) => st.status === 'pending');
    if (!pending.length) return fail({ code: 'INVALID_STATE', key: s.id, message: `schedule "${s.id}" has no pending step to cancel` });
    for (const st of pending) st.status = 'cancelled';
    return save(view, before, s, ctx, []);
  }
  const step = s.steps[cmd.step];
  if (!step) return fail({ code: 'NOT_FOUND', key: s.id, message: `schedule "${s.id}" has no step ${cmd.step}` });
  // Idempotent by (id, step): applied, conflicted, failed or cancelled already -> nothing to do.
  if (step.status !== 'pending') return { ok: true, changes: [] };
  if (ctx.time < step.at) return fail({ code: 'INVALID_STATE', key: s.id, message: `step ${cmd.step} of schedule "${s.id}" is due at ${new Date(step.at).toISOString()}, not yet` });
  const earlier = s.steps.findIndex((st) => st.status === 'pending');
  if (earlier < cmd.step) return fail({ code: 'INVALID_STATE', key: s.id, message: `step ${earlier} of schedule "${s.id}" is still pending: steps fire in order` });
  return fire(view, before, s, step, ctx);
}

function create(view: Overlay, cmd: Extract<ScheduleCommandOp, { action: 'create' }>, ctx: Ctx): ApplyResult {
  const env = cmd.env ?? view.defaultEnvironment();
  const e = view.getEnvironment(env);
  if (!e) return fail({ code: 'NOT_FOUND', env, key: env, message: `environment "${env}" does not exist` });
  const steps: ScheduleStep[] = [];
  // Every ops step is tried in order on a scratch state now, so a schedule that could never apply is refused at once.
  const scratch = new Overlay(view);
  const changes: Change[] = [];
  for (let i = 0; i < cmd.steps.length; i++) {
    const st = cmd.steps[i];
    if (i > 0 && st.at < cmd.steps[i - 1].at) return fail({ code: 'BAD_COMMAND', message: `steps[${i}].at is before steps[${i - 1}].at: steps are in time order` });
    if (st.changeRequest !== undefined) {
      const cr = view.getChangeRequest(st.changeRequest)?.changeRequest;
      if (!cr) return fail({ code: 'NOT_FOUND', key: st.changeRequest, message: `steps[${i}]: change request "${st.changeRequest}" does not exist` });
      if (cr.env !== env) return fail({ code: 'BAD_COMMAND', key: cr.id, message: `steps[${i}]: change request "${cr.id}" is for environment "${cr.env}", not "${env}"` });
      if (!['draft', 'inReview', 'approved'].includes(cr.status)) return fail({ code: 'INVALID_STATE', key: cr.id, message: `steps[${i}]: change request "${cr.id}" is ${cr.status}` });
      steps.push({ at: st.at, changeRequest: st.changeRequest, status: 'pending' });
      continue;
    }
    if (isProtected(e)) {
      return fail({ code: 'PROTECTED', env, message: `environment "${env}" is protected: schedule an approved change request (steps[${i}].changeRequest) instead of ops` });
    }
    const ops = inEnv(st.ops as ChangeRequestOp[], env);
    if (typeof ops === 'string') return fail({ code: 'BAD_COMMAND', env, message: `steps[${i}]: ${ops}` });
    const dry = dryRun(scratch, ops, ctx);
    if (!dry.ok) return fail({ ...dry.error, message: `steps[${i}]: ${dry.error.message}` });
    for (const c of dry.changes) scratch.record(c);
    changes.push(...dry.changes);
    steps.push({ at: st.at, ops, status: 'pending' });
  }
  const s: Schedule = { id: `sch-${ctx.revision}`, env, title: cmd.title, createdBy: ctx.actor, steps, bases: basesOf(changes) };
  return save(view, null, s, ctx, []);
}

function fire(view: Overlay, before: StoredSchedule, s: Schedule, step: ScheduleStep, ctx: Ctx): ApplyResult {
  if (step.changeRequest !== undefined) {
    const crBefore = view.getChangeRequest(step.changeRequest);
    const cr = crBefore && structuredClone(crBefore.changeRequest);
    if (!crBefore || !cr || cr.status !== 'approved') {
      step.status = 'failed';
      step.error = `change request "${step.changeRequest}" is ${cr?.status ?? 'missing'}, not approved, at its scheduled time`;
      return save(view, before, s, ctx, []);
    }
    const r = applyApproved(view, crBefore, cr, ctx);
    if (!r.ok) {
      step.status = 'failed';
      step.error = r.error.message;
      return save(view, before, s, ctx, []);
    }
    if ((cr.status as string) === 'conflicted') {
      step.status = 'conflicted';
      step.conflicts = cr.conflicts;
      if (cr.applyError) step.error = cr.applyError;
    } else {
      step.status = 'applied';
      step.revision = ctx.revision;
    }
    return save(view, before, s, ctx, r.changes);
  }
  const ops = step.ops ?? [];
  const dry = dryRun(view, ops, ctx);
  const touched = dry.ok ? basesOf(dry.changes) : [];
  const bases = s.bases.filter((b) => touched.some((t) => t.kind === b.kind && t.key === b.key && t.env === b.env));
  const conflicts = conflictsOf(view, bases, ops);
  if (conflicts.length || !dry.ok) {
    step.status = dry.ok ? 'conflicted' : 'failed';
    if (conflicts.length) step.conflicts = conflicts;
    if (!dry.ok) step.error = dry.error.message;
    return save(view, before, s, ctx, []);
  }
  for (const c of dry.changes) view.record(c);
  step.status = 'applied';
  step.revision = ctx.revision;
  // The next steps build on this one: their base is what this step wrote.
  for (const b of s.bases) {
    if (!touched.some((t) => t.kind === b.kind && t.key === b.key && t.env === b.env)) continue;
    const cur = currentOf(view, b);
    b.revision = cur?.modRevision ?? 0;
    b.item = cur ?? null;
  }
  return save(view, before, s, ctx, dry.changes);
}

function save(view: Overlay, before: StoredSchedule | null, s: Schedule, ctx: Ctx, changes: Change[]): ApplyResult {
  const after: StoredSchedule = { schedule: s, ...nextRecord(before, ctx) };
  return { ok: true, changes: [...changes, change(view, 'schedule', s.id, 'put', before, after as StoredItem, ctx)] };
}

/** The step the leader should fire next (the first pending one) if it is due at `now`, else undefined. */
export function dueStep(s: Schedule, now: number): number | undefined {
  const i = s.steps.findIndex((st) => st.status === 'pending');
  return i >= 0 && s.steps[i].at <= now ? i : undefined;
}

/** When the schedule's next pending step is due (undefined: nothing pending). */
export function nextDueAt(s: Schedule): number | undefined {
  return s.steps.find((st) => st.status === 'pending')?.at;
}
