// What every REST route needs, and the helper that registers a route with its
// metrics label, permission check and 405 handling.
import type { IncomingMessage } from 'node:http';
import type { Express, Request, Response } from 'express';
import type { Permission, Principal, TokenStore } from '@flagraft/auth';
import { KEY_PATTERN, LIMITS } from '@flagraft/flag-model';
import { authorize } from '../authz.js';
import { requireAllEnvironments, requireEnvironment } from '../env-scope.js';
import type { GatewayConfig } from '../config.js';
import { readJsonBody, type BodyLimit } from '../body.js';
import { requestInfo } from '../http-util.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import { HttpProblem, isClusterError, problemFromClusterError } from '../problem.js';
import type { RateLimiter } from '../rate-limit.js';
import type { Replica } from '../replica.js';
import type { Consistency, ClusterPort } from '../types.js';

export interface RouteContext {
  config: GatewayConfig;
  cluster: ClusterPort;
  replica: Replica;
  tokens: TokenStore;
  log: Logger;
  metrics: GatewayMetrics;
  /** Per-token limit on writes (non-GET routes needing write or admin); undefined = none. */
  writeLimiter?: RateLimiter;
}

export type Handler = (req: Request, res: Response, principal: Principal) => Promise<void> | void;
type Method = 'get' | 'put' | 'post' | 'patch' | 'delete';

export interface RouteOptions {
  /**
   * The body limit of a PUT/POST/PATCH route (default: maxBodyBytes with the
   * default JSON shape limits). GET and DELETE bodies are never read.
   */
  body?: (config: GatewayConfig) => BodyLimit;
  /** Runs after authentication and before the body is read (a route's own budget). */
  preBody?: (principal: Principal) => void;
  /**
   * Which environments an environment-limited token must cover (env-scope.ts),
   * checked before the body is read: 'default' (the default: routes that act
   * on the default environment, as every route before environments did;
   * admin routes default to 'all'), 'all' (segments, backups, membership:
   * every environment), 'own' (the
   * route resolves and checks its environment itself).
   */
  scope?: 'default' | 'all' | 'own';
}

const defaultBody = (config: GatewayConfig): BodyLimit => ({ name: 'maxBodyBytes', maxBytes: config.maxBodyBytes });

/** Registers routes path by path so every other method on a known path answers 405 with Allow. */
export class Routes {
  private readonly methods = new Map<string, Set<string>>();
  constructor(
    private readonly app: Express,
    private readonly ctx: RouteContext,
  ) {}

  /**
   * The order is the security contract: authenticate (headers only), rate
   * limit, then read and parse the body with the route's own limit, then the
   * handler. Nothing of the body is read for a caller who may not call.
   */
  add(method: Method, path: string, permission: Permission | 'public', handler: Handler, opts: RouteOptions = {}): this {
    let set = this.methods.get(path);
    if (!set) {
      set = new Set();
      this.methods.set(path, set);
    }
    set.add(method.toUpperCase());
    if (method === 'get') set.add('HEAD');
    this.app[method](path, async (req: Request, res: Response) => {
      const info = requestInfo(req);
      info.route = path;
      const principal =
        permission === 'public'
          ? { name: 'anonymous', role: 'evaluator' as const }
          : authorize(req, this.ctx.tokens, permission, this.ctx.config.anonymousEvaluation);
      info.principal = principal;
      if (permission !== 'public' && principal.environments !== undefined) {
        const scope = opts.scope ?? (permission === 'admin' ? 'all' : 'default');
        if (scope === 'default') requireEnvironment(principal, this.ctx.replica.resolveEnvironment(undefined));
        else if (scope === 'all') requireAllEnvironments(principal, `${method.toUpperCase()} ${path}`);
      }
      if (method !== 'get' && (permission === 'write' || permission === 'admin')) takeWriteBudget(this.ctx, principal);
      opts.preBody?.(principal);
      if (method === 'put' || method === 'post' || method === 'patch') {
        req.body = await readJsonBody(req, (opts.body ?? defaultBody)(this.ctx.config));
      }
      await handler(req, res, principal);
    });
    return this;
  }

  /** Call after all add(): 405 for known paths with an unsupported method. */
  finish(): void {
    for (const [path, set] of this.methods) {
      const allow = [...set].join(', ');
      this.app.all(path, (req: Request) => {
        requestInfo(req).route = path;
        throw new HttpProblem('method-not-allowed', `${req.method} is not supported here; use ${allow}`, {}, { allow });
      });
    }
  }
}

/** One write from the token's budget (writeLimiter); 429 naming the limit when it is spent. */
export function takeWriteBudget(ctx: RouteContext, principal: Principal): void {
  const limiter = ctx.writeLimiter;
  if (limiter === undefined) return;
  const wait = limiter.take(principal.name);
  if (wait > 0) {
    ctx.metrics.rateLimited.inc({ kind: 'write' });
    throw new HttpProblem(
      'too-many-requests',
      `token ${principal.name} is over its limit of ${limiter.limit.perSecond} writes per second; retry after ${wait} s`,
      { retryAfterSeconds: wait },
      { 'retry-after': String(wait) },
    );
  }
}

/** Runs a cluster call, turning ClusterError into the matching problem. */
export async function viaCluster<T>(ctx: RouteContext, fn: () => Promise<T>, opts: { precondition?: boolean } = {}): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isClusterError(err)) {
      ctx.metrics.clusterErrors.inc({ code: err.code });
      throw problemFromClusterError(err, { retryAfterSeconds: ctx.config.retryAfterSeconds, precondition: opts.precondition });
    }
    throw err;
  }
}

export function consistencyOf(req: Request): Consistency {
  const c = req.query.consistency;
  if (c === undefined || c === 'linearizable') return 'linearizable';
  if (c === 'stale') return 'stale';
  throw new HttpProblem('bad-request', 'consistency: must be linearizable or stale');
}

export function intParam(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) throw new HttpProblem('bad-request', `${name}: must be an integer from ${min} to ${max}`);
  const n = Number(value);
  if (n < min || n > max) throw new HttpProblem('bad-request', `${name}: must be an integer from ${min} to ${max}`);
  return n;
}

/** The JSON body (read by Routes.add after authentication); 415 when the request sent none. */
export function jsonBody(req: Request): unknown {
  return presentBody(req.body);
}

/** A parsed body that must be there; 415 when the request sent none. */
export function presentBody(body: unknown): unknown {
  if (body === undefined) {
    throw new HttpProblem('unsupported-media-type', 'send a JSON body (Content-Type: application/json)');
  }
  return body;
}

/** Parses If-Match / If-None-Match for a write: the revision to expect, if any. */
export interface Precondition {
  expectedRevision?: number;
  /** If-Match: * (must exist; resolved by the route). */
  mustExist?: boolean;
}

export function writePrecondition(req: IncomingMessage): Precondition {
  const ifMatch = headerOf(req, 'if-match');
  const ifNoneMatch = headerOf(req, 'if-none-match');
  if (ifMatch !== undefined && ifNoneMatch !== undefined) throw new HttpProblem('bad-request', 'send If-Match or If-None-Match, not both');
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw new HttpProblem('bad-request', 'If-None-Match on a write must be "*" (create only)');
    return { expectedRevision: 0 };
  }
  if (ifMatch !== undefined) {
    if (ifMatch.trim() === '*') return { mustExist: true };
    return { expectedRevision: parseEtag(ifMatch, 'If-Match') };
  }
  return {};
}

/** A request header as one string (as Express's req.get: repeated headers joined by Node). */
function headerOf(req: IncomingMessage, name: 'if-match' | 'if-none-match'): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** `"42"` -> 42. Weak validators (W/) are not allowed for writes (RFC 9110 13.1.1). */
export function parseEtag(value: string, header: string): number {
  const m = /^\s*"(\d{1,15})"\s*$/.exec(value);
  if (!m) throw new HttpProblem('bad-request', `${header}: expected one strong ETag like "42" (the revision), got ${JSON.stringify(value.slice(0, 40))}`);
  return Number(m[1]);
}

export function etagOf(revision: number): string {
  return `"${revision}"`;
}

/** Key in the path: the same pattern flag-model enforces, checked early for a clear 400. */
export function pathKey(req: Request, name = 'key'): string {
  const key = req.params[name];
  if (typeof key !== 'string' || key.length === 0 || key.length > LIMITS.maxKeyChars || !KEY_PATTERN.test(key)) {
    throw new HttpProblem('bad-request', `${name} in the path must match ${KEY_PATTERN.source} and be at most ${LIMITS.maxKeyChars} characters`);
  }
  return key;
}

/**
 * A list's pageToken: the nextPageToken of a previous page (base64url of the
 * last key). Anything else is a 400, not an empty page: a client with a
 * mangled token must not conclude the list has ended.
 */
export function pageTokenParam(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const bad = () => new HttpProblem('bad-request', 'pageToken: must be the nextPageToken of a previous page', { issues: [{ path: 'pageToken', message: 'is not a page token this API issued' }] });
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(value)) throw bad();
  const key = Buffer.from(value, 'base64url').toString('utf8');
  if (Buffer.from(key).toString('base64url') !== value || key.length > LIMITS.maxKeyChars || !KEY_PATTERN.test(key)) throw bad();
  return value;
}

/** A PATCH's If-None-Match (RFC 9110 13.1.2): "*" or a list of ETags; a match (the resource exists / is at that revision) is a 412. */
export function ifNoneMatchRefuses(req: Request, currentRevision: number): boolean {
  const inm = req.get('if-none-match');
  if (inm === undefined) return false;
  if (inm.trim() === '*') return true;
  const tags = inm.split(',').map((t) => t.trim().replace(/^W\//, ''));
  for (const t of tags) if (!/^"\d{1,15}"$/.test(t)) throw new HttpProblem('bad-request', `If-None-Match: expected "*" or ETags like "42", got ${JSON.stringify(inm.slice(0, 40))}`);
  return tags.includes(etagOf(currentRevision));
}
