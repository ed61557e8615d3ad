// Linearizable reads served by followers and learners (issue 15 goal 3): a
// follower or learner asks the leader for the read index (ReadIndex, thesis
// §6.4), waits until it has applied that index, and answers locally. Real
// processes: a write acknowledged by the leader is seen by the next
// linearizable read on any member; a follower cut off from the leader refuses
// rather than answering from its stale state, and so does a leader cut off
// from the others once they elected a new leader. Both read modes: 'safe'
// (a heartbeat round per batch) and 'lease' (FLAGRAFT_READ_MODE=lease).
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster, type LocalNode } from '@flagraft/testkit';
import { flag, flagsClient, waitFor } from './helpers.js';
import { startRelay, type Relay } from './relay.js';

interface Answer { code: grpc.status; details: string; description?: string; version?: number }

/** GetFlag on one node's client port, no retries: what that node itself answers. */
function getOn(raw: any, key: string, consistency: 'linearizable' | 'stale', timeoutMs = 5000): Promise<Answer> {
  return new Promise((resolve) => {
    raw.GetFlag({ key, consistency }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, r: any) => {
      if (err) { resolve({ code: err.code, details: err.details }); return; }
      const f = r.found ? JSON.parse(r.itemJson) : undefined;
      resolve({ code: grpc.status.OK, details: '', description: f?.flag.description, version: f?.version });
    });
  });
}

/** Three linearizable reads in a row are refused (UNAVAILABLE or past their deadline), none answered. */
async function expectRefused(raw: any, key: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const a = await getOn(raw, key, 'linearizable', 4000);
    expect(a.description).toBeUndefined();
    expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(a.code);
  }
}

describe.each(['safe', 'lease'])('linearizable reads on followers and learners (FLAGRAFT_READ_MODE=%s)', (readMode) => {
  let cluster: LocalCluster;
  let client: ClusterClient;
  // Node 3's peer links in both directions go through relays the test can cut.
  const relays = new Map<string, Relay>();
  const peerAddresses = new Map<number, string>();

  beforeAll(async () => {
    for (const [from, to] of [[1, 3], [2, 3], [3, 1], [3, 2]]) relays.set(`${from}->${to}`, await startRelay(() => peerAddresses.get(to)));
    cluster = await startLocalCluster({
      size: 3,
      env: { FLAGRAFT_READ_MODE: readMode },
      nodeEnv: (id, a): Record<string, string> => {
        peerAddresses.set(id, a.peerAddress);
        if (id > 3) return {}; // the learner reaches everyone directly
        const routes = id === 3 ? [1, 2].map((to) => `${to}=${relays.get(`3->${to}`)!.address}`) : [`3=${relays.get(`${id}->3`)!.address}`];
        return { FLAGRAFT_PEER_ROUTES: routes.join(',') };
      },
    });
    client = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 15_000 });
    // Node 3 is the one cut off later: it must be a follower.
    if ((await cluster.leader()).id === 3) {
      await client.transferLeader(1);
      await waitFor('node 1 leads', async () => (await cluster.leader()).id === 1);
    }
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    for (const r of relays.values()) await r.close();
  });

  it('a follower and a learner answer a linearizable read with the write acknowledged just before', async () => {
    const leader = await cluster.leader();
    const followers = cluster.nodes.filter((n) => n.id !== leader.id);
    const learner: LocalNode = await cluster.spawnJoiner(4);
    await client.addLearner(4, learner.peerAddress);
    // A member that has not heard from a leader yet has nobody to ask for a
    // read index and refuses (UNAVAILABLE, as any leaderless member does); the
    // claim here is about a learner that has joined, so wait until it knows the leader.
    await waitFor('the learner knows the leader', async () => {
      try { return (await client.status({ endpoint: learner.address })).leaderId === leader.id; } catch { return false; }
    });
    const readers = await Promise.all([...followers, learner].map(async (n) => ({ n, raw: await flagsClient(cluster, n.address) })));
    try {
      // Each round: a write acknowledged by the leader, then at once a
      // linearizable read on every non-leader member. Without the barrier a
      // member that has not applied the write yet would answer the previous value.
      for (let i = 1; i <= 30; i++) {
        const w = await client.putFlag(flag('rw', `v${i}`), { actor: 'a' });
        const answers = await Promise.all(readers.map(({ raw }) => getOn(raw, 'rw', 'linearizable')));
        for (const [j, a] of answers.entries()) {
          expect({ node: readers[j].n.id, ...a }).toEqual({ node: readers[j].n.id, code: grpc.status.OK, details: '', description: `v${i}`, version: w.flag.version });
        }
      }
      const st = await client.status({ endpoint: learner.address });
      expect(st.members.find((m) => m.id === 4)?.role).toBe('learner');
      expect(st.role).not.toBe('leader');
    } finally {
      for (const { raw } of readers) raw.close();
    }
  });

  it('a follower cut off from the leader refuses linearizable reads instead of answering stale, and serves again once healed', async () => {
    const leader = await cluster.leader();
    expect(leader.id).not.toBe(3);
    const n3 = cluster.nodes.find((n) => n.id === 3)!;
    const raw = await flagsClient(cluster, n3.address);
    try {
      await client.putFlag(flag('cut', 'before'), { actor: 'a' });
      await waitFor('node 3 has the first value', async () => (await getOn(raw, 'cut', 'linearizable')).description === 'before');
      for (const r of relays.values()) r.cut();
      // The rest of the cluster (a majority) moves on without node 3.
      const after = await client.putFlag(flag('cut', 'after'), { actor: 'a' });
      expect(after.flag.flag.description).toBe('after');
      // Node 3's state is stale: a stale read shows the old value...
      expect(await getOn(raw, 'cut', 'stale')).toMatchObject({ code: grpc.status.OK, description: 'before' });
      // ...and a linearizable read is refused (the ReadIndex never comes back, or node 3 knows no leader), several times over.
      await expectRefused(raw, 'cut');
    } finally {
      for (const r of relays.values()) r.heal();
    }
    await waitFor('node 3 serves the new value after the heal', async () => (await getOn(raw, 'cut', 'linearizable')).description === 'after', 20_000, 100);
    raw.close();
  });

  it('a leader cut off from the others refuses linearizable reads once they elected a new leader and wrote', async () => {
    await waitFor('node 3 leads', async () => {
      if ((await cluster.leader()).id === 3) return true;
      await client.transferLeader(3);
      return false;
    }, 20_000, 200);
    const n3 = cluster.nodes.find((n) => n.id === 3)!;
    const raw = await flagsClient(cluster, n3.address);
    const others = createClusterClient({ ...cluster.clientOptions(), endpoints: cluster.nodes.filter((n) => n.id !== 3 && n.pid).map((n) => n.address), retryDeadlineMs: 20_000 });
    try {
      await client.putFlag(flag('old-leader', 'before'), { actor: 'a' });
      expect(await getOn(raw, 'old-leader', 'linearizable')).toMatchObject({ code: grpc.status.OK, description: 'before' });
      for (const r of relays.values()) r.cut();
      // The others elect a leader (after an election timeout, longer than any lease) and write.
      const after = await others.putFlag(flag('old-leader', 'after'), { actor: 'a' });
      expect(after.flag.flag.description).toBe('after');
      expect(await getOn(raw, 'old-leader', 'stale')).toMatchObject({ code: grpc.status.OK, description: 'before' });
      await expectRefused(raw, 'old-leader');
    } finally {
      for (const r of relays.values()) r.heal();
      others.close();
    }
    await waitFor('node 3 serves the new value after the heal', async () => (await getOn(raw, 'old-leader', 'linearizable')).description === 'after', 20_000, 100);
    raw.close();
  });
});
