import { component$ } from '@builder.io/qwik';
import { Form, Link, routeAction$, routeLoader$, useLocation, type DocumentHead } from '@builder.io/qwik-city';
import { DiffTable } from '~/components/diff-table';
import { when } from '~/components/format';
import { diffJson } from '~/lib/diff';
import type { FlagDefinition } from '~/lib/types';
import { GatewayError } from '~/server/gateway';
import { FLAG_KIND } from '@flagraft/flag-model';
import { revisionOf } from '~/server/input-limits';
import { canEdit, gatewayFor, problemOf } from '~/server/request';
import { envParam, environmentView } from '~/server/environments';
import { userKey } from '~/lib/jsx-key';

/** Entries shown (newest first). */
const HISTORY_LIMIT = 100;

export const useHistory = routeLoader$(async (ev) => {
  const key = ev.params.key;
  try {
    const entries = await gatewayFor(ev).history(key, HISTORY_LIMIT, envParam(await environmentView(ev)));
    const sorted = [...entries].sort((a, b) => b.revision - a.revision);
    return {
      ok: true as const,
      key,
      canEdit: canEdit(ev),
      entries: sorted.map((e) => ({
        revision: e.revision,
        op: e.op,
        actor: e.actor,
        time: e.time,
        restorable: !!(e.after ?? e.before),
        diff: diffJson(e.before?.flag ?? null, e.after?.flag ?? null).filter((d) => !(d.path === '' && d.before === 'null')),
      })),
    };
  } catch (err) {
    return { ok: false as const, key, error: problemOf(err).message };
  }
});

/** Restore = write the version as of a revision as a new change (If-Match the current revision). */
export const useRestore = routeAction$(async (data, ev) => {
  const key = ev.params.key;
  const rev = revisionOf(data.revision, 1);
  if (rev === undefined) return ev.fail(400, { message: 'revision must be a whole number ≥ 1' });
  const expected = data.expected === undefined || data.expected === '' ? undefined : revisionOf(data.expected);
  const gw = gatewayFor(ev);
  const environment = envParam(await environmentView(ev));
  let version: FlagDefinition | undefined;
  let currentRev = 0;
  try {
    const entry = (await gw.history(key, HISTORY_LIMIT, environment)).find((e) => e.revision === rev);
    version = (entry?.after ?? entry?.before)?.flag;
    if (!version) return ev.fail(404, { message: `Revision ${rev} is not in this flag's history.` });
    currentRev = await gw.getFlag(key, environment).then(
      (s) => s.modRevision,
      (e) => {
        if (e instanceof GatewayError && e.status === 404) return 0;
        throw e;
      },
    );
    if (expected !== undefined && expected !== 0 && expected !== currentRev && currentRev !== 0) {
      return ev.fail(412, { message: `The flag changed (now revision ${currentRev}) since this page loaded. Review the history again, then restore.` });
    }
    await gw.putItem(FLAG_KIND, version, currentRev, environment);
  } catch (err) {
    return ev.fail(problemOf(err).status, { message: problemOf(err).message });
  }
  throw ev.redirect(303, `/flags/${encodeURIComponent(key)}/history?restored=${rev}`);
});

export default component$(() => {
  const h = useHistory();
  const restore = useRestore();
  const loc = useLocation();
  const key = h.value.key;
  if (!h.value.ok) {
    return (
      <section>
        <h1>History of <code>{key}</code></h1>
        <p class="notice bad" role="alert">Could not load the history: {h.value.error}</p>
      </section>
    );
  }
  const entries = h.value.entries;
  const newest = entries[0]?.op === 'put' ? entries[0].revision : 0;
  return (
    <section aria-labelledby="history-title">
      <div class="page-head">
        <h1 id="history-title">
          History of <code>{key}</code>
        </h1>
        <div class="actions">
          <Link href={`/flags/${encodeURIComponent(key)}`}>Back to the flag</Link>
        </div>
      </div>
      {loc.url.searchParams.get('restored') && (
        <p class="notice ok" role="status">
          Revision {loc.url.searchParams.get('restored')} was restored as a new change.
        </p>
      )}
      {restore.value?.failed && (
        <p class="notice bad" role="alert">
          {(restore.value as { message?: string }).message}
        </p>
      )}
      {h.value.entries.length === 0 && <p class="panel">No changes recorded.</p>}
      <ol class="u-plain-list" data-testid="history">
        {h.value.entries.map((e, i) => (
          <li key={userKey(e.revision)} class="panel" data-testid="history-entry" data-actor={e.actor} data-revision={e.revision}>
            <div class="page-head u-mb2">
              <h2 class="u-m0 u-fs1">
                Revision {e.revision} · {e.op === 'delete' ? 'deleted' : i === entries.length - 1 && e.diff.every((d) => d.kind === 'added') ? 'created' : 'changed'} by{' '}
                <strong>{e.actor}</strong>
              </h2>
              <span class="muted small">{when(e.time)}</span>
              {h.value.canEdit && e.restorable && !(i === 0 && e.op === 'put') && (
                <Form action={restore} class="actions">
                  <input type="hidden" name="revision" value={String(e.revision)} />
                  <input type="hidden" name="expected" value={String(newest)} />
                  <button type="submit" disabled={restore.isRunning} aria-label={`Restore the version of revision ${e.revision}`}>
                    Restore {e.op === 'delete' ? 'the deleted version' : 'this version'}
                  </button>
                </Form>
              )}
            </div>
            <DiffTable caption={`Changes in revision ${e.revision}`} entries={e.diff} />
          </li>
        ))}
      </ol>
    </section>
  );
});

export const head: DocumentHead = ({ params }) => ({ title: `History of ${params.key}` });
