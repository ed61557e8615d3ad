// Idle mode with real node processes and the real gRPC transport: a SIGKILLed
// idle leader's streams end at once, which wakes its followers, so a new
// leader is elected at the normal pace and not after the idle election
// timeout (here 10-20 idle ticks of 2 s = 20-40 s).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster, type LocalNode } from '@flagraft/testkit';
import { flag, waitFor } from './helpers.js';

let cluster: LocalCluster;
let client: ClusterClient;

beforeAll(async () => {
  cluster = await startLocalCluster({ env: { FLAGRAFT_IDLE_TICK_MS: '2000', FLAGRAFT_LOG_LEVEL: 'debug' } });
  client = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 20_000 });
}, 60_000);

afterAll(async () => {
  client?.close();
  await cluster?.stop();
});

/** How often the node's debug log says it went idle. */
const idleLines = (n: LocalNode) => readFileSync(n.logFile, 'utf8').split('\n').filter((l) => l.includes('idle: slower ticks')).length;

describe('idle mode with real processes', () => {
  it('goes idle, serves a write at once, and replaces a killed idle leader in well under the idle election timeout', async () => {
    await client.putFlag(flag('before-idle'), { actor: 'a' });
    const leader = await cluster.leader();
    await waitFor('the leader to go idle', () => idleLines(leader) > 0, 15_000);
    const t0 = Date.now();
    await client.putFlag(flag('on-idle'), { actor: 'a' });
    expect(Date.now() - t0, 'a write is not held back by the 2 s idle tick').toBeLessThan(1500);
    const seen = idleLines(leader);
    await waitFor('the leader to go idle again', () => idleLines(leader) > seen, 15_000);

    const killedAt = Date.now();
    await leader.kill('SIGKILL');
    const next = await cluster.leader(15_000);
    expect(next.id).not.toBe(leader.id);
    expect(Date.now() - killedAt, 'elected at the normal pace, not after 10-20 idle ticks of 2 s').toBeLessThan(8000);
    await client.putFlag(flag('after-failover'), { actor: 'a' });
    expect((await client.getFlag('on-idle'))?.flag.key).toBe('on-idle');
  }, 90_000);
});
