import { component$ } from '@builder.io/qwik';
import { Form, routeAction$, routeLoader$, useLocation, type DocumentHead } from '@builder.io/qwik-city';
import { getConfig } from '~/server/config';
import { identify, sessions } from '~/server/identity';
import { log } from '~/server/log';
import { clientAddress, RateLimiter } from '~/server/rate-limit';
import { safeNext, sessionOf, setSessionCookie } from '~/server/request';

/** Longest token accepted in the form, in characters. */
const MAX_TOKEN_CHARS = 4096;

let limiter: RateLimiter | undefined;
function signInLimiter(): RateLimiter {
  const perMinute = getConfig().signInPerMinute;
  if (!limiter) limiter = new RateLimiter({ perMinute, burst: perMinute });
  return limiter;
}

export const useAlreadySignedIn = routeLoader$((ev) => {
  const s = sessionOf(ev);
  const next = safeNext(ev.url.searchParams.get('next'), ev.url.origin);
  if (s) throw ev.redirect(302, next);
  // The form posts back only what passed the check.
  return { next };
});

export const useSignIn = routeAction$(async (data, ev) => {
  const client = clientAddress(ev.clientConn.ip, ev.request.headers.get('x-forwarded-for'));
  const wait = signInLimiter().take(client);
  if (wait > 0) {
    ev.headers.set('Retry-After', String(wait));
    log('warn', 'sign-in rate limited', { client });
    return ev.fail(429, { message: `Too many sign-in attempts from your address. Try again in ${wait} s.` });
  }
  const token = typeof data.token === 'string' ? data.token.trim() : '';
  if (!token) return ev.fail(400, { message: 'Enter a gateway token.' });
  if (token.length > MAX_TOKEN_CHARS) return ev.fail(400, { message: `A token is at most ${MAX_TOKEN_CHARS} characters.` });
  const cfg = getConfig();
  const who = await identify(token, cfg.gatewayUrl, cfg.gatewayTimeoutMs);
  if (!who.ok) {
    log('warn', 'sign-in refused', { status: who.status });
    return ev.fail(who.status, { message: who.message });
  }
  // A session cookie from before (another user on this browser) ends here.
  const before = sessionOf(ev);
  if (before) sessions.end(before.sid);
  const session = sessions.create({ token, name: who.name, role: who.role, exp: Date.now() + cfg.sessionTtlSec * 1000 });
  setSessionCookie(ev, session);
  log('info', 'signed in', { user: who.name, role: who.role });
  throw ev.redirect(303, safeNext(typeof data.next === 'string' ? data.next : null, ev.url.origin));
});

export default component$(() => {
  const signIn = useAlreadySignedIn();
  const action = useSignIn();
  const loc = useLocation();
  const next = signIn.value.next;
  const failed = action.value?.failed ? (action.value as { message?: string }).message : undefined;
  return (
    <main id="main" class="signin">
      <div class="panel">
        <h1>Sign in to flagraft</h1>
        {loc.url.searchParams.get('signedOut') && <p class="notice ok" role="status">You are signed out.</p>}
        <p class="muted small">
          Use a gateway token (admin, editor or reader). It stays on the dashboard server in an encrypted, HttpOnly cookie; this page's
          scripts never see it again.
        </p>
        <Form action={action}>
          <input type="hidden" name="next" value={next} />
          <div class="field">
            <label for="token">Gateway token</label>
            <input
              id="token"
              name="token"
              type="password"
              autoComplete="current-password"
              required
              maxLength={MAX_TOKEN_CHARS}
              aria-invalid={failed ? 'true' : undefined}
              aria-describedby={failed ? 'token-error' : undefined}
              autoFocus
            />
            {failed && (
              <p id="token-error" class="error-text" role="alert">
                {failed}
              </p>
            )}
          </div>
          <button type="submit" class="primary" disabled={action.isRunning}>
            {action.isRunning ? 'Signing in…' : 'Sign in'}
          </button>
        </Form>
      </div>
    </main>
  );
});

export const head: DocumentHead = { title: 'Sign in' };
