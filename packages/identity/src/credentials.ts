// gRPC credentials built from a CertificateStore, and the server-side
// lookup of who is calling. Servers ask for a client certificate but let the
// handshake finish without a trusted one: the call is then refused by the
// server's own check (identityOfCall), so every refusal can be answered
// with a clear status and counted. Clients check the server's identity
// (a node of their own cluster), not its host name, so certificates do not
// have to list every address a node is reached at.
import * as grpc from '@grpc/grpc-js';
import { identityOfPeerCertificate, identityUri, type Identity } from './identity.js';
import type { CertificateStore } from './tls-files.js';

export function serverCredentials(store: CertificateStore): grpc.ServerCredentials {
  // rejectUnauthorized = false (third argument): see the file comment.
  return grpc.experimental.createCertificateProviderServerCredentials(store, store, false);
}

/**
 * What a client accepts as the server: by default any node of the client's
 * own cluster; a node that dials a peer also pins the peer's node id.
 */
export interface ServerExpectation {
  nodeId?: number;
}

/**
 * Channel options to use with channelCredentials(): the TLS server name sent
 * is a fixed label instead of the address dialled (an IP address is not a
 * valid server name, RFC 6066); the server is checked by identity anyway.
 */
export const SECURE_CHANNEL_OPTIONS: Readonly<Record<string, string>> = { 'grpc.ssl_target_name_override': 'flagraft-node' };

export function channelCredentials(store: CertificateStore, expect: ServerExpectation = {}): grpc.ChannelCredentials {
  return grpc.experimental.createCertificateProviderChannelCredentials(store, store, {
    checkServerIdentity: (_host, cert) => {
      const why = serverIdentityProblem(store.identity.clusterId, expect, () => identityOfPeerCertificate(cert));
      return why ? new Error(why) : undefined;
    },
  });
}

/** Undefined if the server is acceptable, else why not (for the connection error). */
export function serverIdentityProblem(clusterId: string, expect: ServerExpectation, identity: () => Identity | undefined): string | undefined {
  let id: Identity | undefined;
  try {
    id = identity();
  } catch (e) {
    return `server certificate: ${(e as Error).message}`;
  }
  if (!id) return 'the server presented no certificate';
  if (id.kind !== 'node' || id.clusterId !== clusterId) return `the server is ${identityUri(id)}, not a node of this cluster`;
  if (expect.nodeId !== undefined && id.nodeId !== expect.nodeId) return `the server is node ${id.nodeId}, expected node ${expect.nodeId}`;
  return undefined;
}

/** The part of a grpc-js server call (or server interceptor call) that knows the TLS peer. */
export interface CallWithAuthContext {
  getAuthContext(): { sslPeerCertificate?: unknown; transportSecurityType?: string } | null;
}

/**
 * The verified identity of the caller: undefined when it presented no
 * certificate trusted by this server's CA bundle (grpc-js reports only
 * verified certificates). Throws IdentityError when the trusted certificate
 * names no valid flagraft identity.
 */
export function identityOfCall(call: CallWithAuthContext): Identity | undefined {
  const ctx = call.getAuthContext();
  return identityOfPeerCertificate(ctx?.sslPeerCertificate as Parameters<typeof identityOfPeerCertificate>[0]);
}
