// Gateway configuration: every field has a unit in its name and a default; the
// environment variables that set them are documented in ../README.md.
import { hostname } from 'node:os';
import { loadTokens, type TokenStore } from '@flagraft/auth';
import { clusterSecurityFromEnv, parseReadFrom, type ReadFrom, type TlsFiles } from '@flagraft/cluster-client';
import { LIMITS } from '@flagraft/flag-model';
import type { LogLevel } from './log.js';
import type { ClusterPort } from './types.js';

export interface GatewayConfig {
  /** Address to listen on. Default 127.0.0.1. */
  host: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  port: number;
  /** Consensus node gRPC endpoints (their client ports), host:port. */
  clusterEndpoints: string[];
  /**
   * Mutual TLS towards the nodes (the default): this gateway's service
   * certificate (role gateway: it vouches for the users it authenticates),
   * its key and the cluster's CA bundle. Reloaded on SIGHUP and when the files change.
   */
  clusterTls?: TlsFiles;
  /** Plain text towards the nodes instead (FLAGRAFT_INSECURE=1); logged as a warning at start. */
  clusterInsecure?: boolean;
  /** With TLS: optional (the certificate names the cluster; if set it must match). Plain text: required. */
  clusterId?: string;
  /** How often clusterTls files are checked for changes, ms; 0 = only on SIGHUP / reloadCertificates(). */
  tlsReloadIntervalMs?: number;
  /** Identifies this gateway to the cluster (write de-duplication). */
  clientId: string;
  /** Passed to the cluster client: one RPC attempt, and the whole retry budget (leader changes). */
  clusterRequestTimeoutMs?: number;
  clusterRetryDeadlineMs?: number;
  /**
   * Where the REST API's reads go (FLAGRAFT_READ_FROM): 'any' (default)
   * spreads them over every member, voters and learners, each serving a
   * linearizable read through ReadIndex, so reads scale with the members and
   * stay off the leader's CPU, which the writes need; 'leader' sends them where
   * the writes go (one hop less: lower latency on an idle cluster). Writes go
   * to the leader either way.
   */
  clusterReadFrom: ReadFrom;
  /** Use this cluster client instead of creating one (the gateway does not close it). */
  cluster?: ClusterPort;
  tokens: TokenStore;
  /**
   * The file `tokens` came from (FLAGRAFT_TOKENS_FILE): polled for changes every
   * tokensReloadIntervalMs and re-read on SIGHUP, so revoking or rotating a token
   * needs no restart.
   */
  tokensFile?: string;
  /** How often tokensFile is checked for changes, ms; 0 = only on SIGHUP / reloadTokens(). */
  tokensReloadIntervalMs: number;
  /** Development mode: requests without a token may evaluate flags (OFREP), nothing else. */
  anonymousEvaluation: boolean;
  /** Largest JSON body on the REST API, bytes. */
  maxBodyBytes: number;
  /** Largest body of POST /api/v1/batch, bytes. */
  maxBatchBodyBytes: number;
  /** Largest OFREP evaluation request body (the context), bytes. */
  maxEvaluationBodyBytes: number;
  /** Allowed origins for the OFREP endpoints ('*' = any). */
  corsOrigins: string[];
  /** Public base URL (scheme://host[:port]) used in OFREP eventStreams; default: from the request's Host. */
  publicBaseUrl?: string;
  /** SSE comment sent when a stream has been idle this long, ms. */
  sseHeartbeatMs: number;
  /** A stream client whose unsent data exceeds this is disconnected, bytes. */
  sseMaxBufferedBytes: number;
  /** Concurrent SSE clients (both streams together). */
  sseMaxClients: number;
  /** Recent change events kept in memory for Last-Event-ID resume (events); older resumes replay from the cluster. */
  sseReplayEvents: number;
  /** OFREP eventStreams `inactivityDelaySec`. */
  ofrepInactivityDelaySec: number;
  /**
   * Stream tickets (browsers' EventSource cannot send a token): validity window,
   * seconds. A ticket opens a stream for one to two windows after it was issued.
   */
  streamTicketWindowSec: number;
  /** Optional secret shared by every gateway, mixed into stream ticket keys. */
  streamTicketSecret?: string;
  /**
   * An evaluation triggered by a change event names that event's revision
   * (OFREP `flagConfigEtag`); a replica behind it waits this long at most
   * before answering anyway, ms.
   */
  freshnessWaitMs: number;
  /** Largest body of POST /api/v1/evaluation-counts (forwarded in-process evaluation counts), bytes. */
  maxEvaluationCountsBodyBytes: number;
  /** Largest body of the flagd import endpoints (a flagd flag-definition file), bytes. */
  maxFlagdImportBodyBytes: number;
  /** Largest body of POST /api/v1/admin/restore (a whole backup), bytes, before and after decompression. */
  maxRestoreBodyBytes: number;
  /** After a write commits, wait up to this long for the local replica to apply it before answering, ms. */
  writeVisibilityTimeoutMs: number;
  /** How often readiness probes the cluster, ms. */
  readyProbeIntervalMs: number;
  /** Ready only if the last successful probe is at most this old, ms. */
  readyMaxProbeAgeMs: number;
  /** Retry-After on 503 answers, seconds. */
  retryAfterSeconds: number;
  /** In-flight requests get this long to finish on shutdown, ms. */
  shutdownTimeoutMs: number;
  /**
   * Per-token limit on evaluation requests (OFREP single and bulk alike, and
   * evaluation-count reports), requests/s, per gateway; 0 = no limit. On by
   * default (1,000/s): far above what one service evaluating per request
   * through OFREP needs, low enough that one runaway client cannot take a
   * gateway's CPU from everyone else. Over it: 429 with Retry-After.
   */
  rateLimitEvaluationsPerSec: number;
  /** Evaluation requests a token may make at once after being idle (bucket size); default: two seconds' worth of the rate. */
  rateLimitEvaluationsBurst?: number;
  /**
   * Per-token limit on writes (non-GET requests needing the write or admin
   * role), requests/s, per gateway; 0 = no limit. On by default (50/s): every
   * write is a Raft round trip and an fsync on a majority, and people and
   * pipelines change flags a few times a minute, not hundreds of times a second.
   */
  rateLimitWritesPerSec: number;
  /** Writes a token may make at once after being idle (bucket size); default: two seconds' worth of the rate. */
  rateLimitWritesBurst?: number;
  /**
   * The rate limiters' monotonic clock in ms (default performance.now). An
   * injection point so tests can show the exact budgets without outrunning the
   * refill on a loaded machine; not settable from the environment.
   */
  rateLimitClock?: () => number;
  /** Request logs: every request, only 4xx/5xx, or none. */
  accessLog: 'all' | 'errors' | 'off';
  /**
   * Also log successful OFREP evaluations (with accessLog 'all'). Off by default:
   * evaluations are the bulk of the traffic, a log line costs about as much as
   * the evaluation, and the metrics already count them by flag and reason.
   */
  accessLogEvaluations: boolean;
  logLevel: LogLevel;
  /** Log sink (default stdout). */
  logWrite?: (chunk: string) => void;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  clusterEndpoints: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'],
  anonymousEvaluation: false,
  tokensReloadIntervalMs: 2_000,
  maxBodyBytes: 1024 * 1024,
  maxBatchBodyBytes: 8 * 1024 * 1024,
  maxEvaluationBodyBytes: 64 * 1024,
  corsOrigins: ['*'],
  sseHeartbeatMs: 15_000,
  sseMaxBufferedBytes: 1024 * 1024,
  sseMaxClients: 10_000,
  sseReplayEvents: 10_000,
  ofrepInactivityDelaySec: 120,
  streamTicketWindowSec: 300,
  freshnessWaitMs: 1_000,
  maxEvaluationCountsBodyBytes: 256 * 1024,
  maxFlagdImportBodyBytes: 8 * 1024 * 1024,
  maxRestoreBodyBytes: LIMITS.maxBackupBytes,
  writeVisibilityTimeoutMs: 2_000,
  readyProbeIntervalMs: 2_000,
  readyMaxProbeAgeMs: 6_000,
  retryAfterSeconds: 1,
  shutdownTimeoutMs: 10_000,
  // Burst defaults to two seconds' worth: 2,000 evaluations, 100 writes (rate-limit.ts).
  rateLimitEvaluationsPerSec: 1_000,
  rateLimitWritesPerSec: 50,
  accessLog: 'all',
  accessLogEvaluations: false,
  logLevel: 'info',
  clusterReadFrom: 'any',
} as const;

/** Fills defaults; `tokens` defaults to an empty store (only anonymous evaluation, if enabled, works). */
export function resolveConfig(partial: Partial<GatewayConfig>): GatewayConfig {
  const cfg: GatewayConfig = {
    ...DEFAULTS,
    corsOrigins: [...DEFAULTS.corsOrigins],
    clusterEndpoints: [...DEFAULTS.clusterEndpoints],
    clientId: `gateway-${hostname()}-${process.pid}`,
    tokens: partial.tokens ?? loadTokens({}),
    ...stripUndefined(partial),
  };
  for (const key of [
    'maxBodyBytes', 'maxBatchBodyBytes', 'maxEvaluationBodyBytes', 'sseHeartbeatMs', 'sseMaxBufferedBytes', 'sseMaxClients',
    'sseReplayEvents', 'writeVisibilityTimeoutMs', 'readyProbeIntervalMs', 'readyMaxProbeAgeMs', 'shutdownTimeoutMs',
    'streamTicketWindowSec', 'freshnessWaitMs', 'maxEvaluationCountsBodyBytes', 'maxFlagdImportBodyBytes',
    'maxRestoreBodyBytes',
  ] as const) {
    if (!Number.isInteger(cfg[key]) || cfg[key] <= 0) throw new ConfigError(`${key}: must be a positive integer, got ${cfg[key]}`);
  }
  for (const key of ['rateLimitEvaluationsPerSec', 'rateLimitWritesPerSec'] as const) {
    if (!Number.isFinite(cfg[key]) || cfg[key] < 0) throw new ConfigError(`${key}: must be a non-negative number (0 = no limit), got ${cfg[key]}`);
  }
  for (const key of ['rateLimitEvaluationsBurst', 'rateLimitWritesBurst'] as const) {
    const v = cfg[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ConfigError(`${key}: must be an integer of at least 1, got ${v}`);
  }
  if (!Number.isInteger(cfg.tokensReloadIntervalMs) || cfg.tokensReloadIntervalMs < 0) {
    throw new ConfigError(`tokensReloadIntervalMs: must be a non-negative integer, got ${cfg.tokensReloadIntervalMs}`);
  }
  if (!Number.isInteger(cfg.port) || cfg.port < 0 || cfg.port > 65535) throw new ConfigError(`port: must be 0..65535, got ${cfg.port}`);
  if (!cfg.cluster && cfg.clusterEndpoints.length === 0) throw new ConfigError('clusterEndpoints: at least one host:port is needed');
  if (!cfg.cluster && !cfg.clusterTls && !cfg.clusterInsecure) {
    throw new ConfigError('clusterTls: a gateway certificate is required to reach the nodes (FLAGRAFT_TLS_CA, FLAGRAFT_TLS_CERT, FLAGRAFT_TLS_KEY; flagraft certs issue gateway <name>), or clusterInsecure (FLAGRAFT_INSECURE=1) for plain text');
  }
  if (cfg.clusterInsecure && !cfg.clusterId) throw new ConfigError('clusterId: required with plain text towards the nodes (FLAGRAFT_CLUSTER_ID)');
  if (cfg.publicBaseUrl !== undefined) {
    try {
      new URL(cfg.publicBaseUrl);
    } catch {
      throw new ConfigError(`publicBaseUrl: not a URL: ${cfg.publicBaseUrl}`);
    }
    cfg.publicBaseUrl = cfg.publicBaseUrl.replace(/\/+$/, '');
  }
  return cfg;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

type Env = Record<string, string | undefined>;

/** Reads the configuration from FLAGRAFT_* variables (see README.md). Throws ConfigError naming the variable. */
export function loadConfigFromEnv(env: Env = process.env): GatewayConfig {
  const int = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name}: expected a non-negative integer, got ${JSON.stringify(raw)}`);
    return Number(raw.trim());
  };
  const bool = (name: string): boolean | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new ConfigError(`${name}: expected true or false, got ${JSON.stringify(raw)}`);
  };
  const list = (name: string): string[] | undefined => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return undefined;
    return raw.split(',').map((s) => s.trim()).filter(Boolean);
  };
  const accessLog = env.FLAGRAFT_ACCESS_LOG;
  if (accessLog !== undefined && !['all', 'errors', 'off'].includes(accessLog)) {
    throw new ConfigError(`FLAGRAFT_ACCESS_LOG: expected all, errors or off, got ${JSON.stringify(accessLog)}`);
  }
  const logLevel = env.FLAGRAFT_LOG_LEVEL;
  if (logLevel !== undefined && !['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new ConfigError(`FLAGRAFT_LOG_LEVEL: expected debug, info, warn or error, got ${JSON.stringify(logLevel)}`);
  }
  let tokens: TokenStore;
  let security: ReturnType<typeof clusterSecurityFromEnv>;
  let clusterReadFrom: ReadFrom | undefined;
  try {
    tokens = loadTokens(env);
    security = clusterSecurityFromEnv(env);
    clusterReadFrom = env.FLAGRAFT_READ_FROM ? parseReadFrom(env.FLAGRAFT_READ_FROM, 'FLAGRAFT_READ_FROM', 'any') : undefined;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return resolveConfig({
    host: env.FLAGRAFT_GATEWAY_HOST || undefined,
    port: int('FLAGRAFT_GATEWAY_PORT'),
    clusterEndpoints: list('FLAGRAFT_CLUSTER_ENDPOINTS'),
    clusterId: security.clusterId,
    clusterTls: security.tls,
    clusterInsecure: security.insecure,
    tlsReloadIntervalMs: int('FLAGRAFT_TLS_RELOAD_INTERVAL_MS'),
    clientId: env.FLAGRAFT_GATEWAY_ID || undefined,
    clusterRequestTimeoutMs: int('FLAGRAFT_CLUSTER_REQUEST_TIMEOUT_MS'),
    clusterRetryDeadlineMs: int('FLAGRAFT_CLUSTER_RETRY_DEADLINE_MS'),
    clusterReadFrom,
    tokens,
    tokensFile: env.FLAGRAFT_TOKENS_FILE || undefined,
    tokensReloadIntervalMs: int('FLAGRAFT_TOKENS_RELOAD_INTERVAL_MS'),
    anonymousEvaluation: bool('FLAGRAFT_ANONYMOUS_EVALUATION'),
    maxBodyBytes: int('FLAGRAFT_MAX_BODY_BYTES'),
    maxBatchBodyBytes: int('FLAGRAFT_MAX_BATCH_BODY_BYTES'),
    maxEvaluationBodyBytes: int('FLAGRAFT_MAX_EVALUATION_BODY_BYTES'),
    corsOrigins: list('FLAGRAFT_CORS_ORIGINS'),
    publicBaseUrl: env.FLAGRAFT_PUBLIC_URL || undefined,
    sseHeartbeatMs: int('FLAGRAFT_SSE_HEARTBEAT_MS'),
    sseMaxBufferedBytes: int('FLAGRAFT_SSE_MAX_BUFFERED_BYTES'),
    sseMaxClients: int('FLAGRAFT_SSE_MAX_CLIENTS'),
    sseReplayEvents: int('FLAGRAFT_SSE_REPLAY_EVENTS'),
    streamTicketWindowSec: int('FLAGRAFT_STREAM_TICKET_WINDOW_SEC'),
    streamTicketSecret: env.FLAGRAFT_STREAM_TICKET_SECRET || undefined,
    freshnessWaitMs: int('FLAGRAFT_FRESHNESS_WAIT_MS'),
    maxEvaluationCountsBodyBytes: int('FLAGRAFT_MAX_EVALUATION_COUNTS_BODY_BYTES'),
    maxFlagdImportBodyBytes: int('FLAGRAFT_MAX_FLAGD_IMPORT_BODY_BYTES'),
    maxRestoreBodyBytes: int('FLAGRAFT_MAX_RESTORE_BODY_BYTES'),
    writeVisibilityTimeoutMs: int('FLAGRAFT_WRITE_VISIBILITY_TIMEOUT_MS'),
    readyProbeIntervalMs: int('FLAGRAFT_READY_PROBE_INTERVAL_MS'),
    readyMaxProbeAgeMs: int('FLAGRAFT_READY_MAX_PROBE_AGE_MS'),
    retryAfterSeconds: int('FLAGRAFT_RETRY_AFTER_SECONDS'),
    shutdownTimeoutMs: int('FLAGRAFT_SHUTDOWN_TIMEOUT_MS'),
    rateLimitEvaluationsPerSec: int('FLAGRAFT_RATE_LIMIT_EVALUATIONS_PER_SEC'),
    rateLimitEvaluationsBurst: int('FLAGRAFT_RATE_LIMIT_EVALUATIONS_BURST'),
    rateLimitWritesPerSec: int('FLAGRAFT_RATE_LIMIT_WRITES_PER_SEC'),
    rateLimitWritesBurst: int('FLAGRAFT_RATE_LIMIT_WRITES_BURST'),
    accessLog: accessLog as GatewayConfig['accessLog'] | undefined,
    accessLogEvaluations: bool('FLAGRAFT_ACCESS_LOG_EVALUATIONS'),
    logLevel: logLevel as LogLevel | undefined,
  });
}
