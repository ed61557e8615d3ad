// A gateway whose cluster cannot be reached: alive, not ready, evaluation and
// writes answer 503 with Retry-After (nothing is listening on the endpoint).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Gateway } from '../src/index.js';
import { boolFlag, request } from './support/harness.js';
import { startGatewayWithoutCluster } from './support/no-cluster.js';

let gw: Gateway;
beforeAll(async () => {
  gw = await startGatewayWithoutCluster();
});
afterAll(async () => {
  await gw?.close();
});

it('is alive but not ready; OFREP and REST answer 503 with Retry-After', async () => {
  const url = gw.url();
  expect((await request(url, 'GET', '/health')).status).toBe(200);
  const ready = await request(url, 'GET', '/ready');
  expect(ready.status).toBe(503);
  expect(ready.headers.get('retry-after')).toBe('1');
  expect(ready.json).toMatchObject({ ready: false, replicaLoaded: false, clusterReachable: false });
  const ev = await request(url, 'POST', '/ofrep/v1/evaluate/flags/any', { role: 'evaluator', body: {} });
  expect(ev.status).toBe(503);
  expect(ev.headers.get('retry-after')).toBe('1');
  expect(ev.json).toMatchObject({ key: 'any', errorCode: 'GENERAL' });
  const w = await request(url, 'PUT', '/api/v1/flags/x', { role: 'editor', body: boolFlag('x') });
  expect(w.status).toBe(503);
  expect(w.headers.get('retry-after')).toBe('1');
  expect(w.json.type).toMatch(/^urn:flagraft:problem:(unavailable|timeout)$/);
  const stream = await request(url, 'GET', '/api/v1/stream', { role: 'reader' });
  expect(stream.status).toBe(503);
});
