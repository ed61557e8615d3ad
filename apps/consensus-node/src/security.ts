// Who may do what on this node: the one place the node's rules live.
//
// - Peer port (Raft): only a node certificate of this cluster whose node id
//   is a current member (or a configured peer while joining); its messages
//   must name that id as `from` (checked per batch in transport.ts).
// - Client port (Flags, Health): only service certificates of this cluster,
//   each role limited to what it may do (identity package: mayCall), checked
//   by a server interceptor before any handler runs; a write's actor comes
//   from the certificate (and, for a gateway only, the user it vouches for).
// - Every refusal is answered with a clear status that names no cluster id
//   and is counted (Status.securityCounters, the metrics log line, and a
//   rate-limited warning).
// - FLAGRAFT_INSECURE=1: plain text, nothing is authenticated; the cluster id
//   and `from` headers are only checked for mistakes, not against attackers.
import * as grpc from '@grpc/grpc-js';
import {
  CertificateStore, IdentityError, SECURE_CHANNEL_OPTIONS, TlsConfigError, channelCredentials, identityName, identityOfCall,
  identityUri, mayCall, mayVouch, ownActor, serverCredentials, type Identity, type Permission, type TransportSecurity,
} from '@flagraft/identity';
import { ApiError } from './errors.js';
import type { Logger } from './log.js';

export const MD_CLUSTER = 'flagraft-cluster-id';
export const MD_FROM = 'flagraft-from';

/** Refusal counters (Status.securityCounters), by reason. */
export const REFUSALS = [
  'peer_no_certificate', 'peer_not_a_node', 'peer_wrong_cluster', 'peer_not_member', 'peer_from_mismatch', 'peer_bad_message',
  'client_no_certificate', 'client_not_a_service', 'client_wrong_cluster', 'client_forbidden', 'client_actor_refused',
  'cluster_id_mismatch',
] as const;
export type Refusal = (typeof REFUSALS)[number];

/** What each client method needs. Anything not listed is refused (default deny). */
export const CLIENT_METHOD_PERMISSIONS: ReadonlyMap<string, Permission | 'health'> = new Map<string, Permission | 'health'>([
  ...['GetFlag', 'GetSegment', 'ListFlags', 'ListSegments', 'SnapshotAll', 'Watch', 'History', 'Status', 'Query'].map((m) => [`/flagraft.v1.Flags/${m}`, 'read'] as const),
  ...['PutFlag', 'DeleteFlag', 'PutSegment', 'DeleteSegment', 'Batch', 'Propose'].map((m) => [`/flagraft.v1.Flags/${m}`, 'write'] as const),
  ...['AddLearner', 'PromoteLearner', 'RemoveMember', 'TransferLeader', 'Backup', 'Restore'].map((m) => [`/flagraft.v1.Flags/${m}`, 'admin'] as const),
  ['/grpc.health.v1.Health/Check', 'health'], ['/grpc.health.v1.Health/Watch', 'health'],
]);

/** A refusal of one reason is logged at most once per this many ms (with the count since). */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;
/** Longest actor name a gateway may vouch for (characters). */
export const MAX_ACTOR_CHARS = 256;

const GRPC_OF: Record<Refusal, grpc.status> = {
  peer_no_certificate: grpc.status.UNAUTHENTICATED,
  client_no_certificate: grpc.status.UNAUTHENTICATED,
  peer_not_a_node: grpc.status.PERMISSION_DENIED,
  peer_wrong_cluster: grpc.status.PERMISSION_DENIED,
  peer_not_member: grpc.status.PERMISSION_DENIED,
  peer_from_mismatch: grpc.status.PERMISSION_DENIED,
  peer_bad_message: grpc.status.INVALID_ARGUMENT,
  client_not_a_service: grpc.status.PERMISSION_DENIED,
  client_wrong_cluster: grpc.status.PERMISSION_DENIED,
  client_forbidden: grpc.status.PERMISSION_DENIED,
  client_actor_refused: grpc.status.PERMISSION_DENIED,
  cluster_id_mismatch: grpc.status.PERMISSION_DENIED,
};

export interface SecurityOptions {
  nodeId: number;
  clusterId: string;
  security: TransportSecurity;
  /** How often the certificate files are checked for changes (ms; 0 = only on SIGHUP). */
  tlsReloadIntervalMs: number;
  log: Logger;
  /** Is `id` a member (voter or learner) or, before this node has a membership, a configured peer? */
  isMember(id: number): boolean;
}

export interface StatusError { code: grpc.status; details: string; metadata?: grpc.Metadata }

export class NodeSecurity {
  readonly insecure: boolean;
  readonly store?: CertificateStore;
  private readonly counts = new Map<Refusal, number>();
  /** Identities the client interceptor verified, by the call's Metadata object (gone with the call). */
  private readonly verified = new WeakMap<grpc.Metadata, Identity>();
  /** Client identities by TLS connection (connectionOf; gone with the connection). */
  private readonly byConnection = new WeakMap<object, Identity>();
  private readonly lastLogged = new Map<Refusal, { at: number; count: number }>();

  constructor(private readonly o: SecurityOptions) {
    this.insecure = o.security.mode === 'insecure';
    if (o.security.mode === 'mtls') {
      this.store = new CertificateStore(o.security.files);
      const id = this.store.identity;
      if (id.kind !== 'node' || id.nodeId !== o.nodeId || id.clusterId !== o.clusterId) {
        throw new TlsConfigError(`${o.security.files.certFile} is ${identityUri(id)}, but this is node ${o.nodeId} of cluster ${o.clusterId}`);
      }
    }
  }

  /** Starts watching the certificate files; logs what happens. */
  start(): void {
    if (this.insecure) {
      this.o.log.warn('INSECURE MODE (FLAGRAFT_INSECURE=1): peer and client traffic is plain text and NOT authenticated; anyone who can reach this node\'s ports can read and change every flag and take part in Raft. Never use this outside tests of the transport.', { security: 'insecure' });
      return;
    }
    const c = this.store!.current;
    this.o.log.info('mutual TLS', { identity: identityUri(c.identity), certificateValidUntil: c.notAfter.toISOString(), reloadIntervalMs: this.o.tlsReloadIntervalMs });
    if (c.expiresSoon) this.o.log.warn('this node\'s certificate expires soon: rotate it (flagraft certs rotate)', { notAfter: c.notAfter.toISOString() });
    if (this.o.tlsReloadIntervalMs > 0) {
      this.store!.watch({
        intervalMs: this.o.tlsReloadIntervalMs,
        onReload: (n) => this.o.log.info('certificates reloaded (file change)', { certificateValidUntil: n.notAfter.toISOString() }),
        onError: (e) => this.o.log.error('new certificate files refused; still using the previous ones', { error: e.message }),
      });
    }
  }

  /** SIGHUP: reload the certificate files now. False (old ones kept, error logged) if they are invalid. */
  reload(): boolean {
    if (!this.store) return true;
    try {
      const changed = this.store.reload();
      this.o.log.info(changed ? 'certificates reloaded (SIGHUP)' : 'SIGHUP: certificate files unchanged', { certificateValidUntil: this.store.current.notAfter.toISOString() });
      return true;
    } catch (e) {
      this.o.log.error('new certificate files refused; still using the previous ones', { error: (e as Error).message });
      return false;
    }
  }

  close(): void {
    this.store?.close();
  }

  // ---- credentials ---------------------------------------------------------------

  serverCredentials(): grpc.ServerCredentials {
    return this.store ? serverCredentials(this.store) : grpc.ServerCredentials.createInsecure();
  }

  /** Credentials for dialling peer `id`: our node certificate, and the server must be node `id` of this cluster. */
  peerChannelCredentials(id: number): grpc.ChannelCredentials {
    return this.store ? channelCredentials(this.store, { nodeId: id }) : grpc.credentials.createInsecure();
  }

  channelOptions(): Record<string, string> {
    return this.store ? { ...SECURE_CHANNEL_OPTIONS } : {};
  }

  // ---- refusals --------------------------------------------------------------------

  /** Counts a refusal, logs it (rate limited), and returns the status to answer with. */
  refuse(reason: Refusal, details: string, fields: Record<string, unknown> = {}): StatusError {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    // Monotonic: a backward wall jump must not silence refusal logs for its length.
    const now = performance.now();
    const last = this.lastLogged.get(reason);
    if (!last || now - last.at >= REFUSAL_LOG_INTERVAL_MS) {
      this.o.log.warn('refused a call', { reason, details, ...fields, ...(last ? { refusedSinceLastLine: this.counts.get(reason)! - last.count } : {}) });
      this.lastLogged.set(reason, { at: now, count: this.counts.get(reason)! });
    }
    return { code: GRPC_OF[reason], details };
  }

  counters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of REFUSALS) out[r] = this.counts.get(r) ?? 0;
    if (this.store) {
      out.tls_reloads = this.store.reloads;
      out.tls_reload_failures = this.store.reloadFailures;
    }
    return out;
  }

  // ---- the peer port -----------------------------------------------------------------

  /** The node id a Raft call comes from, or the refusal to answer it with. */
  authenticatePeer(call: grpc.ServerReadableStream<unknown, unknown>): { from: number } | { error: StatusError } {
    const peer = call.getPeer();
    if (this.insecure) {
      const cid = call.metadata.get(MD_CLUSTER)[0];
      if (cid !== this.o.clusterId) return { error: this.refuse('cluster_id_mismatch', 'cluster id mismatch: this node belongs to another cluster', { peer }) };
      const from = Number(call.metadata.get(MD_FROM)[0]);
      if (!Number.isSafeInteger(from) || from <= 0 || !this.o.isMember(from)) return { error: this.refuse('peer_not_member', `node ${String(call.metadata.get(MD_FROM)[0] ?? '')} is not a member`, { peer }) };
      return { from };
    }
    let id: Identity | undefined;
    try {
      id = identityOfCall(call);
    } catch (e) {
      return { error: this.refuse('peer_not_a_node', `the client certificate names no node: ${(e as IdentityError).message}`, { peer }) };
    }
    if (!id) return { error: this.refuse('peer_no_certificate', 'the Raft port requires a node certificate of this cluster', { peer }) };
    if (id.clusterId !== this.o.clusterId) return { error: this.refuse('peer_wrong_cluster', 'the certificate is of another cluster', { peer, identity: identityUri(id) }) };
    if (id.kind !== 'node') return { error: this.refuse('peer_not_a_node', `${identityName(id)} is not a node: the Raft port takes node certificates only`, { peer }) };
    if (!this.o.isMember(id.nodeId)) return { error: this.refuse('peer_not_member', `node ${id.nodeId} is not a member of this cluster`, { peer }) };
    const header = call.metadata.get(MD_FROM)[0];
    if (header !== undefined && Number(header) !== id.nodeId) return { error: this.refuse('peer_from_mismatch', `the certificate is node ${id.nodeId}, the call claims node ${String(header)}`, { peer }) };
    return { from: id.nodeId };
  }

  isMember(id: number): boolean {
    return this.o.isMember(id);
  }

  // ---- the client port ---------------------------------------------------------------

  /** Server interceptors for the client port: authentication and per-method authorization before any handler. */
  clientInterceptors(): grpc.ServerInterceptor[] {
    if (this.insecure) return [];
    return [(method, call) => new grpc.ServerInterceptingCall(call, {
      start: (next) => next({
        onReceiveMetadata: (md, nextMd) => {
          const checked = this.authorizeClient(method.path, call);
          if ('code' in checked) { call.sendStatus({ ...checked, metadata: new grpc.Metadata() }); return; }
          // The handler's call.metadata is this object: it finds the identity without asking TLS again.
          this.verified.set(md, checked.id);
          nextMd(md);
        },
      }),
    })];
  }

  private authorizeClient(path: string, call: grpc.ServerInterceptingCallInterface): StatusError | { id: Identity } {
    let id: Identity | undefined;
    try {
      id = this.clientIdentity(call);
    } catch (e) {
      return this.refuse('client_not_a_service', `the client certificate names no flagraft identity: ${(e as IdentityError).message}`, { peer: call.getPeer(), method: path });
    }
    if (!id) return this.refuse('client_no_certificate', 'a client certificate of this cluster is required (flagraft certs issue)', { peer: call.getPeer(), method: path });
    if (id.clusterId !== this.o.clusterId) return this.refuse('client_wrong_cluster', 'the certificate is of another cluster', { peer: call.getPeer(), method: path, identity: identityUri(id) });
    const need = CLIENT_METHOD_PERMISSIONS.get(path);
    if (need === 'health') return { id };
    if (id.kind === 'node') return this.refuse('client_not_a_service', 'node certificates speak Raft on the peer port; the client API needs a service certificate', { peer: call.getPeer(), method: path, identity: identityName(id) });
    if (!need || !mayCall(id, need)) return this.refuse('client_forbidden', `role ${id.role} may not call ${path.slice(path.lastIndexOf('/') + 1)}`, { peer: call.getPeer(), method: path, identity: identityName(id) });
    return { id };
  }

  /**
   * The caller's verified identity, asked of TLS once per connection:
   * getPeerCertificate() builds a new object from the certificate on every
   * call (~50 µs, a quarter of the leader's CPU per linearizable read). A
   * connection's peer certificate is fixed at its handshake: HTTP/2 forbids
   * renegotiation and Node's HTTP/2 disables it on the socket, and grpc-js
   * itself only reads the `authorized` flag the handshake set. Refusals are
   * not cached (they are rare, and each is counted and logged).
   */
  private clientIdentity(call: grpc.ServerInterceptingCallInterface): Identity | undefined {
    const conn = connectionOf(call);
    const known = conn && this.byConnection.get(conn);
    if (known) return known;
    const id = identityOfCall(call);
    if (conn && id) this.byConnection.set(conn, id);
    return id;
  }

  /**
   * The actor a write is recorded under. Insecure: what the request says.
   * Secure: a gateway vouches for the end user it authenticated (or writes as
   * itself); any other role writes as itself and may not name someone else.
   */
  writeActor(call: grpc.ServerUnaryCall<unknown, unknown>, requested: string): string {
    if (requested.length > MAX_ACTOR_CHARS) throw ApiError.of('INVALID_ARGUMENT', `meta.actor longer than ${MAX_ACTOR_CHARS} characters`);
    if (this.insecure) return requested || 'anonymous';
    const id = this.callerIdentity(call);
    if (mayVouch(id)) return requested || ownActor(id);
    const own = ownActor(id);
    if (requested && requested !== own) {
      const s = this.refuse('client_actor_refused', `${identityName(id)} writes as itself (${own}); only a gateway may name another actor`, { peer: call.getPeer(), identity: identityName(id) });
      throw ApiError.of('PERMISSION', s.details);
    }
    return own;
  }

  /**
   * The role a write is recorded with (approval policies may name roles):
   * what a gateway vouches for (its user's role), otherwise the caller's own
   * certificate role. Insecure: what the request says.
   */
  writeRole(call: grpc.ServerUnaryCall<unknown, unknown>, requested: string): string | undefined {
    if (requested.length > MAX_ACTOR_CHARS) throw ApiError.of('INVALID_ARGUMENT', `meta.actorRole longer than ${MAX_ACTOR_CHARS} characters`);
    if (this.insecure) return requested || undefined;
    const id = this.callerIdentity(call);
    if (mayVouch(id) && requested) return requested;
    return id.kind === 'service' ? id.role : undefined;
  }

  /**
   * Write de-duplication keys are per identity: one service cannot read
   * another's answers by replaying its request ids. Keyed writes (an HTTP
   * Idempotency-Key, which always carries a fingerprint) from gateways share
   * one scope: a client's retry may reach another gateway behind the load
   * balancer and must find the first answer; every gateway may already write
   * as any user, so sharing gives none of them more, and each gateway scopes
   * the ids by the end user it authenticated. Every other write keeps the
   * per-identity key the previous release stored, so a retry that spans an
   * upgrade still finds its first answer (test/data-dir-compat.test.ts).
   */
  dedupClientId(call: grpc.ServerUnaryCall<unknown, unknown>, clientId: string | undefined, keyed: boolean): string | undefined {
    if (this.insecure || !clientId) return clientId;
    const id = this.callerIdentity(call);
    return `${keyed && mayVouch(id) ? 'gateways' : identityName(id)}/${clientId}`;
  }

  private callerIdentity(call: grpc.ServerUnaryCall<unknown, unknown>): Identity {
    // Verified by the interceptor for this very call (the Metadata object is
    // the call's own, so nothing a client sends can fill this map).
    // getPeerCertificate() builds a new object from the certificate on every
    // call: asked three times per write it was the leader's top CPU item.
    const id = this.verified.get(call.metadata) ?? identityOfCall(call);
    // The interceptor let the call through, so this cannot happen; refuse rather than write anonymously.
    if (!id) throw ApiError.of('PERMISSION', 'no client certificate');
    return id;
  }
}

/**
 * The HTTP/2 session (one TLS connection) a client-port call came on, as
 * grpc-js 1.14's base server call holds it (the call the first interceptor
 * gets). Undefined if that shape changes: then every call asks TLS again.
 */
export function connectionOf(call: unknown): object | undefined {
  const session = (call as { stream?: { session?: unknown } } | undefined)?.stream?.session;
  return typeof session === 'object' && session !== null ? session : undefined;
}
