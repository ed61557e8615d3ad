// Online membership changes under a write load: add a 4th node as a learner,
// promote it, remove an old voter, transfer leadership; no acknowledged write
// is lost; a Watch on the removed node ends UNAVAILABLE. Then SIGTERM of the leader hands leadership over cleanly, and a
// Watch older than the retained changes gets COMPACTED.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { verifyAcked, waitFor, writeLoad } from './helpers.js';

describe('membership changes under load', () => {
  let cluster: LocalCluster;
  let client: ClusterClient;

  beforeAll(async () => {
    cluster = await startLocalCluster({ size: 3, snapshotEvery: 200, env: { FLAGRAFT_CHANGES_RETENTION: '300' } });
    client = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 15_000 });
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
  });

  it('learner add + promote, voter removal, leadership transfer, with no acknowledged write lost', async () => {
    const load = writeLoad(client, 'mem', 8);
    try {
      await waitFor('initial writes', () => load.count() >= 300, 30_000);
      const n4 = await cluster.spawnJoiner(4);
      const members = await client.addLearner(4, n4.peerAddress);
      expect(members.find((m) => m.id === 4)?.role).toBe('learner');
      const c4 = createClusterClient({ ...cluster.clientOptions(), endpoints: [n4.address] });
      // it is far behind a compacted log: it gets a snapshot, then catches up
      await waitFor('learner caught up', async () => {
        const s = await client.status();
        return (await c4.status()).appliedIndex >= s.commitIndex - 100;
      }, 30_000);
      await waitFor('learner promoted', async () => (await client.promoteLearner(4)).find((m) => m.id === 4)?.role === 'voter', 20_000, 200);
      expect((await c4.status()).firstIndex).toBeGreaterThan(1);

      const leader = await cluster.leader();
      const old = cluster.nodes.find((n) => n.id !== leader.id && n.id !== 4)!;
      // A Watch served by the node about to be removed (a client that knows only that node).
      const cOld = createClusterClient({ ...cluster.clientOptions(), endpoints: [old.address] });
      const oldErrors: string[] = [];
      const wOld = cOld.watch({ fromRevision: Number((await cOld.status()).appliedRevision), onChange: () => undefined, onError: (e) => oldErrors.push(`${e.code}: ${e.message}`) });
      const after = await client.removeMember(old.id);
      expect(after.map((m) => m.id)).not.toContain(old.id);
      // The removed node keeps running but gets no new entries: its Watch ends instead of stalling, and it takes no new one.
      await waitFor('watch on the removed node ended', () => oldErrors.some((e) => /^UNAVAILABLE: .*was removed from the cluster/.test(e)), 10_000);
      const n = oldErrors.length;
      await waitFor('new watches refused too', () => oldErrors.length > n + 1, 10_000);
      expect(oldErrors.slice(n).every((e) => e.includes('was removed'))).toBe(true);
      wOld.close();
      cOld.close();
      await old.kill('SIGTERM');

      await client.transferLeader(4);
      await waitFor('node 4 leads', async () => (await client.status()).leaderId === 4, 10_000);
      const before = load.count();
      await waitFor('writes continue under the new leader', () => load.count() >= before + 100, 20_000);
      c4.close();
    } finally {
      await load.stop();
    }
    await verifyAcked(client, load.acked);
    const st = await client.status();
    expect(st.members.filter((m) => m.role === 'voter').length).toBe(3);
    expect(st.leaderId).toBe(4);
  });

  it('a Watch from a revision older than the retained changes gets COMPACTED', async () => {
    const load = writeLoad(client, 'fill', 16);
    await waitFor('changes pruned', async () => (await client.status()).oldestRetainedRevision > 2, 30_000, 100).finally(() => load.stop());
    let compacted = false;
    const w = client.watch({ fromRevision: 1, onChange: () => undefined, onCompacted: () => { compacted = true; } });
    await waitFor('COMPACTED', () => compacted, 10_000);
    w.close();
    const fresh = await client.snapshotAll();
    const seen: number[] = [];
    const w2 = client.watch({ fromRevision: fresh.revision, onChange: (c) => seen.push(c.revision) });
    const r = await client.putFlag({ key: 'after-resync', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [] }, { actor: 't' });
    await waitFor('change after resync', () => seen.includes(r.revision));
    w2.close();
    expect(seen.every((x) => x > fresh.revision)).toBe(true);
  });

  it('SIGTERM of the leader transfers leadership and stops cleanly', async () => {
    const leader = await cluster.leader();
    const live = cluster.nodes.filter((n) => n.pid && n.id !== leader.id);
    const load = writeLoad(client, 'term', 4);
    try {
      await waitFor('writes', () => load.count() >= 50, 20_000);
      const t0 = Date.now();
      await leader.kill('SIGTERM');
      expect(Date.now() - t0).toBeLessThan(10_000);
      const next = await cluster.leader();
      expect(live.map((n) => n.id)).toContain(next.id);
      const c = load.count();
      await waitFor('writes after SIGTERM', () => load.count() >= c + 50, 20_000);
    } finally {
      await load.stop();
    }
    await verifyAcked(client, load.acked);
    // the stopped node's database was closed cleanly: it restarts and catches up
    await leader.restart();
    const one = createClusterClient({ ...cluster.clientOptions(), endpoints: [leader.address] });
    const target = (await client.status()).commitIndex;
    await waitFor('restarted node caught up', async () => (await one.status()).appliedIndex >= target, 20_000);
    one.close();
  });
});
