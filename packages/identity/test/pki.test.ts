// The PKI folder, certificate checks and reloading, on real files.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateStore, TlsConfigError, dropOldCas, initPki, issueInto, listPki, loadCertificates, pkiFiles, readClusterId,
  rotateCa, rotateLeaves, runCertsCommand, splitPemCertificates, transportSecurityFromEnv,
} from '../src/index.js';

let base: string;
let dir: string;
let other: string;
beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'flagraft-pki-'));
  dir = join(base, 'pki');
  other = join(base, 'other');
  await initPki(dir, { nodes: [1, 2], services: [{ role: 'gateway', name: 'gw' }] });
  await initPki(other, { nodes: [1] });
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('initPki', () => {
  it('makes a cluster id, a CA and certificates naming their identity; keys are 0600', () => {
    const id = readClusterId(dir);
    expect(id).toMatch(/^fr-[a-z2-7]{12}$/);
    expect(readClusterId(other)).not.toBe(id);
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'node-1.key')).mode & 0o777).toBe(0o600);
    const x = new X509Certificate(readFileSync(join(dir, 'node-2.crt')));
    expect(x.subjectAltName).toContain(`URI:flagraft://${id}/node/2`);
    expect(x.subjectAltName).toContain('DNS:localhost');
    expect(loadCertificates(pkiFiles(dir, 'gateway-gw')).identity).toEqual({ kind: 'service', clusterId: id, role: 'gateway', name: 'gw' });
    expect(listPki(dir).map((e) => e.name)).toEqual(['gateway-gw', 'node-1', 'node-2']);
  });

  it('refuses to overwrite a PKI, and with ifMissing only adds what is missing', async () => {
    await expect(initPki(dir, { nodes: [1] })).rejects.toThrow(/already holds a PKI/);
    const before = readFileSync(join(dir, 'node-1.crt'), 'utf8');
    const r = await initPki(dir, { nodes: [1, 2, 3], ifMissing: true });
    expect(r).toMatchObject({ created: false, issued: ['node-3'] });
    expect(readFileSync(join(dir, 'node-1.crt'), 'utf8')).toBe(before);
    await expect(initPki(dir, { ifMissing: true, clusterId: 'someone-else' })).rejects.toThrow(/not someone-else/);
  });
});

describe('loadCertificates', () => {
  it('refuses a key of another certificate, a certificate of another CA, a leaf as CA, and missing files, naming the file', () => {
    const f = pkiFiles(dir, 'node-1');
    expect(() => loadCertificates({ ...f, keyFile: join(dir, 'node-2.key') })).toThrow(/does not belong to the certificate/);
    expect(() => loadCertificates({ ...f, caFile: join(other, 'ca.crt') })).toThrow(/not signed by a CA of/);
    expect(() => loadCertificates({ ...f, caFile: f.certFile })).toThrow(/is not a CA certificate/);
    expect(() => loadCertificates({ ...f, certFile: join(dir, 'nope.crt') })).toThrow(/cannot read the certificate file .*nope\.crt/);
    expect(() => loadCertificates({ ...f, certFile: f.keyFile })).toThrow(/holds no PEM certificate/);
  });
});

describe('CertificateStore', () => {
  it('reloads new files, keeps the old ones when the new set is invalid, and never changes identity', async () => {
    const own = join(base, 'own');
    await initPki(own, { nodes: [1, 2] });
    const files = pkiFiles(own, 'node-1');
    const store = new CertificateStore(files);
    const first = store.current.cert;
    expect(store.reload()).toBe(false);
    await rotateLeaves(own, { only: ['node-1'] });
    expect(store.reload()).toBe(true);
    expect(store.current.cert.equals(first)).toBe(false);
    expect(store.reloads).toBe(1);
    // Half-written rotation: a new certificate with the old key.
    const good = store.current.cert;
    copyFileSync(pkiFiles(own, 'node-2').certFile, files.certFile);
    expect(() => store.reload()).toThrow(TlsConfigError);
    expect(store.current.cert.equals(good)).toBe(true);
    // A complete pair of another identity is still refused.
    copyFileSync(pkiFiles(own, 'node-2').keyFile, files.keyFile);
    expect(() => store.reload()).toThrow(/restart it to change identity/);
    expect(store.reloadFailures).toBe(2);
  });

  it('watch() notices changed files and tells the listeners grpc-js registers', async () => {
    const own = join(base, 'watched');
    await initPki(own, { nodes: [1] });
    const store = new CertificateStore(pkiFiles(own, 'node-1'));
    const seen: Buffer[] = [];
    store.addIdentityCertificateListener((u) => { if (u) seen.push(u.certificate); });
    await new Promise((r) => setImmediate(r));
    expect(seen.length).toBe(1);
    let reloaded = 0;
    store.watch({ intervalMs: 20, onReload: () => reloaded++ });
    await rotateLeaves(own);
    const deadline = Date.now() + 5000;
    while (reloaded === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    store.close();
    expect(reloaded).toBe(1);
    expect(seen.length).toBe(2);
    expect(seen[1].equals(readFileSync(pkiFiles(own, 'node-1').certFile))).toBe(true);
  });
});

describe('CA rotation', () => {
  it('trusts old and new CA until every certificate is re-issued, then only the new one', async () => {
    const own = join(base, 'ca-rot');
    await initPki(own, { nodes: [1], services: [{ role: 'admin', name: 'ops' }] });
    const oldCa = readFileSync(join(own, 'ca.crt'), 'utf8');
    await rotateCa(own);
    expect(splitPemCertificates(readFileSync(join(own, 'ca.crt'), 'utf8'))).toHaveLength(2);
    // Old certificates still load against the bundle.
    expect(loadCertificates(pkiFiles(own, 'node-1')).identity.kind).toBe('node');
    expect(listPki(own).every((e) => !e.currentCa)).toBe(true);
    expect(() => dropOldCas(own)).toThrow(/still issued by an old CA: admin-ops, node-1/);
    await rotateLeaves(own);
    expect(dropOldCas(own)).toBe(1);
    const bundle = readFileSync(join(own, 'ca.crt'), 'utf8');
    expect(splitPemCertificates(bundle)).toHaveLength(1);
    expect(bundle).not.toBe(oldCa);
    // A certificate of the old CA no longer loads.
    writeFileSync(join(own, 'old-ca.crt'), oldCa);
    expect(() => loadCertificates({ ...pkiFiles(own, 'node-1'), caFile: join(own, 'old-ca.crt') })).toThrow(/not signed by a CA/);
  });
});

describe('transportSecurityFromEnv', () => {
  it('wants all three TLS files, or FLAGRAFT_INSECURE=1, never neither or both', () => {
    expect(transportSecurityFromEnv({ FLAGRAFT_TLS_CA: 'a', FLAGRAFT_TLS_CERT: 'b', FLAGRAFT_TLS_KEY: 'c' })).toEqual({ mode: 'mtls', files: { caFile: 'a', certFile: 'b', keyFile: 'c' } });
    expect(transportSecurityFromEnv({ FLAGRAFT_INSECURE: '1' })).toEqual({ mode: 'insecure' });
    expect(() => transportSecurityFromEnv({})).toThrow(/mutual TLS is required: FLAGRAFT_TLS_CA, FLAGRAFT_TLS_CERT, FLAGRAFT_TLS_KEY not set/);
    expect(() => transportSecurityFromEnv({ FLAGRAFT_TLS_CA: 'a' })).toThrow(/FLAGRAFT_TLS_CERT, FLAGRAFT_TLS_KEY not set/);
    expect(() => transportSecurityFromEnv({ FLAGRAFT_INSECURE: '1', FLAGRAFT_TLS_CA: 'a' })).toThrow(/choose one/);
    expect(() => transportSecurityFromEnv({ FLAGRAFT_INSECURE: 'maybe' })).toThrow(/must be 1 or 0/);
  });
});

describe('flagraft certs', () => {
  const run = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCertsCommand(argv, { env: {}, stdout: { write: (s: string) => { out += s; } }, stderr: { write: (s: string) => { err += s; } } });
    return { code, out, err };
  };
  it('init, issue, list, rotate', async () => {
    const d = join(base, 'cli');
    const init = await run('init', '--dir', d, '--cluster-id', 'my-cluster', '--nodes', '3', '--service', 'gateway:gw-1');
    expect(init).toMatchObject({ code: 0 });
    expect(init.out).toContain('created the PKI of cluster my-cluster');
    expect(init.out).toContain('issued: node-1, node-2, node-3, gateway-gw-1');
    expect((await run('issue', 'admin', 'ops', '--dir', d)).code).toBe(0);
    expect((await run('issue', 'node', '4', '--dir', d, '--host', 'node-4.example')).code).toBe(0);
    expect(new X509Certificate(readFileSync(join(d, 'node-4.crt'))).subjectAltName).toContain('DNS:node-4.example');
    const list = await run('list', '--dir', d);
    expect(list.out).toMatch(/cluster my-cluster\nadmin-ops/);
    const rot = await run('rotate', '--dir', d, '--only', 'node-4');
    expect(rot.out).toContain('re-issued 1 certificate(s): node-4');
    expect(new X509Certificate(readFileSync(join(d, 'node-4.crt'))).subjectAltName).toContain('DNS:node-4.example');
  });
  it('refuses bad usage with exit code 2 and failures with 1', async () => {
    const d = join(base, 'cli');
    expect((await run('issue', 'root', 'x', '--dir', d))).toMatchObject({ code: 2, err: expect.stringContaining('ROLE one of gateway, admin, reader') });
    expect((await run('issue', 'admin', 'ops', '--dir', d))).toMatchObject({ code: 1, err: expect.stringContaining('exists') });
    expect((await run('init', '--nodes', '3'))).toMatchObject({ code: 2, err: expect.stringContaining('--dir <folder> is required') });
    expect((await run('init', '--dir', join(base, 'x'), '--nodes', '0'))).toMatchObject({ code: 2 });
    expect((await run('init', '--dir', join(base, 'y'), '--cluster-id', 'Bad_Id'))).toMatchObject({ code: 1, err: expect.stringContaining('cluster id') });
    expect((await run('frobnicate', '--dir', d))).toMatchObject({ code: 2 });
  });
});
