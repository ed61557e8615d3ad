// Certificate rotation without downtime, under write load: a full CA
// rotation (new CA trusted beside the old one, every certificate re-issued
// node by node, the old CA dropped), each step picked up by SIGHUP while
// writes keep going, then restarts that renew every connection with the
// new certificates only. Not one acknowledged write is lost,
// and a certificate of the old CA no longer gets in.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { dropOldCas, pkiFiles, rotateCa, rotateLeaves } from '@flagraft/identity';
import { startLocalCluster, type LocalCluster, type LocalNode } from '@flagraft/testkit';
import { flag, verifyAcked, waitFor, writeLoad } from './helpers.js';

let cluster: LocalCluster;
let client: ClusterClient;
let saved: string;

beforeAll(async () => {
  // Its own PKI: this test rewrites it.
  cluster = await startLocalCluster({ size: 3, clusterId: 'rotation-test' });
  client = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 20_000, tlsReloadIntervalMs: 0 });
  saved = mkdtempSync(join(tmpdir(), 'flagraft-old-pki-'));
  cpSync(cluster.pkiDir!, saved, { recursive: true });
});
afterAll(async () => {
  client?.close();
  await cluster?.stop();
  if (saved) rmSync(saved, { recursive: true, force: true });
});

async function reloads(n: LocalNode): Promise<number> {
  return (await client.status({ endpoint: n.address })).securityCounters?.tls_reloads ?? 0;
}

/** Changes the PKI files, sends SIGHUP to `nodes`, and waits until each reports a reload (by SIGHUP or by its file check, whichever came first). */
async function changeAndHup(nodes: LocalNode[], change: () => Promise<unknown> | unknown): Promise<void> {
  const before = await Promise.all(nodes.map(reloads));
  await change();
  for (const n of nodes) process.kill(n.pid, 'SIGHUP');
  await Promise.all(nodes.map((n, i) => waitFor(`node ${n.id} to reload its certificates`, async () => (await reloads(n)) > before[i], 10_000)));
}

describe('certificate rotation under write load', () => {
  it('a CA rotation and a rolling restart lose no acknowledged write; the old CA is refused afterwards', async () => {
    const load = writeLoad(client, 'rot', 6);
    try {
      await rotateUnderLoad(load);
    } finally {
      await load.stop();
    }
    expect(load.failed).toEqual([]);
    expect(load.count()).toBeGreaterThan(200);
    await verifyAcked(client, load.acked);

    // The old gateway certificate (old CA) no longer gets in, the new one does.
    const old = createClusterClient({ endpoints: cluster.endpoints, tls: pkiFiles(saved, 'gateway-test'), retryDeadlineMs: 1500, requestTimeoutMs: 500, tlsReloadIntervalMs: 0 });
    await expect(old.putFlag(flag('old-ca'), { actor: 'x' })).rejects.toMatchObject({ code: expect.stringMatching(/PERMISSION|UNAVAILABLE|DEADLINE/) });
    old.close();
    expect(await client.getFlag('old-ca')).toBeUndefined();
    const after = await client.putFlag(flag('new-ca'), { actor: 'x' });
    expect(after.revision).toBeGreaterThan(0);
  }, 180_000);
});

async function rotateUnderLoad(load: ReturnType<typeof writeLoad>): Promise<void> {
  const progressed = async (what: string) => {
    const n = load.count();
    await waitFor(`writes to continue after ${what}`, () => load.count() > n + 10, 20_000);
  };
  await progressed('start');

  // Step 1: a new CA, trusted beside the old one, everywhere.
  await changeAndHup(cluster.nodes, () => rotateCa(cluster.pkiDir!));
  expect(client.reloadCertificates()).toBe(true);
  await progressed('rotate-ca');

  // Step 2: node by node, a new key and certificate from the new CA.
  for (const n of cluster.nodes) {
    await changeAndHup([n], () => rotateLeaves(cluster.pkiDir!, { only: [`node-${n.id}`] }));
    await progressed(`re-issuing node ${n.id}`);
  }
  await rotateLeaves(cluster.pkiDir!, { only: ['gateway-test', 'admin-test'] });
  expect(client.reloadCertificates()).toBe(true);
  await progressed('re-issuing the client certificate');

  // Step 3: only the new CA is trusted.
  await changeAndHup(cluster.nodes, () => expect(dropOldCas(cluster.pkiDir!)).toBe(1));
  client.reloadCertificates();
  await progressed('drop-old-ca');

  // Every connection anew: restarting a follower renews its links to both others, then the
  // leader renews the remaining pair (SIGKILL: nothing is handed over gracefully).
  const leader = await cluster.leader();
  for (const n of [cluster.nodes.find((x) => x.id !== leader.id)!, leader]) {
    await n.restart();
    await progressed(`restarting node ${n.id}`);
  }
}
