// gRPC client for a flagraft cluster: finds and follows the leader (nodes
// answer NOT_LEADER with the leader's address), retries safely (writes keep
// their (clientId, requestId), so a retry across a leader change applies
// once), and resumes Watch streams from the last delivered revision.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  CertificateStore, SECURE_CHANNEL_OPTIONS, TlsConfigError, channelCredentials, identityUri, transportSecurityFromEnv,
  DEFAULT_TLS_RELOAD_INTERVAL_MS, type TlsFiles,
} from '@flagraft/identity';
import { LIMITS, RESTORE_KINDS, chunkItems, type BackupDocument, type Change, type FlagDefinition, type SegmentDefinition, type StoredFlag, type StoredSegment, type SubCommand, type ChangeEvent, type ChangeKind, type TopLevelOp } from '@flagraft/flag-model';
import { ClusterError, bodyOf, toClusterError, type NodeErrorBody } from './errors.js';
import { flagsClientCtor } from './proto.js';
import { DEFAULT_MEMBER_REFRESH_MS, READ_FROM_VALUES, ReadTargets, type ReadFrom } from './read-targets.js';

export interface ClusterClientOptions {
  /** host:port of the nodes' client ports (any subset; the leader is found from there). */
  endpoints: string[];
  /**
   * Mutual TLS (the default): this client's service certificate (flagraft
   * certs issue gateway <name>), its key, and the cluster's CA bundle. Nodes
   * are accepted by their certificate (a node of the same cluster), not by
   * host name. The files are re-read on reloadCertificates() and when they change.
   */
  tls?: TlsFiles;
  /** Plain text instead (FLAGRAFT_INSECURE=1): no encryption, no authentication. Needs clusterId. */
  insecure?: boolean;
  /** With TLS: optional (the cluster of the certificate; if given it must match). Plain text: required. */
  clusterId?: string;
  /** How often the TLS files are checked for changes (ms; 0 = only reloadCertificates()). */
  tlsReloadIntervalMs?: number;
  /** Identifies this client for write de-duplication; default random. */
  clientId?: string;
  /** Deadline of one attempt (ms). */
  requestTimeoutMs?: number;
  /** Total time a call keeps retrying retryable failures (ms). */
  retryDeadlineMs?: number;
  /** Largest message accepted from a node (bytes). */
  maxReceiveMessageBytes?: number;
  /** Deadline of a whole backup read, and of each restore step (ms): these move far more data than a write. */
  backupTimeoutMs?: number;
  /**
   * Where reads go (get, list, snapshotAll; linearizable and stale): 'leader'
   * (default: one hop, no background Status calls) or 'any' member, voters
   * and learners, least outstanding first (read-targets.ts). Writes always go
   * to the leader. A read that fails on a member is retried on the leader.
   */
  readFrom?: ReadFrom;
  /** With readFrom 'any': how often the member list is refreshed from Status (ms). */
  memberRefreshMs?: number;
}

/** A backup as read from the leader: header fields plus every item as JSON text (ready to be written out unparsed). */
export interface BackupData {
  clusterId: string;
  revision: number;
  createdAt: string;
  oldestRetainedRevision: number;
  segmentsJson: string[];
  flagsJson: string[];
  changesJson: string[];
  /** StoredEnvironment JSON (empty from a node before environments). */
  environmentsJson: string[];
  /** {env, stored} JSON: the other environments' flag configurations. */
  envFlagsJson: string[];
  /** StoredChangeRequest / StoredSchedule JSON (empty from a node that does not back them up). */
  changeRequestsJson: string[];
  schedulesJson: string[];
}

export interface RestoreResult {
  /** The cluster's revision right after the restore (the backup's revision, or higher if the cluster was already past it). */
  revision: number;
  /** The backup's revision. */
  restoredRevision: number;
  counts: { segments: number; flags: number; changes: number };
  /** Raft entries the import took (begin + chunks + commit). */
  entries: number;
}

export type Consistency = 'linearizable' | 'stale';
/**
 * A write's de-duplication ids chosen by the caller instead of this client's
 * own (clientId, requestId): the same ids from any client (another gateway
 * process) are applied once. `fingerprint` is the caller's hash of what the
 * request said; the same ids with another fingerprint are refused
 * (IDEMPOTENCY_KEY_REUSED). Each at most 256 characters (the node's limit).
 */
export interface WriteIdempotency { clientId: string; requestId: string; fingerprint: string }
export interface WriteOptions {
  expectedRevision?: number;
  actor: string;
  requestId?: string;
  idempotency?: WriteIdempotency;
  /** Flags: the environment written (absent = the cluster's default environment). */
  environment?: string;
  /** The actor's role, recorded when the node trusts this client to vouch (a gateway). */
  actorRole?: string;
}

/** Reads of one environment's flags (absent = the default environment). */
export interface EnvironmentOption { environment?: string }

/** A change as Watch delivers it: flag-model's contract type (docs/CONTRACTS.md, "Change events"). */
export type { ChangeEvent };

/** `address`: the member's client address ('' while the answering node does not know it); `peerAddress`: its Raft address. */
export interface MemberInfo { id: number; address: string; peerAddress: string; role: 'voter' | 'learner'; matchIndex: number; lag: number; reachable: boolean }

export interface ClusterStatus {
  clusterId: string;
  /** The node that answered. */
  nodeId: number;
  role: string;
  leaderId: number;
  leaderAddress: string;
  term: number;
  members: MemberInfo[];
  commitIndex: number;
  appliedIndex: number;
  publishedRevision?: number;
  publishLag?: number;
  /** Revision at the applied index (differs from appliedIndex once the cluster was restored from a backup). */
  appliedRevision?: number;
  /** Revision of the last restore from a backup (0 = never). */
  restoredRevision?: number;
  firstIndex: number;
  lastIndex: number;
  oldestRetainedRevision: number;
  dbBytes: number;
  /** The answering node's Raft address. */
  peerAddress?: string;
  /** "mtls" or "insecure" on the answering node. */
  transportSecurity?: string;
  /** Calls the answering node refused, by reason, and its certificate reloads. */
  securityCounters?: Record<string, number>;
}

export interface WatchOptions {
  /** Deliver changes with revision > fromRevision. */
  fromRevision: number;
  onChange(change: ChangeEvent): void;
  /** The stream is alive and everything up to `revision` was delivered. */
  onProgress?(revision: number): void;
  /** fromRevision (or the resume point) is older than the cluster keeps: resync (snapshotAll) and watch again. The watch stops. */
  onCompacted?(): void;
  /** A non-retryable error stopped the watch, or a retryable one is being retried (`willRetry`). */
  onError?(err: ClusterError, willRetry: boolean): void;
  /** Server progress interval (ms); the stream is restarted after 3 silent intervals. */
  progressIntervalMs?: number;
  /** Also every other environment's flags (with `env`) and environment / change request / schedule events (flag-model AnyChangeEvent). */
  allEnvironments?: boolean;
}

export interface ClusterClient {
  readonly clientId: string;
  readonly clusterId: string;
  /** "mtls" or "insecure". */
  readonly transportSecurity: 'mtls' | 'insecure';
  /** Re-reads the TLS files now (SIGHUP); throws TlsConfigError (the old ones stay) if the new ones are invalid. */
  reloadCertificates(): boolean;
  putFlag(flag: FlagDefinition, o: WriteOptions): Promise<{ revision: number; flag: StoredFlag }>;
  deleteFlag(key: string, o: WriteOptions): Promise<{ revision: number }>;
  putSegment(segment: SegmentDefinition, o: WriteOptions): Promise<{ revision: number; segment: StoredSegment }>;
  deleteSegment(name: string, o: WriteOptions): Promise<{ revision: number }>;
  batch(ops: SubCommand[], o: { actor: string; requestId?: string; idempotency?: WriteIdempotency; actorRole?: string }): Promise<{ revision: number; changes: Change[] }>;
  getFlag(key: string, o?: { consistency?: Consistency } & EnvironmentOption): Promise<StoredFlag | undefined>;
  getSegment(name: string, o?: { consistency?: Consistency }): Promise<StoredSegment | undefined>;
  listFlags(o?: { prefix?: string; limit?: number; pageToken?: string; consistency?: Consistency } & EnvironmentOption): Promise<{ flags: StoredFlag[]; nextPageToken?: string; revision: number }>;
  listSegments(o?: { prefix?: string; limit?: number; pageToken?: string; consistency?: Consistency }): Promise<{ segments: StoredSegment[]; nextPageToken?: string; revision: number }>;
  snapshotAll(o?: EnvironmentOption): Promise<{ revision: number; flags: StoredFlag[]; segments: StoredSegment[] }>;
  history(key: string, o?: { limit?: number; beforeRevision?: number; kind?: ChangeKind } & EnvironmentOption): Promise<Change[]>;
  /** An environment, promotion, change request or schedule command (flag-model TopLevelOp); policies are enforced by the cluster. */
  propose(command: TopLevelOp, o: { actor: string; actorRole?: string; requestId?: string; idempotency?: WriteIdempotency }): Promise<{ revision: number; changes: Change[] }>;
  /** environments, changeRequests, changeRequest {id}, schedules, schedule {id}, promotionPlan {from, to, keys?}. */
  query<T = unknown>(what: string, args?: Record<string, unknown>, o?: { consistency?: Consistency }): Promise<T>;
  watch(o: WatchOptions): { close(): void };
  /** Every flag, segment and retained change at one revision, read linearizably on the leader (streamed). */
  backup(): Promise<BackupData>;
  /**
   * Imports a backup (validated by the caller with flag-model's validateBackup)
   * through Raft in bounded chunks; atomic for readers. FAILED_PRECONDITION
   * (details.reason NOT_EMPTY) when the cluster is not empty and `force` is not set.
   * `chunkBytes`: items per Raft entry (bytes; default and most LIMITS.maxRestoreChunkBytes).
   */
  restore(doc: BackupDocument, o: { actor: string; force?: boolean; restoreId?: string; chunkBytes?: number }): Promise<RestoreResult>;
  status(o?: { endpoint?: string }): Promise<ClusterStatus>;
  /** Adds node `id` as a learner; `peerAddress` is its Raft (peer) address. */
  addLearner(id: number, peerAddress: string): Promise<MemberInfo[]>;
  promoteLearner(id: number): Promise<MemberInfo[]>;
  removeMember(id: number): Promise<MemberInfo[]>;
  transferLeader(id: number): Promise<MemberInfo[]>;
  close(): void;
}

const RETRYABLE = new Set(['UNAVAILABLE', 'NOT_LEADER', 'RESOURCE_EXHAUSTED', 'DEADLINE']);
const MIN_BACKOFF_MS = 5;
// Short: while a new leader is being elected, asking a follower again is cheap,
// and a long sleep would add to the failover window.
const MAX_BACKOFF_MS = 25;

/**
 * How to reach the nodes, from FLAGRAFT_TLS_CA / _CERT / _KEY (mutual TLS)
 * or FLAGRAFT_INSECURE=1 with FLAGRAFT_CLUSTER_ID; the shared setting of
 * every process that talks to the nodes. Throws TlsConfigError naming the variable.
 */
export function clusterSecurityFromEnv(env: Record<string, string | undefined>): Pick<ClusterClientOptions, 'tls' | 'insecure' | 'clusterId'> {
  const sec = transportSecurityFromEnv(env);
  const clusterId = env.FLAGRAFT_CLUSTER_ID || undefined;
  if (sec.mode === 'insecure') {
    if (!clusterId) throw new TlsConfigError('FLAGRAFT_CLUSTER_ID is required with FLAGRAFT_INSECURE=1 (with TLS it comes from the certificate)');
    return { insecure: true, clusterId };
  }
  return { tls: sec.files, clusterId };
}

export function createClusterClient(opts: ClusterClientOptions): ClusterClient {
  if (!opts.endpoints?.length) throw new ClusterError('INVALID_ARGUMENT', 'endpoints must list at least one host:port');
  if (!opts.tls && !opts.insecure) throw new ClusterError('INVALID_ARGUMENT', 'tls (certificate, key and CA files) is required; insecure: true for plain text');
  if (opts.tls && opts.insecure) throw new ClusterError('INVALID_ARGUMENT', 'tls and insecure are exclusive');
  let store: CertificateStore | undefined;
  if (opts.tls) {
    try {
      store = new CertificateStore(opts.tls);
    } catch (e) {
      throw new ClusterError('INVALID_ARGUMENT', (e as Error).message);
    }
    const id = store.identity;
    if (id.kind !== 'service') throw new ClusterError('INVALID_ARGUMENT', `${opts.tls.certFile} is ${identityUri(id)}: clients need a service certificate (flagraft certs issue <role> <name>)`);
    if (opts.clusterId && opts.clusterId !== id.clusterId) throw new ClusterError('INVALID_ARGUMENT', `clusterId ${opts.clusterId} differs from the cluster of ${opts.tls.certFile} (${id.clusterId})`);
    const reloadMs = opts.tlsReloadIntervalMs ?? DEFAULT_TLS_RELOAD_INTERVAL_MS;
    if (reloadMs > 0) store.watch({ intervalMs: reloadMs });
  }
  const clusterId = store ? store.identity.clusterId : opts.clusterId;
  if (!clusterId) throw new ClusterError('INVALID_ARGUMENT', 'clusterId is required with insecure: true');
  const Flags = flagsClientCtor();
  const clientId = opts.clientId ?? `c-${randomBytes(8).toString('hex')}`;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
  const retryDeadlineMs = opts.retryDeadlineMs ?? 10_000;
  const backupTimeoutMs = opts.backupTimeoutMs ?? 120_000;
  const creds = store ? channelCredentials(store) : grpc.credentials.createInsecure();
  const endpoints = [...opts.endpoints];
  const readFrom = opts.readFrom ?? 'leader';
  if (!READ_FROM_VALUES.includes(readFrom)) throw new ClusterError('INVALID_ARGUMENT', `readFrom must be ${READ_FROM_VALUES.join(' or ')}, got ${JSON.stringify(readFrom)}`);
  const memberRefreshMs = opts.memberRefreshMs ?? DEFAULT_MEMBER_REFRESH_MS;
  const clients = new Map<string, grpc.Client>();
  let leader = 0; // index into endpoints of the node believed to lead
  let seq = 0;
  let closed = false;
  const watches = new Set<{ close(): void }>();

  const clientFor = (ep: string): any => {
    let c = clients.get(ep);
    if (!c) {
      c = new Flags(ep, creds, {
        ...(store ? SECURE_CHANNEL_OPTIONS : {}),
        'grpc.max_receive_message_length': opts.maxReceiveMessageBytes ?? 64 * 1024 * 1024,
        'grpc.initial_reconnect_backoff_ms': 50,
        'grpc.max_reconnect_backoff_ms': 1000,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
      });
      clients.set(ep, c);
    }
    return c;
  };
  const channelDown = (ep: string): boolean => {
    const c = clients.get(ep);
    return !!c && c.getChannel().getConnectivityState(false) === grpc.connectivityState.TRANSIENT_FAILURE;
  };
  /** The first endpoint after `from` (in rotation order) whose connection is not known to be down; `from` if none. */
  const nextNotDown = (from: number): number => {
    for (let k = 1; k < endpoints.length; k++) {
      const i = (from + k) % endpoints.length;
      if (!channelDown(endpoints[i])) return i;
    }
    return from;
  };
  const metadata = () => {
    const md = new grpc.Metadata();
    md.set('flagraft-cluster-id', clusterId);
    return md;
  };
  const call = (ep: string, method: string, req: unknown, timeoutMs: number): Promise<any> =>
    new Promise((resolve, reject) => {
      clientFor(ep)[method](req, metadata(), { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: unknown) => {
        if (err) reject(bodyOf(err)); else resolve(res);
      });
    });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** Calls the leader (or any node for `anyNode`), following NOT_LEADER hints, until the retry deadline. */
  async function invoke(method: string, req: unknown, anyNode = false, attemptMs = requestTimeoutMs, totalMs = retryDeadlineMs): Promise<any> {
    if (closed) throw new ClusterError('UNAVAILABLE', 'client is closed');
    // Retry deadlines are monotonic (performance.now): a wall-clock jump must neither end the retries at once nor stretch
    // them for its length. gRPC call deadlines stay Date.now()-based: grpc-js takes wall time and converts it at once.
    const deadline = performance.now() + totalMs;
    // A long total (restore steps: backupTimeoutMs) is for slow answers, not for nodes that refuse or cannot be reached:
    // those are retried for the ordinary retry deadline only, so an unreachable cluster is reported in seconds.
    const unansweredUntil = performance.now() + Math.min(totalMs, retryDeadlineMs);
    let attempt = 0;
    let last: NodeErrorBody | undefined;
    for (;;) {
      // An endpoint whose connection is known to be down is skipped while
      // another one is not: waiting on it would burn the attempt's deadline.
      // The next one in rotation order, not the first in the list: that may be
      // the node whose "no leader known" answer sent us here, and the two would
      // alternate forever without asking the nodes after them (torture finding
      // 6: a removed node, a stopped one, then the leader).
      if (channelDown(endpoints[leader])) leader = nextNotDown(leader);
      const idx = leader;
      const ep = endpoints[idx];
      const left = deadline - performance.now();
      if (left <= 0) break;
      try {
        return await call(ep, method, req, Math.min(attemptMs, left));
      } catch (b) {
        const body = b as NodeErrorBody;
        last = body;
        if (!RETRYABLE.has(body.code)) throw toClusterError(body);
        if (body.code !== 'DEADLINE' && performance.now() >= unansweredUntil) break;
        if (body.code === 'NOT_LEADER' && body.leaderAddress && !anyNode) {
          let li = endpoints.indexOf(body.leaderAddress);
          if (li < 0) { endpoints.push(body.leaderAddress); li = endpoints.length - 1; }
          if (li !== idx) { leader = li; attempt = 0; continue; }
        }
        // No usable hint: try the next node, backing off once we have gone around.
        if (leader === idx) leader = (idx + 1) % endpoints.length;
        attempt++;
        if (attempt >= endpoints.length) {
          const n = attempt - endpoints.length;
          const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.min(n, 8));
          await sleep(Math.min(backoff * (0.5 + Math.random() / 2), Math.max(0, deadline - performance.now())));
        }
      }
    }
    if (last?.code === 'DEADLINE' || !last) throw new ClusterError('DEADLINE', `${method}: no answer within ${totalMs} ms`);
    const waited = Math.min(totalMs, retryDeadlineMs);
    throw new ClusterError(last.code === 'NOT_LEADER' || last.code === 'UNAVAILABLE' ? 'UNAVAILABLE' : 'DEADLINE', `${method}: gave up after ${waited} ms: ${last.message}`, { lastError: last });
  }

  const readTargets = new ReadTargets(endpoints, channelDown);
  let membersFetchedAt = 0;
  /** Refreshes the read targets from Status now and then (not awaited: a read never waits for it). */
  const maybeRefreshMembers = () => {
    const now = Date.now();
    if (now - membersFetchedAt < memberRefreshMs) return;
    membersFetchedAt = now;
    const addressesOf = (r: any): string[] => (r.members ?? []).map((m: any) => String(m.address ?? ''));
    invoke('Status', {}, true, requestTimeoutMs, requestTimeoutMs)
      .then(async (r: any) => {
        let found = addressesOf(r);
        // A follower learns a member's client address only from the member's
        // own messages to it, and learners talk to the leader alone: ask the
        // leader when the answer lacks some.
        if (found.some((a) => !a) && r.leaderAddress && Number(r.leaderId) !== Number(r.id)) {
          found = addressesOf(await call(r.leaderAddress, 'Status', {}, requestTimeoutMs));
        }
        readTargets.setMembers(found);
      })
      .catch(() => { membersFetchedAt = 0; });
  };

  /**
   * A read: with readFrom 'any' on the member with the fewest reads in
   * flight; if that member fails it retryably (down, no leader, timed out,
   * overloaded), on the leader within what is left of the retry deadline.
   */
  async function read(method: string, req: unknown, stale: boolean): Promise<any> {
    if (readFrom === 'leader') return invoke(method, req, stale);
    if (closed) throw new ClusterError('UNAVAILABLE', 'client is closed');
    maybeRefreshMembers();
    const started = Date.now();
    const ep = readTargets.pick();
    if (ep !== undefined) {
      readTargets.begin(ep);
      try {
        const r = await call(ep, method, req, Math.min(requestTimeoutMs, retryDeadlineMs));
        readTargets.end(ep, false);
        return r;
      } catch (b) {
        const body = b as NodeErrorBody;
        readTargets.end(ep, RETRYABLE.has(body.code));
        if (!RETRYABLE.has(body.code)) throw toClusterError(body);
      }
    }
    return invoke(method, req, stale, requestTimeoutMs, Math.max(1, retryDeadlineMs - (Date.now() - started)));
  }

  const writeMeta = (actor: string, requestId?: string, idem?: WriteIdempotency, actorRole?: string) => ({
    ...(idem ? { actor, ...idem } : { actor, clientId, requestId: requestId ?? `${Date.now().toString(36)}-${++seq}` }),
    ...(actorRole ? { actorRole } : {}),
  });
  const envOf = (o: { environment?: string }) => (o.environment ? { environment: o.environment } : {});
  const exp = (o: WriteOptions) => (o.expectedRevision !== undefined ? { hasExpectedRevision: true, expectedRevision: o.expectedRevision } : {});
  const changesOf = (r: any): Change[] => JSON.parse(r.changesJson || '[]') as Change[];
  const parseMembers = (r: any): MemberInfo[] => (r.members ?? []).map((m: any) => ({ id: Number(m.id), address: m.address, peerAddress: m.peerAddress ?? '', role: m.role, matchIndex: Number(m.matchIndex), lag: Number(m.lag), reachable: !!m.reachable }));

  const client: ClusterClient = {
    clientId,
    clusterId,
    transportSecurity: store ? 'mtls' : 'insecure',
    reloadCertificates: () => (store ? store.reload() : false),
    async putFlag(flag, o) {
      const r = await invoke('PutFlag', { meta: writeMeta(o.actor, o.requestId, o.idempotency, o.actorRole), definitionJson: JSON.stringify(flag), ...exp(o), ...envOf(o) });
      const ch = changesOf(r);
      return { revision: Number(r.revision), flag: ch.find((c) => c.kind === 'flag')?.after as StoredFlag };
    },
    async deleteFlag(key, o) {
      const r = await invoke('DeleteFlag', { meta: writeMeta(o.actor, o.requestId, o.idempotency, o.actorRole), key, ...exp(o), ...envOf(o) });
      return { revision: Number(r.revision) };
    },
    async putSegment(segment, o) {
      const r = await invoke('PutSegment', { meta: writeMeta(o.actor, o.requestId, o.idempotency, o.actorRole), definitionJson: JSON.stringify(segment), ...exp(o) });
      return { revision: Number(r.revision), segment: changesOf(r).find((c) => c.kind === 'segment')?.after as StoredSegment };
    },
    async deleteSegment(name, o) {
      const r = await invoke('DeleteSegment', { meta: writeMeta(o.actor, o.requestId, o.idempotency, o.actorRole), key: name, ...exp(o) });
      return { revision: Number(r.revision) };
    },
    async batch(ops, o) {
      const r = await invoke('Batch', { meta: writeMeta(o.actor, o.requestId, o.idempotency, o.actorRole), opsJson: JSON.stringify(ops) });
      return { revision: Number(r.revision), changes: changesOf(r) };
    },
    async getFlag(key, o = {}) {
      const r = await read('GetFlag', { key, consistency: o.consistency ?? 'linearizable', ...envOf(o) }, o.consistency === 'stale');
      return r.found ? JSON.parse(r.itemJson) as StoredFlag : undefined;
    },
    async getSegment(name, o = {}) {
      const r = await read('GetSegment', { key: name, consistency: o.consistency ?? 'linearizable' }, o.consistency === 'stale');
      return r.found ? JSON.parse(r.itemJson) as StoredSegment : undefined;
    },
    async listFlags(o = {}) {
      const r = await read('ListFlags', { prefix: o.prefix ?? '', limit: o.limit ?? 0, pageToken: o.pageToken ?? '', consistency: o.consistency ?? 'linearizable', ...envOf(o) }, o.consistency === 'stale');
      return { flags: r.itemsJson.map((j: string) => JSON.parse(j)), nextPageToken: r.nextPageToken || undefined, revision: Number(r.revision) };
    },
    async listSegments(o = {}) {
      const r = await read('ListSegments', { prefix: o.prefix ?? '', limit: o.limit ?? 0, pageToken: o.pageToken ?? '', consistency: o.consistency ?? 'linearizable' }, o.consistency === 'stale');
      return { segments: r.itemsJson.map((j: string) => JSON.parse(j)), nextPageToken: r.nextPageToken || undefined, revision: Number(r.revision) };
    },
    async snapshotAll(o = {}) {
      const r = await read('SnapshotAll', { ...envOf(o) }, false);
      return { revision: Number(r.revision), flags: r.flagsJson.map((j: string) => JSON.parse(j)), segments: r.segmentsJson.map((j: string) => JSON.parse(j)) };
    },
    async history(key, o = {}) {
      const r = await invoke('History', { key, kind: o.kind ?? 'flag', limit: o.limit ?? 0, beforeRevision: o.beforeRevision ?? 0, ...envOf(o) }, true);
      return r.changesJson.map((j: string) => JSON.parse(j));
    },
    async propose(command, o) {
      const r = await invoke('Propose', { meta: writeMeta(o.actor, o.requestId, o.idempotency, o.actorRole), commandJson: JSON.stringify(command) });
      return { revision: Number(r.revision), changes: changesOf(r) };
    },
    async query(what, args = {}, o = {}) {
      const r = await invoke('Query', { what, argsJson: JSON.stringify(args), consistency: o.consistency ?? 'linearizable' }, o.consistency === 'stale');
      return JSON.parse(r.resultJson);
    },
    watch(o) {
      const w = startWatch(o);
      watches.add(w);
      return { close: () => { w.close(); watches.delete(w); } };
    },
    async status(o = {}) {
      const r = o.endpoint ? await call(o.endpoint, 'Status', {}, requestTimeoutMs).catch((b: NodeErrorBody) => { throw toClusterError(b); }) : await invoke('Status', {}, true);
      return {
        clusterId: r.clusterId, nodeId: Number(r.id), role: r.role, leaderId: Number(r.leaderId), leaderAddress: r.leaderAddress, term: Number(r.term),
        members: parseMembers(r), commitIndex: Number(r.commitIndex), appliedIndex: Number(r.appliedIndex),
        publishedRevision: Number(r.publishedRevision), publishLag: Number(r.publishLag),
        appliedRevision: Number(r.appliedRevision ?? r.appliedIndex), restoredRevision: Number(r.restoredRevision ?? 0), firstIndex: Number(r.firstIndex), lastIndex: Number(r.lastIndex),
        oldestRetainedRevision: Number(r.oldestRetainedRevision), dbBytes: Number(r.dbBytes),
        peerAddress: r.peerAddress || undefined, transportSecurity: r.transportSecurity || undefined,
        securityCounters: r.securityCounters ? Object.fromEntries(Object.entries(r.securityCounters as Record<string, unknown>).map(([k, v]) => [k, Number(v)])) : undefined,
      };
    },
    backup: () => readBackup(),
    async restore(doc, o) {
      const restoreId = o.restoreId ?? `r-${randomBytes(8).toString('hex')}`;
      const meta = writeMeta(o.actor);
      const step = (req: Record<string, unknown>) => invoke('Restore', { meta, restoreId, ...req }, false, backupTimeoutMs, Math.max(retryDeadlineMs, backupTimeoutMs));
      // Environments only when the document has them: a node from before environments refuses counts it does not know.
      const counts = {
        segments: doc.segments.length, flags: doc.flags.length, changes: doc.changes.length,
        ...(doc.environments ? { environments: doc.environments.length, envFlags: doc.envFlags?.length ?? 0 } : {}),
        // Likewise change requests and schedules, only when there are some.
        ...(doc.changeRequests?.length || doc.schedules?.length ? { changeRequests: doc.changeRequests?.length ?? 0, schedules: doc.schedules?.length ?? 0 } : {}),
      };
      await step({
        op: 'begin', force: o.force === true, countsJson: JSON.stringify(counts),
        sourceJson: JSON.stringify({ clusterId: doc.clusterId ?? '', revision: doc.revision, createdAt: doc.createdAt ?? '' }),
      });
      let seq = 0;
      try {
        for (const kind of RESTORE_KINDS) {
          for (const items of chunkItems((doc[kind] ?? []) as unknown[], Math.min(o.chunkBytes ?? LIMITS.maxRestoreChunkBytes, LIMITS.maxRestoreChunkBytes))) await step({ op: 'chunk', seq: seq++, kind, itemsJson: items.map((x) => JSON.stringify(x)) });
        }
        const r = await step({ op: 'commit' });
        return { revision: Number(r.revision), restoredRevision: Number(r.restoredRevision), counts, entries: seq + 2 };
      } catch (e) {
        // Drop the staged rows now rather than leaving them until the next restore.
        await step({ op: 'abort' }).catch(() => undefined);
        throw e;
      }
    },
    async addLearner(id, peerAddress) { return parseMembers(await invoke('AddLearner', { nodeId: id, address: peerAddress })); },
    async promoteLearner(id) { return parseMembers(await invoke('PromoteLearner', { nodeId: id })); },
    async removeMember(id) { return parseMembers(await invoke('RemoveMember', { nodeId: id })); },
    async transferLeader(id) { return parseMembers(await invoke('TransferLeader', { nodeId: id })); },
    close() {
      closed = true;
      store?.close();
      for (const w of watches) w.close();
      watches.clear();
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };

  /** Streams Backup from the leader, following NOT_LEADER hints and retrying retryable failures until the deadline. */
  async function readBackup(): Promise<BackupData> {
    if (closed) throw new ClusterError('UNAVAILABLE', 'client is closed');
    const deadline = performance.now() + backupTimeoutMs;
    // backupTimeoutMs is for streaming a large backup; reaching a node that starts one gets the ordinary retry deadline,
    // and each attempt must see the header within it, so an unreachable or leaderless cluster is reported in seconds.
    let reachBy = performance.now() + Math.min(backupTimeoutMs, retryDeadlineMs);
    let last: NodeErrorBody | undefined;
    for (let attempt = 0; performance.now() < deadline; attempt++) {
      const ep = endpoints[leader];
      let started = false;
      try {
        return await new Promise<BackupData>((resolve, reject) => {
          const out: BackupData = { clusterId: '', revision: 0, createdAt: '', oldestRetainedRevision: 0, segmentsJson: [], flagsJson: [], changesJson: [], environmentsJson: [], envFlagsJson: [], changeRequestsJson: [], schedulesJson: [] };
          let header = false;
          const s: grpc.ClientReadableStream<any> = clientFor(ep).Backup({}, metadata(), { deadline: Date.now() + Math.max(0, deadline - performance.now()) });
          const headerTimer = setTimeout(() => s.cancel(), Math.max(0, Math.min(retryDeadlineMs, deadline - performance.now())));
          s.on('data', (m: any) => {
            if (m.headerJson) {
              clearTimeout(headerTimer);
              started = true;
              const h = JSON.parse(m.headerJson);
              Object.assign(out, { clusterId: h.clusterId, revision: Number(h.revision), createdAt: h.createdAt, oldestRetainedRevision: Number(h.oldestRetainedRevision ?? 0) });
              header = true;
            }
            const items = m.itemsJson as string[];
            if (m.kind === 'segments') out.segmentsJson.push(...items);
            else if (m.kind === 'flags') out.flagsJson.push(...items);
            else if (m.kind === 'changes') out.changesJson.push(...items);
            else if (m.kind === 'environments') out.environmentsJson.push(...items);
            else if (m.kind === 'envFlags') out.envFlagsJson.push(...items);
            else if (m.kind === 'changeRequests') out.changeRequestsJson.push(...items);
            else if (m.kind === 'schedules') out.schedulesJson.push(...items);
          });
          s.on('error', (e: grpc.ServiceError) => {
            clearTimeout(headerTimer);
            reject(header || e.code !== grpc.status.CANCELLED ? bodyOf(e) : { code: 'UNAVAILABLE', message: `${ep} sent no backup header within ${retryDeadlineMs} ms` });
          });
          s.on('end', () => {
            clearTimeout(headerTimer);
            if (header) resolve(out);
            else reject({ code: 'UNAVAILABLE', message: 'backup stream ended without a header' });
          });
        });
      } catch (b) {
        const body = b as NodeErrorBody;
        last = body;
        if (!RETRYABLE.has(body.code)) throw toClusterError(body);
        // A stream that started and then broke (leader change) earns the next attempts a fresh window.
        if (started) reachBy = performance.now() + Math.min(backupTimeoutMs, retryDeadlineMs);
        else if (performance.now() >= reachBy) throw new ClusterError('UNAVAILABLE', `Backup: no node started a backup within ${Math.min(backupTimeoutMs, retryDeadlineMs)} ms: ${body.message}`, { lastError: body });
        const li = body.code === 'NOT_LEADER' && body.leaderAddress ? endpoints.indexOf(body.leaderAddress) : -1;
        if (body.code === 'NOT_LEADER' && body.leaderAddress && li < 0) { endpoints.push(body.leaderAddress); leader = endpoints.length - 1; }
        else leader = li >= 0 && li !== leader ? li : (leader + 1) % endpoints.length;
        if (attempt >= endpoints.length) await sleep(Math.min(MAX_BACKOFF_MS * 4, MIN_BACKOFF_MS * 2 ** Math.min(attempt, 8)));
      }
    }
    throw new ClusterError('DEADLINE', `Backup: no complete answer within ${backupTimeoutMs} ms${last ? `: ${last.message}` : ''}`);
  }

  function startWatch(o: WatchOptions): { close(): void } {
    let last = o.fromRevision;
    let stopped = false;
    let stream: grpc.ClientReadableStream<any> | undefined;
    let failures = 0;
    let silenceTimer: NodeJS.Timeout | undefined;
    const progressMs = o.progressIntervalMs ?? 1000;
    const armSilence = () => {
      clearTimeout(silenceTimer);
      // No message (not even progress) for 3 intervals: the node is gone or stuck.
      silenceTimer = setTimeout(() => stream?.cancel(), 3 * progressMs + 500);
    };
    const connect = () => {
      if (stopped || closed) return;
      const ep = endpoints[leader];
      const s: grpc.ClientReadableStream<any> = clientFor(ep).Watch({ fromRevision: last, progressIntervalMs: progressMs, allEnvironments: o.allEnvironments === true }, metadata());
      stream = s;
      let ended = false;
      armSilence();
      s.on('data', (msg: any) => {
        if (stopped || stream !== s) return;
        failures = 0;
        armSilence();
        const rev = Number(msg.revision);
        if (msg.progress) {
          if (rev > last) last = rev;
          o.onProgress?.(rev);
          return;
        }
        if (rev <= last) return; // already delivered before a reconnect
        for (const j of msg.eventsJson as string[]) {
          try { o.onChange(JSON.parse(j) as ChangeEvent); } catch (e) { o.onError?.(new ClusterError('INTERNAL', `onChange threw: ${(e as Error).message}`), true); }
        }
        last = rev;
      });
      const retry = (err: grpc.ServiceError | undefined) => {
        if (ended) return;
        ended = true;
        clearTimeout(silenceTimer);
        if (stopped || closed || stream !== s) return;
        const body = err ? bodyOf(err) : { code: 'UNAVAILABLE', message: 'watch stream ended' };
        if (body.code === 'COMPACTED') {
          stopped = true;
          if (o.onCompacted) o.onCompacted(); else o.onError?.(toClusterError(body), false);
          return;
        }
        if (body.code === 'PERMISSION' || body.code === 'INVALID_ARGUMENT') {
          stopped = true;
          o.onError?.(toClusterError(body), false);
          return;
        }
        o.onError?.(toClusterError(body), true);
        failures++;
        // Go to another node (or the leader it names) and resume from `last`.
        if (body.code === 'NOT_LEADER' && body.leaderAddress) {
          const li = endpoints.indexOf(body.leaderAddress);
          leader = li >= 0 ? li : leader;
        } else if (failures > 0) leader = (leader + 1) % endpoints.length;
        const delay = failures <= endpoints.length ? MIN_BACKOFF_MS : Math.min(MAX_BACKOFF_MS * 5, MIN_BACKOFF_MS * 2 ** Math.min(failures, 10));
        setTimeout(connect, delay * (0.5 + Math.random() / 2));
      };
      s.on('error', (e: grpc.ServiceError) => retry(e));
      s.on('end', () => retry(undefined));
    };
    connect();
    return {
      close() {
        stopped = true;
        clearTimeout(silenceTimer);
        stream?.cancel();
      },
    };
  }

  return client;
}
