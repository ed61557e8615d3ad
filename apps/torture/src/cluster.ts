// The system under test: real consensus nodes (testkit's LocalCluster:
// dist/main.js processes with mutual TLS) whose peer traffic goes through the
// fault proxies, real gateways (apps/gateway dist/main.js) in front of them,
// optional size-limited tmpfs data dirs, and an admin cluster client. Every
// process is stopped by PID and every mount unmounted in stop(), which the
// runner calls in finally.
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { hashToken } from '@flagraft/auth';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startGatewayProcess, startLocalCluster, type LocalCluster, type LocalNode, type Proc } from '@flagraft/testkit';
import { LinkMesh } from './proxy.js';
import type { Rng } from './rng.js';

export interface TortureClusterOptions {
  size: number;
  /** Node ids the mesh has links for (size + nodes membership changes may add). */
  maxId: number;
  gateways: number;
  rng: Rng;
  electionTimeoutMs: number;
  /** Node ids whose data dir is a tmpfs of `tmpfsBytes` (disk-full). */
  tmpfsNodes?: number[];
  tmpfsBytes?: number;
  /** FLAGRAFT_INJECT_BUG for every node. */
  injectBug?: string;
  /** Extra environment for every node. */
  env?: Record<string, string>;
  /** Give every node a clock control file (FLAGRAFT_CLOCK_CONTROL; setClock moves that node's wall clock). */
  clockControl?: boolean;
  /** FLAGRAFT_LOG_LEVEL of every node (default warn; info shows elections, transfers and membership changes). */
  nodeLogLevel?: NodeLogLevel;
}

export const NODE_LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type NodeLogLevel = (typeof NODE_LOG_LEVELS)[number];

export const TOKEN = 'torture-admin-token';
const GATEWAY_MAIN = join(dirname(createRequire(import.meta.url).resolve('@flagraft/gateway')), 'main.js');
/** How long a gateway may take to print its listening line, and then to be ready (ms). */
const GATEWAY_START_TIMEOUT_MS = 20_000;

export interface Gateway { url: string; pid: number }

export class TortureCluster {
  local!: LocalCluster;
  mesh!: LinkMesh;
  admin!: ClusterClient;
  readonly gateways: Gateway[] = [];
  readonly baseDir = mkdtempSync(join(tmpdir(), 'flagraft-torture-'));
  private readonly mounts: string[] = [];
  private readonly children = new Set<Proc>();
  /** The gateways' log files (closed in stop). */
  private readonly logStreams: WriteStream[] = [];
  /** Real peer addresses by node id (what the links forward to), known once a node is launched. */
  private readonly peerAddresses = new Map<number, string>();
  /**
   * Told the client address of each node that joins (membership changes): a
   * long-lived client that only watches never gets a NOT_LEADER hint, so once
   * every node it was configured with is replaced it must be given the new
   * ones, as an operator adds a new node to the clients' endpoints (README).
   */
  readonly joinListeners = new Set<(clientAddress: string) => void>();
  /** Nodes stopped with SIGSTOP (continued in heal and stop). */
  readonly paused = new Set<number>();

  constructor(readonly o: TortureClusterOptions) {}

  async start(): Promise<void> {
    this.mesh = new LinkMesh(this.o.maxId, (id) => this.peerAddresses.get(id), this.o.rng);
    await this.mesh.listen();
    for (const id of this.o.tmpfsNodes ?? []) this.mountTmpfs(join(this.baseDir, `node-${id}`), this.o.tmpfsBytes ?? 8 * 1024 * 1024);
    this.local = await startLocalCluster({
      size: this.o.size,
      baseDir: this.baseDir,
      electionTimeoutMs: this.o.electionTimeoutMs,
      heartbeatMs: Math.max(20, Math.floor(this.o.electionTimeoutMs / 5)),
      readyTimeoutMs: 30_000,
      env: {
        FLAGRAFT_LOG_LEVEL: this.o.nodeLogLevel ?? 'warn',
        // Compaction and snapshots happen within a run.
        FLAGRAFT_SNAPSHOT_EVERY: '2000',
        FLAGRAFT_SNAPSHOT_CATCHUP_ENTRIES: '500',
        FLAGRAFT_PROPOSAL_TIMEOUT_MS: '3000',
        ...(this.o.injectBug ? { FLAGRAFT_INJECT_BUG: this.o.injectBug } : {}),
        ...this.o.env,
      },
      nodeEnv: (id, a) => {
        this.peerAddresses.set(id, a.peerAddress);
        return { FLAGRAFT_PEER_ROUTES: this.mesh.routesFor(id), ...(this.o.clockControl ? { FLAGRAFT_CLOCK_CONTROL: this.clockFile(id) } : {}) };
      },
    });
    this.admin = createClusterClient({ ...this.local.clientOptions(), requestTimeoutMs: 2000, retryDeadlineMs: 4000 });
    this.gateways.push(...(await Promise.all(Array.from({ length: this.o.gateways }, (_, i) => this.startGateway(i)))));
  }

  /** Starts a node that joins (FLAGRAFT_JOIN=1) and tells the join listeners its client address. */
  async spawnJoiner(id: number): Promise<LocalNode> {
    const n = await this.local.spawnJoiner(id);
    for (const f of this.joinListeners) f(n.address);
    return n;
  }

  /** A tmpfs of `bytes` at dir (root only: mount(8)); a failure is an error, never a silent skip. */
  mountTmpfs(dir: string, bytes: number): void {
    mkdirSync(dir, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
    } catch (e) {
      throw new Error(`cannot mount a tmpfs at ${dir} (disk faults need root): ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`);
    }
    this.mounts.push(dir);
  }

  private async startGateway(i: number): Promise<Gateway> {
    const env = {
      PATH: process.env.PATH ?? '',
      ...(await this.local.clientEnv('gateway', 'test')),
      FLAGRAFT_GATEWAY_PORT: '0',
      FLAGRAFT_GATEWAY_ID: `torture-gw-${i}`,
      // info: the "gateway listening" line carries the port.
      FLAGRAFT_LOG_LEVEL: 'info',
      FLAGRAFT_ACCESS_LOG: 'off',
      FLAGRAFT_TOKENS: JSON.stringify([{ name: 'torture', role: 'admin', sha256: hashToken(TOKEN) }]),
      // Rate limits off (0): the clients write and read as fast as the cluster
      // answers from one token; a 429 would be a refused operation the history
      // checker has to model instead of a fault it is looking for.
      FLAGRAFT_RATE_LIMIT_WRITES_PER_SEC: '0',
      FLAGRAFT_RATE_LIMIT_EVALUATIONS_PER_SEC: '0',
      FLAGRAFT_CLUSTER_REQUEST_TIMEOUT_MS: '1500',
      FLAGRAFT_CLUSTER_RETRY_DEADLINE_MS: '3000',
      FLAGRAFT_WRITE_VISIBILITY_TIMEOUT_MS: '1000',
    };
    // Ready = its replica is loaded (the change stream and stale lists need it).
    // Its log next to the nodes' (node-N.log), for a kept base dir (--keep).
    const out = createWriteStream(join(this.baseDir, `gateway-${i}.log`), { flags: 'a' });
    this.logStreams.push(out);
    const g = await startGatewayProcess({ name: `gateway ${i}`, env, mainJs: GATEWAY_MAIN, readyTimeoutMs: GATEWAY_START_TIMEOUT_MS, onLine: (l) => out.write(l + '\n') });
    this.children.add(g.proc);
    return { url: g.url, pid: g.proc.child.pid! };
  }

  private clockFile(id: number): string {
    return join(this.baseDir, `clock-${id}.json`);
  }

  /**
   * Moves node `id`'s wall clock: `offsetMs` from the real time, running at
   * `rate` (consensus-node clock.ts; the node polls the file every 50 ms).
   * Only with clockControl; the machine's clock is never touched.
   */
  setClock(id: number, offsetMs: number, rate = 1): void {
    if (!this.o.clockControl) throw new Error('setClock needs a cluster started with clockControl');
    this.clockSeq++;
    writeFileSync(this.clockFile(id), JSON.stringify({ offsetMs, rate, seq: this.clockSeq }));
  }
  private clockSeq = 0;

  node(id: number): LocalNode {
    const n = this.local.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Running (not killed) nodes. */
  live(): LocalNode[] {
    return this.local.nodes.filter((n) => n.pid);
  }

  /** Voters and learners as the leader sees them (undefined when no leader answers). */
  async members(): Promise<{ id: number; role: string; lag: number }[] | undefined> {
    try {
      const s = await this.admin.status();
      return s.members.map((m) => ({ id: m.id, role: m.role, lag: m.lag }));
    } catch {
      return undefined;
    }
  }

  /**
   * One line per running node, from its own Status (role, term, leader,
   * commit/applied/last index, voters): what a run that made no progress
   * reports, so the state it stopped in is known without rerunning it.
   */
  async describeNodes(): Promise<string[]> {
    return Promise.all(this.live().map(async (n) => {
      try {
        const s = await this.admin.status({ endpoint: n.address });
        const voters = s.members.filter((m) => m.role === 'voter').map((m) => m.id).join(',');
        const learners = s.members.filter((m) => m.role === 'learner').map((m) => m.id).join(',');
        return `node ${n.id}: ${s.role} term ${s.term} leader ${s.leaderId} commit ${s.commitIndex} applied ${s.appliedIndex} last ${s.lastIndex} voters ${voters || '-'}${learners ? ` learners ${learners}` : ''}`;
      } catch (e) {
        return `node ${n.id}: no status: ${(e as Error).message.slice(0, 120)}`;
      }
    }));
  }

  async leaderId(timeoutMs = 5000): Promise<number | undefined> {
    try {
      return (await this.local.leader(timeoutMs)).id;
    } catch {
      return undefined;
    }
  }

  pause(id: number): void {
    const n = this.node(id);
    if (!n.pid) return;
    process.kill(n.pid, 'SIGSTOP');
    this.paused.add(id);
  }

  resume(id: number): void {
    const n = this.node(id);
    this.paused.delete(id);
    if (n.pid) process.kill(n.pid, 'SIGCONT');
  }

  /** Continues every paused node and removes every link fault. */
  heal(): void {
    for (const id of [...this.paused]) this.resume(id);
    this.mesh.heal();
  }

  /**
   * Stops everything; the base dir (node-N.log and the data dirs not on a
   * tmpfs) is removed unless keepDir, for reading the node logs after a run.
   */
  async stop(keepDir = false): Promise<void> {
    const errors: string[] = [];
    try { this.admin?.close(); } catch { /* closed */ }
    for (const id of [...this.paused]) try { this.resume(id); } catch { /* gone */ }
    await Promise.all([...this.children].map((c) => c.kill('SIGKILL')));
    await Promise.all(this.logStreams.splice(0).map((w) => new Promise<void>((r) => w.end(r))));
    try { await this.local?.stop(); } catch (e) { errors.push((e as Error).message); }
    try { await this.mesh?.close(); } catch (e) { errors.push((e as Error).message); }
    for (const dir of this.mounts.splice(0)) {
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        // Still busy (a process not gone yet): lazy unmount, never left behind.
        try { execFileSync('umount', ['-l', dir], { stdio: 'pipe' }); } catch (e) { errors.push(`umount ${dir}: ${(e as Error).message}`); }
      }
    }
    if (!keepDir) rmSync(this.baseDir, { recursive: true, force: true });
    if (errors.length) throw new Error(`cleanup: ${errors.join('; ')}`);
  }
}
