// The replica's resume window (eventsAfter) and its visibility waiters, fed by
// an in-memory watch: the window keeps exactly the last replayEvents events
// while it slides, and waiters resolve on the revision or time out.
import { describe, expect, it } from 'vitest';
import { createLogger } from './log.js';
import { createMetrics } from './metrics.js';
import { Replica } from './replica.js';
import type { ClusterPort, WatchOptions } from './types.js';

function replicaWithFeed(replayEvents: number) {
  let watch: WatchOptions | undefined;
  const cluster = {
    snapshotAll: async () => ({ revision: 0, flags: [], segments: [] }),
    watch: (o: WatchOptions) => ((watch = o), { close() {} }),
  } as unknown as ClusterPort;
  const replica = new Replica({ cluster, log: createLogger({ app: 'test', level: 'error', write: () => {} }), metrics: createMetrics({ defaultMetrics: false }), replayEvents });
  replica.start();
  const put = (revision: number) =>
    watch!.onChange({ v: 1, revision, kind: 'flag', key: `k${revision}`, op: 'put', actor: 'a', time: '2026-01-01T00:00:00.000Z', flag: { flag: { key: `k${revision}`, rules: [] }, modRevision: revision } });
  const ready = async () => {
    for (let i = 0; i < 100 && !watch; i++) await new Promise((r) => setImmediate(r));
    expect(watch).toBeDefined();
  };
  return { replica, put, ready };
}

describe('Replica', () => {
  it('keeps exactly the last replayEvents events as the window slides', async () => {
    const { replica, put, ready } = replicaWithFeed(5);
    await ready();
    for (let rev = 1; rev <= 23; rev++) {
      put(rev);
      await Promise.resolve(); // one flush per revision (microtask)
      const kept = replica.eventsAfter(Math.max(0, rev - 5))!;
      expect(kept.map((e) => e.event.revision)).toEqual(Array.from({ length: Math.min(rev, 5) }, (_, i) => rev - Math.min(rev, 5) + 1 + i));
      if (rev > 5) expect(replica.eventsAfter(rev - 6)).toBeUndefined();
    }
    expect(replica.eventsAfter(20)!.map((e) => e.event.revision)).toEqual([21, 22, 23]);
    expect(replica.eventsAfter(23)).toEqual([]);
    expect(JSON.parse(replica.eventsAfter(22)![0].json)).toMatchObject({ revision: 23, key: 'k23' });
    await replica.close();
  });

  it('resolves visibility waiters at their revision, times out the others, and ends them on close', async () => {
    const { replica, put, ready } = replicaWithFeed(10);
    await ready();
    const atTwo = replica.waitFor(2, 5_000);
    const never = replica.waitFor(99, 30);
    const onClose = replica.waitFor(50, 60_000);
    put(1);
    put(2);
    expect(await atTwo).toBe(true);
    expect(await never).toBe(false);
    expect(await replica.waitFor(2, 1)).toBe(true);
    await replica.close();
    expect(await onClose).toBe(false);
  });
});
