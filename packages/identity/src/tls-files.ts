// A process's own TLS material (CA bundle, certificate, key) loaded from
// files, checked, and reloaded without a restart: on SIGHUP (the owner calls
// reload()) or when a file changes (watch()). A bad new set of files is
// refused and the old one stays in use, so a half-written rotation never
// takes a process off the network. The store is also a grpc-js
// CertificateProvider: every new connection uses the newest certificates,
// connections already open are not disturbed.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { identityOfCertificate, identityUri, sameIdentity, type Identity } from './identity.js';

/** Largest CA bundle, certificate or key file read (bytes). */
export const MAX_TLS_FILE_BYTES = 1024 * 1024;
/** CA certificates in one bundle (count). */
export const MAX_CA_CERTS = 16;
/** How often watch() looks at the files by default (ms). */
export const DEFAULT_TLS_RELOAD_INTERVAL_MS = 5_000;
/** A certificate that ends within this many days is reported (expiresSoon). */
export const EXPIRY_WARNING_DAYS = 30;

export interface TlsFiles {
  /** PEM bundle of the CA certificates to trust. */
  caFile: string;
  /** PEM certificate presented by this process (its identity). */
  certFile: string;
  /** PEM private key of that certificate. */
  keyFile: string;
}

export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
}

export interface LoadedCertificates {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  identity: Identity;
  notAfter: Date;
  /** The certificate ends within EXPIRY_WARNING_DAYS. */
  expiresSoon: boolean;
}

/**
 * The PEM certificate blocks of a bundle, in order, each ending in one
 * newline. (OpenSSL stops reading a bundle at a block glued to the previous
 * one's END line, so blocks are always joined on their own lines.)
 */
export function splitPemCertificates(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => `${b}\n`);
}

function readBounded(path: string, what: string): Buffer {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (e) {
    throw new TlsConfigError(`cannot read the ${what} file ${path}: ${(e as Error).message}`);
  }
  if (b.length > MAX_TLS_FILE_BYTES) throw new TlsConfigError(`the ${what} file ${path} is ${b.length} bytes; at most ${MAX_TLS_FILE_BYTES} (MAX_TLS_FILE_BYTES)`);
  return b;
}

/** Reads and checks a set of files; throws TlsConfigError naming the file and what is wrong. */
export function loadCertificates(files: TlsFiles, now = Date.now()): LoadedCertificates {
  const ca = readBounded(files.caFile, 'CA');
  const cert = readBounded(files.certFile, 'certificate');
  const key = readBounded(files.keyFile, 'private key');
  const caBlocks = splitPemCertificates(ca.toString('utf8'));
  if (caBlocks.length === 0) throw new TlsConfigError(`the CA file ${files.caFile} holds no PEM certificate`);
  if (caBlocks.length > MAX_CA_CERTS) throw new TlsConfigError(`the CA file ${files.caFile} holds ${caBlocks.length} certificates; at most ${MAX_CA_CERTS} (MAX_CA_CERTS)`);
  const cas = caBlocks.map((p, i) => {
    let x: X509Certificate;
    try { x = new X509Certificate(p); } catch (e) { throw new TlsConfigError(`certificate ${i + 1} of the CA file ${files.caFile} cannot be parsed: ${(e as Error).message}`); }
    if (!x.ca) throw new TlsConfigError(`certificate ${i + 1} of the CA file ${files.caFile} is not a CA certificate`);
    return x;
  });
  const leafPem = splitPemCertificates(cert.toString('utf8'))[0];
  if (!leafPem) throw new TlsConfigError(`the certificate file ${files.certFile} holds no PEM certificate`);
  let leaf: X509Certificate;
  try { leaf = new X509Certificate(leafPem); } catch (e) { throw new TlsConfigError(`the certificate in ${files.certFile} cannot be parsed: ${(e as Error).message}`); }
  let identity: Identity;
  try { identity = identityOfCertificate(leaf); } catch (e) { throw new TlsConfigError(`${files.certFile}: ${(e as Error).message}`); }
  let keyObj: KeyObject;
  try { keyObj = createPrivateKey(key); } catch (e) { throw new TlsConfigError(`the private key in ${files.keyFile} cannot be parsed: ${(e as Error).message}`); }
  if (!leaf.checkPrivateKey(keyObj)) throw new TlsConfigError(`the private key in ${files.keyFile} does not belong to the certificate in ${files.certFile}`);
  if (!cas.some((c) => leaf.checkIssued(c) && leaf.verify(c.publicKey))) throw new TlsConfigError(`the certificate in ${files.certFile} is not signed by a CA of ${files.caFile}`);
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now) throw new TlsConfigError(`the certificate in ${files.certFile} expired on ${notAfter.toISOString()} (make a new one: flagraft certs rotate)`);
  if (new Date(leaf.validFrom).getTime() > now) throw new TlsConfigError(`the certificate in ${files.certFile} is not valid before ${new Date(leaf.validFrom).toISOString()} (check the clock)`);
  // TLS gets the bundle as parsed here: every CA on its own lines, whatever the file's spacing.
  return { ca: Buffer.from(caBlocks.join('')), cert, key, identity, notAfter, expiresSoon: notAfter.getTime() - now < EXPIRY_WARNING_DAYS * 86_400_000 };
}

type CaListener = (u: { caCertificate: Buffer } | null) => void;
type IdentityListener = (u: { certificate: Buffer; privateKey: Buffer } | null) => void;

export interface WatchOptions {
  intervalMs?: number;
  onReload?(c: LoadedCertificates): void;
  /** A changed set of files was refused (the old one stays); called once per distinct error. */
  onError?(e: TlsConfigError): void;
}

export class CertificateStore {
  private cur: LoadedCertificates;
  private readonly caListeners = new Set<CaListener>();
  private readonly idListeners = new Set<IdentityListener>();
  private timer?: NodeJS.Timeout;
  private lastStamp = '';
  private lastError = '';
  /** Reloads that replaced the certificates (count). */
  reloads = 0;
  /** Changed files that were refused (count). */
  reloadFailures = 0;

  constructor(readonly files: TlsFiles) {
    this.cur = loadCertificates(files);
    this.lastStamp = this.stamp();
  }

  get identity(): Identity { return this.cur.identity; }
  get current(): LoadedCertificates { return this.cur; }

  /**
   * Reads the files again. Returns true if the certificates changed. Throws
   * TlsConfigError (and keeps the old ones) if the new files are invalid or
   * name another identity: a process never changes who it is.
   */
  reload(): boolean {
    let next: LoadedCertificates;
    try {
      next = loadCertificates(this.files);
      if (!sameIdentity(next.identity, this.cur.identity)) {
        throw new TlsConfigError(`${this.files.certFile} now names ${identityUri(next.identity)}, but this process is ${identityUri(this.cur.identity)}; restart it to change identity`);
      }
    } catch (e) {
      this.reloadFailures++;
      throw e;
    }
    this.lastStamp = this.stamp();
    if (next.ca.equals(this.cur.ca) && next.cert.equals(this.cur.cert) && next.key.equals(this.cur.key)) return false;
    this.cur = next;
    this.reloads++;
    for (const l of this.caListeners) l({ caCertificate: next.ca });
    for (const l of this.idListeners) l({ certificate: next.cert, privateKey: next.key });
    return true;
  }

  /** Checks the files every intervalMs and reloads when one changed. The timer does not keep the process alive. */
  watch(o: WatchOptions = {}): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      const s = this.stamp();
      if (s === this.lastStamp) return;
      try {
        if (this.reload()) o.onReload?.(this.cur);
        this.lastError = '';
      } catch (e) {
        const err = e instanceof TlsConfigError ? e : new TlsConfigError(String((e as Error)?.message ?? e));
        if (err.message !== this.lastError) o.onError?.(err);
        this.lastError = err.message;
      }
    }, o.intervalMs ?? DEFAULT_TLS_RELOAD_INTERVAL_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private stamp(): string {
    return [this.files.caFile, this.files.certFile, this.files.keyFile].map((f) => {
      try {
        const s = statSync(f);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    }).join('|');
  }

  // ---- grpc-js CertificateProvider (one object serves as CA and identity provider).
  // Listeners are told asynchronously: grpc-js registers its own watcher only after it added ours.
  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    queueMicrotask(() => { if (this.caListeners.has(l)) l({ caCertificate: this.cur.ca }); });
  }
  removeCaCertificateListener(l: CaListener): void { this.caListeners.delete(l); }
  addIdentityCertificateListener(l: IdentityListener): void {
    this.idListeners.add(l);
    queueMicrotask(() => { if (this.idListeners.has(l)) l({ certificate: this.cur.cert, privateKey: this.cur.key }); });
  }
  removeIdentityCertificateListener(l: IdentityListener): void { this.idListeners.delete(l); }
}

/** How a process talks to (or serves) the cluster: mutual TLS with these files, or plain text (only with FLAGRAFT_INSECURE=1). */
export type TransportSecurity = { mode: 'mtls'; files: TlsFiles } | { mode: 'insecure' };

/**
 * FLAGRAFT_TLS_CA / FLAGRAFT_TLS_CERT / FLAGRAFT_TLS_KEY (all three), or
 * FLAGRAFT_INSECURE=1 for plain text. Neither is a configuration error: TLS
 * is the default and plain text must be asked for.
 */
export function transportSecurityFromEnv(env: Record<string, string | undefined>): TransportSecurity {
  const ca = env.FLAGRAFT_TLS_CA || undefined;
  const cert = env.FLAGRAFT_TLS_CERT || undefined;
  const key = env.FLAGRAFT_TLS_KEY || undefined;
  const insecureRaw = (env.FLAGRAFT_INSECURE ?? '').trim().toLowerCase();
  if (insecureRaw && !['1', 'true', 'yes', '0', 'false', 'no'].includes(insecureRaw)) throw new TlsConfigError(`FLAGRAFT_INSECURE="${env.FLAGRAFT_INSECURE}" must be 1 or 0`);
  const insecure = ['1', 'true', 'yes'].includes(insecureRaw);
  if (insecure) {
    if (ca || cert || key) throw new TlsConfigError('FLAGRAFT_INSECURE=1 and FLAGRAFT_TLS_* are both set: choose one');
    return { mode: 'insecure' };
  }
  if (!ca || !cert || !key) {
    const missing = [!ca && 'FLAGRAFT_TLS_CA', !cert && 'FLAGRAFT_TLS_CERT', !key && 'FLAGRAFT_TLS_KEY'].filter(Boolean).join(', ');
    throw new TlsConfigError(`mutual TLS is required: ${missing} not set (make certificates with \`flagraft certs init\`; FLAGRAFT_INSECURE=1 runs plain text, for tests of the transport only)`);
  }
  return { mode: 'mtls', files: { caFile: ca, certFile: cert, keyFile: key } };
}
