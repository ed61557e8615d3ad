// /api/v1/flags: list, read, create/replace (PUT), edit (PATCH), delete, history.
// ETags are revisions: GET answers ETag "<modRevision>", writes take If-Match
// "<revision>" (compare-and-set) or If-None-Match * (create only).
import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import type { Principal } from '@flagraft/auth';
import type { FlagDefinition, StoredFlag } from '@flagraft/flag-model';
import { validateFlag, ValidationError } from '@flagraft/flag-model';
import { HttpProblem } from '../problem.js';
import { writeIdempotency } from '../idempotency.js';
import { jsonPatch, mergePatch } from '../patch.js';
import {
  consistencyOf,
  etagOf,
  intParam,
  ifNoneMatchRefuses,
  jsonBody,
  pageTokenParam,
  parseEtag,
  pathKey,
  presentBody,
  viaCluster,
  writePrecondition,
  type RouteContext,
  type Routes,
} from './context.js';

/** Flags in a stale (replica) page without ?limit=, as the cluster's default page. */
export const STALE_DEFAULT_PAGE_LIMIT = 100;

/** Attempts of a PATCH without If-Match when another writer got in between. */
export const PATCH_ATTEMPTS = 5;

export function validationProblem(err: ValidationError, prefix = ''): HttpProblem {
  const issues = err.issues.map((i) => ({ path: prefix + (prefix && i.path ? '.' : '') + i.path, message: i.message }));
  return new HttpProblem('validation', err.message, { issues });
}

/** Validates a definition whose key must equal the one in the URL. */
export function checkFlag(body: unknown, key: string): FlagDefinition {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpProblem('validation', 'the body must be a flag definition object', { issues: [{ path: '', message: 'must be an object' }] });
  }
  return checkNamed(body as Record<string, unknown>, 'key', key, validateFlag);
}

/**
 * Validates a definition whose name field (`key` / `name`) must equal the URL's.
 * A mismatch is one more issue beside the definition's own: every problem at once.
 */
export function checkNamed<T>(body: Record<string, unknown>, field: 'key' | 'name', urlName: string, validate: (v: unknown) => T): T {
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

export function sendStored(res: Response, status: number, stored: StoredFlag): void {
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

/** Orders keys as the cluster's SQLite does (BINARY on UTF-8 = code point order). */
function byCodePoint(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d) return d;
  }
}

function firstAtLeast(keys: string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byCodePoint(keys[mid], k) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function firstAfter(keys: string[], k: string): number {
  const i = firstAtLeast(keys, k);
  return i < keys.length && keys[i] === k ? i + 1 : i;
}

/** What PUT /api/v1/flags/:key answers: 201 with a Location for a new flag, else 200. */
export interface FlagPutOutcome {
  status: 200 | 201;
  stored: StoredFlag;
  /** The new flag's URL (for a 201). */
  location: string;
}

/**
 * PUT /api/v1/flags/:key once the caller is authenticated and its body read:
 * validate (once), write with the request's precondition, and answer only
 * after this gateway's replica has the revision, so the writer's next read or
 * evaluation through this gateway sees its write (read-your-writes). Shared
 * by the Express route and the node:http fast path (flag-put.ts).
 */
export function flagPutter(ctx: RouteContext): (req: IncomingMessage, key: string, body: unknown, who: Principal) => Promise<FlagPutOutcome> {
  const { cluster, replica, config } = ctx;
  return async (req, key, body, who) => {
    const pre = writePrecondition(req);
    const flag = checkFlag(presentBody(body), key);
    const idempotency = writeIdempotency(req, who, body);
    let expectedRevision = pre.expectedRevision;
    if (pre.mustExist) {
      const current = await viaCluster(ctx, () => cluster.getFlag(key));
      if (!current) throw new HttpProblem('precondition-failed', `flag ${key} does not exist (If-Match: *)`, { key, currentRevision: 0 });
      expectedRevision = current.modRevision;
    }
    const precondition = pre.expectedRevision !== undefined || pre.mustExist === true;
    const out = await viaCluster(ctx, () => cluster.putFlag(flag, { expectedRevision, actor: who.name, idempotency }), { precondition });
    await replica.waitFor(out.revision, config.writeVisibilityTimeoutMs);
    const created = out.flag.version === 1;
    return { status: created ? 201 : 200, stored: out.flag, location: `/api/v1/flags/${encodeURIComponent(key)}` };
  };
}

export function registerFlagRoutes(r: Routes, ctx: RouteContext): void {
  const { cluster, replica, config } = ctx;
  const waitVisible = (revision: number) => replica.waitFor(revision, config.writeVisibilityTimeoutMs);

  // The replica's keys in order, rebuilt once per revision (not per page).
  let sorted: { revision: number; keys: string[] } | undefined;
  const sortedKeys = (): string[] => {
    if (!sorted || sorted.revision !== replica.revision || sorted.keys.length !== replica.flags.size) {
      sorted = { revision: replica.revision, keys: [...replica.flags.keys()].sort(byCodePoint) };
    }
    return sorted.keys;
  };
  const replicaPage = (o: { prefix?: string; limit: number; pageToken?: string }) => {
    const keys = sortedKeys();
    // Same token as the cluster's (base64url of the last key), so a walk may mix both.
    const after = o.pageToken ? Buffer.from(o.pageToken, 'base64url').toString('utf8') : '';
    const from = Math.max(after ? firstAfter(keys, after) : 0, o.prefix ? firstAtLeast(keys, o.prefix) : 0);
    const flags: StoredFlag[] = [];
    let i = from;
    for (; i < keys.length && flags.length < o.limit; i++) {
      if (o.prefix && !keys[i].startsWith(o.prefix)) break;
      flags.push(replica.flags.get(keys[i])!.stored);
    }
    const more = i < keys.length && (!o.prefix || keys[i].startsWith(o.prefix));
    const nextPageToken = more && flags.length ? Buffer.from(flags[flags.length - 1].flag.key).toString('base64url') : undefined;
    return { flags, nextPageToken, revision: replica.revision };
  };

  r.add('get', '/api/v1/flags', 'read', async (req, res) => {
    const prefix = req.query.prefix;
    if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length > 128)) throw new HttpProblem('bad-request', 'prefix: must be a string of at most 128 characters');
    const pageToken = pageTokenParam(req.query.pageToken);
    const limit = intParam(req.query.limit, 'limit', 1, 1000);
    const consistency = consistencyOf(req);
    // A stale read is served from this gateway's replica (memory, no cluster
    // round trip); its revision is the replica's, the same revision its change
    // stream has delivered up to. Before the replica has loaded, the cluster answers.
    const page =
      consistency === 'stale' && replica.loaded
        ? replicaPage({ prefix, limit: limit ?? STALE_DEFAULT_PAGE_LIMIT, pageToken })
        : await viaCluster(ctx, () => cluster.listFlags({ prefix, limit, pageToken, consistency }));
    const body: Record<string, unknown> = { flags: page.flags, revision: page.revision };
    if (page.nextPageToken) body.nextPageToken = page.nextPageToken;
    res.json(body);
  });

  r.add('get', '/api/v1/flags/:key', 'read', async (req, res) => {
    const key = pathKey(req);
    const stored = await viaCluster(ctx, () => cluster.getFlag(key, { consistency: consistencyOf(req) }));
    if (!stored) throw new HttpProblem('not-found', `flag ${key} does not exist`, { key });
    const inm = req.get('if-none-match');
    if (inm !== undefined && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etagOf(stored.modRevision))) {
      res.status(304).set('etag', etagOf(stored.modRevision)).end();
      return;
    }
    sendStored(res, 200, stored);
  });

  const put = flagPutter(ctx);
  r.add('put', '/api/v1/flags/:key', 'write', async (req, res, who) => {
    const out = await put(req, pathKey(req), req.body, who);
    if (out.status === 201) res.location(out.location);
    sendStored(res, out.status, out.stored);
  });

  r.add('patch', '/api/v1/flags/:key', 'write', async (req, res, who) => {
    const key = pathKey(req);
    const body = jsonBody(req);
    const ifMatch = req.get('if-match');
    const pinned = ifMatch !== undefined && ifMatch.trim() !== '*' ? parseEtag(ifMatch, 'If-Match') : undefined;
    const isJsonPatch = Array.isArray(body) || req.is('application/json-patch+json') !== false;
    const idempotency = writeIdempotency(req, who, body);
    if (!isJsonPatch && (body === null || typeof body !== 'object')) {
      throw new HttpProblem('validation', 'a merge patch must be a JSON object', { issues: [{ path: '', message: 'must be an object' }] });
    }
    // Without If-Match the edit is applied to the current version with CAS,
    // retried if someone else wrote in between: never a lost update.
    for (let attempt = 1; ; attempt++) {
      const current = await viaCluster(ctx, () => cluster.getFlag(key));
      if (!current) throw new HttpProblem('not-found', `flag ${key} does not exist`, { key });
      // With a key, a pinned revision is left to the node, which looks up the
      // key first: a retry of a patch that already applied (and so moved the
      // flag past `pinned`) gets the first answer, any other write a 412.
      if (pinned !== undefined && current.modRevision !== pinned && !idempotency) {
        throw new HttpProblem('precondition-failed', `flag ${key} is at revision ${current.modRevision}, not ${pinned}`, { key, currentRevision: current.modRevision });
      }
      if (ifNoneMatchRefuses(req, current.modRevision)) {
        throw new HttpProblem('precondition-failed', `flag ${key} exists at revision ${current.modRevision} (If-None-Match)`, { key, currentRevision: current.modRevision });
      }
      const base = JSON.parse(JSON.stringify(current.flag));
      const patched = isJsonPatch ? jsonPatch(base, body) : mergePatch(base, body as never);
      const flag = checkFlag(patched, key);
      try {
        const expectedRevision = pinned ?? current.modRevision;
        const out = await viaCluster(ctx, () => cluster.putFlag(flag, { expectedRevision, actor: who.name, idempotency }), {
          precondition: true,
        });
        await waitVisible(out.revision);
        sendStored(res, 200, out.flag);
        return;
      } catch (err) {
        const retry = pinned === undefined && err instanceof HttpProblem && err.status === 412 && attempt < PATCH_ATTEMPTS;
        if (!retry) throw err;
      }
    }
  });

  r.add('delete', '/api/v1/flags/:key', 'write', async (req, res, who) => {
    const key = pathKey(req);
    const pre = writePrecondition(req);
    if (pre.expectedRevision === 0) throw new HttpProblem('bad-request', 'If-None-Match: * makes no sense on DELETE');
    const idempotency = writeIdempotency(req, who, undefined);
    const out = await viaCluster(ctx, () => cluster.deleteFlag(key, { expectedRevision: pre.expectedRevision, actor: who.name, idempotency }), {
      precondition: pre.expectedRevision !== undefined,
    });
    await waitVisible(out.revision);
    res.status(200).json({ key, deleted: true, revision: out.revision });
  });

  r.add('get', '/api/v1/flags/:key/history', 'read', async (req, res) => {
    const key = pathKey(req);
    const limit = intParam(req.query.limit, 'limit', 1, 1000);
    const beforeRevision = intParam(req.query.before, 'before', 1, Number.MAX_SAFE_INTEGER);
    const changes = await viaCluster(ctx, () => cluster.history(key, { limit, beforeRevision, kind: 'flag' }));
    res.json({ key, changes: changes.map(historyEntry) });
  });
}

export type { Request };
