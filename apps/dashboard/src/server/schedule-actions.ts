// Schedules from the flag page (issue 16 item 5): a toggle at a time, or a
// rollout of steps (5 % -> 25 % -> 100 %) at given times. The browser turns
// its datetime-local values (its own time zone) into UTC ISO times before it
// sends them; the gateway stores ms since the epoch, UTC.
import { routeAction$ } from '@builder.io/qwik-city';
import type { ScheduleStepCreate } from '@flagraft/api';
import { gatewayFor, problemOf } from './request';
import { MAX_TITLE_CHARS } from './change-requests';

/** Steps in one rollout from the picker (the gateway allows maxScheduleSteps 20). */
export const MAX_PICKER_STEPS = 10;
/** Rollout weights are out of this (a percentage with two decimals). */
export const ROLLOUT_SCALE = 10_000;
const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/;

function str(v: unknown): string {
  return typeof v === 'string' ? v.trim() : '';
}

export type StepInput = { at: string; enabled?: boolean; percent?: number };

/** The picker's steps as the gateway's schedule steps, or the first problem (naming the step). */
export function scheduleSteps(
  mode: string, flag: string, steps: StepInput[], variant: string, rest: string,
): { ok: true; steps: ScheduleStepCreate[] } | { ok: false; message: string } {
  if (!flag) return { ok: false, message: 'flag is required' };
  if (steps.length === 0 || steps.length > MAX_PICKER_STEPS) return { ok: false, message: `give 1 to ${MAX_PICKER_STEPS} steps` };
  if (mode === 'rollout' && (!variant || !rest || variant === rest)) return { ok: false, message: 'choose the rolled-out variant and a different variant for the rest' };
  const out: ScheduleStepCreate[] = [];
  for (const [i, s] of steps.entries()) {
    const n = `step ${i + 1}`;
    if (typeof s.at !== 'string' || !UTC_TIME.test(s.at) || Number.isNaN(Date.parse(s.at))) return { ok: false, message: `${n}: choose a date and time` };
    if (mode === 'toggle') {
      if (typeof s.enabled !== 'boolean') return { ok: false, message: `${n}: on or off?` };
      out.push({ at: s.at, toggle: { flag, enabled: s.enabled } });
    } else if (mode === 'rollout') {
      const p = s.percent;
      if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 100) return { ok: false, message: `${n}: the percentage must be 0 to 100` };
      const w = Math.round((p / 100) * ROLLOUT_SCALE);
      out.push({ at: s.at, rollout: { flag, weights: [{ variant, weight: w }, { variant: rest, weight: ROLLOUT_SCALE - w }] } });
    } else return { ok: false, message: 'mode must be toggle or rollout' };
  }
  return { ok: true, steps: out };
}

export const useCreateSchedule = routeAction$(async (data, ev) => {
  const env = str(data.env);
  const flag = str(data.flag);
  const title = str(data.title) || `${str(data.mode) === 'rollout' ? 'Roll out' : 'Switch'} ${flag}`;
  if (title.length > MAX_TITLE_CHARS) return ev.fail(400, { message: `title longer than ${MAX_TITLE_CHARS} characters` });
  let steps: StepInput[];
  try {
    steps = JSON.parse(str(data.steps) || '[]');
    if (!Array.isArray(steps)) throw new Error('not a list');
  } catch {
    return ev.fail(400, { message: 'steps must be a JSON list' });
  }
  const made = scheduleSteps(str(data.mode), flag, steps, str(data.variant), str(data.rest));
  if (!made.ok) return ev.fail(400, { message: made.message });
  try {
    const s = await gatewayFor(ev).api.createSchedule({ environment: env || undefined, title, steps: made.steps });
    return { ok: true as const, id: s.schedule.id };
  } catch (err) {
    const p = problemOf(err);
    return ev.fail(p.status, { message: p.issues?.length ? `${p.message}: ${p.issues.map((i) => `${i.path} ${i.message}`).join('; ')}` : p.message });
  }
});

export const useCancelSchedule = routeAction$(async (data, ev) => {
  const id = str(data.id);
  if (!id) return ev.fail(400, { message: 'id is required' });
  try {
    await gatewayFor(ev).api.cancelSchedule(id);
    return { ok: true as const, id };
  } catch (err) {
    return ev.fail(problemOf(err).status, { message: problemOf(err).message });
  }
});
