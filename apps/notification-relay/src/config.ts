import type { EventKeyRing, TokenStore } from '@flagraft/auth';
import type { LogFn, LogLevel } from './log.js';
import { ENVIRONMENT_NAME } from './scope.js';

export class RelayConfigError extends Error {
  override readonly name = 'RelayConfigError';
}

export interface AwsConfig {
  region: string;
  /** Override for SQS/SNS (the emulator); real AWS when absent. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** Create topic, DLQ, queue (with RedrivePolicy) and subscription at start. Local use; off by default. */
export interface ProvisionConfig {
  /** Topic to subscribe the queue to: an ARN, or a name to create (`.fifo` suffix -> FIFO topic). */
  topicArn?: string;
  topicName?: string;
  /** Dead-letter queue name; default `<queue>-dlq` (`<queue>-dlq.fifo` for FIFO). */
  dlqName?: string;
  /** Receives before SQS moves a message to the DLQ. */
  maxReceiveCount: number;
  /** Subscribe with RawMessageDelivery (body is the event itself, no SNS envelope). */
  rawDelivery: boolean;
}

export interface RelayConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  aws: AwsConfig;
  /** The relay's own queue (one queue per relay instance): URL, or name resolved with GetQueueUrl / created. */
  queueUrl?: string;
  queueName?: string;
  /** Concurrent SQS long-poll loops. */
  pollers: number;
  /** Long-poll wait per ReceiveMessage, seconds (0-20). */
  waitTimeSeconds: number;
  /** Messages per ReceiveMessage (1-10). */
  maxMessagesPerReceive: number;
  /** Visibility timeout requested on receive, seconds: how long a message is hidden while we fan it out. */
  visibilityTimeoutSeconds: number;
  /** A malformed message is made visible again after this many seconds (it reaches the DLQ after maxReceiveCount receives). */
  poisonRetryDelaySeconds: number;
  /** Delay after a failed ReceiveMessage before the poller tries again, ms (doubles up to 30 s). */
  receiveErrorBackoffMs: number;
  /** Events kept for `?since=` replay. */
  replayWindowEvents: number;
  /** Events held while waiting for a missing predecessor before the hole is declared a gap. */
  maxPendingEvents: number;
  /** How long a hole in the revision chain may stay open before clients are told to resync, ms. */
  gapTimeoutMs: number;
  /** Keys remembered for per-key de-duplication of events without chain fields. */
  maxTrackedKeys: number;
  /** Connected WebSocket clients accepted; more are refused with HTTP 503. */
  maxClients: number;
  /** A client whose unsent data exceeds this many bytes is disconnected (slow consumer). */
  maxClientBufferBytes: number;
  /** Largest message a client may send (auth), bytes. */
  maxClientMessageBytes: number;
  /** Ping interval, ms; a client that has not answered the previous ping is dropped. */
  pingIntervalMs: number;
  /** Time a client has to authenticate by first message, ms. */
  authTimeoutMs: number;
  /** Key prefixes per client filter. */
  maxPrefixesPerClient: number;
  /**
   * The cluster's default environment (the nodes' FLAGRAFT_DEFAULT_ENVIRONMENT): flag events without `env`
   * are its. An environment event marking another one as the default replaces it (src/relay.ts).
   */
  defaultEnvironment: string;
  /** Time allowed for graceful shutdown before sockets are destroyed, ms. */
  shutdownTimeoutMs: number;
  /** Bearer tokens (reader or above may subscribe), or 'none' to disable auth (local use only). */
  auth: TokenStore | 'none';
  /** Keys that verify change events (FLAGRAFT_EVENT_KEYS_FILE); a message signed by none of them is refused. */
  eventKeys: EventKeyRing;
  /** A message queued more than this long after (or before) it was signed is refused as a replay (or a bad clock), seconds. */
  maxSignatureAgeSeconds: number;
  /** Signatures remembered to refuse a replay inside maxSignatureAgeSeconds (count). */
  replayMemorySignatures: number;
  /** An event further than this many revisions above the frontier needs another event chained to it before it is released. */
  maxRevisionGap: number;
  /** How far apart the signing nodes' clocks may be, ms (see the sequencer's "new work below the head"). */
  signerClockSkewMs: number;
  provision?: ProvisionConfig;
  /** Collect Node process metrics (off in tests that run several relays). */
  processMetrics: boolean;
  log?: LogFn;
  logLevel: LogLevel;
}

export type RelayOptions = Partial<RelayConfig> & Pick<RelayConfig, 'aws' | 'auth' | 'eventKeys'>;

export const RELAY_DEFAULTS = {
  host: '127.0.0.1',
  port: 8090,
  pollers: 3,
  waitTimeSeconds: 20,
  maxMessagesPerReceive: 10,
  visibilityTimeoutSeconds: 30,
  poisonRetryDelaySeconds: 5,
  receiveErrorBackoffMs: 500,
  replayWindowEvents: 10_000,
  maxPendingEvents: 10_000,
  gapTimeoutMs: 15_000,
  maxTrackedKeys: 100_000,
  maxClients: 10_000,
  maxClientBufferBytes: 1024 * 1024,
  maxClientMessageBytes: 16 * 1024,
  pingIntervalMs: 15_000,
  authTimeoutMs: 5_000,
  maxPrefixesPerClient: 16,
  defaultEnvironment: 'production',
  shutdownTimeoutMs: 10_000,
  maxSignatureAgeSeconds: 300,
  replayMemorySignatures: 50_000,
  maxRevisionGap: 10_000,
  signerClockSkewMs: 1_000,
  processMetrics: true,
  logLevel: 'info' as LogLevel,
} satisfies Partial<RelayConfig>;

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RelayConfigError(`${name}: must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
  }
  return v;
}

/** Applies defaults and checks every field; throws RelayConfigError naming the field. */
export function resolveRelayConfig(o: RelayOptions): RelayConfig {
  const c: RelayConfig = { ...RELAY_DEFAULTS, ...o } as RelayConfig;
  if (!c.queueUrl && !c.queueName) throw new RelayConfigError('queueUrl or queueName: one is required (the relay\'s own SQS queue)');
  if (!c.aws || typeof c.aws.region !== 'string' || c.aws.region === '') throw new RelayConfigError('aws.region: required');
  if (c.aws.endpoint !== undefined) {
    try { new URL(c.aws.endpoint); } catch { throw new RelayConfigError(`aws.endpoint: not a URL (${c.aws.endpoint})`); }
  }
  if (c.auth !== 'none' && (typeof c.auth !== 'object' || typeof c.auth.authenticate !== 'function')) {
    throw new RelayConfigError("auth: a token store from @flagraft/auth, or 'none'");
  }
  if (!c.eventKeys || typeof c.eventKeys !== 'object' || typeof c.eventKeys.current?.key !== 'function') {
    throw new RelayConfigError('eventKeys: an EventKeyRing from @flagraft/auth (FLAGRAFT_EVENT_KEYS_FILE)');
  }
  int('port', c.port, 0, 65535);
  int('maxSignatureAgeSeconds', c.maxSignatureAgeSeconds, 1, 86_400);
  int('replayMemorySignatures', c.replayMemorySignatures, 1, 10_000_000);
  int('maxRevisionGap', c.maxRevisionGap, 1, 1_000_000_000);
  int('signerClockSkewMs', c.signerClockSkewMs, 0, 600_000);
  int('pollers', c.pollers, 1, 32);
  int('waitTimeSeconds', c.waitTimeSeconds, 0, 20);
  int('maxMessagesPerReceive', c.maxMessagesPerReceive, 1, 10);
  int('visibilityTimeoutSeconds', c.visibilityTimeoutSeconds, 1, 43_200);
  int('poisonRetryDelaySeconds', c.poisonRetryDelaySeconds, 0, 43_200);
  int('receiveErrorBackoffMs', c.receiveErrorBackoffMs, 1, 60_000);
  int('replayWindowEvents', c.replayWindowEvents, 1, 10_000_000);
  int('maxPendingEvents', c.maxPendingEvents, 1, 10_000_000);
  int('gapTimeoutMs', c.gapTimeoutMs, 1, 3_600_000);
  int('maxTrackedKeys', c.maxTrackedKeys, 1, 100_000_000);
  int('maxClients', c.maxClients, 1, 1_000_000);
  int('maxClientBufferBytes', c.maxClientBufferBytes, 1024, 1024 * 1024 * 1024);
  int('maxClientMessageBytes', c.maxClientMessageBytes, 256, 1024 * 1024);
  int('pingIntervalMs', c.pingIntervalMs, 10, 3_600_000);
  int('authTimeoutMs', c.authTimeoutMs, 10, 600_000);
  int('maxPrefixesPerClient', c.maxPrefixesPerClient, 1, 1000);
  int('shutdownTimeoutMs', c.shutdownTimeoutMs, 1, 600_000);
  if (typeof c.defaultEnvironment !== 'string' || !ENVIRONMENT_NAME.test(c.defaultEnvironment)) {
    throw new RelayConfigError(`defaultEnvironment (FLAGRAFT_DEFAULT_ENVIRONMENT): must be an environment name (${ENVIRONMENT_NAME.source}), got ${JSON.stringify(c.defaultEnvironment)}`);
  }
  if (c.provision) {
    int('provision.maxReceiveCount', c.provision.maxReceiveCount, 1, 1000);
    if (!c.provision.topicArn && !c.provision.topicName) throw new RelayConfigError('provision: topicArn or topicName is required');
    if (!c.queueName) throw new RelayConfigError('provision: needs queueName (not queueUrl) to create the queue');
  }
  return c;
}

type Env = Record<string, string | undefined>;

function envInt(env: Env, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d+$/.test(v.trim())) throw new RelayConfigError(`${name}: must be an integer (got ${JSON.stringify(v)})`);
  return Number(v);
}

function envBool(env: Env, name: string, dflt: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new RelayConfigError(`${name}: must be true or false (got ${JSON.stringify(v)})`);
}

/**
 * Reads the relay's configuration from environment variables (README.md lists
 * them). `loadTokens` and `loadEventKeys` come from @flagraft/auth; they are
 * parameters so this module stays free of I/O.
 */
export function loadConfigFromEnv(env: Env, loadTokens: (env: Env) => TokenStore, loadEventKeys: (file: string) => EventKeyRing): RelayConfig {
  const pick = <K extends keyof RelayConfig>(key: K, name: string, o: Partial<RelayConfig>) => {
    const v = envInt(env, name);
    if (v !== undefined) (o as Record<string, unknown>)[key] = v;
  };
  const authMode = env.FLAGRAFT_RELAY_AUTH ?? 'tokens';
  if (authMode !== 'tokens' && authMode !== 'none') throw new RelayConfigError(`FLAGRAFT_RELAY_AUTH: must be "tokens" or "none" (got ${JSON.stringify(authMode)})`);
  let auth: TokenStore | 'none' = 'none';
  if (authMode === 'tokens') {
    auth = loadTokens(env);
    if (auth.size === 0) throw new RelayConfigError('FLAGRAFT_TOKENS / FLAGRAFT_TOKENS_FILE: no tokens configured (set FLAGRAFT_RELAY_AUTH=none to run without auth, local use only)');
  }
  const keysFile = env.FLAGRAFT_EVENT_KEYS_FILE;
  if (!keysFile) throw new RelayConfigError('FLAGRAFT_EVENT_KEYS_FILE: required (the keys that verify change events; the nodes sign with the same file)');
  const eventKeys = loadEventKeys(keysFile);
  const endpoint = env.FLAGRAFT_AWS_ENDPOINT || env.FLAGRAFT_SQS_ENDPOINT || undefined;
  const aws: AwsConfig = { region: env.FLAGRAFT_AWS_REGION || env.AWS_REGION || 'us-east-1' };
  if (endpoint) {
    aws.endpoint = endpoint;
    // A local emulator accepts any credentials; elsewhere (real AWS, VPC
    // endpoints) the SDK's default chain applies.
    if (!env.AWS_ACCESS_KEY_ID && isLoopback(endpoint)) aws.credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  }
  const o: RelayOptions = { aws, auth, eventKeys };
  if (env.FLAGRAFT_RELAY_HOST) o.host = env.FLAGRAFT_RELAY_HOST;
  if (env.FLAGRAFT_DEFAULT_ENVIRONMENT) o.defaultEnvironment = env.FLAGRAFT_DEFAULT_ENVIRONMENT;
  if (env.FLAGRAFT_RELAY_QUEUE_URL) o.queueUrl = env.FLAGRAFT_RELAY_QUEUE_URL;
  if (env.FLAGRAFT_RELAY_QUEUE_NAME) o.queueName = env.FLAGRAFT_RELAY_QUEUE_NAME;
  pick('port', 'FLAGRAFT_RELAY_PORT', o);
  pick('pollers', 'FLAGRAFT_RELAY_POLLERS', o);
  pick('waitTimeSeconds', 'FLAGRAFT_RELAY_WAIT_TIME_SECONDS', o);
  pick('visibilityTimeoutSeconds', 'FLAGRAFT_RELAY_VISIBILITY_TIMEOUT_SECONDS', o);
  pick('poisonRetryDelaySeconds', 'FLAGRAFT_RELAY_POISON_RETRY_DELAY_SECONDS', o);
  pick('replayWindowEvents', 'FLAGRAFT_RELAY_REPLAY_WINDOW_EVENTS', o);
  pick('maxPendingEvents', 'FLAGRAFT_RELAY_MAX_PENDING_EVENTS', o);
  pick('gapTimeoutMs', 'FLAGRAFT_RELAY_GAP_TIMEOUT_MS', o);
  pick('maxClients', 'FLAGRAFT_RELAY_MAX_CLIENTS', o);
  pick('maxClientBufferBytes', 'FLAGRAFT_RELAY_MAX_CLIENT_BUFFER_BYTES', o);
  pick('pingIntervalMs', 'FLAGRAFT_RELAY_PING_INTERVAL_MS', o);
  pick('authTimeoutMs', 'FLAGRAFT_RELAY_AUTH_TIMEOUT_MS', o);
  pick('shutdownTimeoutMs', 'FLAGRAFT_RELAY_SHUTDOWN_TIMEOUT_MS', o);
  pick('maxSignatureAgeSeconds', 'FLAGRAFT_RELAY_MAX_SIGNATURE_AGE_SECONDS', o);
  pick('replayMemorySignatures', 'FLAGRAFT_RELAY_REPLAY_MEMORY', o);
  pick('maxRevisionGap', 'FLAGRAFT_RELAY_MAX_REVISION_GAP', o);
  pick('signerClockSkewMs', 'FLAGRAFT_RELAY_SIGNER_CLOCK_SKEW_MS', o);
  if (env.FLAGRAFT_LOG_LEVEL) {
    const l = env.FLAGRAFT_LOG_LEVEL;
    if (!['debug', 'info', 'warn', 'error'].includes(l)) throw new RelayConfigError(`FLAGRAFT_LOG_LEVEL: must be debug, info, warn or error (got ${JSON.stringify(l)})`);
    o.logLevel = l as LogLevel;
  }
  if (envBool(env, 'FLAGRAFT_RELAY_CREATE_RESOURCES', false)) {
    const p: ProvisionConfig = {
      maxReceiveCount: envInt(env, 'FLAGRAFT_RELAY_MAX_RECEIVE_COUNT') ?? 5,
      rawDelivery: envBool(env, 'FLAGRAFT_RELAY_RAW_DELIVERY', false),
    };
    const arn = env.FLAGRAFT_RELAY_TOPIC_ARN || env.FLAGRAFT_SNS_TOPIC_ARN;
    if (arn) p.topicArn = arn;
    else p.topicName = env.FLAGRAFT_RELAY_TOPIC_NAME || 'flagraft-changes';
    if (env.FLAGRAFT_RELAY_DLQ_NAME) p.dlqName = env.FLAGRAFT_RELAY_DLQ_NAME;
    o.provision = p;
  }
  return resolveRelayConfig(o);
}

function isLoopback(endpoint: string): boolean {
  try {
    const h = new URL(endpoint).hostname;
    return h === 'localhost' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
  } catch {
    return false;
  }
}
