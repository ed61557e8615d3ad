// What OpenFeature providers need besides OFREP:
//
//   GET  /api/v1/snapshot?prefix=&environment=  every flag (of one environment) and segment at one revision
//                                             (the in-process provider's initial load; then it follows
//                                             /api/v1/stream with the same environment)
//   POST /api/v1/stream-tickets?stream=      a stream ticket for browsers (stream-auth.ts)
//   POST /api/v1/evaluation-counts           in-process evaluation counts, batched by a provider hook
//
// The one that takes a body has its own limit (maxEvaluationCountsBodyBytes),
// read like every route's after authentication (Routes.add).
import type { Response } from 'express';
import { roleAllows, type Principal } from '@flagraft/auth';
import type { StoredFlag, StoredSegment } from '@flagraft/flag-model';
import { HttpProblem } from '../problem.js';
import type { RateLimiter } from '../rate-limit.js';
import { ticketForRequest } from '../stream-auth.js';
import { jsonBody, type RouteContext, type Routes } from './context.js';
import { environmentParam, scopedEnvironment } from '../env-scope.js';

/** Entries in one POST /api/v1/evaluation-counts body at most. */
export const MAX_EVALUATION_COUNT_ENTRIES = 1_000;
/** Largest count in one entry (a provider flushes long before). */
export const MAX_EVALUATION_COUNT = 1_000_000_000;
/** Reasons a reported evaluation may carry (OpenFeature's standard reasons). */
const REPORTED_REASONS = new Set(['STATIC', 'TARGETING_MATCH', 'SPLIT', 'DISABLED', 'DEFAULT', 'ERROR', 'CACHED', 'UNKNOWN', 'STALE']);

export interface OpenFeatureRouteDeps extends RouteContext {
  /** The per-token evaluation limit (a report costs one evaluation request); undefined = none. */
  evaluationLimiter?: RateLimiter;
}

export function registerOpenFeatureRoutes(r: Routes, deps: OpenFeatureRouteDeps): void {
  r.add('get', '/api/v1/snapshot', 'read', (req, res, principal) => {
    const environment = environmentParam(req);
    const env = scopedEnvironment(deps.replica, principal, environment);
    if (!deps.replica.loaded) throw new HttpProblem('unavailable', 'the gateway has not loaded its replica yet', {}, { 'retry-after': '1' });
    const prefix = req.query.prefix;
    if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length > 128)) {
      throw new HttpProblem('bad-request', 'prefix: must be a string of at most 128 characters');
    }
    const flags = deps.replica.flagsIn(env);
    if (!flags) throw new HttpProblem('not-found', `environment ${env} does not exist`, { environment: env });
    sendSnapshot(res, deps, flags, typeof prefix === 'string' ? prefix : '');
  }, { scope: 'own' }); // ?environment= names it (absent = the default one), checked above

  r.add('post', '/api/v1/stream-tickets', 'evaluate', (req, res, principal) => {
    const stream = req.query.stream ?? 'ofrep-events';
    if (stream !== 'ofrep-events' && stream !== 'changes') throw new HttpProblem('bad-request', 'stream: must be ofrep-events or changes');
    if (stream === 'changes' && !roleAllows(principal.role, 'read')) {
      throw new HttpProblem('forbidden', `role ${principal.role} may not read the change stream`);
    }
    const t = ticketForRequest(req, deps.config, stream);
    if (!t) throw new HttpProblem('unauthorized', 'stream tickets are issued to a token: send it as "Authorization: Bearer <token>"');
    const path = stream === 'changes' ? '/api/v1/stream' : '/ofrep/v1/events';
    res.set('cache-control', 'no-store').json({ stream, ticket: t.ticket, path: `${path}?ticket=${t.ticket}`, expiresAt: new Date(t.expiresAt).toISOString() });
  }, { scope: 'own' }); // the stream it opens checks the token's environment

  r.add('post', '/api/v1/evaluation-counts', 'evaluate', (req, res) => {
    const entries = parseCounts(jsonBody(req));
    let accepted = 0;
    let ignored = 0;
    for (const e of entries) {
      // Only flags and variants that exist get a label set: reports are input,
      // and the metric families must not grow with whatever a caller sends.
      const flag = deps.replica.flags.get(e.flag)?.flag;
      if (!flag || (e.variant !== undefined && !Object.prototype.hasOwnProperty.call(flag.variants, e.variant))) {
        ignored += e.count;
        continue;
      }
      deps.metrics.evaluations.child(e.flag, e.reason).value += e.count;
      deps.metrics.reportedEvaluations.child(e.flag, e.variant ?? '', e.reason).value += e.count;
      accepted += e.count;
    }
    res.json({ accepted, ignored });
  }, {
    // Counts are metrics of flag keys (the default environment's definitions), not a configuration read.
    scope: 'own',
    // A report costs one evaluation request, taken before its body is read.
    preBody: (principal) => takeEvaluationBudget(deps, principal),
    body: (config) => ({ name: 'maxEvaluationCountsBodyBytes', maxBytes: config.maxEvaluationCountsBodyBytes }),
  });
}

function takeEvaluationBudget(deps: OpenFeatureRouteDeps, principal: Principal): void {
  const limiter = deps.evaluationLimiter;
  if (!limiter) return;
  const wait = limiter.take(principal.name);
  if (wait > 0) {
    deps.metrics.rateLimited.inc({ kind: 'evaluation' });
    throw new HttpProblem('too-many-requests', `token ${principal.name} is over its limit of ${limiter.limit.perSecond} evaluation requests per second`, { retryAfterSeconds: wait }, { 'retry-after': String(wait) });
  }
}

/** The snapshot as JSON built in one synchronous pass: every item is at `revision`. */
function sendSnapshot(res: Response, deps: RouteContext, inEnvironment: Map<string, { stored: StoredFlag }>, prefix: string): void {
  const { replica } = deps;
  const flags: StoredFlag[] = [];
  for (const [key, entry] of inEnvironment) if (key.startsWith(prefix)) flags.push(entry.stored);
  // Segments are small and any flag may use any of them: always all of them.
  const segments: StoredSegment[] = [...replica.segments.values()];
  const revision = replica.revision;
  res.status(200).set({ etag: `"${revision}"`, 'cache-control': 'no-store' }).type('application/json')
    .send(`{"revision":${revision},"flags":${JSON.stringify(flags)},"segments":${JSON.stringify(segments)}}`);
}

interface CountEntry { flag: string; variant?: string; reason: string; count: number }

function parseCounts(body: unknown): CountEntry[] {
  const issues: { path: string; message: string }[] = [];
  const fail = () => new HttpProblem('validation', issues.map((i) => `${i.path}: ${i.message}`).join('; '), { issues });
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Array.isArray((body as { counts?: unknown }).counts)) {
    issues.push({ path: 'counts', message: 'must be an array of {flag, variant?, reason, count}' });
    throw fail();
  }
  const counts = (body as { counts: unknown[] }).counts;
  if (counts.length > MAX_EVALUATION_COUNT_ENTRIES) {
    issues.push({ path: 'counts', message: `at most ${MAX_EVALUATION_COUNT_ENTRIES} entries per request` });
    throw fail();
  }
  const out: CountEntry[] = [];
  counts.forEach((raw, i) => {
    const at = `counts[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return issues.push({ path: at, message: 'must be an object' });
    const e = raw as Record<string, unknown>;
    if (typeof e.flag !== 'string' || e.flag.length === 0 || e.flag.length > 128) issues.push({ path: `${at}.flag`, message: 'must be a flag key' });
    if (e.variant !== undefined && (typeof e.variant !== 'string' || e.variant.length > 64)) issues.push({ path: `${at}.variant`, message: 'must be a variant name' });
    if (typeof e.reason !== 'string' || !REPORTED_REASONS.has(e.reason)) issues.push({ path: `${at}.reason`, message: `must be one of ${[...REPORTED_REASONS].join(', ')}` });
    if (!Number.isInteger(e.count) || (e.count as number) < 1 || (e.count as number) > MAX_EVALUATION_COUNT) {
      issues.push({ path: `${at}.count`, message: `must be an integer from 1 to ${MAX_EVALUATION_COUNT}` });
    }
    for (const k of Object.keys(e)) if (!['flag', 'variant', 'reason', 'count'].includes(k)) issues.push({ path: `${at}.${k.slice(0, 40)}`, message: 'unknown field' });
    out.push({ flag: e.flag as string, variant: e.variant as string | undefined, reason: e.reason as string, count: e.count as number });
  });
  if (issues.length > 0) {
    issues.length = Math.min(issues.length, 50);
    throw fail();
  }
  return out;
}
