import { component$ } from '@builder.io/qwik';
import { LocalTime } from '~/components/local-time';
import { Form, routeLoader$, type DocumentHead } from '@builder.io/qwik-city';
import { useRecordLive } from '~/components/record-live';
import { userKey } from '~/lib/jsx-key';
import { gatewayFor, problemOf, canEdit } from '~/server/request';
import { useCancelSchedule } from '~/server/schedule-actions';

export { useCancelSchedule };

/** Schedules shown at most (newest first). */
export const MAX_SCHEDULES_SHOWN = 200;

export const useSchedules = routeLoader$(async (ev) => {
  const pending = ev.url.searchParams.get('pending') === '1';
  try {
    const list = await gatewayFor(ev).api.listSchedules({ pending: pending || undefined });
    const schedules = list.schedules
      .sort((a, b) => b.createRevision - a.createRevision)
      .slice(0, MAX_SCHEDULES_SHOWN)
      .map(({ schedule: s, createRevision }) => ({
        id: s.id,
        title: s.title,
        env: s.env,
        createdBy: s.createdBy,
        createRevision,
        steps: s.steps.map((st) => ({
          at: new Date(st.at).toISOString(),
          status: st.status,
          what: st.changeRequest ? `change request ${st.changeRequest}` : (st.ops ?? []).map((o) => (o.op === 'putFlag' ? `flag ${o.flag.key}: ${o.flag.enabled ? 'on' : 'off'}` : o.op)).join(', '),
          detail: st.revision ? `revision ${st.revision}` : (st.error ?? (st.conflicts?.length ? `${st.conflicts.length} conflict(s)` : '')),
        })),
        cancellable: s.steps.some((st) => st.status === 'pending'),
      }));
    return { ok: true as const, pending, canEdit: canEdit(ev), schedules };
  } catch (err) {
    return { ok: false as const, pending, error: problemOf(err).message };
  }
});

export default component$(() => {
  const data = useSchedules();
  const cancel = useCancelSchedule();
  const live = useRecordLive('schedule');
  const v = data.value;
  const failed = cancel.value?.failed ? (cancel.value as { message?: string }).message : '';
  return (
    <section aria-labelledby="sch-title">
      <div class="page-head">
        <h1 id="sch-title">Schedules</h1>
        <span class="muted small" data-testid="sch-live" data-state={live.state.value} data-events={live.events.value}>
          {live.state.value === 'live' ? 'updates live' : ''}
        </span>
        <div class="actions">
          {v.pending ? <a href="/schedules">All</a> : <a href="/schedules?pending=1">Pending only</a>}
        </div>
      </div>
      {failed && (
        <p class="notice bad" role="alert">
          {failed}
        </p>
      )}
      {!v.ok ? (
        <p class="notice bad" role="alert">
          Could not load schedules: {v.error}
        </p>
      ) : v.schedules.length === 0 ? (
        <p class="panel">No schedules. Schedule a change from a flag's page.</p>
      ) : (
        v.schedules.map((s) => (
          <div class="panel cr-op" key={userKey(s.id)} data-testid={`schedule-${s.id}`} data-id={s.id}>
            <h2>
              {s.title} <span class="muted small">{s.id} · {s.env} · by {s.createdBy}</span>
            </h2>
            <ol>
              {s.steps.map((st, i) => (
                <li key={i} data-status={st.status} data-testid={`schedule-${s.id}-step-${i}`}>
                  <LocalTime iso={st.at} />{' '}
                  · {st.what} · <strong>{st.status}</strong>
                  {st.detail && <span class="muted small"> ({st.detail})</span>}
                </li>
              ))}
            </ol>
            {v.canEdit && s.cancellable && (
              <Form action={cancel}>
                <input type="hidden" name="id" value={s.id} />
                <button type="submit" class="danger" data-testid={`cancel-${s.id}`}>
                  Cancel pending steps
                </button>
              </Form>
            )}
          </div>
        ))
      )}
    </section>
  );
});

export const head: DocumentHead = { title: 'Schedules' };
