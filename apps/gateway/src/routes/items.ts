// The REST routes flags and segments share, written once over flag-model's
// item-kind descriptor: list, read, create/replace (PUT), delete, history.
// What differs (the collection path, the id field, the validator, the
// cluster calls) comes from the descriptor and the kind's ItemStore; a
// kind's own extras (flags: stale pages from the replica, 304, PATCH) are
// options or routes of its own (flags.ts).
import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import type { Principal } from '@flagraft/auth';
import {
  FLAG_KIND, itemPath, ValidationError,
  type AnyItemKind, type FlagDefinition, type FlagKind, type SegmentDefinition, type SegmentKind, type StoredFlag, type StoredSegment,
} from '@flagraft/flag-model';
import { environmentParam, requireAllEnvironments, scopedEnvironment } from '../env-scope.js';
import { writeIdempotency } from '../idempotency.js';
import { HttpProblem } from '../problem.js';
import type { ClusterPort, Consistency, WriteOptions } from '../types.js';
import {
  consistencyOf, etagOf, intParam, pageTokenParam, pathKey, presentBody, viaCluster, writePrecondition, type RouteContext, type Routes,
} from './context.js';

type DefOf<K extends AnyItemKind> = K extends FlagKind ? FlagDefinition : SegmentDefinition;
type StoredOf<K extends AnyItemKind> = K extends FlagKind ? StoredFlag : StoredSegment;
export interface ItemPage<S> { items: S[]; nextPageToken?: string; revision: number }
export interface ListQuery { prefix?: string; limit?: number; pageToken?: string; consistency: Consistency; environment?: string }

/** The cluster calls of one kind, under one set of names; `environment` matters for flags only (segments are shared). */
export interface ItemStore<D, S> {
  get(id: string, consistency?: Consistency, environment?: string): Promise<S | undefined>;
  /** `stored` may be missing (a cluster that answers only the revision): the route reads it back. */
  put(def: D, opts: WriteOptions): Promise<{ revision: number; stored?: S }>;
  delete(id: string, opts: WriteOptions): Promise<{ revision: number }>;
  list(q: ListQuery): Promise<ItemPage<S>>;
}

/** The cluster's calls for each kind; their answers name the item by kind (flag / segment) and the page by plural. */
type KindCalls<D, S> = {
  get(id: string, consistency?: Consistency, environment?: string): Promise<S | undefined>;
  put(def: D, opts: WriteOptions): Promise<{ revision: number } & Partial<Record<string, S | number>>>;
  delete(id: string, opts: WriteOptions): Promise<{ revision: number }>;
  list(q: ListQuery): Promise<{ nextPageToken?: string; revision: number } & Record<string, unknown>>;
};
const flagCalls = (c: ClusterPort): KindCalls<FlagDefinition, StoredFlag> => ({
  // Options only when given: a cluster from before environments (testkit's in-memory one) refuses an `environment` key.
  get: (key, consistency, environment) => c.getFlag(key, consistency === undefined && environment === undefined ? undefined : { ...(consistency ? { consistency } : {}), ...(environment ? { environment } : {}) }),
  put: (flag, opts) => c.putFlag(flag, opts), delete: (key, opts) => c.deleteFlag(key, opts), list: (q) => c.listFlags(q),
});
const segmentCalls = (c: ClusterPort): KindCalls<SegmentDefinition, StoredSegment> => ({
  // A cluster client without getSegment: a prefix page, filtered.
  get: async (name, consistency = 'linearizable') => c.getSegment
    ? c.getSegment(name, { consistency })
    : (await c.listSegments({ prefix: name, limit: 1000, consistency })).segments.find((s) => s.segment.name === name),
  put: (segment, opts) => c.putSegment(segment, opts), delete: (name, opts) => c.deleteSegment(name, opts), list: ({ environment: _shared, ...q }) => c.listSegments(q),
});

export function itemStore<K extends AnyItemKind>(kind: K, cluster: ClusterPort): ItemStore<DefOf<K>, StoredOf<K>> {
  const calls = (kind.kind === FLAG_KIND.kind ? flagCalls(cluster) : segmentCalls(cluster)) as unknown as KindCalls<DefOf<K>, StoredOf<K>>;
  return {
    get: calls.get,
    delete: calls.delete,
    put: async (def, opts) => {
      const out = await calls.put(def, opts);
      return { revision: out.revision, stored: out[kind.kind] as StoredOf<K> | undefined };
    },
    list: async (q) => {
      const page = await calls.list(q);
      return { items: page[kind.plural] as StoredOf<K>[], nextPageToken: page.nextPageToken, revision: page.revision };
    },
  };
}

/**
 * Validates a definition whose id field (`key` / `name`) must equal the URL's.
 * A mismatch is one more issue beside the definition's own: every problem at once.
 */
function checkNamed<T>(body: Record<string, unknown>, field: 'key' | 'name', urlName: string, validate: (v: unknown) => T): T {
  const input: Record<string, unknown> = {};
  for (const k of Object.keys(body)) Object.defineProperty(input, k, { value: body[k], writable: true, enumerable: true, configurable: true });
  const given = input[field];
  const mismatch = given !== undefined && given !== urlName;
  input[field] = urlName;
  const issues: { path: string; message: string }[] = [];
  if (mismatch) issues.push({ path: field, message: `must equal the ${field} in the URL (${urlName})` });
  try {
    const out = validate(input);
    if (issues.length === 0) return out;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    issues.push(...err.issues);
  }
  const detail = mismatch
    ? `${field} in the body (${String(given).slice(0, 200)}) differs from the URL (${urlName})${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`
    : `${issues[0]!.path ? `${issues[0]!.path}: ` : ''}${issues[0]!.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`;
  throw new HttpProblem('validation', detail, { issues });
}

/** Validates a definition of a kind whose id must equal the one in the URL. */
export function checkItem<K extends AnyItemKind>(kind: K, body: unknown, id: string): DefOf<K> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpProblem('validation', `the body must be a ${kind.kind} definition object`, { issues: [{ path: '', message: 'must be an object' }] });
  }
  return checkNamed(body as Record<string, unknown>, kind.idField, id, kind.validate as (v: unknown) => DefOf<K>);
}

export function sendStored(res: Response, status: number, stored: StoredFlag | StoredSegment): void {
  res.status(status).set('etag', etagOf(stored.modRevision)).json(stored);
}

export function historyEntry(c: { revision: number; op: string; actor: string; time: number | string; before: unknown; after: unknown; kind?: string; key?: string }) {
  return {
    revision: c.revision,
    kind: c.kind,
    key: c.key,
    op: c.op,
    actor: c.actor,
    time: typeof c.time === 'number' ? new Date(c.time).toISOString() : c.time,
    before: c.before,
    after: c.after,
  };
}

/** What PUT answers: 201 with a Location for a new item, else 200. */
export interface PutOutcome<S> {
  status: 200 | 201;
  stored: S;
  /** The new item's URL (for a 201). */
  location: string;
}

/**
 * PUT of one item once the caller is authenticated and its body read:
 * validate (once), write with the request's precondition, and answer only
 * after this gateway's replica has the revision, so the writer's next read or
 * evaluation through this gateway sees its write (read-your-writes).
 */
export function itemPutter<K extends AnyItemKind>(ctx: RouteContext, kind: K): (req: IncomingMessage, id: string, body: unknown, who: Principal, environment?: string) => Promise<PutOutcome<StoredOf<K>>> {
  const store = itemStore(kind, ctx.cluster);
  return async (req, id, body, who, environment) => {
    checkScope(ctx, kind, who, environment);
    const pre = writePrecondition(req);
    const def = checkItem(kind, presentBody(body), id);
    const idempotency = writeIdempotency(req, who, body);
    let expectedRevision = pre.expectedRevision;
    if (pre.mustExist) {
      const current = await viaCluster(ctx, () => store.get(id, undefined, environment));
      if (!current) throw new HttpProblem('precondition-failed', `${kind.kind} ${id} does not exist (If-Match: *)`, { key: id, currentRevision: 0 });
      expectedRevision = current.modRevision;
    }
    const precondition = pre.expectedRevision !== undefined || pre.mustExist === true;
    const out = await viaCluster(ctx, () => store.put(def, { expectedRevision, actor: who.name, idempotency, ...writeScope(ctx, who, environment) }), { precondition });
    await ctx.replica.waitFor(out.revision, ctx.config.writeVisibilityTimeoutMs);
    const stored = out.stored ?? (await viaCluster(ctx, () => store.get(id, undefined, environment)));
    if (!stored) throw new HttpProblem('conflict', `${kind.kind} ${id} was deleted right after this write`, { key: id });
    return { status: stored.version === 1 ? 201 : 200, stored, location: itemPath(kind, id) + (environment ? `?environment=${encodeURIComponent(environment)}` : '') };
  };
}

/**
 * An environment-limited token: a flag route acts in its (checked)
 * environment; a segment write acts in every environment (segments are
 * shared), so it needs an unlimited token. Reading a segment is allowed.
 */
function checkScope(ctx: RouteContext, kind: AnyItemKind, who: Principal, environment: string | undefined, write = true): void {
  if (who.environments === undefined) return;
  if (kind === FLAG_KIND) scopedEnvironment(ctx.replica, who, environment);
  else if (write) requireAllEnvironments(who, 'a segment write');
}

/**
 * The write options naming the environment (when one was asked for) and the
 * role the gateway vouches for (WriteMeta.actor_role), sent to a cluster that
 * has environments (propose): testkit's in-memory cluster has no policies and
 * refuses the option.
 */
export function writeScope(ctx: RouteContext, who: Principal, environment?: string): { environment?: string; actorRole?: string } {
  const role = ctx.cluster.propose ? { actorRole: who.role } : {};
  return environment ? { environment, ...role } : role;
}

/** `?environment=` of a flag route (segments take none). */
function envOf(kind: AnyItemKind, req: Request): string | undefined {
  return kind === FLAG_KIND ? environmentParam(req) : undefined;
}

export interface ItemRouteOptions<S> {
  /** Serves a page itself (e.g. a stale page from the replica); undefined = ask the cluster. */
  listPage?(q: ListQuery): ItemPage<S> | undefined;
  /** Answers GET with If-None-Match naming the current revision with 304. */
  notModified?: boolean;
}

/** Registers list, read, PUT, DELETE and history of one kind under its descriptor's path. */
export function registerItemRoutes<K extends AnyItemKind>(r: Routes, ctx: RouteContext, kind: K, opts: ItemRouteOptions<StoredOf<K>> = {}): void {
  const store = itemStore(kind, ctx.cluster);
  const one = `${kind.path}/:${kind.idField}`;
  const waitVisible = (revision: number) => ctx.replica.waitFor(revision, ctx.config.writeVisibilityTimeoutMs);

  r.add('get', kind.path, 'read', async (req, res, who) => {
    const environment = envOf(kind, req);
    checkScope(ctx, kind, who, environment, false);
    const prefix = req.query.prefix;
    if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length > 128)) throw new HttpProblem('bad-request', 'prefix: must be a string of at most 128 characters');
    const q: ListQuery = { prefix, pageToken: pageTokenParam(req.query.pageToken), limit: intParam(req.query.limit, 'limit', 1, 1000), consistency: consistencyOf(req), ...(environment ? { environment } : {}) };
    const page = opts.listPage?.(q) ?? (await viaCluster(ctx, () => store.list(q)));
    const body: Record<string, unknown> = { [kind.plural]: page.items, revision: page.revision };
    if (page.nextPageToken) body.nextPageToken = page.nextPageToken;
    res.json(body);
  }, { scope: 'own' });

  r.add('get', one, 'read', async (req, res, who) => {
    const environment = envOf(kind, req);
    checkScope(ctx, kind, who, environment, false);
    const id = pathKey(req, kind.idField);
    const stored = await viaCluster(ctx, () => store.get(id, consistencyOf(req), environment));
    if (!stored) throw new HttpProblem('not-found', `${kind.kind} ${id} does not exist`, { key: id });
    const inm = opts.notModified ? req.get('if-none-match') : undefined;
    if (inm !== undefined && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etagOf(stored.modRevision))) {
      res.status(304).set('etag', etagOf(stored.modRevision)).end();
      return;
    }
    sendStored(res, 200, stored);
  }, { scope: 'own' });

  const put = itemPutter(ctx, kind);
  r.add('put', one, 'write', async (req, res, who) => {
    const out = await put(req, pathKey(req, kind.idField), req.body, who, envOf(kind, req));
    if (out.status === 201) res.location(out.location);
    sendStored(res, out.status, out.stored);
  }, { scope: 'own', preBody: (who) => who.environments === undefined || kind === FLAG_KIND || requireAllEnvironments(who, 'a segment write') });

  r.add('delete', one, 'write', async (req, res, who) => {
    const environment = envOf(kind, req);
    checkScope(ctx, kind, who, environment);
    const id = pathKey(req, kind.idField);
    const pre = writePrecondition(req);
    if (pre.expectedRevision === 0) throw new HttpProblem('bad-request', 'If-None-Match: * makes no sense on DELETE');
    const idempotency = writeIdempotency(req, who, undefined);
    const out = await viaCluster(ctx, () => store.delete(id, { expectedRevision: pre.expectedRevision, actor: who.name, idempotency, ...writeScope(ctx, who, environment) }), {
      precondition: pre.expectedRevision !== undefined,
    });
    await waitVisible(out.revision);
    res.status(200).json({ [kind.idField]: id, deleted: true, revision: out.revision });
  }, { scope: 'own' });

  r.add('get', `${one}/history`, 'read', async (req, res, who) => {
    const environment = envOf(kind, req);
    checkScope(ctx, kind, who, environment, false);
    const id = pathKey(req, kind.idField);
    const limit = intParam(req.query.limit, 'limit', 1, 1000);
    const beforeRevision = intParam(req.query.before, 'before', 1, Number.MAX_SAFE_INTEGER);
    const changes = await viaCluster(ctx, () => ctx.cluster.history(id, { limit, beforeRevision, kind: kind.kind, ...(environment ? { environment } : {}) }));
    res.json({ [kind.idField]: id, changes: changes.map(historyEntry) });
  }, { scope: 'own' });
}
