import { component$ } from '@builder.io/qwik';
import { Link, routeLoader$, useLocation, type DocumentHead } from '@builder.io/qwik-city';
import { when } from '~/components/format';
import { canEdit, gatewayFor, problemOf } from '~/server/request';
import { userKey } from '~/lib/jsx-key';
import { ColumnHeads } from '~/components/markup';

export const useSegments = routeLoader$(async (ev) => {
  try {
    const list = await gatewayFor(ev).listSegments();
    return { ok: true as const, canEdit: canEdit(ev), segments: list.sort((a, b) => (a.segment.name < b.segment.name ? -1 : 1)) };
  } catch (err) {
    return { ok: false as const, canEdit: false, error: problemOf(err).message };
  }
});

export default component$(() => {
  const data = useSegments();
  const loc = useLocation();
  return (
    <section aria-labelledby="seg-title">
      <div class="page-head">
        <h1 id="seg-title">Segments</h1>
        <span class="muted small">Reusable sets of conditions that rules can reference.</span>
        <div class="actions">
          {data.value.canEdit && (
            <Link class="button primary" href="/segments/new">
              New segment
            </Link>
          )}
        </div>
      </div>
      {loc.url.searchParams.get('deleted') && (
        <p class="notice ok" role="status">
          Segment <code>{loc.url.searchParams.get('deleted')}</code> was deleted.
        </p>
      )}
      {!data.value.ok ? (
        <p class="notice bad" role="alert">
          Could not load segments: {data.value.error}
        </p>
      ) : data.value.segments.length === 0 ? (
        <p class="panel">No segments yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="cards">
            <ColumnHeads names={['Name', 'Description', 'Conditions', 'Last change']} />
            <tbody>
              {data.value.segments.map((s) => (
                <tr key={userKey(s.segment.name)}>
                  <td data-label="Name">
                    <a href={`/segments/${encodeURIComponent(s.segment.name)}`}>
                      <code>{s.segment.name}</code>
                    </a>
                  </td>
                  <td data-label="Description">{s.segment.description ?? ''}</td>
                  <td data-label="Conditions">
                    {s.segment.conditions.map((c) => `${c.attribute} ${c.op}${c.value === undefined ? '' : ` ${JSON.stringify(c.value)}`}`).join(' and ') || 'everyone'}
                  </td>
                  <td data-label="Last change" class="small">
                    {s.updatedBy} · {when(s.updatedAt)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
});

export const head: DocumentHead = { title: 'Segments' };
