// Who is calling and may they do this. 401 when no valid token was presented
// (with WWW-Authenticate), 403 when the token's role lacks the permission.
import type { IncomingMessage } from 'node:http';
import { roleAllows, tokenFromHeaders, type Permission, type Principal, type TokenStore } from '@flagraft/auth';
import { HttpProblem } from './problem.js';

/** The principal of anonymous evaluation in development mode. */
export const ANONYMOUS: Principal = Object.freeze({ name: 'anonymous', role: 'evaluator' });

export type AuthOutcome = { ok: true; principal: Principal } | { ok: false; status: 401 | 403; detail: string };

export function checkAuth(
  req: IncomingMessage,
  tokens: TokenStore,
  permission: Permission,
  anonymousEvaluation: boolean,
): AuthOutcome {
  const token = tokenFromHeaders(req.headers);
  if (token === undefined) {
    if (anonymousEvaluation && permission === 'evaluate') return { ok: true, principal: ANONYMOUS };
    return { ok: false, status: 401, detail: 'send a token as "Authorization: Bearer <token>" or "X-API-Key: <token>"' };
  }
  const principal = tokens.authenticate(token);
  if (!principal) return { ok: false, status: 401, detail: 'the token is not valid' };
  if (!roleAllows(principal.role, permission)) {
    return { ok: false, status: 403, detail: `role ${principal.role} may not ${permission === 'admin' ? 'administer the cluster' : permission}` };
  }
  return { ok: true, principal };
}

export function authorize(req: IncomingMessage, tokens: TokenStore, permission: Permission, anonymousEvaluation: boolean): Principal {
  return principalOrThrow(checkAuth(req, tokens, permission, anonymousEvaluation));
}

/** The principal of an allowed outcome; otherwise throws the matching 401 / 403 problem. */
export function principalOrThrow(outcome: AuthOutcome): Principal {
  if (outcome.ok) return outcome.principal;
  if (outcome.status === 401) {
    throw new HttpProblem('unauthorized', outcome.detail, {}, { 'www-authenticate': 'Bearer realm="flagraft"' });
  }
  throw new HttpProblem('forbidden', outcome.detail);
}
