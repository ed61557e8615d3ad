// Real gRPC over loopback with the store's credentials: who the server sees,
// which servers a client accepts, and that a reload changes what new
// connections present while open ones keep working.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateStore, SECURE_CHANNEL_OPTIONS, channelCredentials, identityOfCall, identityUri, initPki, pkiFiles, rotateCa, rotateLeaves, serverCredentials,
} from '../src/index.js';

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const WHO = { path: '/test.Who/Who', requestStream: false, responseStream: false,
  requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize };

let base: string;
let server: grpc.Server;
let serverStore: CertificateStore;
let address: string;
beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'flagraft-creds-'));
  await initPki(join(base, 'a'), { nodes: [1, 2], services: [{ role: 'gateway', name: 'gw' }] });
  await initPki(join(base, 'b'), { nodes: [1], services: [{ role: 'gateway', name: 'gw' }] });
  serverStore = new CertificateStore(pkiFiles(join(base, 'a'), 'node-1'));
  server = new grpc.Server();
  server.addService({ Who: WHO } as grpc.ServiceDefinition, {
    Who: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      let who = 'nobody';
      try {
        const id = identityOfCall(call);
        if (id) who = identityUri(id);
      } catch (e) { who = `bad: ${(e as Error).message}`; }
      cb(null, Buffer.from(who));
    },
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', serverCredentials(serverStore), (e, p) => (e ? rej(e) : res(p))));
  address = `127.0.0.1:${port}`;
});
afterAll(() => {
  server?.forceShutdown();
  rmSync(base, { recursive: true, force: true });
});

function call(creds: grpc.ChannelCredentials, options: Record<string, string> = SECURE_CHANNEL_OPTIONS): Promise<string> {
  const Client = grpc.makeGenericClientConstructor({ Who: WHO } as grpc.ServiceDefinition, 'Who');
  const c = new Client(address, creds, options);
  return new Promise((resolve, reject) => {
    (c as any).Who(Buffer.alloc(0), { deadline: Date.now() + 3000 }, (err: Error | null, res: Buffer) => {
      c.close();
      if (err) reject(err); else resolve(res.toString());
    });
  });
}

describe('mutual TLS credentials', () => {
  it('the server sees the verified identity of a client of its own CA, and nothing for others', async () => {
    const a = join(base, 'a');
    const clusterId = serverStore.identity.clusterId;
    const gw = new CertificateStore(pkiFiles(a, 'gateway-gw'));
    expect(await call(channelCredentials(gw))).toBe(`flagraft://${clusterId}/service/gateway/gw`);
    // No client certificate: the handshake completes, the server sees nobody (and the caller's own check refuses).
    expect(await call(grpc.credentials.createSsl(serverStore.current.ca), {})).toBe('nobody');
    // A client of another cluster does not even trust this server.
    const foreign = new CertificateStore(pkiFiles(join(base, 'b'), 'gateway-gw'));
    await expect(call(channelCredentials(foreign))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('a client pins the node id it dials and refuses servers that are not nodes of its cluster', async () => {
    const a = join(base, 'a');
    const n2 = new CertificateStore(pkiFiles(a, 'node-2'));
    expect(await call(channelCredentials(n2, { nodeId: 1 }))).toMatch(/\/node\/2$/);
    await expect(call(channelCredentials(n2, { nodeId: 3 }))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE, details: expect.stringContaining('expected node 3') });
  });

  it('after a reload new connections present the new certificate', async () => {
    const a = join(base, 'a');
    const gw = new CertificateStore(pkiFiles(a, 'gateway-gw'));
    const fp = () => new X509Certificate(gw.current.cert).fingerprint256;
    const before = fp();
    await rotateLeaves(a, { only: ['gateway-gw', 'node-1'] });
    expect(gw.reload()).toBe(true);
    expect(serverStore.reload()).toBe(true);
    expect(fp()).not.toBe(before);
    expect(await call(channelCredentials(gw))).toMatch(/service\/gateway\/gw$/);
  });

  it('a CA bundle trusts every CA in it, also when the file glues them together without a newline', async () => {
    const c = join(base, 'c');
    await initPki(c, { nodes: [1], services: [{ role: 'gateway', name: 'old' }] });
    const oldGw = new CertificateStore(pkiFiles(c, 'gateway-old'));
    const { issueInto } = await import('../src/index.js');
    await rotateCa(c);
    const id = { kind: 'service' as const, clusterId: oldGw.identity.clusterId, role: 'gateway' as const, name: 'new' };
    await issueInto(c, id);
    // Serve with the bundle (new + old CA) the way an operator might have concatenated it.
    const glued = join(c, 'glued.crt');
    writeFileSync(glued, readFileSync(join(c, 'ca.crt'), 'utf8').replace(/\n-----BEGIN/g, '-----BEGIN'));
    const store = new CertificateStore({ ...pkiFiles(c, 'node-1'), caFile: glued });
    const srv = new grpc.Server();
    srv.addService({ Who: WHO } as grpc.ServiceDefinition, {
      Who: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => { const who = identityOfCall(call); cb(null, Buffer.from(who ? identityUri(who) : 'nobody')); },
    });
    const port = await new Promise<number>((res, rej) => srv.bindAsync('127.0.0.1:0', serverCredentials(store), (e, p) => (e ? rej(e) : res(p))));
    const saved = address;
    address = `127.0.0.1:${port}`;
    try {
      expect(await call(channelCredentials(new CertificateStore({ ...pkiFiles(c, 'gateway-old'), caFile: glued })))).toMatch(/gateway\/old$/);
      expect(await call(channelCredentials(new CertificateStore(pkiFiles(c, 'gateway-new'))))).toMatch(/gateway\/new$/);
    } finally {
      address = saved;
      srv.forceShutdown();
    }
  });
});
