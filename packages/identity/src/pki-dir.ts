// A cluster's PKI as a folder of files: what `flagraft certs` writes and
// what the launcher, compose and Kubernetes mount.
//
//   <dir>/cluster-id              the cluster id (text)
//   <dir>/ca.crt                  the trusted CA bundle: the signing CA first, then older CAs during a CA rotation
//   <dir>/ca.key                  the signing CA's private key (0600; keep it off the machines that run flagraft)
//   <dir>/<name>.crt, <name>.key  one pair per identity: node-1, gateway-gw-1, admin-ops, reader-metrics
//
// Every write replaces the file atomically (temporary file + rename), so a
// process that reloads while `certs rotate` runs sees either the old or the
// new file, never half of one; private keys are created 0600.
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityName, identityOfCertificate, IdentityError, type Identity, type ServiceRole } from './identity.js';
import { createClusterCa, generateClusterId, hostsOf, issueCertificate, type CaMaterial } from './pki.js';
import { splitPemCertificates, type TlsFiles } from './tls-files.js';

export interface PkiEntry {
  name: string;
  identity: Identity;
  notAfter: Date;
  /** Issued by the current signing CA (false after `rotate-ca` until `rotate`). */
  currentCa: boolean;
  files: TlsFiles;
}

export interface InitOptions {
  /** Default: a new random id (generateClusterId). */
  clusterId?: string;
  /** Node ids to issue certificates for. */
  nodes?: number[];
  services?: { role: ServiceRole; name: string }[];
  /** DNS names / IPs put into every node certificate (default localhost, 127.0.0.1). */
  hosts?: string[];
  validityDays?: number;
  caValidityDays?: number;
  /** An existing PKI is kept (its cluster id wins) and only missing certificates are issued. Without it, an existing PKI is an error. */
  ifMissing?: boolean;
}

export const DEFAULT_NODE_HOSTS = ['localhost', '127.0.0.1'];

const CA_CERT = 'ca.crt';
const CA_KEY = 'ca.key';
const CLUSTER_ID = 'cluster-id';

function writeAtomic(path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode); // the umask may have removed bits from `mode`
  renameSync(tmp, path);
}

export function pkiFiles(dir: string, name: string): TlsFiles {
  return { caFile: join(dir, CA_CERT), certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

/** The files of one identity in `dir`. */
export function tlsFilesFor(dir: string, identity: Identity): TlsFiles {
  return pkiFiles(dir, identityName(identity));
}

export function hasPki(dir: string): boolean {
  return existsSync(join(dir, CA_KEY)) && existsSync(join(dir, CA_CERT)) && existsSync(join(dir, CLUSTER_ID));
}

export function readClusterId(dir: string): string {
  return readFileSync(join(dir, CLUSTER_ID), 'utf8').trim();
}

function readCa(dir: string): CaMaterial {
  if (!hasPki(dir)) throw new IdentityError(`${dir} holds no flagraft PKI (run \`flagraft certs init --dir ${dir}\`)`);
  const bundle = splitPemCertificates(readFileSync(join(dir, CA_CERT), 'utf8'));
  return { certPem: bundle[0], keyPem: readFileSync(join(dir, CA_KEY), 'utf8') };
}

function writeCa(dir: string, bundle: string[], keyPem: string): void {
  writeAtomic(join(dir, CA_KEY), keyPem, 0o600);
  writeAtomic(join(dir, CA_CERT), bundle.join(''), 0o644);
}

/** Creates the folder's CA and cluster id (or keeps them with ifMissing) and issues the requested certificates. */
export async function initPki(dir: string, o: InitOptions = {}): Promise<{ clusterId: string; created: boolean; issued: string[] }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let created = false;
  if (hasPki(dir)) {
    if (!o.ifMissing) throw new IdentityError(`${dir} already holds a PKI for cluster ${readClusterId(dir)}; use \`certs issue\` or \`certs rotate\``);
    if (o.clusterId && o.clusterId !== readClusterId(dir)) throw new IdentityError(`${dir} holds the PKI of cluster ${readClusterId(dir)}, not ${o.clusterId}`);
  } else {
    const clusterId = o.clusterId ?? generateClusterId();
    const ca = await createClusterCa(clusterId, { validityDays: o.caValidityDays });
    writeCa(dir, [ca.certPem], ca.keyPem);
    writeAtomic(join(dir, CLUSTER_ID), `${clusterId}\n`, 0o644);
    created = true;
  }
  const clusterId = readClusterId(dir);
  const issued: string[] = [];
  const want: Identity[] = [
    ...(o.nodes ?? []).map((nodeId): Identity => ({ kind: 'node', clusterId, nodeId })),
    ...(o.services ?? []).map((s): Identity => ({ kind: 'service', clusterId, role: s.role, name: s.name })),
  ];
  for (const id of want) {
    if (existsSync(tlsFilesFor(dir, id).certFile)) continue;
    await issueInto(dir, id, { hosts: id.kind === 'node' ? o.hosts ?? DEFAULT_NODE_HOSTS : [], validityDays: o.validityDays });
    issued.push(identityName(id));
  }
  return { clusterId, created, issued };
}

/** Issues (or with overwrite, replaces) the certificate of one identity of this folder's cluster. */
export async function issueInto(dir: string, identity: Identity, o: { hosts?: string[]; validityDays?: number; overwrite?: boolean } = {}): Promise<TlsFiles> {
  const ca = readCa(dir);
  const clusterId = readClusterId(dir);
  if (identity.clusterId !== clusterId) throw new IdentityError(`${dir} is the PKI of cluster ${clusterId}, not ${identity.clusterId}`);
  const files = tlsFilesFor(dir, identity);
  if (existsSync(files.certFile) && !o.overwrite) throw new IdentityError(`${files.certFile} exists (rotate it with \`certs rotate\`)`);
  const leaf = await issueCertificate(ca, identity, { hosts: o.hosts, validityDays: o.validityDays });
  // Key first: a process reloading in between sees a mismatching pair and keeps its old one until the certificate follows.
  writeAtomic(files.keyFile, leaf.keyPem, 0o600);
  writeAtomic(files.certFile, leaf.certPem, 0o644);
  return files;
}

/** Every identity certificate in the folder. */
export function listPki(dir: string): PkiEntry[] {
  const ca = new X509Certificate(readCa(dir).certPem);
  const out: PkiEntry[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.crt') || f === CA_CERT) continue;
    const name = f.slice(0, -4);
    const x = new X509Certificate(readFileSync(join(dir, f)));
    out.push({ name, identity: identityOfCertificate(x), notAfter: new Date(x.validTo), currentCa: x.checkIssued(ca) && x.verify(ca.publicKey), files: pkiFiles(dir, name) });
  }
  return out;
}

/**
 * Re-issues every identity certificate (new keys, same identities and host
 * names) with the current signing CA. Running processes pick the new files
 * up on SIGHUP or at their next file check; connections already open stay up.
 */
export async function rotateLeaves(dir: string, o: { validityDays?: number; only?: string[] } = {}): Promise<string[]> {
  const done: string[] = [];
  for (const e of listPki(dir)) {
    if (o.only && !o.only.includes(e.name)) continue;
    const hosts = hostsOf(new X509Certificate(readFileSync(e.files.certFile)));
    await issueInto(dir, e.identity, { hosts, validityDays: o.validityDays, overwrite: true });
    done.push(e.name);
  }
  if (o.only) for (const n of o.only) if (!done.includes(n)) throw new IdentityError(`no certificate named ${n} in ${dir}`);
  return done;
}

/**
 * Step 1 of a CA rotation: a new signing CA, trusted next to the old one
 * (bundle = new + old). Certificates are unchanged. Once every process has
 * reloaded the bundle, step 2 (`rotateLeaves`) re-issues them with the new
 * CA, and step 3 (`dropOldCas`) stops trusting the old CA.
 */
export async function rotateCa(dir: string, o: { validityDays?: number } = {}): Promise<void> {
  readCa(dir); // refuses a folder without a PKI
  const bundle = splitPemCertificates(readFileSync(join(dir, CA_CERT), 'utf8'));
  const next = await createClusterCa(readClusterId(dir), { validityDays: o.validityDays });
  // The old CA's key is dropped: nothing is signed with it again.
  writeCa(dir, [next.certPem, ...bundle], next.keyPem);
}

/** Step 3 of a CA rotation: trust only the signing CA. Refused while a certificate in the folder is still from an old CA. */
export function dropOldCas(dir: string): number {
  const stale = listPki(dir).filter((e) => !e.currentCa).map((e) => e.name);
  if (stale.length) throw new IdentityError(`still issued by an old CA: ${stale.join(', ')} (run \`certs rotate\` first)`);
  const bundle = splitPemCertificates(readFileSync(join(dir, CA_CERT), 'utf8'));
  writeAtomic(join(dir, CA_CERT), bundle[0], 0o644);
  return bundle.length - 1;
}
