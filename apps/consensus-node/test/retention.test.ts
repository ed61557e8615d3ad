// Retention by size on a real 3-node cluster (separate processes, real gRPC
// and SQLite): with a budget smaller than the node's own margins (history
// keeps its minimum share) and pruning every 10 revisions, every
// node answers History with the same retained changes and reports the same
// oldest retained revision (pruning is replicated state, cut alike), the
// newest change of each key matches its current value, and a retried write
// inside the de-duplication floor is still answered with its first result
// although the de-dup byte budget is 1 byte.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { flag, flagsClient, waitFor } from './helpers.js';

let cluster: LocalCluster;
let client: ClusterClient;

beforeAll(async () => {
  cluster = await startLocalCluster({
    size: 3,
    // A budget far below the node's local margins (~2.6 MiB with these log settings): history keeps its minimum, a sixteenth = 20,000 bytes.
    env: {
      FLAGRAFT_HISTORY_MAX_BYTES: '320000', FLAGRAFT_SNAPSHOT_EVERY_BYTES: '65536', FLAGRAFT_SNAPSHOT_CATCHUP_BYTES: '65536',
      FLAGRAFT_PRUNE_EVERY: '10', FLAGRAFT_DEDUP_MAX_BYTES: '1', FLAGRAFT_DEDUP_MIN_AGE_MS: '60000',
    },
  });
  client = createClusterClient(cluster.clientOptions());
});
afterAll(async () => {
  client?.close();
  await cluster?.stop();
});

function call<T>(raw: any, method: string, req: object): Promise<T> {
  return new Promise((resolve, reject) => raw[method](req, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))));
}

describe('retention by size on a real cluster', () => {
  it('prunes history alike on every node, keeps the newest changes, and still de-duplicates a retry inside the floor', async () => {
    const first = await client.putFlag(flag('k0', 'first'), { actor: 'alice', requestId: 'req-first' });
    let last = first.revision;
    for (let i = 1; i < 160; i++) last = (await client.putFlag(flag(`k${i % 4}`, `note ${i} ${'x'.repeat(120)}`), { actor: 'alice', requestId: `req-${i}` })).revision;
    // The first write's retry, with other content: answered with the first result, nothing applied.
    const retry = await client.putFlag(flag('k0', 'retried'), { actor: 'alice', requestId: 'req-first' });
    expect(retry.revision).toBe(first.revision);
    expect((await client.getFlag('k0'))?.flag.description).not.toBe('retried');
    // A later write moves every node past a prune point; wait until all have applied it.
    const end = (await client.putFlag(flag('end'), { actor: 'alice', requestId: 'req-end' })).revision;
    const raws = await Promise.all(cluster.nodes.map((n) => flagsClient(cluster, n.address)));
    try {
      await waitFor('every node applied the last write', async () => {
        const st = await Promise.all(raws.map((r) => call<{ appliedRevision: string | number }>(r, 'Status', {})));
        return st.every((s) => Number(s.appliedRevision) >= end);
      });
      const answers = await Promise.all(raws.map(async (r) => ({
        history: await Promise.all(['k0', 'k1', 'k2', 'k3'].map((key) => call<{ changesJson: string[] }>(r, 'History', { key, limit: 1000 }).then((h) => h.changesJson))),
        oldest: Number((await call<{ oldestRetainedRevision: string | number }>(r, 'Status', {})).oldestRetainedRevision),
      })));
      for (const a of answers.slice(1)) expect(a).toEqual(answers[0]);
      const { history, oldest } = answers[0];
      // Pruned: 160 writes of ~300 bytes each do not fit 20,000 bytes; history starts past revision 1.
      expect(oldest).toBeGreaterThan(first.revision + 50);
      expect(oldest).toBeLessThan(last);
      for (const [i, changes] of history.entries()) {
        expect(changes.length).toBeGreaterThan(0);
        expect(changes.length).toBeLessThan(40);
        const newest = JSON.parse(changes[0]);
        expect(newest.after).toEqual(await client.getFlag(`k${i}`));
        for (const c of changes) expect(JSON.parse(c).revision).toBeGreaterThanOrEqual(oldest);
      }
    } finally {
      for (const r of raws) r.close();
    }
  });
});
