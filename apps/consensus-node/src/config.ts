// Node configuration: environment variables (FLAGRAFT_*) and command-line flags
// (--node-id 1 == FLAGRAFT_NODE_ID=1). Every limit names its unit.
import { DEFAULT_TLS_RELOAD_INTERVAL_MS, TlsConfigError, identityUri, loadCertificates, transportSecurityFromEnv, type TransportSecurity } from '@flagraft/identity';
import type { LogLevel, SnsOutboxConfig } from './outbox-types.js';
import { DEFAULT_RETENTION, defaultPruneEvery, retentionProblem, type RetentionOptions } from './retention.js';
import { DEFAULT_RECLAIM, localMarginBytes, type ReclaimOptions } from './storage/reclaim.js';
import { DEFAULT_TRANSPORT_LIMITS, type TransportLimits } from './transport.js';
import { DEFAULT_ENVIRONMENT, KEY_PATTERN, LIMITS } from '@flagraft/flag-model';

export interface NodeConfig {
  nodeId: number;
  /** With mutual TLS: the cluster named by this node's certificate. */
  clusterId: string;
  /** host:port of the client port (Flags and Health; service certificates). Port 0 = any free port. */
  listen: string;
  /** Client address clients use to reach this node (default: the bound listen address). */
  advertise?: string;
  /** host:port of the peer port (Raft; node certificates only). Port 0 = any free port. */
  peerListen: string;
  /** Peer address other nodes use to reach this node (default: the bound peer address). */
  peerAdvertise?: string;
  /** Optional plain-text listener that serves only grpc.health.v1 (for probes that cannot do TLS, e.g. kubelet gRPC probes). */
  healthListen?: string;
  dataDir: string;
  /** id -> peer address of the initial voters; used to bootstrap a new cluster and as known peers. */
  initialCluster: Map<number, string>;
  /**
   * id -> the address this node dials for that peer instead of the replicated
   * one (FLAGRAFT_PEER_ROUTES). The address book stays cluster-wide; a route is
   * this node's own way there (a fault proxy in apps/torture, a local tunnel).
   */
  peerRoutes: Map<number, string>;
  /** A deliberately injected bug (FLAGRAFT_INJECT_BUG; apps/torture proves it catches each). Never set in production. */
  injectBug?: InjectedBug;
  /**
   * Testing only (FLAGRAFT_CLOCK_CONTROL, apps/torture clock-jump): a JSON file
   * {"offsetMs", "rate"} that shifts and skews this process's wall clock
   * (clock.ts installClockFault; main.ts installs it). Never set in production.
   */
  clockControlFile?: string;
  /** Join an existing cluster (start with empty membership; the leader adds us as a learner). */
  join: boolean;
  tickMs: number;
  electionTimeoutMs: number;
  heartbeatMs: number;
  /** Tick while the cluster is idle (ms; 0 = never idle): src/idle.ts. */
  idleTickMs: number;
  /**
   * How the leader confirms linearizable reads (FLAGRAFT_READ_MODE): 'safe'
   * (default) a heartbeat round to a quorum per batch of reads; 'lease' it
   * answers alone while its lease holds (raft-core lease.ts: assumes the
   * nodes' clocks tick at rates within 10 % of each other; the driver ends
   * the lease when its own ticks fall behind its clock). Set it the same on
   * every node of a cluster (only the leader's counts).
   */
  readMode: ReadMode;
  /** Take a snapshot and compact the log every N applied entries. */
  snapshotEveryEntries: number;
  /** Entries kept in the log behind a snapshot so slightly slow followers avoid a snapshot. */
  snapshotCatchUpEntries: number;
  /** Also compact once the log holds more than this plus snapshotCatchUpBytes of entries (bytes). */
  snapshotEveryBytes: number;
  /** The catch-up margin behind the compaction point holds at most this many bytes of entries. */
  snapshotCatchUpBytes: number;
  /** History and de-duplication retention by size and age (src/retention.ts). */
  retention: RetentionOptions;
  /** Giving freed pages back to the file system (src/storage/reclaim.ts). */
  reclaim: ReclaimOptions;
  /** A proposal that has not applied after this is answered UNAVAILABLE (the client retries with the same id). */
  proposalTimeoutMs: number;
  /** Proposals waiting for apply on this node before new writes are refused (count). */
  maxPendingProposals: number;
  /** Reads waiting for a ReadIndex before new reads are refused (count). */
  maxPendingReads: number;
  /** gRPC message size limit for every message this node receives, clients and peers (bytes). */
  maxMessageBytes: number;
  /** Concurrent Watch streams (count). */
  maxWatchers: number;
  maxSizePerMsgBytes: number;
  maxInflightMsgs: number;
  maxUncommittedEntriesBytes: number;
  maxCommittedSizePerReadyBytes: number;
  transport: TransportLimits;
  /** Mutual TLS with these files (the default), or plain text with FLAGRAFT_INSECURE=1. */
  security: TransportSecurity;
  /** How often the certificate files are checked for changes (ms; 0 = only on SIGHUP). */
  tlsReloadIntervalMs: number;
  sns?: SnsOutboxConfig;
  logLevel: LogLevel;
  /** Log Ready/fsync counters every N ms (0 = never). */
  metricsLogMs: number;
  /** How long SIGTERM waits for leadership transfer and in-flight requests (ms). */
  shutdownGraceMs: number;
  /**
   * The default environment's name (FLAGRAFT_DEFAULT_ENVIRONMENT, default
   * `production`): given to a new data dir, or to one from before
   * environments when it is upgraded. The same on every node of a cluster.
   */
  defaultEnvironment?: string;
  /** How often the leader looks for due schedule steps (ms; FLAGRAFT_SCHEDULER_POLL_MS). */
  schedulerPollMs?: number;
}

/** Bugs apps/torture can switch on to prove its checks catch them (inject.ts says what each does). */
export const INJECTED_BUGS = ['ack-before-fsync', 'read-without-readindex', 'apply-uncommitted'] as const;
export type InjectedBug = (typeof INJECTED_BUGS)[number];

export const READ_MODES = ['safe', 'lease'] as const;
export type ReadMode = (typeof READ_MODES)[number];

/** The log is compacted once it holds this + the catch-up margin (512 KiB each: 1 MiB of the 8 MiB history budget). */
const LOG_BYTES = { snapshotEveryBytes: 512 * 1024, snapshotCatchUpBytes: 512 * 1024 };

export const DEFAULTS = {
  // Loopback/LAN defaults: a dead leader is replaced in ~250-450 ms (measured in
  // bench/etcd). On slow disks or WANs raise the election timeout (etcd uses 1000 ms).
  tickMs: 20,
  electionTimeoutMs: 200,
  heartbeatMs: 40,
  // Idle: heartbeats every 2 x 250 ms, a silent leader loss noticed in 2.5-5 s;
  // a dead leader's closed connections wake its followers at once (src/idle.ts).
  idleTickMs: 250,
  snapshotEveryEntries: 10_000,
  snapshotCatchUpEntries: 5_000,
  ...LOG_BYTES,
  // The local margins count inside the history budget (retention.ts reservedBytes).
  retention: { ...DEFAULT_RETENTION, reservedBytes: localMarginBytes(LOG_BYTES) },
  reclaim: DEFAULT_RECLAIM,
  proposalTimeoutMs: 5_000,
  maxPendingProposals: 10_000,
  maxPendingReads: 10_000,
  maxMessageBytes: 8 * 1024 * 1024,
  maxWatchers: 1_000,
  maxSizePerMsgBytes: 512 * 1024,
  maxInflightMsgs: 256,
  maxUncommittedEntriesBytes: 64 * 1024 * 1024,
  maxCommittedSizePerReadyBytes: 16 * 1024 * 1024,
  shutdownGraceMs: 3_000,
};

/** How often the leader looks for due schedule steps (ms): a step applies at most this late (plus one commit). */
export const DEFAULT_SCHEDULER_POLL_MS = 250;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The peer port when FLAGRAFT_PEER_LISTEN is not set: the client port + 100 on the same host (7001 -> 7101; 0 stays 0). */
export function defaultPeerListen(listen: string): string {
  const i = listen.lastIndexOf(':');
  const port = Number(listen.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65435) throw new ConfigError(`FLAGRAFT_LISTEN "${listen}" is not host:port (port at most 65435 when FLAGRAFT_PEER_LISTEN is not set)`);
  return `${listen.slice(0, i)}:${port === 0 ? 0 : port + 100}`;
}

/**
 * With mutual TLS the cluster id is the one in this node's certificate (made
 * by \`flagraft certs init\`, never a fixed default), and the certificate must
 * be this node's; FLAGRAFT_CLUSTER_ID, if set, must agree. Plain text needs
 * FLAGRAFT_CLUSTER_ID.
 */
function clusterIdOf(security: TransportSecurity, nodeId: number, configured: string | undefined): string {
  if (security.mode === 'insecure') {
    if (!configured) throw new ConfigError('FLAGRAFT_CLUSTER_ID is required with FLAGRAFT_INSECURE=1 (with TLS it comes from the certificate)');
    return configured;
  }
  let id;
  try {
    id = loadCertificates(security.files).identity;
  } catch (err) {
    throw new ConfigError((err as TlsConfigError).message);
  }
  if (id.kind !== 'node' || id.nodeId !== nodeId) throw new ConfigError(`FLAGRAFT_TLS_CERT ${security.files.certFile} is ${identityUri(id)}, not node ${nodeId} (FLAGRAFT_NODE_ID)`);
  if (configured && configured !== id.clusterId) throw new ConfigError(`FLAGRAFT_CLUSTER_ID (${configured}) differs from the cluster of FLAGRAFT_TLS_CERT (${id.clusterId}); leave it unset`);
  return id.clusterId;
}

/** "1=127.0.0.1:7101,2=127.0.0.1:7102" */
export function parseMembers(s: string, name: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)=(.+:\d+)$/.exec(part);
    if (!m) throw new ConfigError(`${name}: "${part}" is not id=host:port`);
    const id = Number(m[1]);
    if (!Number.isSafeInteger(id) || id <= 0) throw new ConfigError(`${name}: node id ${m[1]} must be a positive integer`);
    out.set(id, m[2]);
  }
  return out;
}

/** --foo-bar=x / --foo-bar x / --flag  ->  FLAGRAFT_FOO_BAR */
export function argsToEnv(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new ConfigError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const name = (eq > 0 ? a.slice(2, eq) : a.slice(2)).toUpperCase().replace(/-/g, '_');
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) value = argv[++i];
    else value = 'true';
    out[`FLAGRAFT_${name}`] = value;
  }
  return out;
}

export function loadConfigFromEnv(env: NodeJS.ProcessEnv = process.env, argv: string[] = []): NodeConfig {
  const e: Record<string, string | undefined> = { ...env, ...argsToEnv(argv) };
  const str = (k: string, def?: string): string => {
    const v = e[`FLAGRAFT_${k}`];
    if (v === undefined || v === '') {
      if (def === undefined) throw new ConfigError(`FLAGRAFT_${k} is required`);
      return def;
    }
    return v;
  };
  const int = (k: string, def: number, min = 1): number => {
    const raw = e[`FLAGRAFT_${k}`];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) throw new ConfigError(`FLAGRAFT_${k}="${raw}" must be an integer >= ${min}`);
    return n;
  };
  const bool = (k: string): boolean => ['1', 'true', 'yes'].includes((e[`FLAGRAFT_${k}`] ?? '').toLowerCase());

  const nodeId = int('NODE_ID', 0, 1);
  if (!nodeId) throw new ConfigError('FLAGRAFT_NODE_ID is required (a positive integer)');
  const listen = str('LISTEN', '127.0.0.1:7001');
  const peerListen = str('PEER_LISTEN', defaultPeerListen(listen));
  if (peerListen === listen && !listen.endsWith(':0')) throw new ConfigError(`FLAGRAFT_PEER_LISTEN (${peerListen}) must differ from FLAGRAFT_LISTEN: Raft and clients have separate ports`);
  const initialCluster = parseMembers(str('INITIAL_CLUSTER', ''), 'FLAGRAFT_INITIAL_CLUSTER');
  const peerRoutes = parseMembers(str('PEER_ROUTES', ''), 'FLAGRAFT_PEER_ROUTES');
  const injectRaw = e.FLAGRAFT_INJECT_BUG || undefined;
  if (injectRaw !== undefined && !(INJECTED_BUGS as readonly string[]).includes(injectRaw)) {
    throw new ConfigError(`FLAGRAFT_INJECT_BUG="${injectRaw}" must be one of ${INJECTED_BUGS.join(', ')}`);
  }
  const join = bool('JOIN');
  if (!join && initialCluster.size === 0) initialCluster.set(nodeId, e.FLAGRAFT_PEER_ADVERTISE || peerListen);
  if (!join && !initialCluster.has(nodeId)) throw new ConfigError(`FLAGRAFT_INITIAL_CLUSTER does not list this node (${nodeId}); set FLAGRAFT_JOIN=1 to join an existing cluster`);
  if (join && initialCluster.size === 0) throw new ConfigError('FLAGRAFT_JOIN=1 needs FLAGRAFT_INITIAL_CLUSTER listing the current members (id=host:port,...)');

  const tickMs = int('TICK_MS', DEFAULTS.tickMs);
  const electionTimeoutMs = int('ELECTION_TIMEOUT_MS', DEFAULTS.electionTimeoutMs);
  const heartbeatMs = int('HEARTBEAT_MS', DEFAULTS.heartbeatMs);
  if (heartbeatMs < tickMs) throw new ConfigError(`FLAGRAFT_HEARTBEAT_MS (${heartbeatMs}) must be >= FLAGRAFT_TICK_MS (${tickMs})`);
  if (electionTimeoutMs < 2 * heartbeatMs) throw new ConfigError(`FLAGRAFT_ELECTION_TIMEOUT_MS (${electionTimeoutMs}) must be at least twice FLAGRAFT_HEARTBEAT_MS (${heartbeatMs})`);
  const idleTickMs = int('IDLE_TICK_MS', DEFAULTS.idleTickMs, 0);
  const readMode = str('READ_MODE', 'safe');
  if (!(READ_MODES as readonly string[]).includes(readMode)) throw new ConfigError(`FLAGRAFT_READ_MODE: expected ${READ_MODES.join(' or ')}, got ${JSON.stringify(readMode)}`);
  // A lease needs electionTick >= 3 (raft-core): at least 3 ticks per election timeout.
  if (readMode === 'lease' && electionTimeoutMs < 3 * tickMs) throw new ConfigError(`FLAGRAFT_READ_MODE=lease needs FLAGRAFT_ELECTION_TIMEOUT_MS (${electionTimeoutMs}) >= 3 x FLAGRAFT_TICK_MS (${tickMs})`);
  if (idleTickMs > 0 && idleTickMs < tickMs) throw new ConfigError(`FLAGRAFT_IDLE_TICK_MS (${idleTickMs}) must be 0 (never idle) or >= FLAGRAFT_TICK_MS (${tickMs})`);

  let security: TransportSecurity;
  try {
    security = transportSecurityFromEnv(e);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const clusterId = clusterIdOf(security, nodeId, e.FLAGRAFT_CLUSTER_ID || undefined);
  let sns: SnsOutboxConfig | undefined;
  if (e.FLAGRAFT_SNS_TOPIC_ARN) {
    // Relays refuse unsigned events, so an outbox without keys would publish nothing anyone accepts.
    if (!e.FLAGRAFT_EVENT_KEYS_FILE) {
      throw new ConfigError('FLAGRAFT_EVENT_KEYS_FILE is required with FLAGRAFT_SNS_TOPIC_ARN: the outbox signs every change event and relays refuse unsigned ones (`node scripts/event-keys.mjs init <file>` makes one)');
    }
    sns = {
      eventKeysFile: e.FLAGRAFT_EVENT_KEYS_FILE,
      topicArn: str('SNS_TOPIC_ARN'),
      region: str('SNS_REGION', e.AWS_REGION ?? 'us-east-1'),
      endpoint: e.FLAGRAFT_SNS_ENDPOINT || undefined,
      fifo: e.FLAGRAFT_SNS_FIFO ? bool('SNS_FIFO') : str('SNS_TOPIC_ARN').endsWith('.fifo'),
      batchSize: int('SNS_BATCH_SIZE', 10),
      events: snsEvents(e.FLAGRAFT_SNS_EVENTS),
    };
    if (e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY) {
      sns.credentials = { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY, sessionToken: e.AWS_SESSION_TOKEN };
    }
  }
  if (e.FLAGRAFT_DEDUP_WINDOW) {
    throw new ConfigError('FLAGRAFT_DEDUP_WINDOW (a count of revisions) was replaced by FLAGRAFT_DEDUP_MIN_AGE_MS, FLAGRAFT_DEDUP_MAX_AGE_MS and FLAGRAFT_DEDUP_MAX_BYTES (README "Disk and retention")');
  }
  const changesRetentionRevisions = int('CHANGES_RETENTION', DEFAULT_RETENTION.changesRetentionRevisions, 0);
  const logBytes = {
    snapshotEveryBytes: int('SNAPSHOT_EVERY_BYTES', DEFAULTS.snapshotEveryBytes),
    snapshotCatchUpBytes: int('SNAPSHOT_CATCHUP_BYTES', DEFAULTS.snapshotCatchUpBytes, 0),
  };
  const retention: RetentionOptions = {
    historyMaxBytes: int('HISTORY_MAX_BYTES', DEFAULT_RETENTION.historyMaxBytes, 0),
    reservedBytes: localMarginBytes(logBytes),
    historyMaxAgeMs: int('HISTORY_MAX_AGE_MS', DEFAULT_RETENTION.historyMaxAgeMs, 0),
    changesRetentionRevisions,
    dedupMinAgeMs: int('DEDUP_MIN_AGE_MS', DEFAULT_RETENTION.dedupMinAgeMs, 0),
    dedupMaxAgeMs: int('DEDUP_MAX_AGE_MS', DEFAULT_RETENTION.dedupMaxAgeMs, 0),
    dedupMaxBytes: int('DEDUP_MAX_BYTES', DEFAULT_RETENTION.dedupMaxBytes, 0),
    pruneEveryRevisions: int('PRUNE_EVERY', defaultPruneEvery(changesRetentionRevisions)),
  };
  const problem = retentionProblem(retention);
  if (problem) throw new ConfigError(problem);
  const logLevel = str('LOG_LEVEL', 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) throw new ConfigError(`FLAGRAFT_LOG_LEVEL="${logLevel}" must be debug, info, warn or error`);

  return {
    nodeId,
    clusterId,
    listen,
    advertise: e.FLAGRAFT_ADVERTISE || undefined,
    peerListen,
    peerAdvertise: e.FLAGRAFT_PEER_ADVERTISE || undefined,
    healthListen: e.FLAGRAFT_HEALTH_LISTEN || undefined,
    dataDir: str('DATA_DIR', `./data/node-${nodeId}`),
    initialCluster,
    peerRoutes,
    injectBug: injectRaw as InjectedBug | undefined,
    clockControlFile: e.FLAGRAFT_CLOCK_CONTROL || undefined,
    join,
    tickMs,
    electionTimeoutMs,
    heartbeatMs,
    idleTickMs,
    readMode: readMode as ReadMode,
    snapshotEveryEntries: int('SNAPSHOT_EVERY', DEFAULTS.snapshotEveryEntries),
    snapshotCatchUpEntries: int('SNAPSHOT_CATCHUP_ENTRIES', DEFAULTS.snapshotCatchUpEntries, 0),
    ...logBytes,
    retention,
    reclaim: { intervalMs: int('RECLAIM_INTERVAL_MS', DEFAULT_RECLAIM.intervalMs, 0), stepPages: int('RECLAIM_STEP_PAGES', DEFAULT_RECLAIM.stepPages) },
    proposalTimeoutMs: int('PROPOSAL_TIMEOUT_MS', DEFAULTS.proposalTimeoutMs),
    maxPendingProposals: int('MAX_PENDING_PROPOSALS', DEFAULTS.maxPendingProposals),
    maxPendingReads: int('MAX_PENDING_READS', DEFAULTS.maxPendingReads),
    maxMessageBytes: int('MAX_MESSAGE_BYTES', DEFAULTS.maxMessageBytes, 65536),
    maxWatchers: int('MAX_WATCHERS', DEFAULTS.maxWatchers),
    maxSizePerMsgBytes: DEFAULTS.maxSizePerMsgBytes,
    maxInflightMsgs: DEFAULTS.maxInflightMsgs,
    maxUncommittedEntriesBytes: DEFAULTS.maxUncommittedEntriesBytes,
    maxCommittedSizePerReadyBytes: DEFAULTS.maxCommittedSizePerReadyBytes,
    transport: { ...DEFAULT_TRANSPORT_LIMITS, maxPeerMessageBytes: int('MAX_MESSAGE_BYTES', DEFAULTS.maxMessageBytes, 65536) },
    security,
    tlsReloadIntervalMs: int('TLS_RELOAD_INTERVAL_MS', DEFAULT_TLS_RELOAD_INTERVAL_MS, 0),
    sns,
    logLevel,
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', DEFAULTS.shutdownGraceMs),
    metricsLogMs: int('METRICS_LOG_MS', 0, 0),
    defaultEnvironment: environmentName(str('DEFAULT_ENVIRONMENT', DEFAULT_ENVIRONMENT)),
    schedulerPollMs: int('SCHEDULER_POLL_MS', DEFAULT_SCHEDULER_POLL_MS),
  };
}

function environmentName(v: string): string {
  if (v.length > LIMITS.maxKeyChars || !KEY_PATTERN.test(v)) throw new ConfigError(`FLAGRAFT_DEFAULT_ENVIRONMENT="${v}" must match ${KEY_PATTERN.source} (at most ${LIMITS.maxKeyChars} characters)`);
  return v;
}

/** FLAGRAFT_SNS_EVENTS: which changes the outbox publishes (outbox-types.ts OutboxEvents). */
function snsEvents(v: string | undefined): 'all' | 'legacy' {
  if (v === undefined || v === '' || v === 'all') return 'all';
  if (v === 'legacy') return 'legacy';
  throw new ConfigError(`FLAGRAFT_SNS_EVENTS must be "all" (every change) or "legacy" (default-environment flags and segments only), got "${v}"`);
}
