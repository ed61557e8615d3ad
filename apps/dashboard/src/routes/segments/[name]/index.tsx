import { component$ } from '@builder.io/qwik';
import { Link, routeLoader$, useLocation, type DocumentHead } from '@builder.io/qwik-city';
import { when } from '~/components/format';
import { SegmentEditor } from '~/components/segment-editor';
import { SEGMENT_KIND } from '@flagraft/flag-model';
import { ItemNotLoaded, ItemPage } from '~/components/item-page';
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
    <ItemPage
      titleId="seg-title"
      title={<>Segment <code>{s.segment.name}</code></>}
      kind="Segment"
      created={!!loc.url.searchParams.get('created')}
      head={
        <>
          <span class="muted small">
            revision {s.modRevision} · last changed by {s.updatedBy}, {when(s.updatedAt)}
          </span>
          <div class="actions">
            <Link href="/segments">All segments</Link>
          </div>
        </>
      }
    >
      <SegmentEditor key={userKey(s.segment.name)} stored={s} canEdit={data.value.canEdit} />
    </ItemPage>
  );
});

export const head: DocumentHead = ({ params }) => ({ title: `Segment ${params.name}` });
