// Who a gateway token belongs to. The token list is shared by the gateway,
// the relay and the dashboard (docs/CONTRACTS.md, "Gateway tokens"), so the
// dashboard resolves name and role with @flagraft/auth, then checks with the
// gateway that the token really works there (a stale dashboard config must
// not let someone in whom the gateway refuses).
//
// Like the gateway and the relay, the dashboard re-reads FLAGRAFT_TOKENS_FILE
// when it changes and on SIGHUP (@flagraft/auth's watchTokensFile): a revoked
// token ends its sessions at once (sessions.ts), a new one can sign in.
import { CachingTokenStore, loadTokens, watchTokensFile, type TokenFileWatch } from '@flagraft/auth';
import { GatewayClient, GatewayError } from './gateway';
import { log } from './log';
import type { Role } from './session';
import { SessionRegistry } from './sessions';

/** How often FLAGRAFT_TOKENS_FILE is checked for changes, in ms (the gateway and the relay use the same). */
export const TOKENS_RELOAD_INTERVAL_MS = 2_000;

let store: CachingTokenStore | undefined;
function tokens(): CachingTokenStore {
  if (!store) store = new CachingTokenStore(loadTokens(process.env));
  return store;
}

/** Every signed-in session of this process, checked against the current token list. */
export const sessions = new SessionRegistry((token) => tokens().authenticate(token));

export type SignInResult = { ok: true; name: string; role: Role } | { ok: false; status: number; message: string };

export async function identify(token: string, gatewayUrl: string, timeoutMs: number): Promise<SignInResult> {
  const principal = tokens().authenticate(token);
  if (!principal) return { ok: false, status: 401, message: 'This token is not recognised.' };
  if (principal.role === 'evaluator') {
    return { ok: false, status: 403, message: 'Evaluator tokens can only evaluate flags; use a reader, editor or admin token.' };
  }
  try {
    await new GatewayClient(gatewayUrl, token, timeoutMs).probeRead();
  } catch (err) {
    if (err instanceof GatewayError && (err.status === 401 || err.status === 403)) {
      return { ok: false, status: err.status, message: 'The gateway refused this token.' };
    }
    if (err instanceof GatewayError && err.status >= 500) {
      return { ok: false, status: err.status, message: `The gateway is not available right now (${err.message}).` };
    }
    throw err;
  }
  return { ok: true, name: principal.name, role: principal.role };
}

/**
 * Loads the token list once at start, so a malformed FLAGRAFT_TOKENS stops
 * the process with a clear message instead of failing the first sign-in.
 * Returns how many tokens are configured.
 */
export function checkTokenConfig(): number {
  store = new CachingTokenStore(loadTokens(process.env));
  return store.size;
}

/**
 * Watches FLAGRAFT_TOKENS_FILE (if set): a change installs the new list and
 * ends the sessions of removed tokens. reload() is for SIGHUP. A broken file
 * keeps the previous list (logged), as in the gateway and the relay.
 */
export function watchTokens(intervalMs = TOKENS_RELOAD_INTERVAL_MS): TokenFileWatch | undefined {
  const file = process.env.FLAGRAFT_TOKENS_FILE;
  if (!file) return undefined;
  return watchTokensFile(file, tokens(), intervalMs, (r) => {
    if (!r.ok) return log('error', 'tokens file not reloaded; the previous tokens stay in force', { err: r.error });
    const ended = sessions.sweep();
    log('info', 'tokens reloaded', { tokens: r.tokens, sessionsEnded: ended });
  });
}
