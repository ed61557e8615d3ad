// Read-your-writes through one gateway: a write answered 2xx is visible to the
// writer's next evaluation and stale read through the same gateway, because
// the write waits until this gateway's replica has applied its revision.
//
// To make the guarantee observable, the gateways here follow the cluster with
// a watch whose changes arrive WATCH_DELAY_MS late (a slow replica): without
// the wait, the evaluation right after the write would see the old value. The
// control at the end shows exactly that when the wait gives up at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import type { Gateway } from '../src/index.js';
import type { ClusterPort, WatchOptions } from '../src/types.js';
import { boolFlag, request, startStack, type Stack } from './support/harness.js';

const WATCH_DELAY_MS = 150;

let stack: Stack;
let client: ClusterClient;
let slow: Gateway;

/** The real cluster client, but every watch message reaches the gateway WATCH_DELAY_MS late (in order). */
function slowWatch(real: ClusterClient): ClusterPort {
  const later = <A extends unknown[]>(fn: ((...a: A) => void) | undefined) => (fn ? (...a: A) => void setTimeout(() => fn(...a), WATCH_DELAY_MS) : undefined);
  return {
    ...(real as unknown as ClusterPort),
    watch: (o: WatchOptions) => real.watch({ ...o, onChange: later(o.onChange)!, onProgress: later(o.onProgress) } as never),
  };
}

beforeAll(async () => {
  stack = await startStack();
  client = createClusterClient({ ...stack.cluster.clientOptions() });
  slow = await stack.newGateway({ cluster: slowWatch(client) });
});
afterAll(async () => {
  await slow?.close();
  client?.close();
  await stack?.stop();
});

const evaluate = async (gw: Gateway, key: string) => (await request(gw.url(), 'POST', `/ofrep/v1/evaluate/flags/${key}`, { role: 'evaluator', body: { context: {} } })).json;

describe('read-your-writes through the same gateway', () => {
  it('PUT (node:http fast path): the next evaluation and stale list see the write', async () => {
    for (let i = 0; i < 12; i++) {
      const variant = i % 2 ? 'on' : 'off';
      const w = await request(slow.url(), 'PUT', '/api/v1/flags/ryw-put', { role: 'editor', body: boolFlag('ryw-put', { defaultVariant: variant }) });
      expect(w.status, w.text).toBe(i === 0 ? 201 : 200);
      expect(await evaluate(slow, 'ryw-put')).toMatchObject({ key: 'ryw-put', variant, value: variant === 'on' });
      const list = await request(slow.url(), 'GET', '/api/v1/flags?consistency=stale&prefix=ryw-put', { role: 'reader' });
      expect(list.json.revision).toBeGreaterThanOrEqual(w.json.modRevision);
      expect(list.json.flags[0].modRevision).toBe(w.json.modRevision);
    }
  });

  it('PUT through Express (a query string), PATCH and DELETE wait the same way', async () => {
    const put = await request(slow.url(), 'PUT', '/api/v1/flags/ryw-express?via=express', { role: 'editor', body: boolFlag('ryw-express', { defaultVariant: 'on' }) });
    expect(put.status, put.text).toBe(201);
    expect(await evaluate(slow, 'ryw-express')).toMatchObject({ variant: 'on' });
    const patch = await request(slow.url(), 'PATCH', '/api/v1/flags/ryw-express', { role: 'editor', body: { defaultVariant: 'off' }, headers: { 'content-type': 'application/merge-patch+json' } });
    expect(patch.status, patch.text).toBe(200);
    expect(await evaluate(slow, 'ryw-express')).toMatchObject({ variant: 'off' });
    const del = await request(slow.url(), 'DELETE', '/api/v1/flags/ryw-express', { role: 'editor' });
    expect(del.status, del.text).toBe(200);
    expect(await evaluate(slow, 'ryw-express')).toMatchObject({ errorCode: 'FLAG_NOT_FOUND' });
  });

  it('holds for many writers at once, each evaluating right after its own write', async () => {
    const writers = Array.from({ length: 24 }, (_, i) => `ryw-many-${i}`);
    const seen = await Promise.all(
      writers.map(async (key, i) => {
        const variant = i % 2 ? 'on' : 'off';
        const w = await request(slow.url(), 'PUT', `/api/v1/flags/${key}`, { role: 'editor', body: boolFlag(key, { defaultVariant: variant }) });
        expect(w.status, w.text).toBe(201);
        return (await evaluate(slow, key)).variant === variant;
      }),
    );
    expect(seen.filter((ok) => !ok)).toEqual([]);
  });

  it('control: a gateway that does not wait for its replica answers before the change is visible', async () => {
    const eager = await stack.newGateway({ cluster: slowWatch(client), writeVisibilityTimeoutMs: 1 });
    try {
      let stale = 0;
      for (let i = 0; i < 5; i++) {
        const variant = i % 2 ? 'on' : 'off';
        const w = await request(eager.url(), 'PUT', '/api/v1/flags/ryw-control', { role: 'editor', body: boolFlag('ryw-control', { defaultVariant: variant }) });
        expect(w.status, w.text).toBe(i === 0 ? 201 : 200);
        const e = await evaluate(eager, 'ryw-control');
        if (e.variant !== variant) stale++;
      }
      expect(stale).toBeGreaterThan(0);
    } finally {
      await eager.close();
    }
  });
});
