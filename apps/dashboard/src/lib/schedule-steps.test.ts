import { describe, expect, it } from 'vitest';
import { MAX_PICKER_STEPS, scheduleSteps, type StepInput } from './schedule-steps';

const at = '2030-01-15T09:00:00.000Z';

describe('schedule picker steps', () => {
  it('a toggle at a time', () => {
    expect(scheduleSteps('toggle', 'f', [{ at, enabled: false }], '', '')).toEqual({ ok: true, steps: [{ at, toggle: { flag: 'f', enabled: false } }] });
  });
  it('a rollout: the percentage out of 10,000 to the variant, the rest to the other', () => {
    const r = scheduleSteps('rollout', 'f', [{ at, percent: 5 }, { at, percent: 12.5 }, { at, percent: 100 }], 'on', 'off');
    expect(r.ok && r.steps.map((s) => s.rollout?.weights)).toEqual([
      [{ variant: 'on', weight: 500 }, { variant: 'off', weight: 9500 }],
      [{ variant: 'on', weight: 1250 }, { variant: 'off', weight: 8750 }],
      [{ variant: 'on', weight: 10000 }, { variant: 'off', weight: 0 }],
    ]);
  });
  it('refuses what it cannot send, naming the step', () => {
    expect(scheduleSteps('toggle', 'f', [{ at: '2030-01-15T10:00', enabled: true }], '', '')).toEqual({ ok: false, message: 'step 1: choose a date and time' });
    expect(scheduleSteps('toggle', 'f', [null as unknown as StepInput], '', '')).toEqual({ ok: false, message: 'step 1: choose a date and time' });
    expect(scheduleSteps('rollout', 'f', [{ at, percent: 5 }, { at, percent: 101 }], 'on', 'off')).toEqual({ ok: false, message: 'step 2: the percentage must be 0 to 100' });
    expect(scheduleSteps('rollout', 'f', [{ at, percent: 5 }], 'on', 'on').ok).toBe(false);
    expect(scheduleSteps('toggle', '', [{ at, enabled: true }], '', '').ok).toBe(false);
    expect(scheduleSteps('toggle', 'f', [], '', '').ok).toBe(false);
    expect(scheduleSteps('toggle', 'f', Array.from({ length: MAX_PICKER_STEPS + 1 }, () => ({ at, enabled: true })), '', '').ok).toBe(false);
    expect(scheduleSteps('other', 'f', [{ at }], '', '')).toEqual({ ok: false, message: 'mode must be toggle or rollout' });
  });
});
