import { component$, useSignal, useVisibleTask$ } from '@builder.io/qwik';
import { routeLoader$, server$, type DocumentHead, type RequestEventBase } from '@builder.io/qwik-city';
import { serverFunction } from '~/server/server-functions';
import type { ClusterStatus } from '~/server/gateway';
import { gatewayFor, problemOf } from '~/server/request';
import { userKey } from '~/lib/jsx-key';
import { ColumnHeads } from '~/components/markup';

/** How often the page refreshes the cluster status, in ms. */
const REFRESH_INTERVAL_MS = 2000;

type Result = { ok: true; status: ClusterStatus; at: number } | { ok: false; error: string; at: number };

async function load(ev: Parameters<typeof gatewayFor>[0]): Promise<Result> {
  try {
    return { ok: true, status: await gatewayFor(ev).cluster(), at: Date.now() };
  } catch (err) {
    return { ok: false, error: problemOf(err).message, at: Date.now() };
  }
}

export const useCluster = routeLoader$((ev) => load(ev));

/** The page's periodic refresh (a marked server function, server-functions.ts); `this` is the request. */
const refreshStatus = serverFunction(function (this: RequestEventBase) {
  return load(this);
});
const refresh = server$(refreshStatus);

function num(v: unknown): string {
  return typeof v === 'number' ? v.toLocaleString('en-US') : v === undefined || v === null ? '—' : String(v);
}

export default component$(() => {
  const initial = useCluster();
  const data = useSignal<Result>(initial.value);
  const failures = useSignal(0);

  // eslint-disable-next-line qwik/no-use-visible-task
  useVisibleTask$(({ cleanup }) => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        data.value = await refresh();
        failures.value = 0;
      } catch {
        failures.value++;
      }
      if (!stopped) timer = setTimeout(tick, REFRESH_INTERVAL_MS);
    };
    timer = setTimeout(tick, REFRESH_INTERVAL_MS);
    cleanup(() => {
      stopped = true;
      clearTimeout(timer);
    });
  });

  const d = data.value;
  return (
    <section aria-labelledby="cluster-title">
      <div class="page-head">
        <h1 id="cluster-title">Cluster</h1>
        <span class="muted small" aria-live="polite" data-testid="cluster-updated">
          refreshed every {REFRESH_INTERVAL_MS / 1000} s · last {new Date(d.at).toISOString().slice(11, 19)} UTC
          {failures.value > 0 ? ` · ${failures.value} refresh failures` : ''}
        </span>
      </div>
      {!d.ok ? (
        <p class="notice bad" role="alert">
          Cluster status unavailable: {d.error}
        </p>
      ) : (
        <>
          <div class="panel">
            <dl class="kv">
              <dt>Cluster</dt>
              <dd>
                <code>{d.status.clusterId ?? '—'}</code>
              </dd>
              <dt>Leader</dt>
              <dd data-testid="cluster-leader">{d.status.leaderId === undefined || d.status.leaderId === null ? 'none (election in progress?)' : `node ${d.status.leaderId}`}</dd>
              <dt>Term</dt>
              <dd>{num(d.status.term)}</dd>
              <dt>Commit index</dt>
              <dd>{num(d.status.commitIndex)}</dd>
              <dt>Applied index</dt>
              <dd>{num(d.status.appliedIndex)}</dd>
              <dt>Applied revision</dt>
              <dd>{num(d.status.appliedRevision)}</dd>
              <dt>Published revision</dt>
              <dd>{num(d.status.publishedRevision)}</dd>
              <dt>Notification publish lag</dt>
              <dd>
                {Number.isFinite(d.status.publishLag)
                  ? `${num(d.status.publishLag!)} changes`
                  // Revisions, not Raft indexes: after a restore they differ.
                  : typeof d.status.publishedRevision === 'number' && typeof d.status.appliedRevision === 'number'
                    ? `${num(d.status.appliedRevision - d.status.publishedRevision)} changes`
                    : '—'}
              </dd>
            </dl>
          </div>
          <div class="table-wrap">
            <table class="cards">
              <caption class="visually-hidden">Members</caption>
              <ColumnHeads names={['Node', 'Address', 'Role', 'Match index', 'Lag', 'Reachable']} />
              <tbody>
                {d.status.members.map((m) => {
                  const leader = String(m.id) === String(d.status.leaderId);
                  return (
                    <tr key={userKey(m.id)} data-testid="cluster-member">
                      <td data-label="Node">
                        {String(m.id)} {leader && <span class="badge on">leader</span>}
                      </td>
                      <td data-label="Address">
                        <code>{m.address ?? '—'}</code>
                      </td>
                      <td data-label="Role">{m.role ?? '—'}</td>
                      <td data-label="Match index">{num(m.matchIndex)}</td>
                      <td data-label="Lag">{num(m.lag)}</td>
                      <td data-label="Reachable">
                        {m.reachable === false ? <span class="badge off">no</span> : m.reachable ? <span class="badge on">yes</span> : '—'}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
});

export const head: DocumentHead = { title: 'Cluster' };
