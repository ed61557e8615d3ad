// Mutual TLS for peer and client traffic, configured by file paths.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '../src/index.js';
import { flag } from './helpers.js';

function makeCerts(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=flagraft-test-ca');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=flagraft-node');
  ssl('x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.pem', '-days', '1', '-extfile', 'ext.cnf');
  return { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'node.pem'), keyFile: join(dir, 'node.key') };
}

describe('mutual TLS', () => {
  let dir: string;
  let cluster: LocalCluster;
  let certs: ReturnType<typeof makeCerts>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flagraft-tls-'));
    certs = makeCerts(dir);
    cluster = await startLocalCluster({ size: 3, tls: { ...certs, requireClientCert: true } });
  });
  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves clients with a certificate and refuses plaintext and certificate-less clients', async () => {
    const good = createClusterClient({ endpoints: cluster.endpoints, clusterId: cluster.clusterId, tls: certs });
    const w = await good.putFlag(flag('tls-flag', 'secure'), { actor: 'a' });
    expect((await good.getFlag('tls-flag'))?.modRevision).toBe(w.revision);
    good.close();
    const plain = createClusterClient({ endpoints: cluster.endpoints, clusterId: cluster.clusterId, retryDeadlineMs: 1000, requestTimeoutMs: 500 });
    await expect(plain.getFlag('tls-flag')).rejects.toMatchObject({ code: expect.stringMatching(/UNAVAILABLE|DEADLINE/) });
    plain.close();
    const noCert = createClusterClient({ endpoints: cluster.endpoints, clusterId: cluster.clusterId, tls: { caFile: certs.caFile }, retryDeadlineMs: 1000, requestTimeoutMs: 500 });
    await expect(noCert.getFlag('tls-flag')).rejects.toMatchObject({ code: expect.stringMatching(/UNAVAILABLE|DEADLINE/) });
    noCert.close();
  });
});
