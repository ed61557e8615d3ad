// Prometheus metrics, one registry per gateway instance (tests run several
// gateways in one process, and prom-client's global registry would collide).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CounterFamily, HistogramFamily } from './metric-families.js';

export interface GatewayMetrics {
  registry: Registry;
  /** Hot-path metrics: resolve a child per label set once, then add to it (see metric-families.ts). */
  httpRequests: CounterFamily;
  httpDuration: HistogramFamily;
  evaluations: CounterFamily;
  /** Evaluations done in-process by OpenFeature providers and reported to the gateway (POST /api/v1/evaluation-counts). */
  reportedEvaluations: CounterFamily;
  replicaRevision: Gauge;
  replicaLoaded: Gauge;
  replicaLag: Gauge;
  replicaFlags: Gauge;
  replicaReloads: Counter;
  watchReconnects: Counter;
  sseClients: Gauge<'stream'>;
  sseDropped: Counter<'stream' | 'reason'>;
  clusterErrors: Counter<'code'>;
  logDropped: Gauge;
  tokenReloads: Counter<'result'>;
  rateLimited: Counter<'kind'>;
  /**
   * The replica whose revision and flag count the replica gauges report, read
   * at scrape time: prom-client's set() (label hashing, validation) on every
   * applied change cost more than applying the change.
   */
  followReplica(source: ReplicaGaugeSource): void;
}

export interface ReplicaGaugeSource {
  readonly revision: number;
  readonly flags: { readonly size: number };
}

export function createMetrics(opts: { defaultMetrics: boolean }): GatewayMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'flagraft_gateway_' });
  const registers = [registry];
  let replica: ReplicaGaugeSource = { revision: 0, flags: { size: 0 } };
  return {
    followReplica(source) {
      replica = source;
    },
    registry,
    httpRequests: new CounterFamily({
      name: 'flagraft_gateway_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status code',
      labelNames: ['method', 'route', 'status'],
    }).register(registry),
    httpDuration: new HistogramFamily({
      name: 'flagraft_gateway_http_request_duration_seconds',
      help: 'Time from request start to the last byte of the response, seconds',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }).register(registry),
    evaluations: new CounterFamily({
      name: 'flagraft_gateway_evaluations_total',
      help: 'Flag evaluations by flag key and reason: OFREP (bulk evaluations count each flag) plus in-process ones reported by providers',
      labelNames: ['flag', 'reason'],
    }).register(registry),
    reportedEvaluations: new CounterFamily({
      name: 'flagraft_gateway_reported_evaluations_total',
      help: 'In-process evaluations reported by OpenFeature providers, by flag key, variant and reason (also added to flagraft_gateway_evaluations_total)',
      labelNames: ['flag', 'variant', 'reason'],
    }).register(registry),
    replicaRevision: new Gauge({
      name: 'flagraft_gateway_replica_revision',
      help: 'Revision the in-memory replica has applied',
      registers,
      collect() {
        this.set(replica.revision);
      },
    }),
    replicaLoaded: new Gauge({ name: 'flagraft_gateway_replica_loaded', help: '1 once the replica holds a full snapshot', registers }),
    replicaLag: new Gauge({
      name: 'flagraft_gateway_replica_lag_revisions',
      help: 'Cluster applied index at the last probe minus the replica revision (includes no-op log entries)',
      registers,
    }),
    replicaFlags: new Gauge({
      name: 'flagraft_gateway_replica_flags',
      help: 'Flags held by the replica',
      registers,
      collect() {
        this.set(replica.flags.size);
      },
    }),
    replicaReloads: new Counter({ name: 'flagraft_gateway_replica_reloads_total', help: 'Full snapshot loads (start, compaction, errors)', registers }),
    watchReconnects: new Counter({ name: 'flagraft_gateway_watch_reconnects_total', help: 'Cluster watch errors after which the watch resumed', registers }),
    sseClients: new Gauge({ name: 'flagraft_gateway_sse_clients', help: 'Connected SSE clients', labelNames: ['stream'] as const, registers }),
    sseDropped: new Counter({
      name: 'flagraft_gateway_sse_dropped_total',
      help: 'SSE clients disconnected by the gateway',
      labelNames: ['stream', 'reason'] as const,
      registers,
    }),
    clusterErrors: new Counter({ name: 'flagraft_gateway_cluster_errors_total', help: 'Cluster client errors by code', labelNames: ['code'] as const, registers }),
    logDropped: new Gauge({ name: 'flagraft_gateway_log_lines_dropped', help: 'Log lines dropped because the log queue was full (stdout too slow)', registers }),
    rateLimited: new Counter({
      name: 'flagraft_gateway_rate_limited_total',
      help: 'Requests refused with 429 by the per-token rate limits, by kind (evaluation, write)',
      labelNames: ['kind'] as const,
      registers,
    }),
    tokenReloads: new Counter({
      name: 'flagraft_gateway_token_reloads_total',
      help: 'Reloads of FLAGRAFT_TOKENS_FILE by result (an error keeps the previous tokens)',
      labelNames: ['result'] as const,
      registers,
    }),
  };
}
