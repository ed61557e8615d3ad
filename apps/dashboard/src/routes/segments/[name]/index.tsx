import { component$ } from '@builder.io/qwik';
import { Link, routeLoader$, useLocation, type DocumentHead } from '@builder.io/qwik-city';
import { when } from '~/components/format';
import { SegmentEditor } from '~/components/segment-editor';
import { GatewayError } from '~/server/gateway';
import { canEdit, gatewayFor, problemOf } from '~/server/request';
import { userKey } from '~/lib/jsx-key';

export { useSaveSegment, useDeleteSegment } from '~/server/segment-actions';

export const useSegment = routeLoader$(async (ev) => {
  try {
    return { ok: true as const, stored: await gatewayFor(ev).getSegment(ev.params.name), canEdit: canEdit(ev) };
  } catch (err) {
    if (err instanceof GatewayError && err.status === 404) ev.status(404);
    return { ok: false as const, name: ev.params.name, error: problemOf(err).message };
  }
});

export default component$(() => {
  const data = useSegment();
  const loc = useLocation();
  if (!data.value.ok) {
    return (
      <section>
        <h1>
          <code>{data.value.name}</code>
        </h1>
        <p class="notice bad" role="alert">
          {data.value.error}
        </p>
        <Link href="/segments">Back to segments</Link>
      </section>
    );
  }
  const s = data.value.stored;
  return (
    <section aria-labelledby="seg-title">
      <div class="page-head">
        <h1 id="seg-title">
          Segment <code>{s.segment.name}</code>
        </h1>
        <span class="muted small">
          revision {s.modRevision} · last changed by {s.updatedBy}, {when(s.updatedAt)}
        </span>
        <div class="actions">
          <Link href="/segments">All segments</Link>
        </div>
      </div>
      {loc.url.searchParams.get('created') && (
        <p class="notice ok" role="status">
          Segment created.
        </p>
      )}
      <SegmentEditor key={userKey(s.segment.name)} stored={s} canEdit={data.value.canEdit} />
    </section>
  );
});

export const head: DocumentHead = ({ params }) => ({ title: `Segment ${params.name}` });
