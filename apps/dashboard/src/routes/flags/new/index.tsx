import { component$ } from '@builder.io/qwik';
import { Link, routeLoader$, type DocumentHead } from '@builder.io/qwik-city';
import { FlagEditor } from '~/components/flag-editor';
import { canEdit } from '~/server/request';
import { loadSegmentChoices } from '~/server/segment-choices';

export { useSaveFlag, useDeleteFlag } from '~/server/flag-actions';
export { useProposeChange } from '~/server/change-requests';

export const useNewFlag = routeLoader$(async (ev) => {
  if (!canEdit(ev)) throw ev.redirect(302, '/flags');
  return { segments: await loadSegmentChoices(ev) };
});

export default component$(() => {
  const data = useNewFlag();
  return (
    <section aria-labelledby="new-title">
      <div class="page-head">
        <h1 id="new-title">New flag</h1>
        <div class="actions">
          <Link href="/flags">Back to flags</Link>
        </div>
      </div>
      <FlagEditor canEdit={true} segments={data.value.segments} />
    </section>
  );
});

export const head: DocumentHead = { title: 'New flag' };
