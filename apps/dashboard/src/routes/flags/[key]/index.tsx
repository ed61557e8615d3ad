import { component$ } from '@builder.io/qwik';
import { Link, routeLoader$, useLocation, type DocumentHead } from '@builder.io/qwik-city';
import { FlagEditor } from '~/components/flag-editor';
import { when } from '~/components/format';
import { ItemNotLoaded, ItemPage } from '~/components/item-page';
import { loadItemPage } from '~/server/item-pages';
import { gatewayFor } from '~/server/request';
import { loadSegmentChoices } from '~/server/segment-choices';
import { userKey } from '~/lib/jsx-key';

export { useSaveFlag, useDeleteFlag } from '~/server/flag-actions';
export { useProposeChange } from '~/server/change-requests';
export { useCreateSchedule } from '~/server/schedule-actions';
import { SchedulePicker } from '~/components/schedule-picker';
import { envParam, environmentView } from '~/server/environments';

export const useFlag = routeLoader$(async (ev) => {
  const key = ev.params.key;
  return loadItemPage(ev, key, async () => {
    const envs = await environmentView(ev);
    const [stored, segments] = await Promise.all([gatewayFor(ev).getFlag(key, envParam(envs)), loadSegmentChoices(ev)]);
    return { stored, env: envs.current, segments };
  });
});

export default component$(() => {
  const data = useFlag();
  const loc = useLocation();
  if (!data.value.ok) {
    const { id, status, error } = data.value;
    return (
      <ItemNotLoaded id={id} message={status === 404 ? 'There is no flag with this key (it may have been deleted).' : `Could not load the flag: ${error}`}>
        <p>
          <Link href="/flags">Back to flags</Link> · <Link href={`/flags/${encodeURIComponent(id)}/history`}>History</Link>
        </p>
      </ItemNotLoaded>
    );
  }
  const s = data.value.stored;
  return (
    <ItemPage
      titleId="flag-title"
      title={<code>{s.flag.key}</code>}
      kind="Flag"
      created={!!loc.url.searchParams.get('created')}
      head={
        <>
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
        </>
      }
    >
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
    </ItemPage>
  );
});

export const head: DocumentHead = ({ params }) => ({ title: params.key });
