// /api/v1/flags: list, read, create/replace (PUT), edit (PATCH), delete, history.
// ETags are revisions: GET answers ETag "<modRevision>", writes take If-Match
// "<revision>" (compare-and-set) or If-None-Match * (create only).
import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import type { Principal } from '@flagraft/auth';
import { FLAG_KIND, ValidationError, type StoredFlag } from '@flagraft/flag-model';
import { writeIdempotency } from '../idempotency.js';
import { HttpProblem } from '../problem.js';
import { jsonPatch, mergePatch } from '../patch.js';
import { jsonBody, parseEtag, pathKey, ifNoneMatchRefuses, viaCluster, type RouteContext, type Routes } from './context.js';
import { checkItem, itemPutter, registerItemRoutes, sendStored, writeScope, type ItemPage, type PutOutcome } from './items.js';
import { environmentParam, scopedEnvironment } from '../env-scope.js';

/** Flags in a stale (replica) page without ?limit=, as the cluster's default page. */
export const STALE_DEFAULT_PAGE_LIMIT = 100;

/** Attempts of a PATCH without If-Match when another writer got in between. */
export const PATCH_ATTEMPTS = 5;

export function validationProblem(err: ValidationError, prefix = ''): HttpProblem {
  const issues = err.issues.map((i) => ({ path: prefix + (prefix && i.path ? '.' : '') + i.path, message: i.message }));
  return new HttpProblem('validation', err.message, { issues });
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
export type FlagPutOutcome = PutOutcome<StoredFlag>;

/**
 * PUT /api/v1/flags/:key once the caller is authenticated and its body read
 * (items.ts: validate once, write with the precondition, answer once this
 * gateway's replica has it). Shared by the Express route and the node:http
 * fast path (flag-put.ts).
 */
export function flagPutter(ctx: RouteContext): (req: IncomingMessage, key: string, body: unknown, who: Principal, environment?: string) => Promise<FlagPutOutcome> {
  return itemPutter(ctx, FLAG_KIND);
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
  const replicaPage = (o: { prefix?: string; limit: number; pageToken?: string }): ItemPage<StoredFlag> => {
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
    return { items: flags, nextPageToken, revision: replica.revision };
  };

  // List, read (with 304), PUT, DELETE and history are the item routes; a
  // stale page is served from this gateway's replica (memory, no cluster
  // round trip), its revision the replica's, the same revision its change
  // stream has delivered up to. Before the replica has loaded, the cluster answers.
  registerItemRoutes(r, ctx, FLAG_KIND, {
    notModified: true,
    // Other environments' stale pages are the cluster's (stale reads there are served by any node).
    listPage: (q) => (q.consistency === 'stale' && replica.loaded && q.environment === undefined ? replicaPage({ prefix: q.prefix, limit: q.limit ?? STALE_DEFAULT_PAGE_LIMIT, pageToken: q.pageToken }) : undefined),
  });

  r.add('patch', '/api/v1/flags/:key', 'write', async (req, res, who) => {
    const environment = environmentParam(req);
    scopedEnvironment(replica, who, environment);
    const env = environment ? { environment } : {};
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
      const current = await viaCluster(ctx, () => cluster.getFlag(key, environment ? env : undefined));
      if (!current) throw new HttpProblem('not-found', `flag ${key} does not exist${environment ? ` in environment ${environment}` : ''}`, { key });
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
      const flag = checkItem(FLAG_KIND, patched, key);
      try {
        const expectedRevision = pinned ?? current.modRevision;
        const out = await viaCluster(ctx, () => cluster.putFlag(flag, { expectedRevision, actor: who.name, idempotency, ...writeScope(ctx, who, environment) }), {
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
  }, { scope: 'own' });
}

export type { Request };
