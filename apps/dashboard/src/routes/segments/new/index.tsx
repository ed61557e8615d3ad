import { component$ } from '@builder.io/qwik';
import { Link, routeLoader$, type DocumentHead } from '@builder.io/qwik-city';
import { SegmentEditor } from '~/components/segment-editor';
import { canEdit } from '~/server/request';

export { useSaveSegment, useDeleteSegment } from '~/server/segment-actions';

export const useGuard = routeLoader$((ev) => {
  if (!canEdit(ev)) throw ev.redirect(302, '/segments');
  return true;
});

export default component$(() => {
  useGuard();
  return (
    <section aria-labelledby="newseg-title">
      <div class="page-head">
        <h1 id="newseg-title">New segment</h1>
        <div class="actions">
          <Link href="/segments">Back to segments</Link>
        </div>
      </div>
      <SegmentEditor canEdit={true} />
    </section>
  );
});

export const head: DocumentHead = { title: 'New segment' };
