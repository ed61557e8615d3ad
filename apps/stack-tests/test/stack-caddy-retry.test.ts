// The failure behind a flaky stack test, reproduced on purpose: a gateway
// that took a write and died before answering (or a keep-alive connection
// that broke after the request was sent), behind Caddy with the repository's
// Caddyfile. A TCP relay in front of gateway-1, driven by this test, lets the
// request through and then cuts both connections before any answer byte
// reaches Caddy, for requests that carry a marker header. gateway-2 is
// reached directly. What must hold:
//   - a keyed write with a body: Caddy 2.6 answers its own 502 (it cannot
//     send a body twice); the client repeats it with the same key, Caddy
//     sends it to gateway-2, and the cluster applies it once: one history
//     entry, the same revision in the answer;
//   - a keyed DELETE: Caddy repeats it on gateway-2 by itself;
//   - an OFREP evaluation (POST, a read): Caddy answers 502 and counts the
//     failure against gateway-1 only (2.6.2 used to re-send the body emptied,
//     count that against gateway-2 and so have no upstream left: its own 503);
//     the client repeats it.
// A fresh Caddy (own process, own health state) per case, sharing the stack's
// certificate storage so that its internal CA is the one this process trusts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { call, newIdempotencyKey } from '../src/client.js';
import { readStackInfo, repoRoot, stopPid, waitFor } from '../src/stack.js';

const { dataDir, adminToken } = inject('stack');
const info = () => readStackInfo(dataDir)!;
const work = mkdtempSync(join(tmpdir(), 'flagraft-caddy-retry-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Requests carrying this header are cut by the relay after the gateway has answered them. */
const MARKER = 'x-flagraft-test-cut';
/** Tries to have Caddy's least_conn choose the relay (each is a coin toss between two idle upstreams). */
const ROUTING_TRIES = 20;
/** How long Caddy may take to start and serve the API, ms. */
const CADDY_START_TIMEOUT_MS = 30_000;

interface Relay { port: number; cuts: number; close(): Promise<void> }

/** A TCP relay to `target` that cuts a connection when a marked request's answer starts to come back. */
async function startRelay(target: number): Promise<Relay> {
  const sockets = new Set<Socket>();
  const relay = { port: 0, cuts: 0, close: async () => {} };
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    let seen = '';
    let marked = false;
    client.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString('latin1')).slice(-8192).toLowerCase();
      if (seen.includes(`${MARKER}:`)) marked = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (marked) {
        // The gateway has committed and answered: drop the answer, break the connection.
        relay.cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      seen = '';
      client.write(chunk);
    });
    for (const s of [client, upstream]) {
      s.on('error', () => { client.destroy(); upstream.destroy(); });
      s.on('close', () => { client.destroy(); upstream.destroy(); sockets.delete(s); });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = (server.address() as AddressInfo).port;
  relay.close = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
  return relay;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

interface Edge {
  url: string;
  relay: Relay;
  /** Caddy's passive health view (admin API GET /reverse_proxy/upstreams): failures counted per upstream address. */
  fails(): Promise<Map<string, number>>;
  gateway2: string;
  stop(): Promise<void>;
}
const edges: Edge[] = [];

/** Caddy with the repository's Caddyfile, gateways: the relay (to gateway-1) and gateway-2. */
async function startEdge(): Promise<Edge> {
  const st = info();
  const portOf = (url: string) => Number(new URL(url).port);
  const relay = await startRelay(portOf(st.gateways[0]));
  const [https, http, admin] = [await freePort(), await freePort(), await freePort()];
  const caddy: ChildProcess = spawn('caddy', ['run', '--config', join(repoRoot, 'Caddyfile'), '--adapter', 'caddyfile'], {
    env: {
      ...process.env,
      FLAGRAFT_DOMAIN: 'localhost', FLAGRAFT_CADDY_TLS: 'internal', FLAGRAFT_CADDY_ADMIN: `127.0.0.1:${admin}`, FLAGRAFT_CADDY_BIND: '127.0.0.1',
      FLAGRAFT_CADDY_HTTP_PORT: String(http), FLAGRAFT_CADDY_HTTPS_PORT: String(https), FLAGRAFT_CADDY_REDIRECT_PORT: String(https),
      FLAGRAFT_CADDY_STORAGE: join(st.dataDir, 'caddy'), FLAGRAFT_CADDY_ACCESS_LOG: join(work, `access-${https}.log`),
      FLAGRAFT_UPSTREAM_GATEWAYS: `127.0.0.1:${relay.port} 127.0.0.1:${portOf(st.gateways[1])}`,
      FLAGRAFT_UPSTREAM_RELAYS: new URL(st.relay).host, FLAGRAFT_UPSTREAM_DASHBOARD: new URL(st.dashboard).host,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  caddy.stderr!.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-20_000); });
  const edge: Edge = {
    url: `https://localhost:${https}`,
    relay,
    gateway2: `127.0.0.1:${portOf(st.gateways[1])}`,
    fails: async () => {
      const r = await fetch(`http://127.0.0.1:${admin}/reverse_proxy/upstreams`);
      const list = (await r.json()) as { address: string; fails: number }[];
      return new Map(list.map((u) => [u.address, u.fails]));
    },
    stop: async () => {
      if (caddy.pid && caddy.exitCode === null) await stopPid(caddy.pid);
      await relay.close();
    },
  };
  edges.push(edge);
  try {
    await waitFor('the test Caddy to serve the API', CADDY_START_TIMEOUT_MS, async () => {
      if (caddy.exitCode !== null) throw new Error(`caddy exited ${caddy.exitCode}: ${stderr.slice(-2000)}`);
      const r = await call(edge.url, adminToken, 'GET', '/api/v1/flags?limit=1').catch(() => undefined);
      return r?.status === 200 || undefined;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${stderr.slice(-2000)}`);
  }
  return edge;
}

afterEach(async () => {
  for (const e of edges.splice(0)) await e.stop();
});

const flag = (key: string) => ({ key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules: [] });
const revisionsOf = async (url: string, key: string) => {
  const h = await call(url, adminToken, 'GET', `/api/v1/flags/${key}/history?limit=1000`);
  expect(h.status).toBe(200);
  return (h.body.changes as { revision: number; op: string }[]);
};

/** Sends `send(key)` with fresh keys until Caddy routed one through the relay (which cut it); returns that one. */
async function throughRelay<T>(edge: Edge, send: (key: string, i: number) => Promise<T>): Promise<{ answer: T; i: number }> {
  for (let i = 0; i < ROUTING_TRIES; i++) {
    const cuts = edge.relay.cuts;
    const answer = await send(newIdempotencyKey(), i);
    if (edge.relay.cuts > cuts) return { answer, i };
  }
  throw new Error(`Caddy never chose the relay in ${ROUTING_TRIES} tries`);
}

describe('Caddy in front of a gateway that dies after taking a write', () => {
  it('a keyed PATCH: Caddy answers 502, the client repeats it with its key, gateway-2 answers the first outcome, applied once', async () => {
    const edge = await startEdge();
    const key = `caddy-retry-${Date.now().toString(36)}`;
    expect((await call(info().url, adminToken, 'PUT', `/api/v1/flags/${key}`, flag(key))).status).toBe(201);
    const before = (await revisionsOf(info().url, key)).length;
    const { answer, i } = await throughRelay(edge, (k, n) =>
      call(edge.url, adminToken, 'PATCH', `/api/v1/flags/${key}`, { description: `try ${n}` }, { 'idempotency-key': k, [MARKER]: '1' }));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.attempts, 'Caddy answered the cut write 502 and the client sent it again').toBe(2);
    expect(answer.body.flag.description).toBe(`try ${i}`);
    // Applied once: the writes before it (routed to gateway-2) and this one, one history entry each.
    const history = await revisionsOf(info().url, key);
    expect(history).toHaveLength(before + i + 1);
    expect(history.filter((c) => c.revision === answer.body.modRevision)).toHaveLength(1);
    // gateway-2 stays in rotation: no 503 from Caddy for what follows.
    for (let n = 0; n < 5; n++) {
      expect((await call(edge.url, adminToken, 'GET', `/api/v1/flags/${key}`)).status).toBe(200);
      expect((await call(edge.url, adminToken, 'POST', `/ofrep/v1/evaluate/flags/${key}`, { context: { targetingKey: `u${n}` } })).status).toBe(200);
      expect((await call(edge.url, adminToken, 'PATCH', `/api/v1/flags/${key}`, { enabled: n % 2 === 0 })).status).toBe(200);
    }
  });

  it('a keyed DELETE: Caddy repeats it on gateway-2 by itself, and it is applied once', async () => {
    const edge = await startEdge();
    const base = `caddy-delete-${Date.now().toString(36)}`;
    const { answer, i } = await throughRelay(edge, async (k, n) => {
      expect((await call(info().url, adminToken, 'PUT', `/api/v1/flags/${base}-${n}`, flag(`${base}-${n}`))).status).toBe(201);
      return call(edge.url, adminToken, 'DELETE', `/api/v1/flags/${base}-${n}`, undefined, { 'idempotency-key': k, [MARKER]: '1' });
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.attempts, 'Caddy itself sent the DELETE to gateway-2').toBe(1);
    const history = await revisionsOf(info().url, `${base}-${i}`);
    expect(history.map((c) => c.op)).toEqual(['delete', 'put']);
    expect(history[0].revision).toBe(answer.body.revision);
  });

  it('an OFREP evaluation cut the same way: Caddy answers 502 without re-sending the body, counts nothing against gateway-2, no 503 after', async () => {
    // Caddy 2.6.2 re-sends a body it already sent as an empty one; that
    // failure was counted against gateway-2, leaving no upstream: Caddy's own
    // 503 for fail_duration. The Caddyfile no longer retries bodies; the
    // client repeats the evaluation (a read) after Caddy's 502.
    const edge = await startEdge();
    const key = `caddy-ofrep-${Date.now().toString(36)}`;
    expect((await call(info().url, adminToken, 'PUT', `/api/v1/flags/${key}`, flag(key))).status).toBe(201);
    // One attempt at a time (fetch, not the repeating client), to look at Caddy's state right after it.
    const { answer: cut } = await throughRelay(edge, () =>
      fetch(`${edge.url}/ofrep/v1/evaluate/flags/${key}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', [MARKER]: '1' },
        body: JSON.stringify({ context: { targetingKey: 'u' } }),
      }));
    expect(cut.status, 'Caddy answers the cut evaluation itself').toBe(502);
    // Only the cut connection counts as a failure: none against gateway-2
    // (which Caddy 2.6 would get for the emptied body it re-sent).
    const fails = await edge.fails();
    expect(fails.get(`127.0.0.1:${edge.relay.port}`), 'the relay (gateway-1) is marked down').toBeGreaterThan(0);
    expect(fails.get(edge.gateway2) ?? 0, 'failures counted against gateway-2').toBe(0);
    // And so the next requests are answered by gateway-2 at once (no 503, no wait for an upstream).
    const again = await call(edge.url, adminToken, 'POST', `/ofrep/v1/evaluate/flags/${key}`, { context: { targetingKey: 'u' } });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.attempts).toBe(1);
    expect(again.body).toMatchObject({ key, value: false });
    for (let n = 0; n < 5; n++) {
      const r = await call(edge.url, adminToken, 'GET', `/api/v1/flags/${key}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
  });
});
