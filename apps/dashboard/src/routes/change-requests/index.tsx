import { component$ } from '@builder.io/qwik';
import { routeLoader$, type DocumentHead } from '@builder.io/qwik-city';
import { when } from '~/components/format';
import { useRecordLive } from '~/components/record-live';
import { approvalsText, statusLabel, STATUS_LABELS } from '~/lib/change-request-view';
import { userKey } from '~/lib/jsx-key';
import type { ChangeRequestStatus } from '~/lib/types';
import { environmentView } from '~/server/environments';
import { gatewayFor, problemOf, requireSession } from '~/server/request';
import { ColumnHeads } from '~/components/markup';

/** Change requests listed at most on one tab. */
export const INBOX_LIMIT = 200;

export const useInbox = routeLoader$(async (ev) => {
  const tab = ev.url.searchParams.get('tab') === 'mine' ? ('mine' as const) : ('review' as const);
  const wanted = ev.url.searchParams.get('state') ?? '';
  const state = STATUS_LABELS.has(wanted) ? (wanted as ChangeRequestStatus) : undefined;
  try {
    const me = requireSession(ev);
    const envs = await environmentView(ev);
    const api = gatewayFor(ev).api;
    // "To review": in review, in an environment where the gateway says I may still approve (policy, author rule, my role).
    const list = await api.listChangeRequests(tab === 'review' ? { toReview: true, limit: INBOX_LIMIT } : { author: me.name, state, limit: INBOX_LIMIT });
    const rows = list.changeRequests
      .map((s) => {
        const c = s.changeRequest;
        const policy = envs.environments.find((e) => e.name === c.env);
        return { id: c.id, title: c.title, env: c.env, author: c.author, status: c.status, approvals: approvalsText(s, policy), updatedAt: s.updatedAt, updatedBy: s.updatedBy };
      })
      .sort((a, b) => b.updatedAt - a.updatedAt);
    return { ok: true as const, tab, state: state ?? '', rows, more: !!list.more };
  } catch (err) {
    return { ok: false as const, tab, state: state ?? '', error: problemOf(err).message };
  }
});

export default component$(() => {
  const inbox = useInbox();
  const live = useRecordLive('changeRequest');
  const v = inbox.value;
  const tabHref = (tab: string) => `/change-requests?tab=${tab}${v.state ? `&state=${v.state}` : ''}`;
  return (
    <section aria-labelledby="cr-title">
      <div class="page-head">
        <h1 id="cr-title">Change requests</h1>
        <span class="muted small" data-testid="cr-live" data-state={live.state.value} data-events={live.events.value}>
          {live.state.value === 'live' ? 'updates live' : 'connecting…'}
        </span>
      </div>
      <nav class="tabs" aria-label="Inbox">
        <a href={tabHref('review')} aria-current={v.tab === 'review' ? 'page' : undefined} data-testid="tab-review">
          To review
        </a>
        <a href={tabHref('mine')} aria-current={v.tab === 'mine' ? 'page' : undefined} data-testid="tab-mine">
          Mine
        </a>
      </nav>
      <form class="filters" method="get" action="/change-requests">
        <input type="hidden" name="tab" value={v.tab} />
        <div class="field">
          <label for="cr-state">State</label>
          <select id="cr-state" name="state">
            <option value="">Any</option>
            {[...STATUS_LABELS].map(([value, label]) => (
              <option key={userKey(value)} value={value} selected={value === v.state}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Apply</button>
      </form>
      {!v.ok ? (
        <p class="notice bad" role="alert">
          Could not load change requests: {v.error}
        </p>
      ) : v.rows.length === 0 ? (
        <p class="panel" data-testid="cr-empty">
          {v.tab === 'review' ? 'Nothing waits for your review.' : 'You have no change requests.'}
        </p>
      ) : (
        <div class="table-wrap">
          <table class="cards" aria-describedby="cr-title" data-testid="cr-table">
            <ColumnHeads names={['Title', 'Environment', 'Author', 'State', 'Approvals', 'Last change']} />
            <tbody>
              {v.rows.map((r) => (
                <tr key={userKey(r.id)} data-id={r.id} data-status={r.status}>
                  <td data-label="Title">
                    <a href={`/change-requests/${encodeURIComponent(r.id)}`}>{r.title}</a> <span class="muted small">{r.id}</span>
                  </td>
                  <td data-label="Environment">{r.env}</td>
                  <td data-label="Author">{r.author}</td>
                  <td data-label="State">{statusLabel(r.status)}</td>
                  <td data-label="Approvals">{r.approvals}</td>
                  <td data-label="Last change" class="small">
                    {r.updatedBy} · {when(r.updatedAt)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {v.ok && v.more && <p class="muted small">Only the first {INBOX_LIMIT} are shown.</p>}
    </section>
  );
});

export const head: DocumentHead = { title: 'Change requests' };
