import { component$ } from '@builder.io/qwik';
import { Form, routeAction$, routeLoader$, useLocation, type DocumentHead } from '@builder.io/qwik-city';
import { getConfig } from '~/server/config';
import { identify } from '~/server/identity';
import { log } from '~/server/log';
import { safeNext, sessionOf, setSessionCookie } from '~/server/request';

/** Longest token accepted in the form, in characters. */
const MAX_TOKEN_CHARS = 4096;

export const useAlreadySignedIn = routeLoader$((ev) => {
  const s = sessionOf(ev);
  if (s) throw ev.redirect(302, safeNext(ev.url.searchParams.get('next')));
  return null;
});

export const useSignIn = routeAction$(async (data, ev) => {
  const token = typeof data.token === 'string' ? data.token.trim() : '';
  if (!token) return ev.fail(400, { message: 'Enter a gateway token.' });
  if (token.length > MAX_TOKEN_CHARS) return ev.fail(400, { message: `A token is at most ${MAX_TOKEN_CHARS} characters.` });
  const cfg = getConfig();
  const who = await identify(token, cfg.gatewayUrl, cfg.gatewayTimeoutMs);
  if (!who.ok) {
    log('warn', 'sign-in refused', { status: who.status });
    return ev.fail(who.status, { message: who.message });
  }
  setSessionCookie(ev, { token, name: who.name, role: who.role, exp: Date.now() + cfg.sessionTtlSec * 1000 });
  log('info', 'signed in', { user: who.name, role: who.role });
  throw ev.redirect(303, safeNext(typeof data.next === 'string' ? data.next : null));
});

export default component$(() => {
  useAlreadySignedIn();
  const action = useSignIn();
  const loc = useLocation();
  const next = loc.url.searchParams.get('next') ?? '/flags';
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
