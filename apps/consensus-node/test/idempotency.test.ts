// Caller-chosen de-duplication ids (a gateway's mapping of an HTTP
// Idempotency-Key): the same (clientId, requestId, fingerprint) from two
// gateways with their own certificates is applied once; the same ids with
// another fingerprint are refused with IDEMPOTENCY_KEY_REUSED; an admin
// client with the same ids has a scope of its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterError, createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { flag } from './helpers.js';

let cluster: LocalCluster;
const clients: ClusterClient[] = [];

async function clientAs(role: 'gateway' | 'admin', name: string): Promise<ClusterClient> {
  const c = createClusterClient({ ...cluster.clientOptions(), tls: await cluster.serviceTls(role, name) });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  cluster = await startLocalCluster({ size: 3 });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await cluster?.stop();
});

describe('caller-chosen de-duplication ids', () => {
  it('apply once across gateways, refuse another fingerprint, and stay per identity outside the gateways', async () => {
    const [gwA, gwB, ops] = [await clientAs('gateway', 'gw-a'), await clientAs('gateway', 'gw-b'), await clientAs('admin', 'ops')];
    const idempotency = { clientId: 'idem-user', requestId: 'key-1', fingerprint: 'fp-1' };
    const first = await gwA.putFlag(flag('idem', 'one'), { actor: 'alice', idempotency });
    const retried = await gwB.putFlag(flag('idem', 'one'), { actor: 'alice', idempotency });
    expect(retried.revision).toBe(first.revision);
    expect(retried.flag).toEqual(first.flag);
    expect((await gwA.history('idem')).map((c) => c.revision)).toEqual([first.revision]);

    const reused = await gwB.putFlag(flag('idem', 'two'), { actor: 'alice', idempotency: { ...idempotency, fingerprint: 'fp-2' } }).catch((e: unknown) => e);
    expect(reused).toBeInstanceOf(ClusterError);
    expect((reused as ClusterError).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await gwA.getFlag('idem'))?.modRevision).toBe(first.revision);

    // Not a gateway: its ids are its own, so the same ids are a new write.
    const own = await ops.putFlag(flag('idem', 'three'), { actor: 'admin:ops', idempotency });
    expect(own.revision).toBeGreaterThan(first.revision);
  });

  it('refuses the second of two concurrent proposals with one key and different fingerprints', async () => {
    const [gwA, gwB] = [await clientAs('gateway', 'gw-a'), await clientAs('gateway', 'gw-b')];
    const ids = { clientId: 'idem-user', requestId: 'key-2' };
    const outcomes = await Promise.allSettled([
      gwA.putFlag(flag('idem-race', 'a'), { actor: 'alice', idempotency: { ...ids, fingerprint: 'fp-a' } }),
      gwB.putFlag(flag('idem-race', 'b'), { actor: 'alice', idempotency: { ...ids, fingerprint: 'fp-b' } }),
    ]);
    const applied = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => ((o as PromiseRejectedResult).reason as ClusterError).code);
    expect(applied).toHaveLength(1);
    expect(refused).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    expect(await gwA.history('idem-race')).toHaveLength(1);
  });
});
