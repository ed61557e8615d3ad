#!/usr/bin/env node
// Starts/stops a 3-node flagraft cluster for the etcd-baseline harness, like
// its etcd-cluster.sh: nodes 1-3 with client ports 127.0.0.1:27001-27003 and
// peer ports 27101-27103, data dirs, logs and PID files under
// FLAGRAFT_BENCH_DIR (default /tmp/flagraft-bench). Processes are stopped by
// PID file only.
//
// Mutual TLS like every deployment (a PKI made under FLAGRAFT_BENCH_DIR/pki);
// FLAGRAFT_BENCH_TLS=0 runs plain text (FLAGRAFT_INSECURE=1) to measure what
// TLS costs (run-tls-on-off.sh runs both).
//
//   node flagraft-cluster.mjs start            # fresh cluster (wipes data dirs), waits for a leader
//   node flagraft-cluster.mjs stop             # SIGTERM by PID file, SIGKILL after 10 s
//   node flagraft-cluster.mjs start-member 2   # start one node on its existing data
//   node flagraft-cluster.mjs du               # bytes of each data dir
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, closeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const MAIN_JS = path.join(REPO, 'apps', 'consensus-node', 'dist', 'main.js');
export const BENCH_DIR = process.env.FLAGRAFT_BENCH_DIR || '/tmp/flagraft-bench';
export const CLUSTER_ID = 'flagraft-bench';
// FLAGRAFT_BENCH_PORT_BASE moves the ports (client base+1..3, peer base+101..103) so two
// benches can run side by side without sharing a cluster.
const PORT_BASE = Number(process.env.FLAGRAFT_BENCH_PORT_BASE || 27000);
if (!Number.isInteger(PORT_BASE) || PORT_BASE < 1024 || PORT_BASE > 65000) throw new Error(`FLAGRAFT_BENCH_PORT_BASE: ${process.env.FLAGRAFT_BENCH_PORT_BASE} is not a port base in 1024..65000`);
export const MEMBERS = [1, 2, 3].map((n) => ({ name: `n${n}`, id: n, address: `127.0.0.1:${PORT_BASE + n}`, peerAddress: `127.0.0.1:${PORT_BASE + 100 + n}` }));
const INITIAL = MEMBERS.map((m) => `${m.id}=${m.peerAddress}`).join(',');
/** TLS on unless FLAGRAFT_BENCH_TLS=0. */
export const TLS = process.env.FLAGRAFT_BENCH_TLS !== '0';
export const PKI_DIR = path.join(BENCH_DIR, 'pki');
const identity = () => import(path.join(REPO, 'packages', 'identity', 'dist', 'index.js'));

/** The PKI of the bench cluster (made on first use), or undefined without TLS. */
export async function benchPki() {
  if (!TLS) return undefined;
  const id = await identity();
  await id.initPki(PKI_DIR, { clusterId: CLUSTER_ID, nodes: MEMBERS.map((m) => m.id), services: [{ role: 'gateway', name: 'bench' }], ifMissing: true });
  return { dir: PKI_DIR, node: (n) => id.pkiFiles(PKI_DIR, `node-${n}`), client: id.pkiFiles(PKI_DIR, 'gateway-bench') };
}

/** Options for @flagraft/cluster-client: the bench's gateway certificate, or plain text. */
export async function clientSecurity() {
  const pki = await benchPki();
  return pki ? { tls: pki.client } : { insecure: true, clusterId: CLUSTER_ID };
}

export function pidOf(name) {
  let pid;
  try { pid = Number(readFileSync(path.join(BENCH_DIR, `${name}.pid`), 'utf8').trim()); } catch { return null; }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return null;
    // guard against PID reuse: must be this member's node
    const cmd = readFileSync(`/proc/${pid}/environ`, 'utf8');
    if (!cmd.includes(`FLAGRAFT_DATA_DIR=${path.join(BENCH_DIR, `${name}.data`)}`)) return null;
  } catch { return null; }
  return pid;
}

export async function startMember(name, extraEnv = {}) {
  const m = MEMBERS.find((x) => x.name === name);
  if (!m) throw new Error(`unknown member ${name}`);
  if (pidOf(name)) throw new Error(`${name} is already running`);
  mkdirSync(BENCH_DIR, { recursive: true });
  const pki = await benchPki();
  const security = pki
    ? { FLAGRAFT_TLS_CA: pki.node(m.id).caFile, FLAGRAFT_TLS_CERT: pki.node(m.id).certFile, FLAGRAFT_TLS_KEY: pki.node(m.id).keyFile }
    : { FLAGRAFT_INSECURE: '1', FLAGRAFT_CLUSTER_ID: CLUSTER_ID };
  const fd = openSync(path.join(BENCH_DIR, `${name}.log`), 'a');
  // FLAGRAFT_BENCH_NODE_ARGS: extra node flags, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (write-profile.sh).
  const nodeArgs = (process.env.FLAGRAFT_BENCH_NODE_ARGS || '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, MAIN_JS], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: {
      ...process.env,
      FLAGRAFT_NODE_ID: String(m.id),
      ...security,
      FLAGRAFT_LISTEN: m.address,
      FLAGRAFT_PEER_LISTEN: m.peerAddress,
      FLAGRAFT_INITIAL_CLUSTER: INITIAL,
      FLAGRAFT_DATA_DIR: path.join(BENCH_DIR, `${name}.data`),
      ...extraEnv,
    },
  });
  closeSync(fd);
  child.unref();
  writeFileSync(path.join(BENCH_DIR, `${name}.pid`), String(child.pid));
  return child.pid;
}

export async function stopAll() {
  const pids = MEMBERS.map((m) => pidOf(m.name)).filter(Boolean);
  for (const pid of pids) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  const until = Date.now() + 10_000;
  while (Date.now() < until && MEMBERS.some((m) => pidOf(m.name))) await new Promise((r) => setTimeout(r, 50));
  for (const m of MEMBERS) { const p = pidOf(m.name); if (p) process.kill(p, 'SIGKILL'); }
}

export function dataDirBytes(name) {
  const dir = path.join(BENCH_DIR, `${name}.data`);
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).reduce((s, f) => s + statSync(path.join(dir, f)).size, 0);
}

export async function startAll() {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} missing: run pnpm --filter @flagraft/consensus-node build`);
  await stopAll();
  for (const m of MEMBERS) rmSync(path.join(BENCH_DIR, `${m.name}.data`), { recursive: true, force: true });
  for (const m of MEMBERS) await startMember(m.name);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [cmd, arg] = process.argv.slice(2);
  if (cmd === 'start') await startAll();
  else if (cmd === 'stop') await stopAll();
  else if (cmd === 'start-member') await startMember(arg.startsWith('n') ? arg : `n${arg}`);
  else if (cmd === 'du') for (const m of MEMBERS) console.log(m.name, dataDirBytes(m.name));
  else { console.error('usage: flagraft-cluster.mjs start|stop|start-member N|du'); process.exit(2); }
}
