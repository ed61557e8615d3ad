// Starts a real N-node cluster of `node dist/main.js` processes on free
// loopback ports, for tests of this and other packages (gateway, relay, ...).
// Mutual TLS by default, with a PKI made once per process (one CA and
// cluster id per test file, not per test); `insecure: true` runs plain text
// for tests of the transport. Processes are stopped by PID only.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import {
  CertificateStore, SECURE_CHANNEL_OPTIONS, channelCredentials, initPki, issueInto, readClusterId, tlsFilesFor,
  type ServiceRole, type TlsFiles,
} from '@flagraft/identity';
import { serviceOf } from './proto-files.js';
import { MD_CLUSTER } from './security.js';

export interface LocalClusterOptions {
  size?: number;
  /** Folder for data dirs and logs; default a new temporary folder (removed by stop()). */
  baseDir?: string;
  /** Plain text: FLAGRAFT_CLUSTER_ID. With TLS: the cluster id of the PKI to make (default: the process's shared PKI). */
  clusterId?: string;
  /** Extra environment for every node (e.g. FLAGRAFT_SNS_TOPIC_ARN). */
  env?: Record<string, string>;
  electionTimeoutMs?: number;
  heartbeatMs?: number;
  tickMs?: number;
  snapshotEvery?: number;
  /** How long start/restart waits for a healthy cluster (ms). */
  readyTimeoutMs?: number;
  /** Plain text and no authentication (FLAGRAFT_INSECURE=1): only for tests of the transport. */
  insecure?: boolean;
  /** Use this PKI folder (flagraft certs layout) instead of the shared one. */
  pkiDir?: string;
  /** Extra environment for one node, by id and addresses (apps/torture: each node's FLAGRAFT_PEER_ROUTES through its fault proxies). */
  nodeEnv?: (id: number, addresses: { address: string; peerAddress: string }) => Record<string, string>;
}

export interface LocalNode {
  id: number;
  /** Client address (Flags). */
  address: string;
  /** Peer address (Raft). */
  peerAddress: string;
  dataDir: string;
  logFile: string;
  /** PID of the running process (0 when stopped). */
  readonly pid: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts the node again on its data dir. `join: true` starts it as a joining
   * node (empty membership; the leader must addLearner it), which is how a
   * node whose data was lost comes back (see README "Replacing a node").
   * `wait: false` returns once the process is spawned (a node that cannot
   * reach a quorum, e.g. under a partition, would never be ready).
   */
  restart(opts?: { join?: boolean; wait?: boolean }): Promise<void>;
  wipe(): Promise<void>;
}

/** What @flagraft/cluster-client needs to reach this cluster. */
export interface LocalClientOptions { endpoints: string[]; clusterId: string; tls?: TlsFiles }

export interface LocalCluster {
  clusterId: string;
  endpoints: string[];
  nodes: LocalNode[];
  baseDir: string;
  /** The PKI folder (undefined when insecure). */
  pkiDir?: string;
  /** Client options with a gateway certificate (`gateway-test`): it may name any actor, like the real gateway. */
  clientOptions(): LocalClientOptions;
  /** The certificate files of a service identity of this cluster, issued on first use (undefined when insecure). */
  serviceTls(role: ServiceRole, name: string): Promise<TlsFiles | undefined>;
  /** Environment for a process that talks to the nodes (gateway, tools): FLAGRAFT_TLS_* or FLAGRAFT_INSECURE=1, and the endpoints. */
  clientEnv(role?: ServiceRole, name?: string): Promise<Record<string, string>>;
  leader(timeoutMs?: number): Promise<LocalNode>;
  /** Starts an extra node that joins the cluster (FLAGRAFT_JOIN=1); add it with addLearner(id, node.peerAddress) afterwards. */
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

// One PKI per process and cluster id: certificate generation once per test file.
const pkis = new Map<string, Promise<string>>();
const SHARED = '';

/** A PKI folder for tests (made on first use in this process; `clusterId` picks a separate one). */
export function testPki(clusterId?: string): Promise<string> {
  const key = clusterId ?? SHARED;
  let p = pkis.get(key);
  if (!p) {
    p = (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'flagraft-pki-'));
      await initPki(dir, { clusterId, nodes: [1, 2, 3], services: [{ role: 'gateway', name: 'test' }, { role: 'admin', name: 'test' }] });
      const cleanup = () => rmSync(dir, { recursive: true, force: true });
      process.once('exit', cleanup);
      return dir;
    })();
    pkis.set(key, p);
  }
  return p;
}

/** Issues a node certificate into `dir` if it is missing. */
async function ensureNodeCert(dir: string, id: number): Promise<TlsFiles> {
  const files = tlsFilesFor(dir, { kind: 'node', clusterId: readClusterId(dir), nodeId: id });
  if (!existsSync(files.certFile)) await issueInto(dir, { kind: 'node', clusterId: readClusterId(dir), nodeId: id });
  return files;
}

async function ensureServiceCert(dir: string, role: ServiceRole, name: string): Promise<TlsFiles> {
  const identity = { kind: 'service' as const, clusterId: readClusterId(dir), role, name };
  const files = tlsFilesFor(dir, identity);
  if (!existsSync(files.certFile)) await issueInto(dir, identity);
  return files;
}

/** One Status call (used to find the leader and wait for health). `tls` = a service certificate, or undefined for plain text. */
export function nodeStatus(address: string, clusterId: string, timeoutMs = 1000, tls?: TlsFiles): Promise<any> {
  const Flags = serviceOf('flagraft.v1.Flags');
  const client = tls
    ? new Flags(address, channelCredentials(new CertificateStore(tls)), SECURE_CHANNEL_OPTIONS)
    : new Flags(address, grpc.credentials.createInsecure());
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
  const pkiDir = opts.insecure ? undefined : opts.pkiDir ?? await testPki(opts.clusterId);
  const clusterId = pkiDir ? readClusterId(pkiDir) : opts.clusterId ?? `local-${process.pid}-${Date.now().toString(36)}`;
  const statusTls = pkiDir ? await ensureServiceCert(pkiDir, 'admin', 'test') : undefined;
  const ownDir = !opts.baseDir;
  const baseDir = opts.baseDir ?? mkdtempSync(join(tmpdir(), 'flagraft-cluster-'));
  mkdirSync(baseDir, { recursive: true });
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  const ports = await freePorts(2 * size);
  const addr = (i: number) => ({ address: `127.0.0.1:${ports[2 * i]}`, peerAddress: `127.0.0.1:${ports[2 * i + 1]}` });
  const initial = Array.from({ length: size }, (_, i) => `${i + 1}=${addr(i).peerAddress}`).join(',');
  const children = new Set<ChildProcess>();

  const baseEnv = (): Record<string, string> => ({
    ...(process.env as Record<string, string>),
    FLAGRAFT_LOG_LEVEL: 'info',
    ...(pkiDir ? {} : { FLAGRAFT_INSECURE: '1', FLAGRAFT_CLUSTER_ID: clusterId }),
    // Tests rotate certificates and want to see the change soon.
    FLAGRAFT_TLS_RELOAD_INTERVAL_MS: '500',
    ...(opts.electionTimeoutMs ? { FLAGRAFT_ELECTION_TIMEOUT_MS: String(opts.electionTimeoutMs) } : {}),
    ...(opts.heartbeatMs ? { FLAGRAFT_HEARTBEAT_MS: String(opts.heartbeatMs) } : {}),
    ...(opts.tickMs ? { FLAGRAFT_TICK_MS: String(opts.tickMs) } : {}),
    ...(opts.snapshotEvery ? { FLAGRAFT_SNAPSHOT_EVERY: String(opts.snapshotEvery), FLAGRAFT_SNAPSHOT_CATCHUP_ENTRIES: String(Math.floor(opts.snapshotEvery / 2)) } : {}),
    ...opts.env,
  });

  const makeNode = async (id: number, address: string, peerAddress: string, extraEnv: Record<string, string>): Promise<LocalNode> => {
    const dataDir = join(baseDir, `node-${id}`);
    const logFile = join(baseDir, `node-${id}.log`);
    const tlsEnv: Record<string, string> = {};
    if (pkiDir) {
      const f = await ensureNodeCert(pkiDir, id);
      Object.assign(tlsEnv, { FLAGRAFT_TLS_CA: f.caFile, FLAGRAFT_TLS_CERT: f.certFile, FLAGRAFT_TLS_KEY: f.keyFile });
    }
    let child: ChildProcess | undefined;
    let exited: Promise<void> = Promise.resolve();
    const launch = (override: Record<string, string> = {}) => {
      const fd = openSync(logFile, 'a');
      child = spawn(process.execPath, [MAIN_JS], {
        env: { ...baseEnv(), ...tlsEnv, ...opts.nodeEnv?.(id, { address, peerAddress }), FLAGRAFT_NODE_ID: String(id), FLAGRAFT_LISTEN: address, FLAGRAFT_PEER_LISTEN: peerAddress, FLAGRAFT_DATA_DIR: dataDir, ...extraEnv, ...override },
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      const c = child;
      children.add(c);
      exited = new Promise((resolve) => c.once('exit', () => { children.delete(c); resolve(); }));
    };
    const node: LocalNode = {
      id, address, peerAddress, dataDir, logFile,
      get pid() { return child && child.exitCode === null && child.signalCode === null ? child.pid ?? 0 : 0; },
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        if (!node.pid) return;
        process.kill(node.pid, signal);
        await exited;
      },
      async restart(ro: { join?: boolean; wait?: boolean } = {}) {
        await node.kill('SIGKILL');
        if (ro.join) {
          const members = nodes.filter((n) => n.pid && n.id !== id).map((n) => `${n.id}=${n.peerAddress}`).join(',');
          launch({ FLAGRAFT_JOIN: '1', FLAGRAFT_INITIAL_CLUSTER: members });
        } else {
          launch();
        }
        if (ro.wait !== false) await waitServing(address, clusterId, readyTimeoutMs, !ro.join, statusTls);
      },
      async wipe() {
        await node.kill('SIGKILL');
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
    launch();
    return node;
  };

  const nodes: LocalNode[] = [];
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
    endpoints: [],
    nodes,
    baseDir,
    pkiDir,
    clientOptions() {
      return { endpoints: [...cluster.endpoints], clusterId, ...(pkiDir ? { tls: tlsFilesFor(pkiDir, { kind: 'service', clusterId, role: 'gateway', name: 'test' }) } : {}) };
    },
    async serviceTls(role, name) {
      return pkiDir ? ensureServiceCert(pkiDir, role, name) : undefined;
    },
    async clientEnv(role = 'gateway', name = 'test') {
      const tls = await cluster.serviceTls(role, name);
      return {
        FLAGRAFT_CLUSTER_ENDPOINTS: cluster.endpoints.join(','),
        ...(tls ? { FLAGRAFT_TLS_CA: tls.caFile, FLAGRAFT_TLS_CERT: tls.certFile, FLAGRAFT_TLS_KEY: tls.keyFile } : { FLAGRAFT_INSECURE: '1', FLAGRAFT_CLUSTER_ID: clusterId }),
      };
    },
    async leader(timeoutMs = readyTimeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let lastErr = '';
      while (Date.now() < deadline) {
        const st = await Promise.all(nodes.filter((n) => n.pid).map((n) => nodeStatus(n.address, clusterId, 500, statusTls).catch((e: Error) => { lastErr = e.message; return undefined; })));
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
      const [port, peerPort] = await freePorts(2);
      const members = nodes.filter((n) => n.pid).map((n) => `${n.id}=${n.peerAddress}`).join(',');
      const n = await makeNode(id, `127.0.0.1:${port}`, `127.0.0.1:${peerPort}`, { FLAGRAFT_JOIN: '1', FLAGRAFT_INITIAL_CLUSTER: members });
      nodes.push(n);
      cluster.endpoints.push(n.address);
      await waitServing(n.address, clusterId, readyTimeoutMs, false, statusTls);
      return n;
    },
    stop,
  };
  try {
    for (let i = 0; i < size; i++) nodes.push(await makeNode(i + 1, addr(i).address, addr(i).peerAddress, { FLAGRAFT_INITIAL_CLUSTER: initial }));
    cluster.endpoints.push(...nodes.map((n) => n.address));
    await Promise.all(nodes.map((n) => waitServing(n.address, clusterId, readyTimeoutMs, true, statusTls)));
    await cluster.leader();
  } catch (e) {
    // The nodes' own words on why they did not come up, before stop() removes the logs.
    const tails = nodes.map((n) => {
      let lines: string[] = [];
      try { lines = readFileSync(n.logFile, 'utf8').trim().split('\n').slice(-3); } catch { /* no log */ }
      return `node ${n.id} (pid ${n.pid || 'exited'}): ${lines.join(' | ')}`;
    });
    await stop();
    throw new Error(`${(e as Error).message}\n${tails.join('\n')}`);
  }
  return cluster;
}

/** Waits until the node answers Status (and, with needLeader, knows a leader). */
async function waitServing(address: string, clusterId: string, timeoutMs: number, needLeader = true, tls?: TlsFiles): Promise<void> {
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
