// Schedules from the flag page (issue 16 item 5): a toggle at a time, or a
// rollout of steps (5 % -> 25 % -> 100 %) at given times. The browser turns
// its datetime-local values (its own time zone) into UTC ISO times before it
// sends them; the gateway stores ms since the epoch, UTC.
import { routeAction$ } from '@builder.io/qwik-city';
import { scheduleSteps, type StepInput } from '~/lib/schedule-steps';
import { gatewayFor, problemOf } from './request';
import { MAX_TITLE_CHARS } from './change-requests';

function str(v: unknown): string {
  return typeof v === 'string' ? v.trim() : '';
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
