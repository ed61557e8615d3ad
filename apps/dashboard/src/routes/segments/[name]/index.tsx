import { component$ } from '@builder.io/qwik';
import { Link, routeLoader$, useLocation, type DocumentHead } from '@builder.io/qwik-city';
import { when } from '~/components/format';
import { SegmentEditor } from '~/components/segment-editor';
import { SEGMENT_KIND } from '@flagraft/flag-model';
import { CreatedNotice, ItemNotLoaded } from '~/components/item-page';
import { loadItemPage } from '~/server/item-pages';
import { gatewayFor } from '~/server/request';
import { userKey } from '~/lib/jsx-key';

export { useSaveSegment, useDeleteSegment } from '~/server/segment-actions';

export const useSegment = routeLoader$(async (ev) =>
  loadItemPage(ev, ev.params.name, async () => ({ stored: await gatewayFor(ev).getItem(SEGMENT_KIND, ev.params.name) })));

export default component$(() => {
  const data = useSegment();
  const loc = useLocation();
  if (!data.value.ok) {
    return (
      <ItemNotLoaded id={data.value.id} message={data.value.error}>
        <Link href="/segments">Back to segments</Link>
      </ItemNotLoaded>
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
      <CreatedNotice show={!!loc.url.searchParams.get('created')} kind="Segment" />
      <SegmentEditor key={userKey(s.segment.name)} stored={s} canEdit={data.value.canEdit} />
    </section>
  );
});

export const head: DocumentHead = ({ params }) => ({ title: `Segment ${params.name}` });
