// Who is on the other end of a connection. Every certificate of a flagraft
// cluster carries exactly one identity, as a URI in its subjectAltName:
//
//   flagraft://<cluster-id>/node/<node-id>            a consensus node (speaks Raft)
//   flagraft://<cluster-id>/service/<role>/<name>     a client of the nodes (gateway, admin tool, reader)
//
// This file is the one place that turns a certificate into an identity and
// says what each role may do; everything else asks it.
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

export const IDENTITY_SCHEME = 'flagraft';

/**
 * Roles of service certificates:
 * - gateway: reads, writes and administers on behalf of the end users it
 *   authenticated itself, and is the only role that may name another actor
 *   (it vouches for the user);
 * - admin: reads, writes and administers as itself (operators, the CLI, jobs);
 * - reader: reads only (watch, get, list, status).
 */
export const SERVICE_ROLES = ['gateway', 'admin', 'reader'] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

/** What a call needs: read flags and state, change them, or change the cluster itself (membership, backup, restore). */
export type Permission = 'read' | 'write' | 'admin';

export type NodeIdentity = { kind: 'node'; clusterId: string; nodeId: number };
export type ServiceIdentity = { kind: 'service'; clusterId: string; role: ServiceRole; name: string };
export type Identity = NodeIdentity | ServiceIdentity;

/** Cluster ids and service names: one DNS label (lower case, digits, inner hyphens, 1-63 characters). */
export const NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Largest node id an identity may carry (raft-core ids are safe integers; this keeps them short). */
export const MAX_NODE_ID = 2 ** 31 - 1;

export class IdentityError extends Error {
  override name = 'IdentityError';
}

const ROLE_PERMISSIONS: ReadonlyMap<ServiceRole, ReadonlySet<Permission>> = new Map([
  ['gateway', new Set<Permission>(['read', 'write', 'admin'])],
  ['admin', new Set<Permission>(['read', 'write', 'admin'])],
  ['reader', new Set<Permission>(['read'])],
]);

export function isServiceRole(s: string): s is ServiceRole {
  return (SERVICE_ROLES as readonly string[]).includes(s);
}

export function isValidName(s: string): boolean {
  return NAME_PATTERN.test(s);
}

/** May this identity make calls that need `p`? Nodes make no client calls (they only speak Raft, and ask for health). */
export function mayCall(id: Identity, p: Permission): boolean {
  return id.kind === 'service' && (ROLE_PERMISSIONS.get(id.role)?.has(p) ?? false);
}

/** Only a gateway may name the end user a write is made for; everyone else writes as itself. */
export function mayVouch(id: Identity): boolean {
  return id.kind === 'service' && id.role === 'gateway';
}

/** The actor recorded for a write made by this identity itself (not vouched): "admin:ops", "gateway:gw-1". */
export function ownActor(id: Identity): string {
  return id.kind === 'node' ? `node:${id.nodeId}` : `${id.role}:${id.name}`;
}

/** A short name for logs and file names: node-3, gateway-gw-1. Carries no cluster id. */
export function identityName(id: Identity): string {
  return id.kind === 'node' ? `node-${id.nodeId}` : `${id.role}-${id.name}`;
}

export function sameIdentity(a: Identity, b: Identity): boolean {
  return identityUri(a) === identityUri(b);
}

export function identityUri(id: Identity): string {
  checkIdentity(id);
  return id.kind === 'node'
    ? `${IDENTITY_SCHEME}://${id.clusterId}/node/${id.nodeId}`
    : `${IDENTITY_SCHEME}://${id.clusterId}/service/${id.role}/${id.name}`;
}

/** Throws IdentityError naming the bad field. */
export function checkIdentity(id: Identity): void {
  if (!isValidName(id.clusterId)) throw new IdentityError(`cluster id ${JSON.stringify(id.clusterId)} is not one lower-case DNS label (a-z, 0-9, inner hyphens, 1-63 characters)`);
  if (id.kind === 'node') {
    if (!Number.isSafeInteger(id.nodeId) || id.nodeId < 1 || id.nodeId > MAX_NODE_ID) throw new IdentityError(`node id ${String(id.nodeId)} must be an integer from 1 to ${MAX_NODE_ID}`);
    return;
  }
  if (!isServiceRole(id.role)) throw new IdentityError(`service role ${JSON.stringify(id.role)} must be one of ${SERVICE_ROLES.join(', ')}`);
  if (!isValidName(id.name)) throw new IdentityError(`service name ${JSON.stringify(id.name)} is not one lower-case DNS label (a-z, 0-9, inner hyphens, 1-63 characters)`);
}

export function parseIdentityUri(uri: string): Identity {
  const m = /^flagraft:\/\/([^/]+)\/(node\/([^/]+)|service\/([^/]+)\/([^/]+))$/.exec(uri);
  if (!m) throw new IdentityError(`${JSON.stringify(uri)} is not flagraft://<cluster>/node/<id> or flagraft://<cluster>/service/<role>/<name>`);
  let id: Identity;
  if (m[3] !== undefined) {
    if (!/^[1-9][0-9]{0,9}$/.test(m[3])) throw new IdentityError(`node id ${JSON.stringify(m[3])} in ${JSON.stringify(uri)} is not a positive integer`);
    id = { kind: 'node', clusterId: m[1], nodeId: Number(m[3]) };
  } else {
    id = { kind: 'service', clusterId: m[1], role: m[4] as ServiceRole, name: m[5] };
  }
  checkIdentity(id);
  return id;
}

/**
 * The identity named by a certificate's subjectAltName as Node prints it
 * ("URI:flagraft://c/node/1, DNS:localhost, IP Address:127.0.0.1").
 * Exactly one flagraft URI must be present: none or two is refused.
 */
export function identityFromSubjectAltName(san: string | undefined): Identity {
  if (!san) throw new IdentityError('the certificate has no subjectAltName');
  const uris = san.split(', ').filter((e) => e.startsWith('URI:')).map((e) => e.slice(4)).filter((u) => /^"?flagraft:/.test(u));
  if (uris.length === 0) throw new IdentityError('the certificate names no flagraft identity (subjectAltName URI flagraft://...)');
  if (uris.length > 1) throw new IdentityError('the certificate names more than one flagraft identity');
  return parseIdentityUri(uris[0]);
}

/** The identity of a PEM (or DER) certificate; throws IdentityError. */
export function identityOfCertificate(cert: string | Buffer | X509Certificate): Identity {
  const x = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  return identityFromSubjectAltName(x.subjectAltName);
}

// Peer certificates are parsed once per certificate, not once per call.
/** Identities remembered by certificate fingerprint (count); the oldest is forgotten first. */
export const MAX_CACHED_IDENTITIES = 1024;
const byFingerprint = new Map<string, Identity | IdentityError>();

/**
 * The identity of a verified peer certificate (as grpc-js hands it over in
 * `call.getAuthContext().sslPeerCertificate`). Undefined without a
 * certificate; throws IdentityError when the certificate names no valid identity.
 */
export function identityOfPeerCertificate(cert: PeerCertificate | undefined): Identity | undefined {
  if (!cert || !cert.raw) return undefined;
  const c = cert;
  const key = c.fingerprint256;
  let hit = key ? byFingerprint.get(key) : undefined;
  if (!hit) {
    try {
      hit = identityFromSubjectAltName(c.subjectaltname);
    } catch (e) {
      hit = e instanceof IdentityError ? e : new IdentityError(String(e));
    }
    if (key) {
      if (byFingerprint.size >= MAX_CACHED_IDENTITIES) byFingerprint.delete(byFingerprint.keys().next().value!);
      byFingerprint.set(key, hit);
    }
  }
  if (hit instanceof IdentityError) throw hit;
  return hit;
}
