import { component$ } from '@builder.io/qwik';
import { routeLoader$, type DocumentHead } from '@builder.io/qwik-city';
import { FLAG_KIND } from '@flagraft/flag-model';
import { FlagEditor } from '~/components/flag-editor';
import { NewItemPage } from '~/components/item-page';
import { guardNewItem } from '~/server/item-pages';
import { loadSegmentChoices } from '~/server/segment-choices';

export { useSaveFlag, useDeleteFlag } from '~/server/flag-actions';
export { useProposeChange } from '~/server/change-requests';

export const useNewFlag = routeLoader$(async (ev) => {
  guardNewItem(ev, FLAG_KIND);
  return { segments: await loadSegmentChoices(ev) };
});

export default component$(() => {
  const data = useNewFlag();
  return (
    <NewItemPage kind="flag" plural="flags">
      <FlagEditor canEdit={true} segments={data.value.segments} />
    </NewItemPage>
  );
});

export const head: DocumentHead = { title: 'New flag' };
