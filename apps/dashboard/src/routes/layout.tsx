import { component$, Slot, useContextProvider, useSignal, useStore, useTask$, useVisibleTask$ } from '@builder.io/qwik';
import { Link, routeLoader$, useLocation, useNavigate } from '@builder.io/qwik-city';
import { applyFrame, createReloadThrottle, LiveContext, reconnectDelayMs, type LiveStore } from '~/components/live';
import { sessionView } from '~/server/request';
import { environmentView } from '~/server/environments';
import { userKey } from '~/lib/jsx-key';

export const useSessionView = routeLoader$((ev) => sessionView(ev));
export const useEnvView = routeLoader$((ev) => environmentView(ev));

/** Shortest time between two data reloads asked for by relay `resync` frames, in ms. */
const RESYNC_RELOAD_MIN_INTERVAL_MS = 5000;

const NAV = [
  { href: '/flags', label: 'Flags' },
  { href: '/segments', label: 'Segments' },
  { href: '/evaluate', label: 'Evaluate' },
  { href: '/audit', label: 'Audit log' },
  { href: '/change-requests', label: 'Change requests' },
  { href: '/schedules', label: 'Schedules' },
  { href: '/promote', label: 'Promote' },
  { href: '/cluster', label: 'Cluster' },
];

export default component$(() => {
  const session = useSessionView();
  const envs = useEnvView();
  const loc = useLocation();
  const nav = useNavigate();
  const live = useStore<LiveStore>({ state: 'connecting', since: 0, seq: 0, events: [], resync: 0, resyncRevision: 0 });
  useContextProvider(LiveContext, live);
  // The signed-in user's name; a signal that only changes when the user does,
  // so page navigations (which refresh the loader) keep the same socket.
  const liveUser = useSignal(session.value?.name ?? '');
  useTask$(({ track }) => {
    const name = track(() => session.value?.name ?? '');
    if (name !== liveUser.value) liveUser.value = name;
  });

  // One WebSocket per tab, opened once the page is interactive.
  // eslint-disable-next-line qwik/no-use-visible-task
  // Tracks the session so signing in (an SPA navigation) opens it, and signing out closes it.
  useVisibleTask$(({ track, cleanup }) => {
    if (!track(() => liveUser.value)) return;
    let ws: WebSocket | undefined;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    // The relay cannot prove we missed nothing (a gap, or the cluster was
    // restored from a backup): reload the page's data through the gateway and
    // keep this socket (README of the relay). At most once per
    // RESYNC_RELOAD_MIN_INTERVAL_MS; a resync inside the interval reloads at its end.
    const reloads = createReloadThrottle(RESYNC_RELOAD_MIN_INTERVAL_MS, () => {
      if (!stopped) nav(location.pathname + location.search, { forceReload: true });
    });
    const connect = () => {
      const url = new URL('/live', location.href);
      url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
      if (live.since > 0) url.searchParams.set('since', String(live.since));
      const sock = new WebSocket(url);
      ws = sock;
      sock.onopen = () => {
        attempt = 0;
        live.state = 'live';
      };
      sock.onmessage = (m) => {
        if (typeof m.data !== 'string') return;
        if (applyFrame(live, m.data) === 'resync') reloads.request();
      };
      sock.onclose = (e) => {
        if (stopped) return;
        if (e.code === 4401 || e.code === 4403) {
          live.state = 'offline';
          return;
        }
        live.state = 'reconnecting';
        timer = setTimeout(connect, reconnectDelayMs(attempt++, Math.random()));
      };
    };
    connect();
    cleanup(() => {
      stopped = true;
      reloads.cancel();
      if (timer) clearTimeout(timer);
      ws?.close(1000);
    });
  }, { strategy: 'document-ready' });

  if (!session.value) return <Slot />;
  const s = session.value;
  const liveLabel = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline' }[live.state];
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link class="brand" href="/flags">
          flagraft
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={userKey(n.href)}>
                {/* prefetch="js": a data prefetch of the current page's own link would be served to the next forced reload (live / resync) instead of fresh data. */}
                <Link href={n.href} prefetch="js" aria-current={loc.url.pathname.startsWith(n.href) ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span class="spacer" />
        {envs.value.environments.length > 0 && (
          // A plain GET form: ?env= on the current page chooses the environment (remembered in a cookie).
          <form method="get" action={loc.url.pathname} class="env-switch">
            <label for="env-select">Environment</label>
            <select id="env-select" name="env" data-testid="env-select">
              {envs.value.environments.map((e) => (
                <option key={userKey(e.name)} value={e.name} selected={e.name === envs.value.current}>
                  {e.approvals > 0 ? `${e.label} (protected)` : e.label}
                </option>
              ))}
            </select>
            <button type="submit" data-testid="env-switch">
              Switch
            </button>
          </form>
        )}
        <span class="live" data-state={live.state} role="status" aria-live="polite" data-testid="live-indicator">
          {liveLabel}
        </span>
        <div class="who">
          <span>
            {s.name} <span class="role">{s.role}</span>
          </span>
          <form method="post" action="/logout">
            <button type="submit" class="link">
              Sign out
            </button>
          </form>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Slot />
      </main>
    </>
  );
});
