// Environment-scoped tokens (issue 16): a token entry may list the
// environments it acts in. Every route resolves the environment a request
// acts on (the `environment` query parameter, a change request's or
// schedule's own environment, or the default one) and refuses, 403 naming
// the environment, a token limited to others. OFREP takes no parameter: an
// evaluator token's one environment is where it evaluates.
import type { Request } from 'express';
import { principalAllowsEnvironment, type Principal } from '@flagraft/auth';
import { KEY_PATTERN, LIMITS } from '@flagraft/flag-model';
import { HttpProblem } from './problem.js';
import type { Replica } from './replica.js';

/** The query parameter every flag route takes (absent = the default environment). */
export const ENVIRONMENT_PARAM = 'environment';

/** A request's `?environment=`, checked (400 naming the parameter); undefined = the default environment. */
export function environmentParam(req: Request, name = ENVIRONMENT_PARAM): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > LIMITS.maxKeyChars || !KEY_PATTERN.test(v)) {
    throw new HttpProblem('bad-request', `${name}: must be an environment name matching ${KEY_PATTERN.source}`, { issues: [{ path: name, message: 'is not an environment name' }] });
  }
  return v;
}

/** 403 unless the principal may act in `env`; the problem names the environment and the token. */
export function requireEnvironment(principal: Principal, env: string): void {
  if (principalAllowsEnvironment(principal, env)) return;
  throw new HttpProblem('forbidden', `token ${principal.name} is limited to environment${principal.environments!.length === 1 ? '' : 's'} ${principal.environments!.join(', ')}; it may not act in environment ${env}`, {
    environment: env,
  });
}

/**
 * The environment a request acts on, resolved (absent = the default one) and
 * allowed for the principal. `explicit` is what the request named.
 */
export function scopedEnvironment(replica: Replica, principal: Principal, explicit: string | undefined): string {
  const env = replica.resolveEnvironment(explicit);
  requireEnvironment(principal, env);
  return env;
}

/** Routes that act on every environment at once (segments are shared, backups, cluster membership) need an unlimited token. */
export function requireAllEnvironments(principal: Principal, what: string): void {
  if (principal.environments === undefined) return;
  throw new HttpProblem('forbidden', `token ${principal.name} is limited to environment${principal.environments.length === 1 ? '' : 's'} ${principal.environments.join(', ')}; ${what} affects every environment`);
}

/**
 * Where OFREP evaluates for a principal: a limited token's environment (the
 * default one when it is among them, else the first listed: an evaluator
 * has exactly one), otherwise the default environment.
 */
export function evaluationEnvironment(replica: Replica, principal: Principal): string {
  const def = replica.resolveEnvironment(undefined);
  const list = principal.environments;
  if (list === undefined || list.includes(def)) return def;
  return list[0];
}
