// The client against a real HTTP server on loopback that answers as scripted
// and records what it received: Idempotency-Keys, problem documents,
// retries, limits. (The client against the real gateway is the gateway's
// contract test.)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLAG_KIND, SEGMENT_KIND, type FlagDefinition } from '@flagraft/flag-model';
import { ApiProblem, buildOpenApiDocument, createClient, FlagraftClient, PROXY_502_ATTEMPTS, ROUTES, type OperationId } from './index.js';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: string }
type Answer = (req: Seen) => { status: number; type?: string; body?: string; headers?: Record<string, string> };

let server: Server;
let base: string;
const seen: Seen[] = [];
let script: Answer[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
      seen.push(s);
      const a = (script.shift() ?? ((): ReturnType<Answer> => ({ status: 500, body: 'no answer scripted' })))(s);
      res.writeHead(a.status, { ...(a.type ? { 'content-type': a.type } : {}), ...a.headers });
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => () =>
  ({ status, type: 'application/json', body: JSON.stringify(body), headers });
const problem = (status: number, kind: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Answer => () =>
  ({ status, type: 'application/problem+json', body: JSON.stringify({ type: `urn:flagraft:problem:${kind}`, title: kind, status, detail: `a ${kind}`, ...extra }), headers });
const stored = (key: string, modRevision: number) => ({ flag: { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules: [] } as FlagDefinition, createRevision: 1, modRevision, version: 1, updatedAt: 0, updatedBy: 'x' });

function fresh(n: Answer[]) {
  seen.length = 0;
  script = n;
}

describe('contract', () => {
  it('has one client method per operationId, and the document has each operationId once', () => {
    const client = createClient({ baseUrl: 'http://127.0.0.1:1' }) as unknown as Record<string, unknown>;
    const ids = Object.keys(ROUTES) as OperationId[];
    expect(ids.length).toBe(60);
    expect(ids.filter((id) => typeof client[id] !== 'function')).toEqual([]);
    const doc = buildOpenApiDocument();
    const documented = Object.values(doc.paths).flatMap((item) => Object.values(item).flatMap((op) => (op && typeof op === 'object' && 'operationId' in op ? [op.operationId] : [])));
    expect(documented.sort()).toEqual([...ids].sort());
  });

  it('the item kinds name their routes: a kind\'s path is its collection, its idField the path parameter', () => {
    expect(ROUTES.getFlag.path).toBe(`${FLAG_KIND.path}/{${FLAG_KIND.idField}}`);
    expect(ROUTES.getSegment.path).toBe(`${SEGMENT_KIND.path}/{${SEGMENT_KIND.idField}}`);
  });
});

describe('the client', () => {
  it('sends a fresh Idempotency-Key per write, none on reads, and the same key on its own retries', async () => {
    const client = createClient({ baseUrl: base, token: 't0k', retries: 2, retryDelayMs: 1 });
    fresh([
      problem(503, 'unavailable', {}, { 'retry-after': '0' }),
      () => ({ status: 503, body: '' }),
      json(201, stored('a', 5)),
      json(200, stored('a', 6)),
      json(200, stored('a', 6)),
    ]);
    const first = await client.putFlag(stored('a', 0).flag, { ifNoneMatch: '*' });
    expect(first.modRevision).toBe(5);
    const second = await client.putFlag(stored('a', 0).flag, { ifMatch: 5 });
    expect(second.modRevision).toBe(6);
    await client.getFlag('a');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['PUT /api/v1/flags/a', 'PUT /api/v1/flags/a', 'PUT /api/v1/flags/a', 'PUT /api/v1/flags/a', 'GET /api/v1/flags/a']);
    const keys = seen.map((s) => s.headers['idempotency-key']);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).toBe(keys[0]);
    expect(keys[3]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[3]).not.toBe(keys[0]);
    expect(keys[4]).toBeUndefined();
    expect(seen[0].headers.authorization).toBe('Bearer t0k');
    expect(seen[0].headers['if-none-match']).toBe('*');
    expect(seen[3].headers['if-match']).toBe('"5"');
    expect(JSON.parse(seen[0].body)).toMatchObject({ key: 'a' });
  });

  it('throws the problem document as an ApiProblem: status, kind, issues, extensions, headers', async () => {
    const client = createClient({ baseUrl: base });
    fresh([problem(422, 'validation', { issues: [{ path: 'variants', pointer: '/variants', message: 'must be an object' }] }), problem(409, 'conflict', { usedBy: ['f1'] }, { 'retry-after': '3' })]);
    const e = await client.putSegment({ name: 's', conditions: [] }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ApiProblem);
    const p = e as ApiProblem;
    expect(p).toMatchObject({ status: 422, kind: 'validation', operationId: 'putSegment', method: 'PUT', path: '/api/v1/segments/s', message: 'a validation' });
    expect(p.problem.issues).toEqual([{ path: 'variants', pointer: '/variants', message: 'must be an object' }]);
    const q = (await client.deleteSegment('s').catch((err: unknown) => err)) as ApiProblem;
    expect(q.problem.usedBy).toEqual(['f1']);
    expect(q.retryAfterSeconds).toBe(3);
  });

  it('makes an ApiProblem of an answer that is not a problem document, keeping its text', async () => {
    const client = createClient({ baseUrl: base });
    fresh([() => ({ status: 413, type: 'text/html', body: '<h1>too big</h1>' })]);
    const p = (await client.getClusterStatus().catch((err: unknown) => err)) as ApiProblem;
    expect(p).toBeInstanceOf(ApiProblem);
    expect(p.problem).toMatchObject({ type: 'about:blank', status: 413, detail: '<h1>too big</h1>' });
    expect(p.kind).toBeUndefined();
    expect(p.body).toBe('<h1>too big</h1>');
  });

  it('refuses a success answer that is not the JSON its route documents', async () => {
    const client = createClient({ baseUrl: base });
    fresh([() => ({ status: 200, type: 'text/plain', body: 'hello' })]);
    await expect(client.listFlags()).rejects.toMatchObject({ status: 502, message: 'listFlags: expected JSON, got text/plain' });
  });

  it('gives up after its retries with the last answer, and reports an unreachable gateway as a 503 ApiProblem', async () => {
    const client = createClient({ baseUrl: base, retries: 1, retryDelayMs: 1 });
    fresh([problem(503, 'timeout'), problem(503, 'timeout')]);
    await expect(client.applyBatch([{ op: 'deleteFlag', key: 'x' }])).rejects.toMatchObject({ status: 503, kind: 'timeout' });
    expect(seen.length).toBe(2);
    expect(seen[1].headers['idempotency-key']).toBe(seen[0].headers['idempotency-key']);
    const dead = createClient({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 2000 });
    await expect(dead.getHealth()).rejects.toMatchObject({ status: 503, problem: { title: 'Gateway unreachable' } });
  });

  it('stops reading an answer over maxResponseBytes', async () => {
    const client = createClient({ baseUrl: base, maxResponseBytes: 1000 });
    fresh([() => ({ status: 200, type: 'application/json', body: JSON.stringify({ flags: [], revision: 1, pad: 'x'.repeat(5000) }) })]);
    await expect(client.listFlags()).rejects.toMatchObject({ status: 502, problem: { title: 'Gateway answer too large', detail: 'over 1000 bytes' } });
  });

  it('walks pages by kind, encodes path parameters and sends query parameters', async () => {
    const client = createClient({ baseUrl: `${base}/prefix/` });
    fresh([
      json(200, { segments: [{ segment: { name: 'a' } }], nextPageToken: 'YQ', revision: 3 }),
      json(200, { segments: [{ segment: { name: 'b' } }], revision: 4 }),
      json(200, { key: 'a/b c', changes: [] }),
    ]);
    const all = await client.listAllItems(SEGMENT_KIND, { pageSize: 1 });
    expect(all.items.map((s) => s.segment.name)).toEqual(['a', 'b']);
    expect(all.revisions).toEqual([3, 4]);
    await client.getFlagHistory('a/b c', { limit: 5 });
    expect(seen.map((s) => s.url)).toEqual(['/prefix/api/v1/segments?limit=1', '/prefix/api/v1/segments?limit=1&pageToken=YQ', '/prefix/api/v1/flags/a%2Fb%20c/history?limit=5']);
    // The environment goes to every page of a walk.
    fresh([json(200, { flags: [stored('a', 1)], nextPageToken: 'YQ', revision: 3 }), json(200, { flags: [], revision: 3 })]);
    await client.listAllItems(FLAG_KIND, { pageSize: 1, environment: 'staging' });
    expect(seen.map((s) => s.url)).toEqual(['/prefix/api/v1/flags?limit=1&environment=staging', '/prefix/api/v1/flags?limit=1&pageToken=YQ&environment=staging']);
  });

  it('repeats a safe request, with the same key, while Caddy answers its own 502; never an unkeyed write or a gateway\'s 502', async () => {
    const proxy502 = problem(502, 'x', { type: 'about:blank', detail: 'proxy: 502 Bad Gateway' });
    const client = createClient({ baseUrl: base });
    fresh([proxy502, proxy502, json(200, stored('a', 7))]);
    expect((await client.patchFlag('a', { enabled: true })).modRevision).toBe(7);
    expect(seen.length).toBe(3);
    expect(new Set(seen.map((s) => s.headers['idempotency-key'])).size).toBe(1);
    expect(seen[0].headers['content-type']).toBe('application/merge-patch+json');
    fresh([proxy502, proxy502, proxy502, json(200, {})]);
    await expect(client.getClusterStatus()).rejects.toMatchObject({ status: 502 });
    expect(seen.length).toBe(PROXY_502_ATTEMPTS);
    fresh([proxy502]);
    await expect(client.transferLeadership(2)).rejects.toMatchObject({ status: 502 });
    expect(seen.length).toBe(1);
    expect(seen[0].headers['idempotency-key']).toBeUndefined(); // membership routes refuse a key
    fresh([problem(502, 'internal', { detail: 'upstream said no' })]);
    await expect(client.deleteFlag('a')).rejects.toMatchObject({ status: 502 });
    expect(seen.length).toBe(1);
    fresh([proxy502, json(200, { revision: 3, changes: [] })]);
    const raw = await client.raw('POST', '/api/v1/batch', { body: { ops: [] } });
    expect(raw).toMatchObject({ status: 200, attempts: 2 });
    expect(seen[1].headers['idempotency-key']).toBe(seen[0].headers['idempotency-key']);
    expect(seen[0].headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    fresh([json(200, {})]);
    await client.raw('POST', '/api/v1/admin/restore', { body: {}, headers: {} });
    expect(seen[0].headers['idempotency-key']).toBeUndefined();
  });

  it('checks its options', () => {
    expect(() => new FlagraftClient({ baseUrl: 'ftp://x' })).toThrow('baseUrl: must be an http(s) URL');
    expect(() => new FlagraftClient({ baseUrl: 'http://x', retries: 11 })).toThrow('retries: must be a whole number from 0 to 10');
  });
});
