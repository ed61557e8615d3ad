import { $, component$, useStore } from '@builder.io/qwik';
import { useCreateSchedule } from '~/server/schedule-actions';
import { Options } from './markup';

interface PickerState {
  mode: 'toggle' | 'rollout';
  enabled: boolean;
  variant: string;
  rest: string;
  /** datetime-local values: the browser's local time, turned into UTC on submit. */
  steps: { at: string; percent: string }[];
  error: string;
}

/**
 * "Schedule this change" on the flag page: a toggle at a time, or a rollout
 * of steps (5 % -> 25 % -> 100 % by default) at given times. The route must
 * export useCreateSchedule.
 */
export const SchedulePicker = component$((props: { flagKey: string; env: string; variants: string[]; onVariant: string; restVariant: string }) => {
  const create = useCreateSchedule();
  const st = useStore<PickerState>({
    mode: 'toggle',
    enabled: true,
    variant: props.onVariant,
    rest: props.restVariant,
    steps: [{ at: '', percent: '5' }, { at: '', percent: '25' }, { at: '', percent: '100' }],
    error: '',
  });
  const submit = $(async () => {
    const rows = st.mode === 'toggle' ? st.steps.slice(0, 1) : st.steps;
    const steps = [];
    for (const [i, r] of rows.entries()) {
      // A datetime-local value has no zone: Date reads it as the browser's local time.
      const t = r.at ? new Date(r.at) : undefined;
      if (!t || Number.isNaN(t.getTime())) {
        st.error = `Step ${i + 1}: choose a date and time.`;
        return;
      }
      steps.push(st.mode === 'toggle' ? { at: t.toISOString(), enabled: st.enabled } : { at: t.toISOString(), percent: Number(r.percent) });
    }
    st.error = '';
    await create.submit({ env: props.env, flag: props.flagKey, mode: st.mode, variant: st.variant, rest: st.rest, steps: JSON.stringify(steps) });
  });
  const done = create.value && !create.value.failed ? (create.value as { id: string }).id : '';
  const failed = create.value?.failed ? (create.value as { message?: string }).message : '';
  return (
    <details class="panel u-mt6" data-testid="schedule-picker">
      <summary>Schedule this change{props.env ? ` in ${props.env}` : ''}</summary>
      <form preventdefault:submit onSubmit$={submit} aria-label="Schedule a change">
        <fieldset>
          <legend>What</legend>
          <label>
            <input type="radio" name="sch-mode" checked={st.mode === 'toggle'} onChange$={() => (st.mode = 'toggle')} data-testid="sch-mode-toggle" /> Switch on or off
          </label>{' '}
          <label>
            <input type="radio" name="sch-mode" checked={st.mode === 'rollout'} onChange$={() => (st.mode = 'rollout')} data-testid="sch-mode-rollout" /> Roll
            out in steps
          </label>
        </fieldset>
        {st.mode === 'toggle' ? (
          <div class="filters">
            <div class="field">
              <label for="sch-enabled">Switch</label>
              <select id="sch-enabled" onChange$={(_, el) => (st.enabled = el.value === 'on')}>
                <option value="on" selected={st.enabled}>
                  on
                </option>
                <option value="off" selected={!st.enabled}>
                  off
                </option>
              </select>
            </div>
            <div class="field">
              <label for="sch-at-0">At (your local time)</label>
              <input id="sch-at-0" type="datetime-local" value={st.steps[0].at} onInput$={(_, el) => (st.steps[0].at = el.value)} />
            </div>
          </div>
        ) : (
          <>
            <div class="filters">
              <div class="field">
                <label for="sch-variant">Variant rolled out</label>
                <select id="sch-variant" onChange$={(_, el) => (st.variant = el.value)}>
                  <Options choices={props.variants} selected={st.variant} />
                </select>
              </div>
              <div class="field">
                <label for="sch-rest">Everyone else gets</label>
                <select id="sch-rest" onChange$={(_, el) => (st.rest = el.value)}>
                  <Options choices={props.variants} selected={st.rest} />
                </select>
              </div>
            </div>
            {st.steps.map((s, i) => (
              <div class="filters" key={i}>
                <div class="field">
                  <label for={`sch-pct-${i}`}>Step {i + 1}: %</label>
                  <input id={`sch-pct-${i}`} type="number" min={0} max={100} step="0.01" value={s.percent} onInput$={(_, el) => (st.steps[i].percent = el.value)} />
                </div>
                <div class="field">
                  <label for={`sch-at-${i}`}>At (your local time)</label>
                  <input id={`sch-at-${i}`} type="datetime-local" value={s.at} onInput$={(_, el) => (st.steps[i].at = el.value)} />
                </div>
              </div>
            ))}
            <button type="button" disabled={st.steps.length >= 10} onClick$={() => st.steps.push({ at: '', percent: '100' })}>
              + Step
            </button>
          </>
        )}
        <div class="dialog-actions u-jstart">
          <button type="submit" class="primary" disabled={create.isRunning} data-testid="sch-submit">
            Schedule
          </button>
        </div>
        {(st.error || failed) && (
          <p class="notice bad" role="alert" data-testid="sch-error">
            {st.error || failed}
          </p>
        )}
        {done && (
          <p class="notice ok" role="status" data-testid="sch-done">
            Scheduled as {done}. <a href="/schedules">See schedules</a>
          </p>
        )}
      </form>
    </details>
  );
});
