// Test stacks: a gateway in this process on a free port in front of either a
// real 3-node cluster (testkit's startLocalCluster: real processes, SQLite
// files, gRPC on loopback; startStack) or testkit's in-memory cluster
// (startMemoryStack), which gives the same answers (packages/testkit's
// conformance suite) without processes: for tests of the gateway's own
// routes, auth and formats. Failover, durability, compaction, backup and the
// change stream stay on real processes. Everything started here is stopped
// in stop(), by PID.
import { createMemoryCluster, startLocalCluster, waitFor, type LocalCluster, type LocalClusterOptions, type MemoryCluster, type MemoryClusterOptions } from '@flagraft/testkit';
import { createTokenStore, hashToken, type Role } from '@flagraft/auth';
import { createGateway, type Gateway, type GatewayConfig } from '../../src/index.js';

export const TOKENS: Record<Role, string> = {
  admin: 'tok-admin-9f1c2a',
  editor: 'tok-editor-77ab31',
  reader: 'tok-reader-0c4e5d',
  evaluator: 'tok-evaluator-5e6f70',
};
export const NAMES: Record<Role, string> = { admin: 'alice', editor: 'ed', reader: 'rita', evaluator: 'svc-eval' };

export const tokenStore = () =>
  createTokenStore((Object.keys(TOKENS) as Role[]).map((role) => ({ name: NAMES[role], role, sha256: hashToken(TOKENS[role]) })));

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface RequestOptions {
  role?: Role;
  token?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface Stack<C = LocalCluster> {
  cluster: C;
  gateway: Gateway;
  url: string;
  logs: string[];
  req(method: string, path: string, opts?: RequestOptions): Promise<Reply>;
  newGateway(config?: Partial<GatewayConfig>): Promise<Gateway>;
  stop(): Promise<void>;
}

export async function request(base: string, method: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token ?? (opts.role ? TOKENS[opts.role] : undefined);
  if (token !== undefined && !('authorization' in headers) && !('x-api-key' in headers)) headers.authorization = `Bearer ${token}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** How a gateway reaches a test cluster: its gateway certificate (or plain text when the cluster runs without TLS). */
export function clusterSecurity(cluster: LocalCluster): Pick<GatewayConfig, 'clusterTls' | 'clusterInsecure' | 'clusterId'> {
  const o = cluster.clientOptions();
  return o.tls ? { clusterTls: o.tls } : { clusterInsecure: true, clusterId: o.clusterId };
}

export async function startStack(opts: { gateway?: Partial<GatewayConfig>; cluster?: LocalClusterOptions } = {}): Promise<Stack> {
  const cluster = await startLocalCluster({ size: 3, ...opts.cluster });
  return withGateways(cluster, { clusterEndpoints: cluster.endpoints, ...clusterSecurity(cluster) }, opts.gateway, () => cluster.stop());
}

export type MemoryStack = Stack<MemoryCluster>;

/** A gateway over testkit's in-memory cluster (no processes); `cluster` sets its clock (tests of schedules). */
export function startMemoryStack(opts: { gateway?: Partial<GatewayConfig>; cluster?: MemoryClusterOptions } = {}): Promise<Stack<MemoryCluster>> {
  const cluster = createMemoryCluster(opts.cluster);
  return withGateways(cluster, { cluster }, opts.gateway, async () => cluster.close());
}

async function withGateways<C>(cluster: C, reach: Partial<GatewayConfig>, base: Partial<GatewayConfig> | undefined, stopCluster: () => Promise<void>): Promise<Stack<C>> {
  const opts = { gateway: base };
  const logs: string[] = [];
  const gateways: Gateway[] = [];
  const newGateway = async (config: Partial<GatewayConfig> = {}) => {
    const gw = createGateway({
      port: 0,
      ...reach,
      tokens: tokenStore(),
      logWrite: (chunk) => logs.push(...chunk.split('\n').filter(Boolean)),
      shutdownTimeoutMs: 2_000,
      // Rate limits off: the fuzz and protocol tests send hundreds of writes and
      // evaluations a second from one token and would be answered 429 instead of
      // exercising the route. The limits themselves, and that they are on by
      // default, are tested in ofrep-fastpath.test.ts (pass undefined to get the defaults).
      rateLimitWritesPerSec: 0,
      rateLimitEvaluationsPerSec: 0,
      ...opts.gateway,
      ...config,
    });
    gateways.push(gw);
    await gw.start();
    await gw.waitUntilReady(30_000);
    return gw;
  };
  let gateway: Gateway;
  try {
    gateway = await newGateway();
  } catch (err) {
    await Promise.allSettled(gateways.map((g) => g.close()));
    await stopCluster();
    throw err;
  }
  const url = gateway.url();
  return {
    cluster,
    gateway,
    url,
    logs,
    newGateway,
    req: (method, path, o) => request(url, method, path, o),
    async stop() {
      await Promise.allSettled(gateways.map((g) => g.close()));
      await stopCluster();
    },
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes (testkit's waitFor; errors are retried). */
export function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  return waitFor(what, { timeoutMs }, check);
}

export function boolFlag(key: string, extra: Record<string, unknown> = {}) {
  return { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules: [], ...extra };
}
