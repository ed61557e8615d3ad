import { component$ } from '@builder.io/qwik';
import { routeLoader$, type DocumentHead } from '@builder.io/qwik-city';
import { SEGMENT_KIND } from '@flagraft/flag-model';
import { NewItemPage } from '~/components/item-page';
import { SegmentEditor } from '~/components/segment-editor';
import { guardNewItem } from '~/server/item-pages';

export { useSaveSegment, useDeleteSegment } from '~/server/segment-actions';

export const useGuard = routeLoader$((ev) => {
  guardNewItem(ev, SEGMENT_KIND);
  return true;
});

export default component$(() => {
  useGuard();
  return (
    <NewItemPage kind="segment" plural="segments">
      <SegmentEditor canEdit={true} />
    </NewItemPage>
  );
});

export const head: DocumentHead = { title: 'New segment' };
