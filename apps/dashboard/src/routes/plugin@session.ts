// Runs before every route: decrypts the session cookie into sharedMap and
// sends anyone without a session to /login. Pages are per-user data, so
// nothing is cached by the browser or a proxy.
import type { RequestHandler } from '@builder.io/qwik-city';
import { getConfig } from '~/server/config';
import { SESSION_KEY } from '~/server/request';
import { SESSION_COOKIE, unsealSession } from '~/server/session';

const PUBLIC_PATHS = new Set(['/login', '/health', '/favicon.svg', '/robots.txt']);

export const onRequest: RequestHandler = async (ev) => {
  const path = ev.url.pathname.replace(/\/q-data\.json$/, '').replace(/\/$/, '') || '/';
  const session = unsealSession(ev.cookie.get(SESSION_COOKIE)?.value, getConfig().cookieSecret);
  if (session) ev.sharedMap.set(SESSION_KEY, session);
  // Defence in depth when the dashboard is reached without Caddy in front.
  ev.headers.set('X-Content-Type-Options', 'nosniff');
  ev.headers.set('X-Frame-Options', 'DENY');
  ev.headers.set('Referrer-Policy', 'same-origin');
  if (PUBLIC_PATHS.has(path)) return;
  ev.headers.set('Cache-Control', 'private, no-store');
  if (!session) {
    const next = ev.url.pathname.replace(/\/q-data\.json$/, '') + ev.url.search;
    throw ev.redirect(302, `/login?next=${encodeURIComponent(next)}`);
  }
};
