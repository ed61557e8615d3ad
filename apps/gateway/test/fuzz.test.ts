// Property-based fuzzing (fast-check) of request bodies, headers and paths
// against a gateway on a real cluster: whatever comes in, the answer is never
// a 5xx, and every REST error is an RFC 9457 problem document whose status
// matches the HTTP status (OFREP errors keep the OFREP shape).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boolFlag, startStack, TOKENS, type Stack } from './support/harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  expect((await stack.req('PUT', '/api/v1/flags/fz', { role: 'admin', body: boolFlag('fz') })).status).toBe(201);
  expect((await stack.req('PUT', '/api/v1/segments/fz-seg', { role: 'admin', body: { conditions: [] } })).status).toBe(201);
});
afterAll(async () => {
  await stack?.stop();
});

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const METHODS = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const ROUTES = [
  '/api/v1/flags',
  '/api/v1/flags/fz',
  '/api/v1/flags/fz/history',
  '/api/v1/segments',
  '/api/v1/segments/fz-seg',
  '/api/v1/batch',
  '/api/v1/cluster',
  '/api/v1/cluster/members',
  '/api/v1/cluster/leader',
  '/set',
  '/api/v1/flags/set',
  '/get/fz',
  '/api/v1/flags/all',
  '/ofrep/v1/evaluate/flags/fz',
  '/ofrep/v1/evaluate/flags',
];
// Admin token: the request gets past auth to the parsing and validation under test.
// Membership changes are excluded from valid-body generation by the cluster routes' own validation
// (ids must be positive integers; random JSON almost never is, and a hit would only add a dead learner).
const auth = { authorization: `Bearer ${TOKENS.admin}` };

const printable = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~'.split('')), maxLength: 60 });
const jsonish = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
  printable,
  fc.constant(''),
  fc.constant('{"key":'),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ key: 'fz', type: 'boolean', variants: v, defaultVariant: 'on', enabled: true, rules: [] })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ ops: [v] })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ context: v })),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify([{ op: 'replace', path: '/rules/0', value: v }])),
);
const contentTypes = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/merge-patch+json',
  'application/json-patch+json',
  'text/plain',
  'application/json; charset=latin-9',
  'application/x-www-form-urlencoded',
  '',
);

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

async function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const withBody = body !== undefined && method !== 'GET' && method !== 'HEAD';
  const res = await fetch(stack.url + path, { method, headers, body: withBody ? body : undefined, redirect: 'manual' });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text() };
}

function checkAnswer(path: string, method: string, a: Answer): void {
  const where = `${method} ${path} -> ${a.status} ${a.body.slice(0, 200)}`;
  expect(a.status, where).toBeLessThan(500);
  if (a.status < 400 || method === 'HEAD') return;
  // Classify by the path actually sent (fetch resolves "..", "." and the like).
  if (new URL(stack.url + path).pathname.startsWith('/ofrep/')) {
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

describe('fuzzing', () => {
  it('bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...METHODS.filter((m) => m !== 'GET' && m !== 'HEAD')), fc.constantFrom(...ROUTES), contentTypes, jsonish, async (method, path, ct, body) => {
        const headers: Record<string, string> = { ...auth };
        if (ct) headers['content-type'] = ct;
        checkAnswer(path, method, await send(method, path, headers, body));
      }),
      { numRuns: RUNS },
    );
  });

  it('headers', async () => {
    const headerNames = fc.constantFrom('if-match', 'if-none-match', 'authorization', 'x-api-key', 'content-type', 'content-length-ish', 'last-event-id', 'x-request-id', 'accept');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        fc.constantFrom(...ROUTES),
        fc.dictionary(headerNames, printable, { maxKeys: 4 }),
        fc.boolean(),
        async (method, path, extra, keepAuth) => {
          const headers: Record<string, string> = { ...(keepAuth ? auth : {}), 'content-type': 'application/json', ...extra };
          const body = method === 'PUT' && path === '/api/v1/flags/fz' ? JSON.stringify(boolFlag('fz')) : '{}';
          checkAnswer(path, method, await send(method, path, headers, body));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('paths and query strings', async () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 20 }).map(encodeURIComponent),
      printable.map((s) => s.replace(/[#?]/g, '')),
      fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '.', '', 'fz', 'flags', 'api', 'v1', 'ofrep', 'evaluate', 'history', 'members', '%2F'),
    );
    const query = fc.dictionary(fc.constantFrom('prefix', 'limit', 'pageToken', 'consistency', 'before', 'since', 'kind', 'x'), fc.string({ maxLength: 20 }).map(encodeURIComponent), { maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        fc.constantFrom('/api/v1/flags/', '/api/v1/segments/', '/get/', '/ofrep/v1/evaluate/flags/', '/api/v1/cluster/members/', '/', '/api/v1/'),
        fc.array(segment, { maxLength: 3 }),
        query,
        async (method, base, segs, q) => {
          const qs = Object.entries(q).map(([k, v]) => `${k}=${v}`).join('&');
          const path = base + segs.join('/') + (qs ? `?${qs}` : '');
          if (path.startsWith('/api/v1/stream') || path.startsWith('/ofrep/v1/events')) return; // streams stay open
          checkAnswer(path, method, await send(method, path, { ...auth, 'content-type': 'application/json' }, '{}'));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('stream resume positions', async () => {
    await fc.assert(
      fc.asyncProperty(printable, async (since) => {
        const ac = new AbortController();
        const res = await fetch(`${stack.url}/api/v1/stream?since=${encodeURIComponent(since)}`, { headers: auth, signal: ac.signal });
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        ac.abort();
      }),
      { numRuns: Math.min(RUNS, 60) },
    );
  });

  it('the gateway is still healthy and its replica intact afterwards', async () => {
    expect((await stack.req('GET', '/ready')).status).toBe(200);
    const r = await stack.req('GET', '/api/v1/flags', { role: 'reader' });
    expect(r.status).toBe(200);
  });
});
