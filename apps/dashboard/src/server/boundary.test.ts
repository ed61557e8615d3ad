// The error boundary on a real node:http server on a free loopback port: an
// error before the answer started becomes an error page, one after it cuts
// the connection, and the server keeps serving either way.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorPage, guardRequest, refuseOversizedBody, refuseUndecodablePath, requestIdOf, statusOf } from './boundary';
import { MAX_REQUEST_BODY_BYTES } from './input-limits';

type Handler = (req: IncomingMessage, res: ServerResponse, fail: (err: unknown, status?: number) => void) => void;
const handlers = new Map<string, Handler>([
  ['/throw-before', (_req, res, fail) => {
    res.setHeader('Set-Cookie', 'secret=1');
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    fail(new Error('render failed'));
  }],
  ['/throw-after', (_req, res, fail) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.write('<p>half a page');
    setTimeout(() => fail(new Error('render failed later')), 10);
  }],
  ['/missing', (_req, _res, fail) => fail(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }), 404)],
  ['/ok', (_req, res) => res.end('ok')],
  // Qwik City's way: a 4xx ServerError handed on (here before answering, so the status shows).
  ['/qwik-404', (_req, _res, fail) => fail(Object.assign(new Error('Resource Not Found'), { status: 404 }))],
]);

let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    const fail = guardRequest(req, res, requestIdOf(req));
    if (refuseUndecodablePath(req, res) || refuseOversizedBody(req, res)) return;
    const h = handlers.get((req.url ?? '/').split('?')[0]);
    if (h) h(req, res, fail);
    else fail(new Error('no route'), 404);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  /** The connection ended before the answer was complete. */
  cut: boolean;
}

function call(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cut: false }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cut: true }));
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

describe('per-request error boundary', () => {
  it('an error before anything was sent: a 500 error page with the request id, no cookie or cache header left from before', async () => {
    const a = await call('/throw-before', { headers: { 'x-request-id': 'req-42' } });
    expect(a.status).toBe(500);
    expect(a.body).toContain('Request id: <code>req-42</code>');
    expect(a.headers['x-request-id']).toBe('req-42');
    expect(a.headers['set-cookie']).toBeUndefined();
    expect(a.headers['cache-control']).toBe('no-store');
    expect(a.headers['content-security-policy']).toContain("default-src 'none'");
    expect((await call('/ok')).body).toBe('ok');
  });

  it('an error after the answer started: the connection is cut (never a complete wrong page); the server keeps serving', async () => {
    const a = await call('/throw-after');
    expect(a.status).toBe(200);
    expect(a.cut).toBe(true);
    expect((await call('/ok')).body).toBe('ok');
  });

  it('a chosen status (404) is kept', async () => {
    const a = await call('/missing');
    expect(a.status).toBe(404);
    expect(a.body).toContain('Not found');
  });

  it("a 4xx error object (Qwik City's ServerError) keeps its status; anything else is a 500", async () => {
    expect((await call('/qwik-404')).status).toBe(404);
    expect(statusOf({ status: 403 })).toBe(403);
    for (const e of [new Error('x'), { status: 503 }, { status: '404' }, { status: 404.5 }, null, undefined, 'boom']) expect(statusOf(e)).toBe(500);
  });

  it('request ids: a sane one from the proxy is kept, anything else is replaced', async () => {
    expect((await call('/ok', { headers: { 'x-request-id': 'abc.DEF:1-2_3' } })).headers['x-request-id']).toBe('abc.DEF:1-2_3');
    for (const bad of ['<script>', 'a b', 'x'.repeat(101), '']) {
      const id = (await call('/ok', { headers: { 'x-request-id': bad } })).headers['x-request-id'];
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('the error page escapes what it prints', () => {
    expect(errorPage(500, '<img src=x onerror=alert(1)>')).not.toContain('<img');
  });
});

describe('requests refused before any handler', () => {
  it('a path that does not percent-decode is a 400 problem', async () => {
    for (const path of ['/flags/%zz', '/%E0%A4%A', '/%', '/a%2']) {
      const a = await call(path);
      expect(a.status, path).toBe(400);
      expect(a.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(a.body).detail).toContain('percent-encoding');
    }
    // A bad escape in the query is the page's business, not a bad path.
    expect((await call('/ok?q=%zz')).status).toBe(200);
    expect((await call('/ok%20')).status).toBe(404);
  });

  it('bodies: over MAX_REQUEST_BODY_BYTES is 413, no Content-Length (chunked) 411', async () => {
    // Only the header is sent: the server answers from it, before a byte of body.
    const big = await call('/ok', { method: 'POST', headers: { 'content-length': String(MAX_REQUEST_BODY_BYTES + 1) } });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).detail).toContain('MAX_REQUEST_BODY_BYTES');
    const chunked = await call('/ok', { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: 'abc' });
    expect(chunked.status).toBe(411);
    expect(JSON.parse(chunked.body).detail).toContain('Content-Length');
    expect((await call('/ok', { method: 'POST', headers: { 'content-length': '3' }, body: 'abc' })).status).toBe(200);
    expect((await call('/ok', { method: 'GET' })).status).toBe(200);
  });
});
