import { component$ } from '@builder.io/qwik';
import { Form, routeLoader$, type DocumentHead } from '@builder.io/qwik-city';
import { DiffTable } from '~/components/diff-table';
import { ProposeForm } from '~/components/propose-form';
import { userKey } from '~/lib/jsx-key';
import { useProposeChange, type Proposal } from '~/server/change-requests';
import { environmentView } from '~/server/environments';
import { configDiff, environmentName, usePromote } from '~/server/promotion';
import { canEdit, gatewayFor, problemOf } from '~/server/request';

export { usePromote, useProposeChange };

export const usePromotionPlan = routeLoader$(async (ev) => {
  const view = await environmentView(ev);
  const names = view.environments.map((e) => e.name);
  // Defaults: from the environment in view (or the first other one) to the default one.
  const to = environmentName(ev.url.searchParams.get('to')) ?? view.defaultName;
  const from = environmentName(ev.url.searchParams.get('from')) ?? (view.current !== to ? view.current : names.find((n) => n !== to) ?? '');
  const base = { from, to, names, canEdit: canEdit(ev) };
  if (!from || !to || from === to) return { ...base, ok: false as const, error: names.length < 2 ? 'There is only one environment.' : 'Choose two different environments.' };
  try {
    const plan = await gatewayFor(ev).api.getPromotionPlan({ from, to });
    const items = plan.items.map((i) => ({
      key: i.key,
      before: i.before ? (i.before.flag.enabled ? 'on' : 'off') : 'absent',
      after: i.after.enabled ? 'on' : 'off',
      diff: configDiff(i.before?.flag as Record<string, unknown> | undefined, i.after as unknown as Record<string, unknown>),
    }));
    return { ...base, ok: true as const, items };
  } catch (err) {
    return { ...base, ok: false as const, error: problemOf(err).message };
  }
});

const EnvPicker = component$((p: { label: string; name: string; names: string[]; value: string }) => (
  <label>
    {p.label}{' '}
    <select name={p.name} data-testid={`promote-${p.name}`}>
      {p.names.map((n) => (
        <option key={userKey(n)} value={n} selected={n === p.value}>{n}</option>
      ))}
    </select>
  </label>
));

export default component$(() => {
  const data = usePromotionPlan();
  const promote = usePromote();
  const v = data.value;
  const r = promote.value as { ok?: boolean; failed?: boolean; message?: string; flags?: string[]; revision?: number; proposal?: Proposal } | undefined;
  return (
    <section aria-labelledby="promote-title">
      <div class="page-head">
        <h1 id="promote-title">Promote</h1>
      </div>
      <form method="get" action="/promote" class="filters" data-testid="promote-choose">
        <EnvPicker label="From" name="from" names={v.names} value={v.from} />{' '}
        <EnvPicker label="to" name="to" names={v.names} value={v.to} />{' '}
        <button type="submit" data-testid="promote-show">Show the plan</button>
      </form>
      {r?.ok && (
        <p class="notice ok" role="status" data-testid="promote-done">
          Promoted {r.flags?.length ?? 0} flag(s) from {v.from} to {v.to} at revision {r.revision}.
        </p>
      )}
      {r?.failed && (
        <p class="notice bad" role="alert" data-testid="promote-error">
          {r.message}
        </p>
      )}
      {r?.failed && r.proposal && <ProposeForm proposal={r.proposal} />}
      {!v.ok ? (
        <p class="notice bad" role="alert" data-testid="promote-plan-error">
          {v.error}
        </p>
      ) : v.items.length === 0 ? (
        <p class="panel" data-testid="promote-nothing">
          Nothing to promote: every flag of {v.from} is configured the same in {v.to}.
        </p>
      ) : (
        <Form action={promote} data-testid="promote-form">
          <input type="hidden" name="from" value={v.from} />
          <input type="hidden" name="to" value={v.to} />
          <p class="muted small">
            {v.items.length} flag(s) differ. Promoting copies {v.from}'s configuration (on/off, rules, default and off variants) to {v.to}; the
            definition is shared already.
          </p>
          {v.items.map((i) => (
            <div class="panel cr-op" key={userKey(i.key)} data-testid={`promote-item-${i.key}`}>
              <h2>
                <label>
                  <input type="checkbox" name="keys[]" value={i.key} checked data-testid={`promote-pick-${i.key}`} /> {i.key}{' '}
                  <span class="muted small">
                    {i.before} → {i.after}
                  </span>
                </label>
              </h2>
              <DiffTable entries={i.diff} caption={`Configuration of ${i.key} in ${v.to}, before and after`} />
            </div>
          ))}
          {v.canEdit && (
            <div class="actions">
              <button type="submit" name="mode" value="selected" class="primary" data-testid="promote-selected" disabled={promote.isRunning}>
                Promote selected
              </button>{' '}
              <button type="submit" name="mode" value="all" data-testid="promote-all" disabled={promote.isRunning}>
                Promote all {v.items.length}
              </button>
            </div>
          )}
        </Form>
      )}
    </section>
  );
});

export const head: DocumentHead = { title: 'Promote' };
