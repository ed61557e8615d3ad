// Issuing the cluster's certificates: one CA per cluster, and leaf
// certificates whose subjectAltName URI is the holder's identity. X.509 is
// built by @peculiar/x509 on Node's WebCrypto (no openssl binary needed, so
// this also runs in slim containers); keys are ECDSA P-256 (fast to make and
// to handshake with). Loaded lazily: only the tools that issue need it.
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { identityName, identityUri, IdentityError, isValidName, type Identity } from './identity.js';

export interface CaMaterial {
  /** PEM certificate of the CA. */
  certPem: string;
  /** PEM (PKCS#8) private key of the CA. */
  keyPem: string;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

export interface IssueOptions {
  /** DNS names and IP addresses added to the subjectAltName, for tools that check host names (grpcurl). flagraft itself checks the identity URI. */
  hosts?: string[];
  /** Validity from now (days). */
  validityDays?: number;
}

/** Default validity of a CA (days). */
export const CA_VALIDITY_DAYS = 3650;
/** Default validity of a node or service certificate (days); rotate before it ends (`flagraft certs rotate`). */
export const LEAF_VALIDITY_DAYS = 365;
/** Host names per certificate (count). */
export const MAX_HOSTS_PER_CERT = 64;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 3600 * 1000;
// Certificates start a little in the past: clocks of the machines in a cluster differ.
const BACKDATE_MS = 5 * 60 * 1000;

type X509 = typeof import('@peculiar/x509');
let lib: Promise<X509> | undefined;
function x509(): Promise<X509> {
  lib ??= (async () => {
    // tsyringe (used by @peculiar/x509) needs the Reflect metadata polyfill loaded first.
    await import('reflect-metadata');
    const m = await import('@peculiar/x509');
    m.cryptoProvider.set(webcrypto as unknown as Parameters<typeof m.cryptoProvider.set>[0]);
    return m;
  })();
  return lib;
}

/** A new cluster id: "fr-" and 12 random base-32 characters (60 bits), unguessable, one DNS label. */
export function generateClusterId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(12);
  let s = 'fr-';
  for (const b of bytes) s += alphabet[b & 31];
  return s;
}

/** PEM text ends in a newline, so files can be concatenated into bundles. */
function pemLine(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // positive (RFC 5280 4.1.2.2)
  b[0] |= 0x01; // and no leading zero byte to strip
  return b.toString('hex');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new IdentityError(`validity must be 1..36500 days, got ${days}`);
  const now = Date.now();
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + days * DAY_MS) };
}

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const m = await x509();
  return pemLine(m.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY'));
}

/** A new CA for a cluster. Its subject names the cluster (for people reading it; flagraft trusts the CA file, not the name). */
export async function createClusterCa(clusterId: string, o: { validityDays?: number } = {}): Promise<CaMaterial> {
  if (!isValidName(clusterId)) throw new IdentityError(`cluster id ${JSON.stringify(clusterId)} is not one lower-case DNS label (a-z, 0-9, inner hyphens, 1-63 characters)`);
  const m = await x509();
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const cert = await m.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    // A timestamp in the name keeps an old and a new CA of one cluster apart during a CA rotation.
    name: `CN=flagraft cluster CA ${clusterId} ${new Date().toISOString().slice(0, 19)}Z, O=flagraft`,
    ...validity(o.validityDays ?? CA_VALIDITY_DAYS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new m.BasicConstraintsExtension(true, 0, true),
      new m.KeyUsagesExtension(m.KeyUsageFlags.keyCertSign | m.KeyUsageFlags.cRLSign, true),
      await m.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: pemLine(cert.toString('pem')), keyPem: await pkcs8Pem(keys.privateKey) };
}

/** A certificate for `identity`, signed by `ca`. Nodes get serverAuth + clientAuth (they are both to each other); services clientAuth. */
export async function issueCertificate(ca: CaMaterial, identity: Identity, o: IssueOptions = {}): Promise<IssuedCertificate> {
  const uri = identityUri(identity);
  const hosts = o.hosts ?? [];
  if (hosts.length > MAX_HOSTS_PER_CERT) throw new IdentityError(`at most ${MAX_HOSTS_PER_CERT} host names per certificate, got ${hosts.length}`);
  for (const h of hosts) {
    if (!isIP(h) && !/^(?=.{1,253}$)(\*\.)?[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/.test(h)) {
      throw new IdentityError(`host ${JSON.stringify(h)} is neither an IP address nor a DNS name`);
    }
  }
  const m = await x509();
  const caCert = new m.X509Certificate(ca.certPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(ca.keyPem).export({ format: 'der', type: 'pkcs8' }), ALG, false, ['sign']);
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const names = [{ type: 'url' as const, value: uri }, ...hosts.map((h) => ({ type: isIP(h) ? 'ip' as const : 'dns' as const, value: h }))];
  const eku = identity.kind === 'node' ? [m.ExtendedKeyUsage.serverAuth, m.ExtendedKeyUsage.clientAuth] : [m.ExtendedKeyUsage.clientAuth];
  const cert = await m.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${identityName(identity)}, O=flagraft`,
    issuer: caCert.subject,
    ...validity(o.validityDays ?? LEAF_VALIDITY_DAYS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions: [
      new m.BasicConstraintsExtension(false, undefined, true),
      new m.KeyUsagesExtension(m.KeyUsageFlags.digitalSignature, true),
      new m.ExtendedKeyUsageExtension(eku),
      // Critical: the identity is what this certificate is for.
      new m.SubjectAlternativeNameExtension(names, true),
      await m.AuthorityKeyIdentifierExtension.create(caCert, false),
      await m.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const out = { certPem: pemLine(cert.toString('pem')), keyPem: await pkcs8Pem(keys.privateKey) };
  // Never hand out something Node's own X.509 code would not accept.
  const check = new X509Certificate(out.certPem);
  if (!check.verify(new X509Certificate(ca.certPem).publicKey)) throw new Error('internal error: issued certificate does not verify against its CA');
  return out;
}

/** DNS names and IP addresses in a certificate's subjectAltName (to keep them when re-issuing). */
export function hostsOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').flatMap((e) => {
    if (e.startsWith('DNS:')) return [e.slice(4)];
    if (e.startsWith('IP Address:')) return [e.slice(11)];
    return [];
  });
}
