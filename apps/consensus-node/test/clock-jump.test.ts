// Wall-clock jumps on real node processes (FLAGRAFT_CLOCK_CONTROL, clock.ts):
// one node's clock days ahead or behind must not move the replicated clock
// that retention ages are measured on. Before ClusterClock, the leader stamped
// its own Date.now on every command and the state machine took the newest
// stamp as "now": a leader 8 days ahead made every node prune all history
// (age limit 1 h) and every de-duplication row at the next prune point, so a
// retried write would have been applied twice.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { flag, waitFor } from './helpers.js';

const DAY = 24 * 3600_000;
const HOUR = 3600_000;

let cluster: LocalCluster;
let client: ClusterClient;
const dir = mkdtempSync(join(tmpdir(), 'flagraft-clock-jump-'));
const controlFile = (id: number) => join(dir, `clock-${id}.json`);
let seq = 0;

/** Shifts node `id`'s wall clock (the node polls its control file every 50 ms) and waits until it shows in the node's stamps. */
function jump(id: number, offsetMs: number): void {
  writeFileSync(controlFile(id), JSON.stringify({ offsetMs, rate: 1, seq: ++seq }));
}

beforeAll(async () => {
  cluster = await startLocalCluster({
    size: 3,
    env: {
      FLAGRAFT_HISTORY_MAX_AGE_MS: String(HOUR),
      FLAGRAFT_PRUNE_EVERY: '5',
      FLAGRAFT_DEDUP_MIN_AGE_MS: '30000',
      FLAGRAFT_DEDUP_MAX_AGE_MS: '60000',
    },
    nodeEnv: (id) => ({ FLAGRAFT_CLOCK_CONTROL: controlFile(id) }),
  });
  client = createClusterClient(cluster.clientOptions());
});
afterAll(async () => {
  client?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function oldestOnEveryNode(): Promise<number[]> {
  return Promise.all(cluster.nodes.map(async (n) => (await client.status({ endpoint: n.address })).oldestRetainedRevision));
}

describe('clock jumps on real nodes', () => {
  it("a leader days ahead does not prune young history or de-duplication rows; its changes carry the voters' time", async () => {
    const first = await client.putFlag(flag('k0', 'first'), { actor: 'alice', requestId: 'req-first' });
    // Prune points (and clock samples) on the real time before the jump.
    for (let i = 0; i < 12; i++) await client.putFlag(flag(`k${i % 3}`, `before jump ${i}`), { actor: 'alice', requestId: `req-before-${i}` });
    const leader = (await cluster.leader()).id;
    jump(leader, 8 * DAY);
    // Give the node's control-file poll (50 ms) time to apply, then cross several prune points (every 5 revisions).
    await new Promise((r) => setTimeout(r, 300));
    let last = first.revision;
    for (let i = 0; i < 30; i++) last = (await client.putFlag(flag(`k${i % 3}`, `after jump ${i}`), { actor: 'alice', requestId: `req-${i}` })).revision;
    await waitFor('every node applied the last write', async () => (await Promise.all(cluster.nodes.map((n) => client.status({ endpoint: n.address })))).every((s) => (s.appliedRevision ?? 0) >= last));
    // Nothing is older than an hour on the voters' clocks: nothing may be pruned.
    expect(await oldestOnEveryNode()).toEqual([1, 1, 1]);
    const newest = (await client.history('k2', { limit: 1 }))[0];
    expect(Math.abs(newest.time - Date.now())).toBeLessThan(HOUR);
    // The first write's retry is still recognised (its de-duplication row was kept).
    const retry = await client.putFlag(flag('k0', 'retried'), { actor: 'alice', requestId: 'req-first' });
    expect(retry.revision).toBe(first.revision);
  }, 60_000);

  it('a follower days behind that becomes leader neither stalls the transfer nor moves the replicated clock back', async () => {
    const leader = (await cluster.leader()).id;
    const follower = cluster.nodes.map((n) => n.id).find((id) => id !== leader)!;
    jump(follower, -3 * DAY);
    await new Promise((r) => setTimeout(r, 300));
    await client.transferLeader(follower);
    await waitFor('the follower leads', async () => (await cluster.leader()).id === follower);
    const w = await client.putFlag(flag('k1', 'under the late leader'), { actor: 'alice', requestId: 'req-late' });
    const change = (await client.history('k1', { limit: 1 }))[0];
    expect(change.revision).toBe(w.revision);
    expect(Math.abs(change.time - Date.now())).toBeLessThan(HOUR);
    expect(await oldestOnEveryNode()).toEqual([1, 1, 1]);
  }, 60_000);
});
