// Starts a real N-node cluster of consensus-node `dist/main.js` processes on
// free loopback ports, for tests of every app (consensus-node, gateway,
// relay, dashboard, torture) and the benchmarks. Mutual TLS by default, with
// a PKI made once per process (one CA and cluster id per test file, not per
// test); `insecure: true` runs plain text for tests of the transport.
// Processes are stopped by PID only. The node binary is found by path, not
// as a dependency: consensus-node's own tests use this package.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClusterClient, type ClusterStatus } from '@flagraft/cluster-client';
import { initPki, issueInto, readClusterId, tlsFilesFor, type ServiceRole, type TlsFiles } from '@flagraft/identity';
import { freePorts, spawnProcess, waitFor, type Proc } from './process.js';

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
  /** The node program (default NODE_MAIN_JS, this repository's build). */
  mainJs?: string;
}

/** SIGTERM -> SIGKILL for a node in stop() (ms). */
export const NODE_STOP_GRACE_MS = 5_000;

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

/** The consensus node's entry point in this repository (built by `pnpm --filter @flagraft/consensus-node build`). */
export const NODE_MAIN_JS = fileURLToPath(new URL('../../../apps/consensus-node/dist/main.js', import.meta.url));

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

/**
 * One Status call to one node (to find the leader and wait for health), on a
 * client of its own: a fresh channel per call, so a node that was just
 * restarted is asked at once, not after a reconnect backoff.
 * `tls` = a service certificate, or undefined for plain text.
 */
export async function nodeStatus(address: string, clusterId: string, timeoutMs = 1000, tls?: TlsFiles): Promise<ClusterStatus> {
  const client = createClusterClient({
    endpoints: [address], ...(tls ? { tls, tlsReloadIntervalMs: 0 } : { insecure: true, clusterId }),
    requestTimeoutMs: timeoutMs, retryDeadlineMs: timeoutMs,
  });
  try {
    return await client.status({ endpoint: address });
  } finally {
    client.close();
  }
}

export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  const mainJs = opts.mainJs ?? NODE_MAIN_JS;
  if (!existsSync(mainJs)) throw new Error(`${mainJs} not found: build @flagraft/consensus-node first (pnpm --filter @flagraft/consensus-node build)`);
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
  const procs = new Set<Proc>();

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
    let proc: Proc | undefined;
    const launch = (override: Record<string, string> = {}) => {
      const p = spawnProcess({
        name: `node-${id}`, command: process.execPath, args: [mainJs], output: { file: logFile },
        env: { ...baseEnv(), ...tlsEnv, ...opts.nodeEnv?.(id, { address, peerAddress }), FLAGRAFT_NODE_ID: String(id), FLAGRAFT_LISTEN: address, FLAGRAFT_PEER_LISTEN: peerAddress, FLAGRAFT_DATA_DIR: dataDir, ...extraEnv, ...override },
      });
      proc = p;
      procs.add(p);
      void p.exited.then(() => procs.delete(p));
    };
    const node: LocalNode = {
      id, address, peerAddress, dataDir, logFile,
      get pid() { return proc?.pid ?? 0; },
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        await proc?.kill(signal);
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
    await Promise.all([...procs].map((p) => p.stop(NODE_STOP_GRACE_MS)));
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
      let lastErr = '';
      try {
        return await waitFor('a leader', { timeoutMs, everyMs: 20 }, async () => {
          const st = await Promise.all(nodes.filter((n) => n.pid).map((n) => nodeStatus(n.address, clusterId, 500, statusTls).catch((e: Error) => { lastErr = e.message; return undefined; })));
          const leaders = st.filter((s) => s && s.role === 'leader');
          return leaders.length === 1 ? nodes.find((n) => n.id === leaders[0]!.nodeId) : undefined;
        });
      } catch {
        throw new Error(`no leader within ${timeoutMs} ms (${lastErr})`);
      }
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
  let last = '';
  try {
    await waitFor(`node at ${address}`, { timeoutMs, everyMs: 20 }, async () => {
      const s = await nodeStatus(address, clusterId, 500, tls).catch((e: Error) => { last = e.message; return undefined; });
      if (s && (!needLeader || s.leaderId > 0)) return true;
      if (s) last = 'no leader yet';
      return false;
    });
  } catch {
    throw new Error(`node at ${address} not serving within ${timeoutMs} ms: ${last}`);
  }
}
