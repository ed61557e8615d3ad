import { component$ } from '@builder.io/qwik';
import { Link, routeLoader$, useLocation, type DocumentHead } from '@builder.io/qwik-city';
import { FlagEditor } from '~/components/flag-editor';
import { when } from '~/components/format';
import { GatewayError } from '~/server/gateway';
import { canEdit, gatewayFor, problemOf } from '~/server/request';
import { loadSegmentChoices } from '~/server/segment-choices';
import { userKey } from '~/lib/jsx-key';

export { useSaveFlag, useDeleteFlag } from '~/server/flag-actions';
export { useProposeChange } from '~/server/change-requests';
export { useCreateSchedule } from '~/server/schedule-actions';
import { SchedulePicker } from '~/components/schedule-picker';
import { envParam, environmentView } from '~/server/environments';

export const useFlag = routeLoader$(async (ev) => {
  const key = ev.params.key;
  const gw = gatewayFor(ev);
  try {
    const envs = await environmentView(ev);
    const [stored, segments] = await Promise.all([gw.getFlag(key, envParam(envs)), loadSegmentChoices(ev)]);
    return { ok: true as const, stored, env: envs.current, canEdit: canEdit(ev), segments };
  } catch (err) {
    if (err instanceof GatewayError && err.status === 404) ev.status(404);
    return { ok: false as const, key, status: problemOf(err).status, error: problemOf(err).message };
  }
});

export default component$(() => {
  const data = useFlag();
  const loc = useLocation();
  if (!data.value.ok) {
    return (
      <section>
        <h1>
          <code>{data.value.key}</code>
        </h1>
        <p class="notice bad" role="alert">
          {data.value.status === 404 ? 'There is no flag with this key (it may have been deleted).' : `Could not load the flag: ${data.value.error}`}
        </p>
        <p>
          <Link href="/flags">Back to flags</Link> · <Link href={`/flags/${encodeURIComponent(data.value.key)}/history`}>History</Link>
        </p>
      </section>
    );
  }
  const s = data.value.stored;
  return (
    <section aria-labelledby="flag-title">
      <div class="page-head">
        <h1 id="flag-title">
          <code>{s.flag.key}</code>
        </h1>
        <span class={`badge ${s.flag.enabled ? 'on' : 'off'}`}>
          {s.flag.enabled ? 'Enabled' : 'Disabled'}
          {data.value.env ? ` in ${data.value.env}` : ''}
        </span>
        <span class="muted small">
          revision {s.modRevision} · version {s.version} · last changed by {s.updatedBy}, {when(s.updatedAt)}
        </span>
        <div class="actions">
          <Link href={`/flags/${encodeURIComponent(s.flag.key)}/history`}>History</Link>
          <Link href={`/evaluate?flag=${encodeURIComponent(s.flag.key)}`}>Evaluate</Link>
          <Link href="/flags">All flags</Link>
        </div>
      </div>
      {loc.url.searchParams.get('created') && (
        <p class="notice ok" role="status">
          Flag created.
        </p>
      )}
      <FlagEditor key={userKey(s.flag.key)} stored={s} canEdit={data.value.canEdit} segments={data.value.segments} env={data.value.env} />
      {data.value.canEdit && (
        <SchedulePicker
          flagKey={s.flag.key}
          env={data.value.env}
          variants={Object.keys(s.flag.variants)}
          onVariant={Object.keys(s.flag.variants).find((n) => s.flag.variants[n] === true) ?? Object.keys(s.flag.variants)[0]}
          restVariant={Object.keys(s.flag.variants).find((n) => s.flag.variants[n] === false) ?? s.flag.defaultVariant}
        />
      )}
    </section>
  );
});

export const head: DocumentHead = ({ params }) => ({ title: params.key });
