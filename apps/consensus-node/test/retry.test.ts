// A retried write that joins the same request still in flight on the leader
// gets an answer of its own when its own time is up, even though the first
// attempt timed out before it (the merged waiter used to reuse the first
// attempt's timer, which answered only the first caller: the retry hung until
// the client's deadline). The followers are paused (SIGSTOP) so nothing
// commits, with a proposal timeout far below the CheckQuorum step-down.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { flag, flagsClient, waitFor } from './helpers.js';

const PROPOSAL_TIMEOUT_MS = 300;

let cluster: LocalCluster;
let client: ClusterClient;
const paused: number[] = [];

beforeAll(async () => {
  cluster = await startLocalCluster({
    size: 3, electionTimeoutMs: 2000, heartbeatMs: 100,
    env: { FLAGRAFT_PROPOSAL_TIMEOUT_MS: String(PROPOSAL_TIMEOUT_MS) },
  });
  client = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 20_000 });
});
afterAll(async () => {
  for (const pid of paused) try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
  client?.close();
  await cluster?.stop();
});

describe('a retry that joins a write in flight', () => {
  it('is answered at its own deadline after the first attempt timed out, and the write applies once', async () => {
    const leader = await cluster.leader();
    await client.putFlag(flag('warm-up'), { actor: 'a' });
    const raw = await flagsClient(cluster, leader.address);
    // Both attempts carry the same (clientId, requestId): the second joins the first on the leader.
    const request = { meta: { actor: 'alice', clientId: 'retrying-client', requestId: 'request-1' }, definitionJson: JSON.stringify(flag('joined-retry')) };
    const put = (): Promise<{ code: grpc.status; details: string; ms: number }> => {
      const started = Date.now();
      return new Promise((resolve) => {
        raw.PutFlag(request, new grpc.Metadata(), { deadline: Date.now() + 10_000 },
          (err: grpc.ServiceError | null) => resolve({ code: err?.code ?? grpc.status.OK, details: err?.details ?? '', ms: Date.now() - started }));
      });
    };
    for (const n of cluster.nodes) if (n.id !== leader.id) { process.kill(n.pid, 'SIGSTOP'); paused.push(n.pid); }
    const first = put();
    await new Promise((r) => setTimeout(r, PROPOSAL_TIMEOUT_MS / 2));
    const retry = put();
    const [a, b] = await Promise.all([first, retry]);
    expect(a).toMatchObject({ code: grpc.status.UNAVAILABLE, details: expect.stringContaining(`not applied within ${PROPOSAL_TIMEOUT_MS} ms`) });
    expect(b).toMatchObject({ code: grpc.status.UNAVAILABLE, details: expect.stringContaining(`not applied within ${PROPOSAL_TIMEOUT_MS} ms`) });
    // Its own deadline, not the client's (10 s) nor the leader stepping down (CheckQuorum, >= 2 s).
    expect(b.ms).toBeLessThan(PROPOSAL_TIMEOUT_MS + 1000);
    for (const pid of paused.splice(0)) process.kill(pid, 'SIGCONT');
    raw.close();
    // The write was in the leader's log: it commits once the followers are back, and only once.
    const f = await waitFor('the write to apply', () => client.getFlag('joined-retry'), 20_000, 50);
    expect(f.version).toBe(1);
    expect((await client.history('joined-retry')).length).toBe(1);
  });
});

