// The real stack for the dashboard's end-to-end tests: fauxqs (SNS/SQS
// emulator, in process), a notification relay with its own queue, a 3-node
// consensus cluster (real processes, SQLite, gRPC) publishing to SNS, a
// gateway, and the built dashboard as its own process. Every port is free
// (port 0); everything binds 127.0.0.1 and is stopped by stop(), by PID.
// `memoryCluster: true` puts testkit's in-memory cluster behind the gateway
// instead of node processes (the same answers: packages/testkit's
// conformance suite), for tests that do not need changes to arrive through
// SNS -> relay -> WebSocket (nothing is published to the relay then).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventKeyRing, EventKeySet, createTokenStore, hashToken } from '@flagraft/auth';
import { createMemoryCluster, spawnProcess, startEmulator, startLocalCluster, waitFor as tkWaitFor, type Emulator, type LocalCluster, type MemoryCluster } from '@flagraft/testkit';
import { createGateway, type Gateway, type GatewayConfig } from '@flagraft/gateway';
import { createRelay, type Relay } from '@flagraft/notification-relay';

export const APP_DIR = fileURLToPath(new URL('..', import.meta.url));
const SERVER_ENTRY = fileURLToPath(new URL('../server/entry.node-server.js', import.meta.url));

export const TOKENS = {
  admin: `admin-${randomBytes(8).toString('hex')}`,
  editor: `editor-${randomBytes(8).toString('hex')}`,
  editor2: `editor2-${randomBytes(8).toString('hex')}`,
  reader: `reader-${randomBytes(8).toString('hex')}`,
};
/** The dashboard's own reader token, for its flag-list change stream. */
export const FEED_TOKEN = `feed-${randomBytes(8).toString('hex')}`;
export const NAMES = { admin: 'ada', editor: 'eddie', editor2: 'erin', reader: 'rita' } as const;

export const tokenEntries = [
  { name: NAMES.admin, role: 'admin' as const, sha256: hashToken(TOKENS.admin) },
  { name: NAMES.editor, role: 'editor' as const, sha256: hashToken(TOKENS.editor) },
  { name: NAMES.editor2, role: 'editor' as const, sha256: hashToken(TOKENS.editor2) },
  { name: NAMES.reader, role: 'reader' as const, sha256: hashToken(TOKENS.reader) },
  { name: 'dashboard', role: 'reader' as const, sha256: hashToken(FEED_TOKEN) },
];

/** Polls `cond` until it holds or `timeoutMs` passes. */
export function waitFor<T>(cond: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  return tkWaitFor(what, { timeoutMs, everyMs, retryErrors: false }, cond) as Promise<T>;
}

export interface Stack {
  dashboardUrl: string;
  gatewayUrl: string;
  relayUrl: string;
  /** The node processes (undefined with memoryCluster). */
  cluster: LocalCluster | undefined;
  /** The in-memory cluster (memoryCluster only): runSchedules() fires due schedule steps at its clock. */
  memory: MemoryCluster | undefined;
  gateway: Gateway;
  dashboardLogs: string[];
  /** PID of the dashboard process (for SIGHUP, and to check it is alive). */
  dashboardPid: number;
  /** The dashboard's FLAGRAFT_TOKENS_FILE; rewrite it with writeTokens() to add or revoke a token. */
  tokensFile: string;
  /** Calls the gateway REST API as the admin token. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

/**
 * `gateway` overrides the gateway's configuration: the end-to-end tests keep
 * the shipped defaults (rate limits on), the benchmarks turn the limits off.
 * `dashboardEnv` adds or overrides the dashboard process's environment (e.g. a known cookie secret).
 */
export async function startStack(
  opts: {
    log?: (msg: string) => void; gateway?: Partial<GatewayConfig>; dashboardEnv?: Record<string, string>; memoryCluster?: boolean;
    /** The in-memory cluster's clock (ms since the epoch; default Date.now). */
    clock?: () => number;
  } = {},
): Promise<Stack> {
  if (!existsSync(SERVER_ENTRY)) throw new Error(`${SERVER_ENTRY} is missing: run \`pnpm --filter @flagraft/dashboard build\` first`);
  const say = opts.log ?? (() => {});
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
  };
  try {
    const fauxqs: Emulator = await startEmulator();
    cleanups.push(() => fauxqs.stop());
    const awsEndpoint = `http://127.0.0.1:${fauxqs.port}`;
    const creds = { accessKeyId: 'test', secretAccessKey: 'test' };
    let topicArn = '';
    // The keys the nodes sign change events with and the relay verifies them with.
    const keysDir = mkdtempSync(join(tmpdir(), 'dash-e2e-keys-'));
    cleanups.push(async () => rmSync(keysDir, { recursive: true, force: true }));
    const eventKeysFile = join(keysDir, 'event-keys.json');
    writeFileSync(eventKeysFile, JSON.stringify({ v: 1, active: 'e2e', keys: [{ id: 'e2e', secret: randomBytes(32).toString('base64') }] }), { mode: 0o600 });
    const relay: Relay = createRelay({
      eventKeys: new EventKeyRing(EventKeySet.load(eventKeysFile)),
      host: '127.0.0.1',
      port: 0,
      aws: { region: 'us-east-1', endpoint: awsEndpoint, credentials: creds },
      auth: createTokenStore(tokenEntries),
      queueName: `dash-e2e-${process.pid}-${Date.now().toString(36)}`,
      waitTimeSeconds: 1,
      pollers: 2,
      processMetrics: false,
      provision: { topicName: `dash-e2e-topic-${process.pid}-${Date.now().toString(36)}`, maxReceiveCount: 3, rawDelivery: false },
      logLevel: 'warn',
      log: (level, msg, fields) => {
        if (msg.startsWith('provisioned') && fields && typeof (fields as Record<string, unknown>).topicArn === 'string') {
          topicArn = (fields as Record<string, string>).topicArn;
        }
        if (level === 'error' || level === 'warn') say(`relay ${level}: ${msg} ${JSON.stringify(fields ?? {})}`);
      },
    } as Parameters<typeof createRelay>[0]);
    await relay.start();
    cleanups.push(() => relay.close());
    if (!topicArn) throw new Error('relay did not report the topic it provisioned');
    say(`relay ${relay.url} topic ${topicArn}`);

    let cluster: LocalCluster | undefined;
    let memory: MemoryCluster | undefined;
    let reach: Partial<GatewayConfig>;
    if (opts.memoryCluster) {
      memory = createMemoryCluster({ now: opts.clock });
      const m = memory;
      cleanups.push(async () => m.close());
      reach = { cluster: memory };
    } else {
      const local = await startLocalCluster({
        size: 3,
        env: { FLAGRAFT_SNS_TOPIC_ARN: topicArn, FLAGRAFT_SNS_ENDPOINT: awsEndpoint, FLAGRAFT_SNS_REGION: 'us-east-1', FLAGRAFT_EVENT_KEYS_FILE: eventKeysFile },
      });
      cluster = local;
      cleanups.push(() => local.stop());
      say(`cluster ${local.endpoints.join(',')}`);
      // The gateway's certificate (mutual TLS towards the nodes).
      reach = { clusterEndpoints: local.endpoints, clusterTls: local.clientOptions().tls };
    }

    const gateway = createGateway({
      host: '127.0.0.1',
      port: 0,
      ...reach,
      tokens: createTokenStore(tokenEntries),
      accessLog: 'errors',
      logLevel: 'warn',
      logWrite: (line) => say(`gateway: ${line.trim()}`),
      ...opts.gateway,
    });
    await gateway.start();
    cleanups.push(() => gateway.close());
    const gatewayUrl = gateway.url();
    await waitFor(async () => (await fetch(`${gatewayUrl}/ready`).catch(() => undefined))?.ok, 'gateway ready', 60_000, 100);
    say(`gateway ${gatewayUrl}`);

    const dash = await startDashboard({ gatewayUrl, relayUrl: relay.url, say, tokensFile: join(keysDir, 'tokens.json'), env: opts.dashboardEnv });
    cleanups.push(dash.stop);

    const api: Stack['api'] = async (method, path, body, headers = {}) => {
      const res = await fetch(gatewayUrl + path, {
        method,
        headers: { authorization: `Bearer ${TOKENS.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    return {
      dashboardUrl: dash.url,
      gatewayUrl,
      relayUrl: relay.url,
      cluster,
      memory,
      gateway,
      dashboardLogs: dash.logs,
      dashboardPid: dash.pid,
      tokensFile: join(keysDir, 'tokens.json'),
      api,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Writes a tokens file (mode 0600) for the dashboard to read. */
export function writeTokens(file: string, entries: typeof tokenEntries): void {
  writeFileSync(file, JSON.stringify(entries), { mode: 0o600 });
}

/**
 * Starts the built dashboard (`server/entry.node-server.js`) as a child process on a free port.
 * With `tokensFile` the token list is written there and read as FLAGRAFT_TOKENS_FILE (reloaded on change);
 * otherwise it is passed inline (FLAGRAFT_TOKENS). `env` adds or overrides variables.
 */
export async function startDashboard(o: {
  gatewayUrl: string;
  relayUrl: string;
  say?: (m: string) => void;
  tokensFile?: string;
  env?: Record<string, string>;
}): Promise<{ url: string; pid: number; logs: string[]; alive(): boolean; stop(): Promise<void> }> {
  const logs: string[] = [];
  if (o.tokensFile) writeTokens(o.tokensFile, tokenEntries);
  let port = 0;
  const proc = spawnProcess({
    name: 'dashboard',
    command: process.execPath,
    args: [SERVER_ENTRY],
    cwd: APP_DIR,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      FLAGRAFT_DASHBOARD_PORT: '0',
      FLAGRAFT_DASHBOARD_HOST: '127.0.0.1',
      FLAGRAFT_GATEWAY_URL: o.gatewayUrl,
      FLAGRAFT_RELAY_URL: o.relayUrl,
      FLAGRAFT_DASHBOARD_COOKIE_SECRET: randomBytes(32).toString('hex'),
      ...(o.tokensFile ? { FLAGRAFT_TOKENS_FILE: o.tokensFile } : { FLAGRAFT_TOKENS: JSON.stringify(tokenEntries) }),
      FLAGRAFT_DASHBOARD_FEED_TOKEN: FEED_TOKEN,
      // The tests sign in many times from one address; the default limit has its own test (server.e2e).
      FLAGRAFT_DASHBOARD_SIGNIN_PER_MINUTE: '1000',
      ...o.env,
    },
    onLine: (line) => {
      logs.push(line);
      try {
        const j = JSON.parse(line);
        if (j.msg === 'listening') port = j.port;
        if (j.level === 'error' || j.level === 'warn') o.say?.(`dashboard: ${line}`);
      } catch {
        o.say?.(`dashboard: ${line}`);
      }
    },
  });
  const stop = () => proc.stop(5_000);
  try {
    await waitFor(() => port || (!proc.alive() && Promise.reject(new Error(`dashboard exited: ${logs.join('\n')}`))), 'dashboard listening', 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, pid: proc.child.pid!, logs, alive: proc.alive, stop };
}
