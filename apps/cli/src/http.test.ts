// The CLI's HTTP client against a local server that answers like Caddy does
// when a gateway's connection broke (its own 502 problem document).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiClient, PROXY_502_ATTEMPTS } from './http.js';

const PROXY_502 = JSON.stringify({ type: 'about:blank', title: 'Bad Gateway', status: 502, detail: 'proxy: 502 Bad Gateway' });
let server: Server | undefined;

/** Serves `answers` in turn (the last one repeats) and records each request's headers. */
async function serve(answers: { status: number; body: string }[]): Promise<{ url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(req.headers);
      const a = answers[Math.min(seen.length - 1, answers.length - 1)];
      res.writeHead(a.status, { 'content-type': 'application/problem+json' }).end(a.body);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('Idempotency-Key and proxy 502s', () => {
  it('sends a keyed write again, with the same key, after Caddy\'s own 502', async () => {
    const { url, seen } = await serve([{ status: 502, body: PROXY_502 }, { status: 200, body: '{"ok":true}' }]);
    const res = await createApiClient({ baseUrl: url }).request('PATCH', '/api/v1/flags/f', { body: { enabled: true }, idempotent: true });
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(2);
    expect(seen[0]['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]['idempotency-key']).toBe(seen[0]['idempotency-key']);
  });

  it('gives each logical write its own key', async () => {
    const { url, seen } = await serve([{ status: 200, body: '{}' }]);
    const api = createApiClient({ baseUrl: url });
    await api.request('DELETE', '/api/v1/flags/a', { idempotent: true });
    await api.request('DELETE', '/api/v1/flags/b', { idempotent: true });
    expect(seen[0]['idempotency-key']).not.toBe(seen[1]['idempotency-key']);
  });

  it('stops after PROXY_502_ATTEMPTS, and never repeats an unkeyed write or a gateway\'s own 502', async () => {
    const keyed = await serve([{ status: 502, body: PROXY_502 }]);
    await expect(createApiClient({ baseUrl: keyed.url }).request('PUT', '/api/v1/flags/f', { body: {}, idempotent: true })).rejects.toThrow(/502/);
    expect(keyed.seen).toHaveLength(PROXY_502_ATTEMPTS);
    await new Promise((resolve) => server?.close(resolve));

    const unkeyed = await serve([{ status: 502, body: PROXY_502 }]);
    await expect(createApiClient({ baseUrl: unkeyed.url }).request('POST', '/api/v1/cluster/leader', { body: { id: 2 } })).rejects.toThrow(/502/);
    expect(unkeyed.seen).toHaveLength(1);
    expect(unkeyed.seen[0]['idempotency-key']).toBeUndefined();
    await new Promise((resolve) => server?.close(resolve));

    const gateway502 = await serve([{ status: 502, body: JSON.stringify({ status: 502, title: 'Bad Gateway', detail: 'upstream said no' }) }]);
    await expect(createApiClient({ baseUrl: gateway502.url }).request('PUT', '/api/v1/flags/f', { body: {}, idempotent: true })).rejects.toThrow(/502/);
    expect(gateway502.seen).toHaveLength(1);
  });
});
