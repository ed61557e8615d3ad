// /api/v1/environments (list, read, create, update, delete) and
// /api/v1/promotions (a dry-run plan, then one atomic copy of flag
// configurations from one environment to another). The state machine
// enforces the rules (approval policies, "refused while flags are configured
// unless forced", the default environment never deleted); the gateway checks
// the token's role and environments, and the shape of what it forwards.
import type { Request } from 'express';
import type { Principal } from '@flagraft/auth';
import { validateEnvironment, type EnvironmentDefinition, type PromotionItem, type StoredEnvironment } from '@flagraft/flag-model';
import { environmentParam, requireEnvironment } from '../env-scope.js';
import { HttpProblem } from '../problem.js';
import { etagOf, pathKey, type RouteContext, type Routes } from './context.js';
import { boolParam, invalid, keyField, objectBody, propose, query, validationOf, written } from './records.js';

/** Flag keys one promotion may name (the cluster's batch limit). */
export const MAX_PROMOTION_KEYS = 100;

const COLLECTION = '/api/v1/environments';
const ONE = `${COLLECTION}/:name`;

/** Fields PATCH may change: the name is the environment's stable id. */
const UPDATABLE = new Set(['displayName', 'production', 'policy']);

export function registerEnvironmentRoutes(r: Routes, ctx: RouteContext): void {
  const allEnvironments = () => query<StoredEnvironment[]>(ctx, 'environments');
  const one = async (name: string): Promise<StoredEnvironment> => {
    const env = (await allEnvironments()).find((e) => e.environment.name === name);
    if (!env) throw new HttpProblem('not-found', `environment ${name} does not exist`, { environment: name });
    return env;
  };
  const send = (res: import('express').Response, status: number, env: StoredEnvironment) => res.status(status).set('etag', etagOf(env.modRevision)).json(env);

  r.add('get', COLLECTION, 'read', async (_req, res, who) => {
    // A limited token sees the environments it may act in.
    const list = (await allEnvironments()).filter((e) => who.environments === undefined || who.environments.includes(e.environment.name));
    const def = list.find((e) => e.isDefault)?.environment.name ?? ctx.replica.defaultEnvironment;
    res.json({ environments: list, ...(def ? { defaultEnvironment: def } : {}) });
  }, { scope: 'own' });

  r.add('get', ONE, 'read', async (req, res, who) => {
    const name = pathKey(req, 'name');
    requireEnvironment(who, name);
    send(res, 200, await one(name));
  }, { scope: 'own' });

  r.add('post', COLLECTION, 'admin', async (req, res, who) => {
    const body = objectBody(req);
    const { copyFrom, ...rest } = body;
    let environment: EnvironmentDefinition;
    try {
      environment = validateEnvironment(rest);
    } catch (err) {
      validationOf(err, 'environment');
    }
    const from = copyFrom === undefined ? undefined : keyField(copyFrom, 'copyFrom');
    // expectedRevision 0: create only; an existing name is a 412, not a silent update.
    const out = await propose(ctx, req, who, { op: 'putEnvironment', environment, expectedRevision: 0, ...(from ? { copyFrom: from } : {}) });
    const stored = written<StoredEnvironment>(out.changes, 'environment', environment.name) ?? (await one(environment.name));
    res.location(`${COLLECTION}/${encodeURIComponent(environment.name)}`);
    send(res, 201, stored);
  });

  r.add('patch', ONE, 'admin', async (req, res, who) => {
    const name = pathKey(req, 'name');
    const body = objectBody(req);
    for (const k of Object.keys(body)) if (!UPDATABLE.has(k)) throw invalid(k, `cannot be changed (updatable: ${[...UPDATABLE].join(', ')}; the name is the environment's id)`);
    const current = await one(name);
    // Absent fields stay; null removes an optional one (a policy back to direct writes).
    const merged: Record<string, unknown> = { ...current.environment };
    for (const [k, v] of Object.entries(body)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    let environment: EnvironmentDefinition;
    try {
      environment = validateEnvironment(merged);
    } catch (err) {
      validationOf(err, 'environment');
    }
    // Compare-and-set on the revision read: a concurrent change is a 412, never lost.
    const out = await propose(ctx, req, who, { op: 'putEnvironment', environment, expectedRevision: current.modRevision });
    send(res, 200, written<StoredEnvironment>(out.changes, 'environment', name) ?? (await one(name)));
  });

  r.add('delete', ONE, 'admin', async (req, res, who) => {
    const name = pathKey(req, 'name');
    const force = boolParam(req, 'force') ?? false;
    const out = await propose(ctx, req, who, { op: 'deleteEnvironment', name, force });
    const flagConfigurations = out.changes.filter((c) => c.kind === 'flag').length;
    res.json({ name, deleted: true, revision: out.revision, flagConfigurations });
  });

  // ---- promotion -----------------------------------------------------------

  const plan = async (who: Principal, from: string, to: string, keys: string[] | undefined) => {
    requireEnvironment(who, from);
    requireEnvironment(who, to);
    const items = await query<PromotionItem[]>(ctx, 'promotionPlan', { from, to, ...(keys ? { keys } : {}) });
    return { from, to, ...(keys ? { keys } : {}), items };
  };

  r.add('get', '/api/v1/promotions/plan', 'read', async (req, res, who) => {
    const { from, to } = fromTo({ from: environmentParam(req, 'from'), to: environmentParam(req, 'to') }, 'bad-request');
    res.json(await plan(who, from, to, keysParam(req)));
  }, { scope: 'own' });

  r.add('post', '/api/v1/promotions/plan', 'read', async (req, res, who) => {
    const body = objectBody(req);
    const { from, to } = fromTo({ from: body.from === undefined ? undefined : keyField(body.from, 'from'), to: body.to === undefined ? undefined : keyField(body.to, 'to') });
    res.json(await plan(who, from, to, keysField(body.keys)));
  }, { scope: 'own' });

  r.add('post', '/api/v1/promotions', 'write', async (req, res, who) => {
    const body = objectBody(req);
    const { from, to } = fromTo({ from: body.from === undefined ? undefined : keyField(body.from, 'from'), to: body.to === undefined ? undefined : keyField(body.to, 'to') });
    requireEnvironment(who, from);
    requireEnvironment(who, to);
    const keys = keysField(body.keys);
    const out = await propose(ctx, req, who, { op: 'promote', from, to, ...(keys ? { keys } : {}) });
    const flags = out.changes.filter((c) => c.kind === 'flag').map((c) => c.key);
    res.json({ from, to, revision: out.revision, flags });
  }, { scope: 'own' });
}

/** from and to, both named and different: a 400 for query parameters, a 422 for a body's fields. */
function fromTo(v: { from?: string; to?: string }, kind: 'bad-request' | 'validation' = 'validation'): { from: string; to: string } {
  const refuse = (path: string, message: string) => new HttpProblem(kind, `${path}: ${message}`, { issues: [{ path, message }] });
  if (v.from === undefined) throw refuse('from', 'is required: the environment to copy from');
  if (v.to === undefined) throw refuse('to', 'is required: the environment to copy into');
  if (v.from === v.to) throw refuse('to', 'must differ from from');
  return { from: v.from, to: v.to };
}

/** ?keys=a,b (absent = every flag). */
function keysParam(req: Request): string[] | undefined {
  const v = req.query.keys;
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new HttpProblem('bad-request', 'keys: a comma-separated list of flag keys', { issues: [{ path: 'keys', message: 'must be a comma-separated list of flag keys' }] });
  try {
    return keysField(v.split(','));
  } catch (err) {
    throw new HttpProblem('bad-request', (err as Error).message, { issues: [{ path: 'keys', message: (err as Error).message }] });
  }
}

function keysField(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_PROMOTION_KEYS) throw invalid('keys', `must be 1 to ${MAX_PROMOTION_KEYS} flag keys (MAX_PROMOTION_KEYS)`);
  return v.map((k, i) => keyField(k, `keys[${i}]`));
}
