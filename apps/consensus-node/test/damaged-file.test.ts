// A stopped node whose state file has one byte flipped inside a stored value
// (a damage SQLite's quick_check does not see): the real process refuses to
// start with an error naming the file, the table and the row, never serves
// the damaged value, and is rebuilt from its peers with the documented
// operator procedure (README "Rebuild a damaged node": remove, wipe, start
// with FLAGRAFT_JOIN=1, add-learner, promote).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { flag, waitFor } from './helpers.js';

describe('a node with a damaged state file', () => {
  let cluster: LocalCluster;
  let client: ClusterClient;

  beforeAll(async () => {
    cluster = await startLocalCluster({ size: 3 });
    client = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 15_000 });
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
  });

  it('refuses to start naming the file, then is rebuilt from its peers', async () => {
    const marker = 'MARKER-damaged-value-0123456789';
    const w = await client.putFlag(flag('victim-flag', marker), { actor: 'alice' });
    const leader = await cluster.leader();
    const victim = cluster.nodes.find((n) => n.id !== leader.id)!;
    const one = createClusterClient({ ...cluster.clientOptions(), endpoints: [victim.address] });
    await waitFor('follower applied the write', async () => (await one.status()).appliedIndex >= w.revision);
    one.close();
    await victim.kill('SIGTERM'); // a clean stop folds the WAL into the file
    await waitFor('victim stopped', () => victim.pid === 0);

    const file = join(victim.dataDir, 'flagraft.db');
    const buf = readFileSync(file);
    const at = buf.indexOf(Buffer.from(marker));
    expect(at).toBeGreaterThan(0);
    buf[at + 10] ^= 0x20; // one letter changes case: still valid text, still valid JSON
    writeFileSync(file, buf);

    await victim.restart({ wait: false });
    await waitFor('damaged node exited', () => victim.pid === 0, 15_000);
    const last = readFileSync(victim.logFile, 'utf8').trim().split('\n').pop()!;
    const line = JSON.parse(last) as { level: string; msg: string; error: string };
    expect(line.level).toBe('error');
    expect(line.error).toBe('StoreCorruptError');
    expect(line.msg).toContain(`checksum mismatch in ${file}`);
    expect(line.msg).toMatch(/table (flags|changes|client_requests), row /);
    expect(line.msg).toContain('Rebuild a damaged node');

    // The documented rebuild (README "Rebuild a damaged node").
    await client.removeMember(victim.id);
    await victim.wipe();
    await victim.restart({ join: true });
    await client.addLearner(victim.id, victim.peerAddress);
    const rebuilt = createClusterClient({ ...cluster.clientOptions(), endpoints: [victim.address] });
    try {
      await waitFor('rebuilt node caught up', async () => (await rebuilt.status()).appliedIndex >= (await client.status()).commitIndex, 20_000, 100);
      await waitFor('learner promoted', async () => { await client.promoteLearner(victim.id); return true; }, 20_000, 200);
      expect((await rebuilt.getFlag('victim-flag', { consistency: 'stale' }))?.flag.description).toBe(marker);
      expect((await client.status()).members.find((m) => m.id === victim.id)?.role).toBe('voter');
    } finally {
      rebuilt.close();
    }
  });
});
