// Runs before every route (and before every action and server$ call):
// security headers with a fresh CSP nonce, the session from its cookie, the
// Origin check on every state-changing request, then the body's shape limits;
// anyone without a session goes to /login. Pages are per-user data, so
// nothing is cached by the browser or a proxy.
import type { RequestEvent, RequestHandler } from '@builder.io/qwik-city';
import { getConfig } from '~/server/config';
import { sessions } from '~/server/identity';
import { BODY_LIMITS, checkShape } from '~/server/input-limits';
import { SESSION_KEY } from '~/server/request';
import { contentSecurityPolicy, newNonce, NONCE_KEY } from '~/server/security-headers';
import { SESSION_COOKIE, unsealSession } from '~/server/session';
import { crossOriginProblem, SAFE_METHODS } from '~/server/origin-check';
import { manifest } from '@qwik-client-manifest';
import { isServerFunction } from '~/server/server-functions';
import { actionDataProblem, clientSymbolHashes, isServerFunctionCall, QACTION_PARAM, QFUNC_PARAM, serverCallProblem } from '~/server/qwik-requests';

/** Every symbol of the client build: a server$ call naming one is refused (qwik-requests.ts). */
const CLIENT_SYMBOLS = clientSymbolHashes(manifest);

const PUBLIC_PATHS = new Set(['/login', '/logout', '/health', '/favicon.svg', '/robots.txt']);

/** Answers with an RFC 9457 problem document and stops the request. */
function refuse(ev: RequestEvent, status: number, title: string, detail: string): void {
  ev.headers.set('Content-Type', 'application/problem+json');
  ev.headers.set('Cache-Control', 'no-store');
  ev.send(status, JSON.stringify({ type: 'about:blank', title, status, detail }));
}

export const onRequest: RequestHandler = async (ev) => {
  const path = ev.url.pathname.replace(/\/q-data\.json$/, '').replace(/\/$/, '') || '/';
  const nonce = newNonce();
  // Qwik City puts this on every script it renders (serverData.nonce).
  ev.sharedMap.set(NONCE_KEY, nonce);
  ev.headers.set('Content-Security-Policy', contentSecurityPolicy(nonce));
  // Defence in depth when the dashboard is reached without Caddy in front.
  ev.headers.set('X-Content-Type-Options', 'nosniff');
  ev.headers.set('X-Frame-Options', 'DENY');
  ev.headers.set('Referrer-Policy', 'same-origin');
  ev.headers.set('Cross-Origin-Opener-Policy', 'same-origin');

  // Every state-changing request, whatever its content type (Qwik City's own
  // check covers form types only; actions and server$ calls also travel as
  // JSON): the browser's Origin must be ours. A request without one is refused.
  const crossOrigin = crossOriginProblem(ev.method, ev.request.headers.get('origin'), ev.url.origin);
  if (crossOrigin) return refuse(ev, 403, 'Cross-origin request refused', crossOrigin);

  // Authentication before the body is read.
  const ref = unsealSession(ev.cookie.get(SESSION_COOKIE)?.value, getConfig().cookieSecret);
  const session = ref ? sessions.get(ref.sid) : undefined;
  if (session) ev.sharedMap.set(SESSION_KEY, session);
  else if (ref) ev.cookie.delete(SESSION_COOKIE, { path: '/' }); // signed out, expired or revoked elsewhere

  if (!PUBLIC_PATHS.has(path)) {
    ev.headers.set('Cache-Control', 'private, no-store');
    if (!session) {
      if (!SAFE_METHODS.has(ev.method)) return refuse(ev, 401, 'Not signed in', 'sign in again');
      const next = ev.url.pathname.replace(/\/q-data\.json$/, '') + ev.url.search;
      throw ev.redirect(302, `/login?next=${encodeURIComponent(next)}`);
    }
  }

  // A server$ call also comes as GET (its data in ?qdata=), so it is parsed whatever the method.
  const serverCall = isServerFunctionCall(ev.query, ev.request.headers);
  if (!SAFE_METHODS.has(ev.method) || serverCall) {
    // Parse once here (Qwik City keeps the result for the action): a body that
    // is not what its content type says is a 400 naming the problem, not a 500.
    let body: unknown;
    try {
      body = await ev.parseBody();
    } catch (err) {
      return refuse(ev, 400, 'Unreadable request body', `the body is not valid ${ev.request.headers.get('content-type') ?? 'data'} (${(err as Error).message.slice(0, 200)})`);
    }
    // server$ calls carry Qwik's own serialisation (references, not plain data); their arguments are checked where they are used.
    if (serverCall) {
      const p = serverCallProblem(body, ev.query.get(QFUNC_PARAM)!, CLIENT_SYMBOLS);
      if (p) return refuse(ev, 400, 'Bad server function call', p);
      // Only functions marked as server functions run (loaders and actions are server-only symbols too).
      let fn: unknown;
      try {
        fn = await ((body as unknown[])[0] as { resolve(): Promise<unknown> }).resolve();
      } catch {
        fn = undefined;
      }
      if (!isServerFunction(fn)) return refuse(ev, 400, 'Bad server function call', `${QFUNC_PARAM} does not name a server function`);
      return;
    }
    const p = checkShape(body, BODY_LIMITS);
    if (p) return refuse(ev, 400, 'Request body over a limit', `${p.path || '(body)'}: ${p.message}`);
    if (ev.method === 'POST' && ev.query.get(QACTION_PARAM)) {
      const problem = actionDataProblem(body);
      if (problem) return refuse(ev, 400, 'Bad action data', problem);
    }
  }
};
