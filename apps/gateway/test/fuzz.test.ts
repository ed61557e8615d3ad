// Property-based fuzzing (fast-check, seeded, time-bounded) of request bodies,
// headers, credentials, paths and writes against TWO gateways on one real
// 3-node cluster. Every request goes to one of them, picked by the generator.
// Properties:
//   - whatever comes in, the answer is never a 5xx; every REST error is an
//     RFC 9457 problem document whose status matches the HTTP status (OFREP
//     errors keep the OFREP shape);
//   - no answer, body or header, contains a token (valid, wrong or malformed
//     credentials alike);
//   - every accepted write (2xx) is readable, the same through both gateways:
//     each key's history holds exactly the accepted writes with their revision
//     and content, and its current value (linearizable and stale reads) is the
//     last accepted write, identical on both;
//   - both gateways are healthy afterwards.
//
//   FLAGRAFT_FUZZ_SEED=<n>  replay a run (the seed is printed when one fails)
//   FLAGRAFT_FUZZ_MS=<ms>   time budget per property (default PROPERTY_DEFAULT_MS)
//   FUZZ_RUNS=<n>           runs per property (default 150; writes get twice as many)
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '@flagraft/auth';
import type { Gateway } from '../src/index.js';
import {
  admin, contentTypes, credentialHeaders, credentials, enc, gateway, isMembershipChange, jsonish, mangling, METHODS, preconditions, printable,
  ROUTES, SECRETS, write, writeCredentials,
} from './support/fuzz-inputs.js';
import { boolFlag, eventually, NAMES, startMemoryStack, TOKENS, type MemoryStack } from './support/harness.js';

/** Time budget of one property, ms: no run starts after it (shrinking a failure may add to it). */
const PROPERTY_DEFAULT_MS = 20_000;
const SEED = Number(process.env.FLAGRAFT_FUZZ_SEED ?? Date.now() % 2_147_483_647);
const PROPERTY_MS = Number(process.env.FLAGRAFT_FUZZ_MS ?? PROPERTY_DEFAULT_MS);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

let stack: MemoryStack;
let gateways: Gateway[];
beforeAll(async () => {
  stack = await startMemoryStack();
  gateways = [stack.gateway, await stack.newGateway()];
  const asAdmin = { ...admin, 'content-type': 'application/json' };
  expect((await send(0, 'PUT', '/api/v1/flags/fz', asAdmin, JSON.stringify(boolFlag('fz')))).status).toBe(201);
  expect((await send(1, 'PUT', '/api/v1/segments/fz-seg', asAdmin, JSON.stringify({ conditions: [] }))).status).toBe(201);
});
afterAll(async () => {
  await stack?.stop();
});

// ---------------------------------------------------------------- sending and recording

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** One change an accepted write made, as its answer reports it. */
interface AcceptedChange {
  kind: 'flag' | 'segment';
  key: string;
  op: 'put' | 'delete';
  revision: number;
  /** The stored flag or segment after the write, when the answer carries it. */
  after?: unknown;
  /** The token name that wrote it (the audit actor). */
  actor: string;
  where: string;
}
const accepted: AcceptedChange[] = [];
/** The newest revision an answer reported (If-Match: "LAST" in generated writes uses it). */
let lastRevision = 1;

const WRITE_METHODS = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);
const WRITE_PATH = /^\/(api\/v1\/flags(\/|$)|api\/v1\/segments(\/|$)|api\/v1\/batch$|set$)/;

async function send(gw: number, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Answer> {
  const url = gateways[gw]!.url() + path;
  const withBody = body !== undefined && method !== 'GET' && method !== 'HEAD';
  const res = await fetch(url, { method, headers, body: withBody ? body : undefined, redirect: 'manual' });
  const a = { status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text() };
  const where = `gateway ${gw}: ${method} ${path} -> ${a.status}`;
  for (const secret of SECRETS) {
    expect(a.body.includes(secret), `${where}: the body quotes a token`).toBe(false);
    for (const [name, value] of res.headers) expect(`${name}: ${value}`.includes(secret), `${where}: header ${name} quotes a token`).toBe(false);
  }
  const pathname = new URL(url).pathname;
  if (WRITE_METHODS.has(method) && a.status >= 200 && a.status < 300 && WRITE_PATH.test(pathname)) {
    recordWrite(JSON.parse(a.body), actorOf(headers), where);
  }
  return a;
}

/** The token name a request's credentials belong to (only requests that were let in write). */
function actorOf(headers: Record<string, string>): string {
  const credential = `${headers.authorization ?? ''} ${headers['x-api-key'] ?? ''}`;
  const role = (Object.keys(TOKENS) as Role[]).find((r) => credential.includes(TOKENS[r]));
  return role ? NAMES[role] : '?';
}

/** Notes what an accepted write changed, from its answer (every write answer names its revision). */
function recordWrite(body: any, actor: string, where: string): void {
  const add = (c: Omit<AcceptedChange, 'actor' | 'where'>) => {
    expect(Number.isSafeInteger(c.revision) && c.revision > 0, `${where}: revision ${c.revision}`).toBe(true);
    accepted.push({ ...c, actor, where });
    lastRevision = Math.max(lastRevision, c.revision);
  };
  if (Array.isArray(body?.changes) && typeof body.revision === 'number') {
    // A batch: every change it made.
    for (const c of body.changes) add({ kind: c.kind, key: c.key, op: c.op, revision: c.revision, after: c.after ?? undefined });
  } else if (body?.flag && typeof body.modRevision === 'number') {
    add({ kind: 'flag', key: body.flag.key, op: 'put', revision: body.modRevision, after: body });
  } else if (body?.segment && typeof body.modRevision === 'number') {
    add({ kind: 'segment', key: body.segment.name, op: 'put', revision: body.modRevision, after: body });
  } else if (body?.deleted === true && typeof body.revision === 'number') {
    add(typeof body.name === 'string' ? { kind: 'segment', key: body.name, op: 'delete', revision: body.revision } : { kind: 'flag', key: body.key, op: 'delete', revision: body.revision });
  } else if (typeof body?.key === 'string' && 'value' in body && typeof body.revision === 'number') {
    add({ kind: 'flag', key: body.key, op: 'put', revision: body.revision }); // the original /set: no stored flag in the answer
  } else {
    expect.fail(`${where}: an accepted write whose answer names no revision: ${JSON.stringify(body).slice(0, 300)}`);
  }
}

function checkAnswer(gw: number, path: string, method: string, a: Answer): void {
  const where = `gateway ${gw}: ${method} ${path} -> ${a.status} ${a.body.slice(0, 200)}`;
  expect(a.status, where).toBeLessThan(500);
  if (a.status < 400 || method === 'HEAD') return;
  // Classify by the path actually sent (fetch resolves "..", "." and the like).
  if (new URL(gateways[gw]!.url() + path).pathname.startsWith('/ofrep/')) {
    expect(a.contentType, where).toMatch(/^application\/json/);
    expect(typeof JSON.parse(a.body).errorCode, where).toBe('string');
    return;
  }
  expect(a.contentType, where).toMatch(/^application\/problem\+json/);
  const doc = JSON.parse(a.body);
  expect(doc.status, where).toBe(a.status);
  expect(doc.type, where).toMatch(/^urn:flagraft:problem:/);
  expect(typeof doc.title, where).toBe('string');
}

/**
 * Runs `check` on generated values until RUNS runs or the time budget is
 * spent; a failure names the seed that replays it.
 */
async function fuzz<T>(arb: fc.Arbitrary<T>, check: (v: T) => Promise<void>, runs = RUNS): Promise<number> {
  const deadline = Date.now() + PROPERTY_MS;
  let done = 0;
  try {
    await fc.assert(
      fc.asyncProperty(arb, async (v) => {
        if (Date.now() > deadline) return;
        done++;
        await check(v);
      }),
      { seed: SEED, numRuns: runs },
    );
  } catch (err) {
    throw new Error(`gateway fuzz failed: replay with FLAGRAFT_FUZZ_SEED=${SEED}\n${(err as Error).message}`);
  }
  expect(done).toBeGreaterThan(Math.min(10, runs));
  return done;
}

// ---------------------------------------------------------------- properties

describe(`fuzzing two gateways on one cluster (seed ${SEED})`, () => {
  it('bodies', async () => {
    const arb = fc.record({ gw: gateway, method: fc.constantFrom('PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS'), path: fc.constantFrom(...ROUTES), ct: contentTypes, body: jsonish });
    await fuzz(arb, async ({ gw, method, path, ct, body }) => {
      const headers: Record<string, string> = { ...admin };
      if (ct) headers['content-type'] = ct;
      checkAnswer(gw, path, method, await send(gw, method, path, headers, body));
    });
  });

  it('headers and credentials: every role, no token, wrong and malformed ones', async () => {
    const headerNames = fc.constantFrom('if-match', 'if-none-match', 'authorization', 'x-api-key', 'content-type', 'content-encoding', 'last-event-id', 'x-request-id', 'accept');
    const arb = fc.record({ gw: gateway, method: fc.constantFrom(...METHODS), path: fc.constantFrom(...ROUTES), extra: fc.dictionary(headerNames, printable, { maxKeys: 4 }), cred: credentials });
    await fuzz(arb, async ({ gw, method, path, extra, cred }) => {
      const headers: Record<string, string> = { ...credentialHeaders(cred), 'content-type': 'application/json', ...extra };
      const body = method === 'PUT' && path === '/api/v1/flags/fz' ? JSON.stringify(boolFlag('fz')) : '{}';
      checkAnswer(gw, path, method, await send(gw, method, path, headers, body));
    });
  });

  it('paths and query strings', async () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 20 }).map(encodeURIComponent),
      printable.map((s) => s.replace(/[#?]/g, '')),
      fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '.', '', 'fz', 'flags', 'api', 'v1', 'ofrep', 'evaluate', 'history', 'members', '%2F', '__proto__', 'constructor', '%00', '%0d%0a'),
    );
    const query = fc.dictionary(fc.constantFrom('prefix', 'limit', 'pageToken', 'consistency', 'before', 'since', 'kind', 'x', '__proto__'), fc.string({ maxLength: 20 }).map(encodeURIComponent), { maxKeys: 3 });
    const arb = fc.record({
      gw: gateway,
      method: fc.constantFrom(...METHODS),
      base: fc.constantFrom('/api/v1/flags/', '/api/v1/segments/', '/get/', '/ofrep/v1/evaluate/flags/', '/api/v1/cluster/members/', '/', '/api/v1/'),
      segs: fc.array(segment, { maxLength: 3 }),
      q: query,
      cred: credentials,
    });
    await fuzz(arb, async ({ gw, method, base, segs, q, cred }) => {
      const qs = Object.entries(q).map(([k, v]) => `${k}=${v}`).join('&');
      const path = base + segs.join('/') + (qs ? `?${qs}` : '');
      const pathname = new URL(gateways[gw]!.url() + path).pathname;
      if (pathname.startsWith('/api/v1/stream') || pathname.startsWith('/ofrep/v1/events')) return; // streams stay open
      if (isMembershipChange(method, pathname)) return;
      checkAnswer(gw, path, method, await send(gw, method, path, { ...credentialHeaders(cred), 'content-type': 'application/json' }, '{}'));
    });
  });

  it('writes with hostile keys, bodies and preconditions, from every role', async () => {
    const arb = fc.record({ gw: gateway, w: write, cred: writeCredentials, how: mangling, pre: preconditions, cut: fc.nat() });
    await fuzz(arb, async ({ gw, w, cred, how, pre, cut }) => {
      const headers: Record<string, string> = { ...credentialHeaders(cred) };
      if (w.contentType) headers['content-type'] = how === 'text/plain' ? 'text/plain' : w.contentType;
      const etag = (v: string) => (v === 'LAST' ? `"${lastRevision}"` : v);
      if (pre.ifMatch !== undefined && w.method !== 'POST') headers['if-match'] = etag(pre.ifMatch);
      if (pre.ifNoneMatch !== undefined && w.method !== 'POST') headers['if-none-match'] = etag(pre.ifNoneMatch);
      let body: string | Buffer | undefined = w.body === undefined ? undefined : JSON.stringify(w.body);
      if (body !== undefined && how === 'gzip') {
        body = gzipSync(body);
        headers['content-encoding'] = 'gzip';
      } else if (body !== undefined && how === 'truncate') {
        body = body.slice(0, cut % Math.max(1, body.length));
      }
      checkAnswer(gw, w.path, w.method, await send(gw, w.method, w.path, headers, body));
    }, RUNS * 2);
    // The generators are meant to get writes through, not only refusals.
    expect(accepted.length).toBeGreaterThan(20);
  });

  it('credentials in stream URLs are refused without being quoted', async () => {
    const arb = fc.record({ gw: gateway, base: fc.constantFrom('/api/v1/stream', '/ofrep/v1/events'), name: fc.constantFrom('ticket', 'token', 'access_token'), secret: fc.constantFrom(...SECRETS) });
    await fuzz(arb, async ({ gw, base, name, secret }) => {
      const path = `${base}?${name}=${encodeURIComponent(secret)}`;
      const ac = new AbortController();
      const res = await fetch(gateways[gw]!.url() + path, { signal: ac.signal });
      const where = `gateway ${gw}: GET ${base}?${name}=<token> -> ${res.status}`;
      if (res.status !== 401) ac.abort(); // an open stream would never end
      // A token is never a ticket, and a query parameter is never a credential: refused before any stream opens.
      expect(res.status, where).toBe(401);
      const text = await res.text();
      for (const s of SECRETS) expect(text.includes(s), `${where}: quotes a token`).toBe(false);
      for (const [h, v] of res.headers) for (const s of SECRETS) expect(v.includes(s), `${where}: header ${h} quotes a token`).toBe(false);
      ac.abort();
    }, 30);
  });

  it('stream resume positions', async () => {
    await fuzz(fc.record({ gw: gateway, since: printable }), async ({ gw, since }) => {
      const ac = new AbortController();
      const res = await fetch(`${gateways[gw]!.url()}/api/v1/stream?since=${encodeURIComponent(since)}`, { headers: admin, signal: ac.signal });
      expect(res.status).toBeLessThan(500);
      if (res.status >= 400) expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      ac.abort();
    }, Math.min(RUNS, 60));
  });

  it('every accepted write is readable, the same through both gateways', async () => {
    try {
      await checkAcceptedWrites();
    } catch (err) {
      throw new Error(`gateway fuzz failed: replay with FLAGRAFT_FUZZ_SEED=${SEED}\n${(err as Error).message}`);
    }
  }, 120_000);

  it('both gateways are still healthy and their replicas intact afterwards', async () => {
    for (const gw of [0, 1]) {
      expect((await send(gw, 'GET', '/ready', {})).status).toBe(200);
      expect((await send(gw, 'GET', '/api/v1/flags', { authorization: `Bearer ${TOKENS.reader}` })).status).toBe(200);
    }
  });
});

// ---------------------------------------------------------------- the read-back

const collection = (kind: AcceptedChange['kind']) => (kind === 'flag' ? 'flags' : 'segments');

/** A key's whole history through one gateway, oldest first (pages of 1,000). */
async function historyOf(gw: number, kind: AcceptedChange['kind'], key: string): Promise<any[]> {
  const out: any[] = [];
  let before = '';
  for (;;) {
    const a = await send(gw, 'GET', `/api/v1/${collection(kind)}/${enc(key)}/history?limit=1000${before}`, { authorization: `Bearer ${TOKENS.reader}` });
    expect(a.status, `history of ${kind} ${JSON.stringify(key)} on gateway ${gw}: ${a.body.slice(0, 200)}`).toBe(200);
    const page = JSON.parse(a.body).changes as any[];
    out.push(...page);
    if (page.length < 1000) return out.reverse();
    before = `&before=${page[page.length - 1].revision}`;
  }
}

async function checkAcceptedWrites(): Promise<void> {
  expect(accepted.length).toBeGreaterThan(0);
  const newest = Math.max(...accepted.map((c) => c.revision));
  // Stale reads come from each gateway's replica: wait until both have applied every accepted write.
  await eventually(() => gateways.every((g) => g.replica.revision >= newest), 10_000, `both replicas at revision ${newest}`);
  const byKey = new Map<string, AcceptedChange[]>();
  for (const c of accepted) {
    const id = `${c.kind}\u0000${c.key}`;
    const list = byKey.get(id) ?? [];
    list.push(c);
    byKey.set(id, list);
  }
  const reader = { authorization: `Bearer ${TOKENS.reader}` };
  for (const changes of byKey.values()) {
    const { kind, key } = changes[0]!;
    const what = `${kind} ${JSON.stringify(key)}`;
    // History: the same through both gateways, and exactly the accepted writes.
    const [h0, h1] = [await historyOf(0, kind, key), await historyOf(1, kind, key)];
    expect(h1, `${what}: history differs between the gateways`).toEqual(h0);
    const revisions = [...new Set(changes.map((c) => c.revision))].sort((a, b) => a - b);
    expect(h0.map((h) => h.revision), `${what}: history revisions vs accepted writes`).toEqual(revisions);
    for (const c of changes) {
      const h = h0.find((e) => e.revision === c.revision)!;
      expect(h.op, `${what} @${c.revision} (${c.where})`).toBe(c.op);
      expect(h.actor, `${what} @${c.revision} (${c.where})`).toBe(c.actor === '?' ? h.actor : c.actor);
      if (c.after !== undefined) expect(h.after, `${what} @${c.revision} (${c.where})`).toEqual(c.after);
    }
    // Current value: the last accepted write, identical through both gateways, linearizable and stale.
    const last = changes.reduce((a, b) => (b.revision > a.revision ? b : a));
    const reads: Answer[] = [];
    for (const gw of [0, 1]) {
      for (const q of ['', '?consistency=stale']) reads.push(await send(gw, 'GET', `/api/v1/${collection(kind)}/${enc(key)}${q}`, reader));
    }
    for (const r of reads) {
      if (last.op === 'delete') {
        expect(r.status, `${what}: deleted at ${last.revision}`).toBe(404);
        continue;
      }
      expect(r.status, `${what}: written at ${last.revision}: ${r.body.slice(0, 200)}`).toBe(200);
      const stored = JSON.parse(r.body);
      expect(stored.modRevision, what).toBe(last.revision);
      expect(stored, what).toEqual(JSON.parse(reads[0]!.body));
      if (last.after !== undefined) expect(stored, what).toEqual(last.after);
    }
  }
  // The whole flag list, page by page from the cluster, is the same through both gateways.
  const lists = [];
  for (const gw of [0, 1]) lists.push(JSON.parse((await send(gw, 'GET', '/api/v1/flags?limit=1000', reader)).body).flags);
  expect(lists[1]).toEqual(lists[0]);
  console.log(`gateway fuzz: ${accepted.length} accepted changes over ${byKey.size} keys read back through both gateways, seed ${SEED}`);
}
