import { component$ } from '@builder.io/qwik';
import { Link, routeLoader$, type DocumentHead } from '@builder.io/qwik-city';
import { DiffTable } from '~/components/diff-table';
import { when } from '~/components/format';
import { AUDIT_KINDS, AUDIT_PAGE_SIZE, auditHref, auditRow, parseAuditFilters, toChangeQuery, type AuditRow } from '~/lib/audit';
import { userKey } from '~/lib/jsx-key';
import { gatewayFor, problemOf } from '~/server/request';

/** Top-level fields named in a row's summary before "…". */
const SUMMARY_FIELDS = 4;

const KIND_LABELS: Record<(typeof AUDIT_KINDS)[number], string> = {
  flag: 'flag',
  segment: 'segment',
  environment: 'environment',
  changeRequest: 'change request',
  schedule: 'schedule',
};

export const useAudit = routeLoader$(async (ev) => {
  const { filters, problems } = parseAuditFilters(ev.url.searchParams);
  try {
    const page = await gatewayFor(ev).listChanges(toChangeQuery(filters));
    return { ok: true as const, filters, problems, rows: page.changes.map(auditRow), next: page.nextPageToken ?? '' };
  } catch (err) {
    return { ok: false as const, filters, problems, error: problemOf(err).message };
  }
});

/** Where a change's item can be looked at (flags and segments have pages). */
function itemHref(r: AuditRow): string | undefined {
  if (r.kind === 'flag') return `/flags/${encodeURIComponent(r.key)}`;
  if (r.kind === 'segment') return `/segments/${encodeURIComponent(r.key)}`;
  return undefined;
}

export default component$(() => {
  const data = useAudit();
  const f = data.value.filters;
  const filtered = f.actor || f.key || f.kind || f.environment || f.from || f.to;
  return (
    <section aria-labelledby="audit-title">
      <div class="page-head">
        <h1 id="audit-title">Audit log</h1>
        <span class="muted small">Every change to flags, segments, environments, change requests and schedules, newest first.</span>
      </div>
      <form class="filters" method="get" action="/audit" role="search" aria-label="Filter the audit log">
        <div class="field">
          <label for="audit-actor">Actor</label>
          <input id="audit-actor" name="actor" value={f.actor} maxLength={256} placeholder="e.g. eddie" />
        </div>
        <div class="field">
          <label for="audit-key">Flag or segment</label>
          <input id="audit-key" name="key" value={f.key} maxLength={256} placeholder="key or name" />
        </div>
        <div class="field">
          <label for="audit-kind">Kind</label>
          <select id="audit-kind" name="kind">
            <option value="">Any</option>
            {AUDIT_KINDS.map((k) => (
              <option key={userKey(k)} value={k} selected={k === f.kind}>
                {KIND_LABELS[k]}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="audit-env">Environment</label>
          <input id="audit-env" name="environment" value={f.environment} maxLength={256} placeholder="e.g. production" />
        </div>
        <div class="field">
          <label for="audit-from">From (UTC)</label>
          <input id="audit-from" name="from" type="datetime-local" step="1" value={f.from} />
        </div>
        <div class="field">
          <label for="audit-to">Until (UTC)</label>
          <input id="audit-to" name="to" type="datetime-local" step="1" value={f.to} />
        </div>
        <div class="field">
          <span aria-hidden="true">&nbsp;</span>
          <div class="row-inline u-m0">
            <button type="submit" class="primary" data-testid="audit-apply">
              Filter
            </button>
            {filtered && <Link href="/audit">Clear</Link>}
          </div>
        </div>
      </form>
      {data.value.problems.length > 0 && (
        <p class="notice warn" role="status" data-testid="audit-problems">
          Ignored: {data.value.problems.join('; ')}
        </p>
      )}
      {!data.value.ok ? (
        <p class="notice bad" role="alert">
          Could not load the audit log: {data.value.error}
        </p>
      ) : data.value.rows.length === 0 ? (
        <p class="panel" data-testid="audit-empty">
          {filtered ? 'No change matches these filters.' : 'No changes recorded.'}
        </p>
      ) : (
        <>
          <ol class="u-plain-list" data-testid="audit">
            {data.value.rows.map((r) => (
              <li
                key={userKey(r.revision, r.kind, r.key, r.environment ?? '')}
                class="panel audit-entry"
                data-testid="audit-entry"
                data-actor={r.actor}
                data-kind={r.kind}
                data-key={r.key}
                data-env={r.environment ?? ''}
                data-revision={r.revision}
              >
                <details>
                  <summary>
                    <span class="muted small">{when(r.time)}</span> <strong>{r.actor}</strong> {r.verb} {KIND_LABELS[r.kind]}{' '}
                    <code>{r.key}</code>
                    {r.environment && <span class="tag">{r.environment}</span>}
                    {r.verb === 'changed' && r.fields.length > 0 && (
                      <span class="muted small">
                        {' '}
                        · {r.fields.slice(0, SUMMARY_FIELDS).join(', ')}
                        {r.fields.length > SUMMARY_FIELDS ? ', …' : ''}
                      </span>
                    )}
                    <span class="muted small"> · revision {r.revision}</span>
                  </summary>
                  <DiffTable caption={`Changes in revision ${r.revision}`} entries={r.diff} />
                  {/* Plain links: Qwik's <Link> would prefetch every entry's page data (100 loads a page). */}
                  {itemHref(r) && (
                    <p class="small u-m0">
                      <a href={itemHref(r)}>Open the {KIND_LABELS[r.kind]}</a>
                      {r.kind === 'flag' && (
                        <>
                          {' '}
                          · <a href={`/flags/${encodeURIComponent(r.key)}/history`}>its history</a>
                        </>
                      )}
                    </p>
                  )}
                </details>
              </li>
            ))}
          </ol>
          <nav class="row-inline" aria-label="Audit log pages">
            {f.pageToken && (
              <Link href={auditHref(f)} data-testid="audit-newest">
                ← Newest
              </Link>
            )}
            {data.value.next && (
              <Link href={auditHref(f, data.value.next)} data-testid="audit-older">
                Older {AUDIT_PAGE_SIZE} →
              </Link>
            )}
          </nav>
        </>
      )}
    </section>
  );
});

export const head: DocumentHead = { title: 'Audit log' };
