// When the history a client needs is gone (the cluster keeps only the last
// FLAGRAFT_CHANGES_RETENTION revisions of changes, here 5): the change stream
// says `event: reset`, and the gateway's replica reloads a full snapshot.
//
// To put the gateway's own watch behind the retention window we cut it off
// from the cluster for a while: `withPausableWatch` wraps the REAL cluster
// client and closes / re-opens its watch (a partition between gateway and
// cluster, which cannot be made with processes alone). Everything else is real.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import type { ClusterPort } from '../src/index.js';
import { boolFlag, eventually, request, startStack, TOKENS, type Stack } from './support/harness.js';
import { openSse } from './support/sse.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ cluster: { env: { FLAGRAFT_CHANGES_RETENTION: '5' } } });
});
afterAll(async () => {
  await stack?.stop();
});

const auth = { authorization: `Bearer ${TOKENS.reader}` };
const put = async (key: string, extra: Record<string, unknown> = {}) => {
  const r = await stack.req('PUT', `/api/v1/flags/${key}`, { role: 'editor', body: boolFlag(key, extra) });
  expect(r.status, r.text).toBeLessThan(300);
  return r.json.modRevision as number;
};

function withPausableWatch(real: ClusterClient): ClusterPort & { pause(): void; resume(): void } {
  const watches: { pause(): void; resume(): void }[] = [];
  const wrapped = {
    ...real,
    watch(o: Parameters<ClusterClient['watch']>[0]) {
      let last = o.fromRevision;
      let inner: { close(): void } | undefined;
      const open = () => {
        inner = real.watch({
          ...o,
          fromRevision: last,
          onChange: (c) => {
            last = Math.max(last, c.revision);
            o.onChange(c);
          },
          onProgress: (r) => {
            last = Math.max(last, r);
            o.onProgress?.(r);
          },
        });
      };
      open();
      const w = { pause: () => (inner?.close(), (inner = undefined)), resume: () => open() };
      watches.push(w);
      return { close: () => inner?.close() };
    },
    pause: () => watches.forEach((w) => w.pause()),
    resume: () => watches.forEach((w) => w.resume()),
  };
  return wrapped as unknown as ClusterPort & { pause(): void; resume(): void };
}

it('a stream resuming from before the retained history gets `event: reset`, then live changes', async () => {
  const gw = await stack.newGateway({ sseReplayEvents: 2 });
  const from = await put('c1-start');
  for (let i = 0; i < 12; i++) await put(`c1-${i}`);
  const s = await openSse(`${gw.url()}/api/v1/stream?since=${from}`, auth);
  await s.waitFor((f) => f.some((x) => x.event === 'reset'), 10_000, 'reset');
  const reset = s.frames.find((x) => x.event === 'reset')!;
  expect(JSON.parse(reset.data)).toMatchObject({ reason: 'compacted' });
  expect(Number(reset.id)).toBeGreaterThanOrEqual(from + 12);
  const next = await put('c1-after');
  await s.waitFor((f) => f.some((x) => x.event === 'message' && JSON.parse(x.data).revision === next), 10_000, 'live change after reset');
  s.close();
  await gw.close();
});

it('the replica reloads a snapshot when its watch position was compacted, and streams are told to reset', async () => {
  const client = createClusterClient({ ...stack.cluster.clientOptions() });
  const cluster = withPausableWatch(client);
  const gw = await stack.newGateway({ cluster });
  try {
    await put('c2-doomed');
    await eventually(() => gw.replica.flags.has('c2-doomed'), 10_000, 'replica has c2-doomed');
    const stream = await openSse(`${gw.url()}/api/v1/stream`, auth);
    const ofrepEvents = await openSse(`${gw.url()}/ofrep/v1/events`, { authorization: `Bearer ${TOKENS.evaluator}` });
    await stream.waitFor((f) => f.some((x) => x.event === 'ready'));

    cluster.pause();
    const written: string[] = [];
    for (let i = 0; i < 12; i++) {
      await put(`c2-${i}`, { defaultVariant: 'on' });
      written.push(`c2-${i}`);
    }
    expect((await stack.req('DELETE', '/api/v1/flags/c2-doomed', { role: 'editor' })).status).toBe(200);
    expect(gw.replica.flags.has('c2-0')).toBe(false); // cut off: nothing arrived
    cluster.resume();

    await eventually(() => written.every((k) => gw.replica.flags.has(k)) && !gw.replica.flags.has('c2-doomed'), 15_000, 'replica reloaded');
    await stream.waitFor((f) => f.some((x) => x.event === 'reset' && JSON.parse(x.data).reason === 'reloaded'), 10_000, 'reset on the stream');
    await ofrepEvents.waitFor((f) => f.some((x) => JSON.parse(x.data).type === 'refetchEvaluation'), 10_000, 'refetch');
    const metrics = await (await fetch(`${gw.url()}/metrics`)).text();
    expect(metrics).toMatch(/flagraft_gateway_replica_reloads_total 2/);
    const ev = await request(gw.url(), 'POST', '/ofrep/v1/evaluate/flags/c2-11', { role: 'evaluator', body: {} });
    expect(ev.json).toMatchObject({ value: true, reason: 'STATIC' });
    const gone = await request(gw.url(), 'POST', '/ofrep/v1/evaluate/flags/c2-doomed', { role: 'evaluator', body: {} });
    expect(gone.status).toBe(404);
    // And it keeps following live changes afterwards.
    await put('c2-live');
    await eventually(() => gw.replica.flags.has('c2-live'), 10_000, 'live after reload');
    stream.close();
    ofrepEvents.close();
  } finally {
    await gw.close();
    client.close();
  }
});
