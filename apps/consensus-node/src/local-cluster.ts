// Starts a real N-node cluster of `node dist/main.js` processes on free
// loopback ports, for tests of this and other packages (gateway, relay, ...).
// Processes are stopped by PID only.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, closeSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { serviceOf } from './proto-files.js';
import { MD_CLUSTER } from './transport.js';
import { channelCredentials } from './tls.js';

export interface LocalClusterOptions {
  size?: number;
  /** Folder for data dirs and logs; default a new temporary folder (removed by stop()). */
  baseDir?: string;
  clusterId?: string;
  /** Extra environment for every node (e.g. FLAGRAFT_SNS_TOPIC_ARN). */
  env?: Record<string, string>;
  electionTimeoutMs?: number;
  heartbeatMs?: number;
  tickMs?: number;
  snapshotEvery?: number;
  /** How long start/restart waits for a healthy cluster (ms). */
  readyTimeoutMs?: number;
  /** TLS for every node (peer and client traffic); the helper's own status calls use it too. */
  tls?: { certFile: string; keyFile: string; caFile: string; requireClientCert?: boolean };
}

export interface LocalNode {
  id: number;
  address: string;
  dataDir: string;
  logFile: string;
  /** PID of the running process (0 when stopped). */
  readonly pid: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts the node again on its data dir. `join: true` starts it as a joining
   * node (empty membership; the leader must addLearner it), which is how a
   * node whose data was lost comes back (see README "Replacing a node").
   */
  restart(opts?: { join?: boolean }): Promise<void>;
  wipe(): Promise<void>;
}

export interface LocalCluster {
  clusterId: string;
  endpoints: string[];
  nodes: LocalNode[];
  baseDir: string;
  leader(timeoutMs?: number): Promise<LocalNode>;
  /** Starts an extra node that joins the cluster (FLAGRAFT_JOIN=1); add it with addLearner afterwards. */
  spawnJoiner(id: number): Promise<LocalNode>;
  stop(): Promise<void>;
}

export const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<import('node:net').Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** One Status call (used to find the leader and wait for health). */
export function nodeStatus(address: string, clusterId: string, timeoutMs = 1000, tls?: LocalClusterOptions['tls']): Promise<any> {
  const Flags = serviceOf('flagraft.v1.Flags');
  const client = new Flags(address, tls ? channelCredentials({ ...tls, requireClientCert: !!tls.requireClientCert }) : grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set(MD_CLUSTER, clusterId);
  return new Promise((resolve, reject) => {
    (client as any).Status({}, md, { deadline: Date.now() + timeoutMs }, (err: Error | null, res: unknown) => {
      client.close();
      if (err) reject(err); else resolve(res);
    });
  });
}

export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} not found: build @flagraft/consensus-node first (pnpm --filter @flagraft/consensus-node build)`);
  const size = opts.size ?? 3;
  const clusterId = opts.clusterId ?? `local-${process.pid}-${Date.now().toString(36)}`;
  const ownDir = !opts.baseDir;
  const baseDir = opts.baseDir ?? mkdtempSync(join(tmpdir(), 'flagraft-cluster-'));
  mkdirSync(baseDir, { recursive: true });
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  const ports = await freePorts(size);
  const initial = ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
  const children = new Set<ChildProcess>();

  const baseEnv = (): Record<string, string> => {
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      FLAGRAFT_CLUSTER_ID: clusterId,
      FLAGRAFT_LOG_LEVEL: 'info',
      ...(opts.electionTimeoutMs ? { FLAGRAFT_ELECTION_TIMEOUT_MS: String(opts.electionTimeoutMs) } : {}),
      ...(opts.heartbeatMs ? { FLAGRAFT_HEARTBEAT_MS: String(opts.heartbeatMs) } : {}),
      ...(opts.tickMs ? { FLAGRAFT_TICK_MS: String(opts.tickMs) } : {}),
      ...(opts.snapshotEvery ? { FLAGRAFT_SNAPSHOT_EVERY: String(opts.snapshotEvery), FLAGRAFT_SNAPSHOT_CATCHUP_ENTRIES: String(Math.floor(opts.snapshotEvery / 2)) } : {}),
      ...(opts.tls ? { FLAGRAFT_TLS_CERT: opts.tls.certFile, FLAGRAFT_TLS_KEY: opts.tls.keyFile, FLAGRAFT_TLS_CA: opts.tls.caFile, FLAGRAFT_TLS_CLIENT_AUTH: opts.tls.requireClientCert ? '1' : '0' } : {}),
      ...opts.env,
    };
    return env;
  };

  const makeNode = (id: number, address: string, extraEnv: Record<string, string>): LocalNode => {
    const dataDir = join(baseDir, `node-${id}`);
    const logFile = join(baseDir, `node-${id}.log`);
    let child: ChildProcess | undefined;
    let exited: Promise<void> = Promise.resolve();
    const launch = (override: Record<string, string> = {}) => {
      const fd = openSync(logFile, 'a');
      child = spawn(process.execPath, [MAIN_JS], {
        env: { ...baseEnv(), FLAGRAFT_NODE_ID: String(id), FLAGRAFT_LISTEN: address, FLAGRAFT_DATA_DIR: dataDir, ...extraEnv, ...override },
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      const c = child;
      children.add(c);
      exited = new Promise((resolve) => c.once('exit', () => { children.delete(c); resolve(); }));
    };
    const node: LocalNode = {
      id, address, dataDir, logFile,
      get pid() { return child && child.exitCode === null && child.signalCode === null ? child.pid ?? 0 : 0; },
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        if (!node.pid) return;
        process.kill(node.pid, signal);
        await exited;
      },
      async restart(ro: { join?: boolean } = {}) {
        await node.kill('SIGKILL');
        if (ro.join) {
          const members = nodes.filter((n) => n.pid && n.id !== id).map((n) => `${n.id}=${n.address}`).join(',');
          launch({ FLAGRAFT_JOIN: '1', FLAGRAFT_INITIAL_CLUSTER: members });
          await waitServing(address, clusterId, readyTimeoutMs, false, opts.tls);
        } else {
          launch();
          await waitServing(address, clusterId, readyTimeoutMs, true, opts.tls);
        }
      },
      async wipe() {
        await node.kill('SIGKILL');
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
    launch();
    return node;
  };

  const nodes = ports.map((p, i) => makeNode(i + 1, `127.0.0.1:${p}`, { FLAGRAFT_INITIAL_CLUSTER: initial }));
  const stop = async () => {
    await Promise.all(nodes.map(async (n) => {
      if (!n.pid) return;
      const pid = n.pid;
      const t = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await n.kill('SIGTERM');
      clearTimeout(t);
    }));
    for (const c of children) if (c.pid && c.exitCode === null) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    if (ownDir) rmSync(baseDir, { recursive: true, force: true });
  };
  const cluster: LocalCluster = {
    clusterId,
    endpoints: nodes.map((n) => n.address),
    nodes,
    baseDir,
    async leader(timeoutMs = readyTimeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let lastErr = '';
      while (Date.now() < deadline) {
        const st = await Promise.all(nodes.filter((n) => n.pid).map((n) => nodeStatus(n.address, clusterId, 500, opts.tls).catch((e: Error) => { lastErr = e.message; return undefined; })));
        const leaders = st.filter((s) => s && s.role === 'leader');
        if (leaders.length === 1) {
          const l = nodes.find((n) => n.id === Number(leaders[0].id));
          if (l) return l;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no leader within ${timeoutMs} ms (${lastErr})`);
    },
    async spawnJoiner(id: number) {
      const [port] = await freePorts(1);
      const members = nodes.filter((n) => n.pid).map((n) => `${n.id}=${n.address}`).join(',');
      const n = makeNode(id, `127.0.0.1:${port}`, { FLAGRAFT_JOIN: '1', FLAGRAFT_INITIAL_CLUSTER: members });
      nodes.push(n);
      cluster.endpoints.push(n.address);
      await waitServing(n.address, clusterId, readyTimeoutMs, false, opts.tls);
      return n;
    },
    stop,
  };
  try {
    await Promise.all(nodes.map((n) => waitServing(n.address, clusterId, readyTimeoutMs, true, opts.tls)));
    await cluster.leader();
  } catch (e) {
    await stop();
    throw e;
  }
  return cluster;
}

/** Waits until the node answers Status (and, with needLeader, knows a leader). */
async function waitServing(address: string, clusterId: string, timeoutMs: number, needLeader = true, tls?: LocalClusterOptions['tls']): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const s = await nodeStatus(address, clusterId, 500, tls);
      if (!needLeader || Number(s.leaderId) > 0) return;
      last = 'no leader yet';
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`node at ${address} not serving within ${timeoutMs} ms: ${last}`);
}
