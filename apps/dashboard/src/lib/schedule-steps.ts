// The schedule picker's steps as the gateway's schedule steps (pure; the
// action in server/schedule-actions.ts sends them). Times arrive as UTC ISO
// strings: the browser converted its datetime-local values.
import type { ScheduleStepCreate } from '@flagraft/api';

/** Steps in one rollout from the picker (the gateway allows maxScheduleSteps 20). */
export const MAX_PICKER_STEPS = 10;
/** Rollout weights are out of this (a percentage with two decimals). */
export const ROLLOUT_SCALE = 10_000;
const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/;

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
    if (!s || typeof s !== 'object' || typeof s.at !== 'string' || !UTC_TIME.test(s.at) || Number.isNaN(Date.parse(s.at))) return { ok: false, message: `${n}: choose a date and time` };
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

