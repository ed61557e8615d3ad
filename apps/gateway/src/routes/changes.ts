// GET /api/v1/changes: the global audit log (every retained change of every
// kind, newest first), read from the cluster's `changes` query with the
// caller's filters. Query parameters are checked here and named when wrong;
// the node checks them again.
import { requireAllEnvironments, requireEnvironment } from '../env-scope.js';
import { HttpProblem } from '../problem.js';
import { historyEntry } from './items.js';
import { intParam, viaCluster, type RouteContext, type Routes } from './context.js';

/** Longest key, actor or environment filter, in characters (the node's AUDIT_MAX_FILTER_CHARS). */
const MAX_FILTER_CHARS = 256;
const KINDS = new Set(['flag', 'segment', 'environment', 'changeRequest', 'schedule']);
const PAGE_TOKEN = /^\d{1,15}:\d{1,9}$/;

interface NodeChange { revision: number; kind: string; key: string; env?: string; op: string; actor: string; time: number; before: unknown; after: unknown }

function text(v: unknown, name: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || v.length > MAX_FILTER_CHARS) throw new HttpProblem('bad-request', `${name}: must be a string of at most ${MAX_FILTER_CHARS} characters`);
  return v;
}

function time(v: unknown, name: string): number | undefined {
  const s = text(v, name);
  if (s === undefined) return undefined;
  const ms = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || !Number.isFinite(ms) || ms < 0) throw new HttpProblem('bad-request', `${name}: must be an ISO 8601 date-time, e.g. 2026-12-07T09:30:00Z`);
  return ms;
}

export function registerChangeRoutes(r: Routes, ctx: RouteContext): void {
  r.add('get', '/api/v1/changes', 'read', async (req, res, who) => {
    const q = req.query;
    const kind = text(q.kind, 'kind');
    if (kind !== undefined && !KINDS.has(kind)) throw new HttpProblem('bad-request', `kind: must be one of ${[...KINDS].join(', ')}`);
    const pageToken = text(q.pageToken, 'pageToken');
    if (pageToken !== undefined && !PAGE_TOKEN.test(pageToken)) throw new HttpProblem('bad-request', 'pageToken: must be the nextPageToken of an earlier page');
    // A token limited to environments sees only flag changes of one of them
    // (?environment= names it); the whole log covers every environment.
    const environment = text(q.environment, 'environment');
    if (who.environments !== undefined) {
      if (environment === undefined) requireAllEnvironments(who, 'the audit log of every environment (name one with ?environment=)');
      else requireEnvironment(who, ctx.replica.resolveEnvironment(environment));
    }
    const args = {
      limit: intParam(q.limit, 'limit', 1, 1000),
      pageToken,
      kind,
      key: text(q.key, 'key'),
      actor: text(q.actor, 'actor'),
      environment,
      sinceMs: time(q.since, 'since'),
      untilMs: time(q.until, 'until'),
    };
    const query = ctx.cluster.query?.bind(ctx.cluster);
    if (!query) throw new HttpProblem('unavailable', 'this cluster port does not serve queries (no audit log)');
    const page = (await viaCluster(ctx, () => query('changes', args))) as { changes: NodeChange[]; nextPageToken?: string; defaultEnvironment?: string };
    const changes = page.changes.map((c) => {
      const e = historyEntry(c);
      const environment = c.env ?? (c.kind === 'flag' ? page.defaultEnvironment : undefined);
      return environment === undefined ? e : { ...e, environment };
    });
    res.json(page.nextPageToken ? { changes, nextPageToken: page.nextPageToken } : { changes });
  }, { scope: 'own' });
}
