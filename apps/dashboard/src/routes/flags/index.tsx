import { $, component$, useContext, useOnDocument, useSignal, useStore, useTask$ } from '@builder.io/qwik';
import { isServer } from '@builder.io/qwik/build';
import { Link, routeAction$, routeLoader$, useLocation, useNavigate, type DocumentHead } from '@builder.io/qwik-city';
import { LiveContext } from '~/components/live';
import { ProposeForm } from '~/components/propose-form';
import { plural, when } from '~/components/format';
import { pageOf, parseListQuery, queryString, toRow, PAGE_SIZES, type Row } from '~/lib/list';
import type { StoredFlag } from '~/lib/types';
import { getConfig } from '~/server/config';
import { GatewayError } from '~/server/gateway';
import { revisionOf } from '~/server/input-limits';
import { allFlags } from '~/server/list-cache';
import { envParam, environmentView } from '~/server/environments';
import { useProposeChange, protectedEnv, proposalOf, type Proposal } from '~/server/change-requests';
import { canEdit, gatewayFor, problemOf, requireSession } from '~/server/request';
import { userKey } from '~/lib/jsx-key';
import { isSearchShortcut } from '~/lib/shortcuts';
import { Options } from '~/components/markup';

const STATE_CHOICES = [['all', 'All'], ['enabled', 'Enabled'], ['disabled', 'Disabled']] as const;

export { useProposeChange };

/** Environment columns shown at most (each costs one list read per load). */
export const MAX_ENV_COLUMNS = 5;

export const useFlagList = routeLoader$(async (ev) => {
  const q = parseListQuery(ev.url.searchParams);
  try {
    const started = performance.now();
    const cfg = getConfig();
    const envs = await environmentView(ev);
    const gw = gatewayFor(ev);
    // The default environment comes from the live index; another one is read from the gateway's replica.
    const inEnv = (env: string | undefined) =>
      env === undefined
        ? allFlags(gw, cfg.gatewayUrl, cfg.feedToken, cfg.gatewayTimeoutMs)
        : gw.listAllFlags({ stale: true, environment: env }).then((r) => ({ ...r, source: 'walk' as const }));
    const { flags, revision, source } = await inEnv(envParam(envs));
    const gatewayMs = performance.now() - started;
    const page = pageOf(flags, q);
    // Enabled per environment at a glance: the other environments' lists, only for this page's keys.
    const columns = envs.environments.length > 1 ? envs.environments.slice(0, MAX_ENV_COLUMNS) : [];
    const enabledIn = await Promise.all(
      columns.map(async (e) => {
        const all = e.name === envs.current ? page.rows : (await inEnv(e.name === envs.defaultName ? undefined : e.name)).flags;
        const byKey = new Map(all.map((f) => [f.flag.key, f.flag.enabled]));
        return page.rows.map((r) => byKey.get(r.flag.key) ?? null);
      }),
    );
    ev.headers.set(
      'Server-Timing',
      `gateway;dur=${gatewayMs.toFixed(1)};desc="${source === 'index' ? 'live index' : 'full list'}", list;dur=${(performance.now() - started - gatewayMs).toFixed(1)}`,
    );
    return {
      ok: true as const, query: q, revision, canEdit: canEdit(ev), ...page, rows: page.rows.map(toRow),
      env: envs.current, envIsDefault: envs.isDefault,
      envColumns: columns.map((c) => ({ name: c.name, label: c.label })),
      // [column][row]: null = not configured there.
      enabledIn,
    };
  } catch (err) {
    return { ok: false as const, query: q, error: problemOf(err).message, canEdit: false };
  }
});

/**
 * After a relay `resync` at revision R (a gap, or a restore from a backup), or
 * a truncated change event at R, a list read below R was answered by a
 * gateway replica that has not applied R yet (the relay can be ahead of it):
 * reload again, at most this many times, this far apart (ms).
 */
const STALE_AFTER_RESYNC_RELOADS = 5;
const STALE_AFTER_RESYNC_DELAY_MS = 400;

/** Kill switch: PATCH {enabled} with If-Match, so a stale row never overwrites a newer change. */
export const useToggle = routeAction$(async (data, ev) => {
  const key = typeof data.key === 'string' ? data.key : '';
  const revision = revisionOf(data.revision, 1);
  const enabled = data.enabled === 'true';
  if (!key || revision === undefined) return ev.fail(400, { message: 'key and revision (a whole number ≥ 1) are required', key });
  const gw = gatewayFor(ev);
  const envs = await environmentView(ev);
  const environment = envParam(envs);
  try {
    const stored = await gw.patchFlag(key, { enabled }, revision, environment);
    return { ok: true as const, key, stored };
  } catch (err) {
    const prot = protectedEnv(err, envs.current);
    if (prot) {
      // The same change, proposed for review instead (the flag as stored, switched).
      const current = await gw.getFlag(key, environment).catch(() => undefined);
      const proposal: Proposal | undefined = current
        ? proposalOf(prot, `${enabled ? 'Enable' : 'Disable'} ${key} in ${prot}`, [{ op: 'putFlag', flag: { ...current.flag, enabled }, expectedRevision: current.modRevision }])
        : undefined;
      return ev.fail(409, { key, proposal, message: `${prot} is protected: changes there need approval. Propose this change as a change request instead.` });
    }
    if (err instanceof GatewayError && err.status === 412) {
      const current = await gw.getFlag(key, environment).catch(() => undefined);
      return ev.fail(412, {
        key,
        current,
        message: `“${key}” changed since this page loaded${current ? ` (now revision ${current.modRevision} by ${current.updatedBy})` : ''}. The row shows the current state; confirm again if you still want to switch it.`,
      });
    }
    return ev.fail(problemOf(err).status, { key, message: problemOf(err).message });
  }
});

interface RowOverride {
  key: string;
  stored: Row | null;
  flash: number;
}

/**
 * Row overrides by flag key. Flag keys are user data (`constructor`,
 * `__proto__`, `toString` are valid keys), so they are never used as the
 * property names of a plain object: a list with a linear lookup (a page has
 * at most 200 rows), which Qwik's store also serialises as it is.
 */
function overrideOf(list: RowOverride[], key: string): RowOverride | undefined {
  return list.find((o) => o.key === key);
}
function setOverride(list: RowOverride[], key: string, stored: Row | null): void {
  const o = overrideOf(list, key);
  if (o) {
    o.stored = stored;
    o.flash++;
  } else list.push({ key, stored, flash: 1 });
}

export default component$(() => {
  const list = useFlagList();
  const toggle = useToggle();
  const live = useContext(LiveContext);
  const loc = useLocation();
  const nav = useNavigate();
  const staleReloads = useSignal(0);
  // A truncated live event at revision R makes the page re-read the list; the
  // gateway's replica (where the list comes from) may not hold R yet — the
  // relay can be faster than the gateway's Watch — so the list must reach R.
  const mustReach = useSignal(0);
  // Live and toggled rows, by key; newer than the loader's copy when modRevision is higher.
  const over = useStore<{ rows: RowOverride[] }>({ rows: [] });
  const unseen = useSignal(0);
  const seenSeq = useSignal(0);
  const pending = useSignal<{ key: string; enabled: boolean; revision: number } | null>(null);
  const dialogRef = useSignal<HTMLDialogElement>();
  const message = useSignal<{ kind: 'ok' | 'bad'; text: string } | null>(null);
  const proposal = useSignal<Proposal | null>(null);

  // `/` focuses the search box unless the user is typing in a field. Qwik's
  // loader listens on the document and fetches this handler on the first key
  // press, so it costs nothing on first load. Qwik runs the handler after the
  // event (the chunk may still be loading), so preventDefault may come too
  // late; that is harmless: the key went to the page, not into the box.
  useOnDocument(
    'keydown',
    $((e: KeyboardEvent) => {
      if (!isSearchShortcut(e)) return;
      const box = document.getElementById('q') as HTMLInputElement | null;
      if (!box) return;
      e.preventDefault();
      box.focus();
      box.select();
    }),
  );

  // Resume the live feed from the revision this list was read at.
  useTask$(({ track }) => {
    const v = track(() => list.value);
    if (v.ok && v.revision > live.since) live.since = v.revision;
    unseen.value = 0;
  });

  // The layout reloads the page on every resync; make sure what came back is
  // not older than the resync (see STALE_AFTER_RESYNC_RELOADS).
  useTask$(({ track, cleanup }) => {
    const v = track(() => list.value);
    const want = Math.max(track(() => live.resyncRevision), track(() => mustReach.value));
    if (isServer) return;
    if (!v.ok || v.revision >= want) {
      staleReloads.value = 0;
      return;
    }
    if (staleReloads.value >= STALE_AFTER_RESYNC_RELOADS) return;
    staleReloads.value++;
    const t = setTimeout(() => nav(loc.url.pathname + loc.url.search, { forceReload: true }), STALE_AFTER_RESYNC_DELAY_MS);
    cleanup(() => clearTimeout(t));
  });

  useTask$(({ track }) => {
    track(() => live.seq);
    const shown = list.value.ok ? new Set(list.value.rows.map((r) => r.key)) : new Set<string>();
    let reload = false;
    for (const { seq, event } of live.events) {
      if (seq <= seenSeq.value) continue;
      seenSeq.value = seq;
      // The relay's events are the default environment's; another environment's list is read on reload.
      if (event.kind !== 'flag' || (list.value.ok && !list.value.envIsDefault)) continue;
      if (shown.has(event.key) && event.op === 'put' && !event.flag) {
        // A truncated event (the flag was too large for an SNS message): it
        // says the flag changed but not how, so read the list again.
        reload = true;
        if (event.revision > mustReach.value) mustReach.value = event.revision;
      } else if (shown.has(event.key)) {
        const loaded = list.value.ok ? list.value.rows.find((r) => r.key === event.key) : undefined;
        const curRev = overrideOf(over.rows, event.key)?.stored?.modRevision ?? loaded?.modRevision ?? 0;
        if (event.op === 'delete' || event.revision > curRev) {
          setOverride(over.rows, event.key, event.op === 'delete' || !event.flag ? null : toRow(event.flag));
        }
      } else {
        unseen.value++;
      }
    }
    if (reload && !isServer) nav(loc.url.pathname + loc.url.search, { forceReload: true });
  });

  useTask$(({ track }) => {
    const r = track(() => toggle.value);
    if (!r) return;
    if (r.failed) {
      const f = r as unknown as { key: string; message: string; current?: StoredFlag; proposal?: Proposal };
      message.value = { kind: 'bad', text: f.message };
      proposal.value = f.proposal ?? null;
      if (f.current) setOverride(over.rows, f.key, toRow(f.current));
    } else if ('stored' in r && r.stored) {
      const st = r.stored as StoredFlag;
      proposal.value = null;
      message.value = { kind: 'ok', text: `“${st.flag.key}” is now ${st.flag.enabled ? 'enabled' : 'disabled'} (revision ${st.modRevision}).` };
      setOverride(over.rows, st.flag.key, toRow(st));
    }
  });

  if (!list.value.ok) {
    return (
      <section>
        <h1>Flags</h1>
        <p class="notice bad" role="alert">
          Could not load flags: {list.value.error}
        </p>
      </section>
    );
  }
  const v = list.value;
  const q = v.query;
  const rowOf = (r: Row): { s: Row | null; flash: number } => {
    const o = overrideOf(over.rows, r.key);
    if (o && (o.stored === null || o.stored.modRevision >= r.modRevision)) return { s: o.stored, flash: o.flash };
    return { s: r, flash: 0 };
  };

  return (
    <section aria-labelledby="flags-title">
      <div class="page-head">
        <h1 id="flags-title">Flags</h1>
        <span class="muted">
          {plural(v.matching, 'flag')}
          {v.matching !== v.total ? ` of ${v.total.toLocaleString('en-US')}` : ''}
        </span>
        <div class="actions">
          {v.canEdit && (
            <Link class="button primary" href="/flags/new">
              New flag
            </Link>
          )}
        </div>
      </div>

      <form class="filters" method="get" action="/flags" role="search" aria-label="Filter flags">
        <div class="field">
          <label for="q">Search key or tag</label>
          <input id="q" name="q" type="search" value={q.q} maxLength={200} placeholder="e.g. checkout (press /)" aria-keyshortcuts="/" />
        </div>
        <div class="field">
          <label for="tag">Tag</label>
          <select id="tag" name="tag">
            <option value="">Any tag</option>
            <Options choices={v.tags} selected={q.tag} />
          </select>
        </div>
        <div class="field">
          <label for="state">State</label>
          <select id="state" name="state">
            <Options choices={STATE_CHOICES} selected={q.state} />
          </select>
        </div>
        <div class="field">
          <label for="size">Per page</label>
          <select id="size" name="size">
            <Options choices={PAGE_SIZES.map(String)} selected={String(q.pageSize)} />
          </select>
        </div>
        <button type="submit">Apply</button>
        {(q.q || q.tag || q.state !== 'all') && (
          <Link class="button" href="/flags">
            Clear
          </Link>
        )}
      </form>

      {message.value && (
        <p class={`notice ${message.value.kind}`} role={message.value.kind === 'bad' ? 'alert' : 'status'} data-testid="list-message">
          {message.value.text}
        </p>
      )}
      {proposal.value && (
        <ProposeForm proposal={proposal.value} />
      )}
      {unseen.value > 0 && (
        <p class="notice warn" role="status">
          {plural(unseen.value, 'change')} to flags not on this page.{' '}
          <Link href={loc.url.pathname + loc.url.search} reload>
            Refresh the list
          </Link>
        </p>
      )}

      {/* Plain links in rows: Qwik's <Link> adds prefetch handlers and state
          per link, which for 50+ rows costs more than the SPA navigation saves. */}
      {v.rows.length === 0 ? (
        <p class="panel">{v.total === 0 ? 'No flags yet.' : 'No flag matches these filters.'}</p>
      ) : (
        <div class="table-wrap">
          <table class="cards" aria-describedby="flags-title">
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Type</th>
                <th scope="col">Enabled{v.envColumns.length > 0 ? ` (${v.env})` : ''}</th>
                {v.envColumns.map((c) => (
                  <th key={userKey(c.name)} scope="col" class="env-cell">
                    {c.label}
                  </th>
                ))}
                <th scope="col">Default</th>
                <th scope="col">Tags</th>
                <th scope="col">Last change</th>
              </tr>
            </thead>
            <tbody>
              {v.rows.map((r, ri) => {
                const { s, flash } = rowOf(r);
                const key = r.key;
                if (!s) {
                  return (
                    <tr key={userKey(key)} class={`gone ${flash % 2 ? 'flash-a' : flash ? 'flash-b' : ''}`} data-key={key}>
                      <td data-label="Key">
                        <code>{key}</code>
                      </td>
                      <td colSpan={5 + v.envColumns.length}>deleted</td>
                    </tr>
                  );
                }
                const f = s;
                return (
                  <tr key={userKey(key)} class={flash ? (flash % 2 ? 'flash-a' : 'flash-b') : ''} data-key={key} data-revision={s.modRevision}>
                    <td data-label="Key">
                      <a href={`/flags/${encodeURIComponent(key)}`}>
                        <code>{key}</code>
                      </a>
                      {f.description && <div class="muted small">{f.description}</div>}
                    </td>
                    <td data-label="Type">{f.type}</td>
                    <td data-label="Enabled">
                      {v.canEdit ? (
                        <button
                          type="button"
                          class="switch"
                          role="switch"
                          aria-checked={f.enabled ? 'true' : 'false'}
                          aria-label={`${f.enabled ? 'Disable' : 'Enable'} ${key}`}
                          data-testid={`toggle-${key}`}
                          onClick$={() => {
                            pending.value = { key, enabled: !f.enabled, revision: s.modRevision };
                            dialogRef.value?.showModal();
                          }}
                        >
                          <span class="knob" aria-hidden="true" />
                          {f.enabled ? 'On' : 'Off'}
                        </button>
                      ) : (
                        <span class={`badge ${f.enabled ? 'on' : 'off'}`}>{f.enabled ? 'On' : 'Off'}</span>
                      )}
                    </td>
                    {v.envColumns.map((c, ci) => {
                      const on = c.name === v.env ? f.enabled : v.enabledIn[ci][ri];
                      return (
                        <td key={userKey(c.name)} data-label={c.label} class="env-cell" data-env={c.name} data-testid={`env-${c.name}-${key}`}>
                          {on === null ? <span class="muted">—</span> : on ? 'on' : 'off'}
                        </td>
                      );
                    })}
                    <td data-label="Default">
                      <code>{f.defaultVariant}</code>
                    </td>
                    <td data-label="Tags">
                      {(f.tags ?? []).map((t) => (
                        <a key={userKey(t)} class="tag" href={`/flags${queryString({ ...q, page: 1 }, { tag: t })}`}>
                          {t}
                        </a>
                      ))}
                    </td>
                    <td data-label="Last change" class="small">
                      {s.updatedBy} · {when(s.updatedAt)}
                      <div class="muted">rev {s.modRevision}</div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}

      <nav class="pager" aria-label="Pages">
        {v.page > 1 ? (
          <a class="button" href={`/flags${queryString(q, { page: v.page - 1 })}`} rel="prev">
            ← Previous
          </a>
        ) : (
          <span />
        )}
        <span class="muted">
          Page {v.page} of {v.pages}
        </span>
        {v.page < v.pages ? (
          <a class="button" href={`/flags${queryString(q, { page: v.page + 1 })}`} rel="next">
            Next →
          </a>
        ) : (
          <span />
        )}
      </nav>

      <dialog ref={dialogRef} aria-labelledby="toggle-title" data-testid="toggle-dialog">
        {pending.value && (
          <>
            <h2 id="toggle-title">
              {pending.value.enabled ? 'Enable' : 'Disable'} <code>{pending.value.key}</code>?
            </h2>
            <p>
              {pending.value.enabled
                ? 'The flag will serve its targeting rules and default variant again.'
                : 'Kill switch: every evaluation will serve the off variant until it is enabled again.'}
            </p>
            <div class="dialog-actions">
              <button type="button" onClick$={() => dialogRef.value?.close()}>
                Cancel
              </button>
              <button
                type="button"
                class={pending.value.enabled ? 'primary' : 'danger solid'}
                data-testid="toggle-confirm"
                disabled={toggle.isRunning}
                onClick$={async () => {
                  const p = pending.value;
                  if (!p) return;
                  await toggle.submit({ key: p.key, enabled: String(p.enabled), revision: String(p.revision) });
                  dialogRef.value?.close();
                  pending.value = null;
                }}
              >
                {pending.value.enabled ? 'Enable' : 'Disable'}
              </button>
            </div>
          </>
        )}
      </dialog>
    </section>
  );
});

export const head: DocumentHead = { title: 'Flags' };
