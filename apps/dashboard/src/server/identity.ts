// Who a gateway token belongs to. The token list is shared by the gateway,
// the relay and the dashboard (docs/CONTRACTS.md, "Gateway tokens"), so the
// dashboard resolves name and role with @flagraft/auth, then checks with the
// gateway that the token really works there (a stale dashboard config must
// not let someone in whom the gateway refuses).
import { loadTokens, type TokenStore } from '@flagraft/auth';
import { GatewayClient, GatewayError } from './gateway';
import type { Role } from './session';

let store: TokenStore | undefined;
function tokens(): TokenStore {
  if (!store) store = loadTokens(process.env);
  return store;
}

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
  store = loadTokens(process.env);
  return store.size;
}

/** For tests: forget the loaded token list. */
export function resetIdentityCache(): void {
  store = undefined;
}
