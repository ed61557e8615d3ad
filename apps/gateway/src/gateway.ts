// createGateway(config): the whole gateway as an object tests and main.ts
// drive: start() listens and begins loading the replica, close() drains.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClusterError, createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { createApp } from './app.js';
import { CachingTokenStore, watchTokensFile, type TokenFileWatch } from '@flagraft/auth';
import { ConfigError, resolveConfig, type GatewayConfig } from './config.js';
import { createRequestRecorder, instrument, InstrumentedRequest, InstrumentedResponse } from './http-util.js';
import { limiterFor } from './rate-limit.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type GatewayMetrics } from './metrics.js';
import { createOfrepHandler } from './ofrep.js';
import { prepareConnection } from './ofrep-context.js';
import { createFlagPutFastPath } from './flag-put.js';
import { Replica } from './replica.js';
import { SseHub } from './sse.js';
import type { ClusterPort } from './types.js';

export interface Gateway {
  readonly config: GatewayConfig;
  readonly replica: Replica;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** Listens and starts loading the replica. Resolves once listening (not when ready). */
  start(): Promise<void>;
  /** Stops accepting, ends streams, lets in-flight requests finish (up to shutdownTimeoutMs). */
  close(): Promise<void>;
  /** Bound address; valid after start(). */
  address(): { host: string; port: number };
  /** http://host:port, after start(). */
  url(): string;
  /** Resolves when /ready would answer 200; rejects after timeoutMs. */
  waitUntilReady(timeoutMs: number): Promise<void>;
  isReady(): { ready: boolean; checks: Record<string, boolean | number | string> };
  /** Re-reads config.tokensFile now (main.ts calls it on SIGHUP). False if there is no file or it is invalid (old tokens stay). */
  reloadTokens(): boolean;
  /** Re-reads the TLS files towards the nodes now (main.ts calls it on SIGHUP). False if there are none or they are invalid (the old ones stay; logged). */
  reloadCertificates(): boolean;
}

export function createGateway(partial: Partial<GatewayConfig>): Gateway {
  const config = resolveConfig(partial);
  const log = createLogger({ app: 'gateway', level: config.logLevel, write: config.logWrite });
  const metrics = createMetrics({ defaultMetrics: true });
  const ownsCluster = !config.cluster;
  const owned = config.cluster ? undefined : ownClusterClient(config);
  const cluster: ClusterPort = config.cluster ?? owned!;
  if (owned?.transportSecurity === 'insecure') {
    log.log('warn', 'INSECURE: FLAGRAFT_INSECURE=1, the connection to the nodes is plain text and unauthenticated; use only for tests of the transport', { security: 'insecure' });
  }
  const replica = new Replica({ cluster, log, metrics, replayEvents: config.sseReplayEvents });
  const hub = new SseHub({
    heartbeatMs: config.sseHeartbeatMs,
    maxBufferedBytes: config.sseMaxBufferedBytes,
    maxClients: config.sseMaxClients,
    metrics,
    onDrop: (conn, reason) => log.log('warn', 'stream client dropped', { stream: conn.stream, reason }),
  });

  let lastProbeOkAt = 0;
  let lastProbeError = '';
  let lastLeaderId = 0;
  let shuttingDown = false;
  const isReady = () => {
    // Monotonic (performance.now): a wall-clock jump must not make a stale probe look fresh or a fresh one stale.
    const probeAgeMs = lastProbeOkAt === 0 ? -1 : performance.now() - lastProbeOkAt;
    const clusterReachable = lastProbeOkAt > 0 && probeAgeMs <= config.readyMaxProbeAgeMs;
    const checks: Record<string, boolean | number | string> = {
      replicaLoaded: replica.loaded,
      replicaRevision: replica.revision,
      clusterReachable,
      // Informational: without a leader writes answer 503, but evaluation from
      // the replica still works, so a gateway stays ready while a node answers.
      clusterLeader: clusterReachable && lastLeaderId > 0,
      shuttingDown,
    };
    if (!clusterReachable && lastProbeError) checks.clusterError = lastProbeError;
    return { ready: replica.loaded && clusterReachable && !shuttingDown, checks };
  };

  // Every token check goes through the cache; a reload of the tokens file replaces its contents.
  const tokens = config.tokens instanceof CachingTokenStore ? config.tokens : new CachingTokenStore(config.tokens);
  let tokenWatch: TokenFileWatch | undefined;
  if (config.tokensFile) {
    tokenWatch = watchTokensFile(config.tokensFile, tokens, config.tokensReloadIntervalMs, (r) => {
      metrics.tokenReloads.inc({ result: r.ok ? 'ok' : 'error' });
      if (r.ok) log.log('info', 'tokens reloaded', { file: config.tokensFile, tokens: r.tokens });
      else log.log('error', 'tokens file rejected; the previous tokens stay in force', { error: r.error });
    });
  }
  const recorder = createRequestRecorder({ metrics, log, config });
  const writeLimiter = limiterFor(config.rateLimitWritesPerSec, config.rateLimitWritesBurst, config.rateLimitClock);
  const evaluationLimiter = limiterFor(config.rateLimitEvaluationsPerSec, config.rateLimitEvaluationsBurst, config.rateLimitClock);
  const app = createApp({ config, cluster, replica, tokens, log, metrics, hub, isReady, writeLimiter, evaluationLimiter });
  const ofrep = createOfrepHandler({
    config,
    tokens,
    replica,
    metrics,
    streams: { hub, replica, cluster, log },
    recorder,
    limiter: evaluationLimiter,
  });
  const flagPut = createFlagPutFastPath({ config, cluster, replica, tokens, log, metrics, writeLimiter, recorder });
  const server: Server = createServer({ IncomingMessage: InstrumentedRequest, ServerResponse: InstrumentedResponse }, (req, res) => {
    // OFREP first, straight on node:http (the hot path; it records its own metrics and logs).
    if (ofrep(req, res)) return;
    // Then the plain flag write, also on node:http (flag-put.ts); the rest is Express.
    if (flagPut(req, res)) return;
    instrument(req, res, recorder);
    app(req, res);
  });
  // Each connection remembers the last OFREP context it sent (ofrep-context.ts); its slot is made here, once per socket.
  server.on('connection', prepareConnection);
  // Behind Caddy / load balancers: keep idle connections longer than they do.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;

  let probeTimer: NodeJS.Timeout | undefined;
  const probe = async () => {
    try {
      const status = await cluster.status();
      lastProbeOkAt = performance.now();
      lastProbeError = '';
      lastLeaderId = Number(status.leaderId ?? 0) || 0;
      // appliedRevision: after a restore from a backup, revisions are no longer Raft indexes.
      const applied = Number(status.appliedRevision ?? status.appliedIndex ?? status.commitIndex ?? 0);
      if (replica.loaded && Number.isFinite(applied)) metrics.replicaLag.set(Math.max(0, applied - replica.revision));
    } catch (err) {
      lastProbeError = (err as Error)?.message ?? String(err);
    }
    if (!shuttingDown) {
      probeTimer = setTimeout(probe, config.readyProbeIntervalMs);
      probeTimer.unref();
    }
  };

  let bound: { host: string; port: number } | undefined;
  return {
    config,
    replica,
    metrics,
    log,
    isReady,
    async start() {
      replica.start();
      void probe();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const a = server.address() as AddressInfo;
      bound = { host: a.address, port: a.port };
      log.log('info', 'gateway listening', { host: a.address, port: a.port, cluster: config.cluster ? 'injected' : config.clusterEndpoints, clusterId: owned?.clusterId, transportSecurity: owned?.transportSecurity });
    },
    async close() {
      if (shuttingDown) return;
      shuttingDown = true;
      clearTimeout(probeTimer);
      tokenWatch?.close();
      log.log('info', 'gateway shutting down', {});
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      hub.closeAll();
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
      await closed;
      clearTimeout(timer);
      await replica.close();
      if (ownsCluster) await cluster.close();
      log.log('info', 'gateway stopped', {});
      await log.drain();
    },
    reloadTokens() {
      return tokenWatch?.reload() ?? false;
    },
    reloadCertificates() {
      if (!owned || owned.transportSecurity !== 'mtls') return false;
      try {
        const changed = owned.reloadCertificates();
        log.log('info', changed ? 'certificates reloaded' : 'certificate files unchanged', {});
        return true;
      } catch (err) {
        log.log('error', 'new certificate files refused; still using the previous ones', { error: (err as Error).message });
        return false;
      }
    },
    address() {
      if (!bound) throw new Error('gateway not started');
      return bound;
    },
    url() {
      const { host, port } = this.address();
      return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    },
    async waitUntilReady(timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      while (!isReady().ready) {
        if (performance.now() > deadline) throw new Error(`gateway not ready after ${timeoutMs} ms: ${JSON.stringify(isReady().checks)}`);
        await new Promise((r) => setTimeout(r, 20));
        if (lastProbeOkAt === 0 || performance.now() - lastProbeOkAt > config.readyMaxProbeAgeMs) {
          clearTimeout(probeTimer);
          await probe();
        }
      }
    },
  };
}

/** The gateway's own cluster client; a bad certificate setting is a configuration error naming it. */
function ownClusterClient(config: GatewayConfig): ClusterClient {
  try {
    return createClusterClient({
      endpoints: config.clusterEndpoints,
      tls: config.clusterTls,
      insecure: config.clusterInsecure,
      clusterId: config.clusterId,
      tlsReloadIntervalMs: config.tlsReloadIntervalMs,
      clientId: config.clientId,
      requestTimeoutMs: config.clusterRequestTimeoutMs,
      retryDeadlineMs: config.clusterRetryDeadlineMs,
      readFrom: config.clusterReadFrom,
    });
  } catch (err) {
    if (err instanceof ClusterError) throw new ConfigError(`clusterTls: ${err.message}`);
    throw err;
  }
}
