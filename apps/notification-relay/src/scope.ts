/**
 * Which events a WebSocket client gets (README "Environments, change
 * requests and schedules"): the old stream, or the environments it named.
 *
 * The outbox publishes every change. A client that names no environments
 * (every client from before environments) gets exactly the old events:
 * flags of the default environment (events without `env`) and segments.
 * A client that subscribes with `environments=<names>` or `environments=all` also gets flag
 * events of those environments (with `env`; a default-environment flag
 * event has none, and `hello` names the default environment) and the
 * environment, change request and schedule events that belong to them.
 * Segments are shared by every environment: every subscriber gets them.
 *
 * Tokens limited to environments (@flagraft/auth Principal.environments)
 * get only those environments: `all` means all of the token's, naming
 * another one is refused (403 / FORBIDDEN), and the old stream, which is the
 * default environment's, is refused to a token that may not read it.
 */
import { principalAllowsEnvironment, type Principal } from '@flagraft/auth';
import type { ChangeEvent } from './event.js';

/** Every kind a client may ask for; the first two are the old stream's. */
export const EVENT_KINDS = ['flag', 'segment', 'environment', 'changeRequest', 'schedule'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];
const OLD_KINDS: ReadonlySet<EventKind> = new Set(['flag', 'segment']);

/** Most environments one subscription may name (the cluster holds at most 32). */
export const MAX_SUBSCRIBED_ENVIRONMENTS = 32;
/** An environment name (flag-model's key characters, at most 128). */
export const ENVIRONMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** What a client asked for: undefined = the old stream; `all`; or a set of names. */
export type EnvRequest = 'all' | ReadonlySet<string> | undefined;

/** The environments a live client receives: 'all' (an unrestricted token asked for every one) or a set. */
export type EnvScope = 'all' | ReadonlySet<string>;

export class BadSubscription extends Error {}
export class ForbiddenSubscription extends Error {}

/** Parses `environments` from the URL (`a,b` or `all`) or the auth message (an array, or "all"). */
export function parseEnvRequest(v: unknown, field: string): EnvRequest {
  if (v === undefined || v === null || v === '') return undefined;
  if (v === 'all') return 'all';
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
  if (!list || list.length === 0 || list.length > MAX_SUBSCRIBED_ENVIRONMENTS) {
    throw new BadSubscription(`${field}: "all" or 1-${MAX_SUBSCRIBED_ENVIRONMENTS} environment names (MAX_SUBSCRIBED_ENVIRONMENTS)`);
  }
  const out = new Set<string>();
  for (const n of list) {
    if (typeof n !== 'string' || !ENVIRONMENT_NAME.test(n)) throw new BadSubscription(`${field}: each must be an environment name (${ENVIRONMENT_NAME.source}) or the word all`);
    out.add(n);
  }
  return out;
}

/** Parses `kinds` (`flag,segment,...` or an array); kinds beyond flag/segment need `environments`. */
export function parseKinds(v: unknown, field: string): Set<EventKind> | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const list = (Array.isArray(v) ? v : String(v).split(',')) as unknown[];
  const out = new Set<EventKind>();
  for (const k of list) {
    if (!EVENT_KINDS.includes(k as EventKind)) throw new BadSubscription(`${field}: each must be one of ${EVENT_KINDS.join(', ')}`);
    out.add(k as EventKind);
  }
  return out;
}

/**
 * The environments a principal receives for a request, or a refusal:
 * BadSubscription (kinds that need `environments`), ForbiddenSubscription (an
 * environment the token may not read). undefined = the old stream.
 */
export function resolveScope(principal: Principal, req: EnvRequest, kinds: ReadonlySet<EventKind> | undefined, defaultEnv: string): EnvScope | undefined {
  if (req === undefined) {
    const extra = kinds ? [...kinds].filter((k) => !OLD_KINDS.has(k)) : [];
    if (extra.length > 0) throw new BadSubscription(`kinds: ${extra.join(', ')} need environments (environments=<names> or environments=all)`);
    if (!principalAllowsEnvironment(principal, defaultEnv)) {
      throw new ForbiddenSubscription(`token is limited to environment(s) ${principal.environments!.join(', ')}; subscribe with environments=${principal.environments!.join(',')}`);
    }
    return undefined;
  }
  if (req === 'all') return principal.environments === undefined ? 'all' : new Set(principal.environments);
  for (const n of req) {
    if (!principalAllowsEnvironment(principal, n)) throw new ForbiddenSubscription(`token may not read environment ${n}`);
  }
  return req;
}

/** The old stream: default-environment flags (no `env`) and segments. */
export function isOldStreamEvent(ev: ChangeEvent): boolean {
  return ev.kind === 'segment' || (ev.kind === 'flag' && ev.env === undefined);
}

/**
 * The environment an event belongs to: a flag's `env` (absent = the default
 * one), an environment's own name, a change request's or schedule's `env`
 * (from the item, or the top-level `env` a truncated event keeps).
 * Segments belong to every environment: null. undefined = cannot tell (a
 * truncated event without `env`): only unrestricted `all` subscribers get it.
 */
export function eventEnvironment(ev: ChangeEvent, defaultEnv: string): string | null | undefined {
  switch (ev.kind) {
    case 'segment': return null;
    case 'flag': return ev.env ?? defaultEnv;
    case 'environment': return ev.key;
    case 'changeRequest': return ev.truncated ? ev.env : ev.changeRequest?.changeRequest?.env;
    case 'schedule': return ev.truncated ? ev.env : ev.schedule?.schedule?.env;
  }
}

/** Whether a client with this scope and kinds filter gets the event (prefixes and `since` are the hub's). */
export function scopeMatches(scope: EnvScope | undefined, kinds: ReadonlySet<EventKind> | undefined, ev: ChangeEvent, defaultEnv: string): boolean {
  if (kinds && !kinds.has(ev.kind)) return false;
  if (scope === undefined) return isOldStreamEvent(ev);
  const env = eventEnvironment(ev, defaultEnv);
  if (env === null) return true;
  if (scope === 'all') return true;
  return env !== undefined && scope.has(env);
}
