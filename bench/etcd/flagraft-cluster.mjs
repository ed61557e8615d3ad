#!/usr/bin/env node
// Starts/stops a 3-node flagraft cluster for the etcd-baseline harness, like
// its etcd-cluster.sh: nodes 1-3 on 127.0.0.1:27001-27003, data dirs, logs and
// PID files under FLAGRAFT_BENCH_DIR (default /tmp/flagraft-bench). Processes
// are stopped by PID file only.
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
export const MEMBERS = ['1', '2', '3'].map((n) => ({ name: `n${n}`, id: Number(n), address: `127.0.0.1:2700${n}` }));
const INITIAL = MEMBERS.map((m) => `${m.id}=${m.address}`).join(',');

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

export function startMember(name, extraEnv = {}) {
  const m = MEMBERS.find((x) => x.name === name);
  if (!m) throw new Error(`unknown member ${name}`);
  if (pidOf(name)) throw new Error(`${name} is already running`);
  mkdirSync(BENCH_DIR, { recursive: true });
  const fd = openSync(path.join(BENCH_DIR, `${name}.log`), 'a');
  const child = spawn(process.execPath, [MAIN_JS], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: {
      ...process.env,
      FLAGRAFT_NODE_ID: String(m.id),
      FLAGRAFT_CLUSTER_ID: CLUSTER_ID,
      FLAGRAFT_LISTEN: m.address,
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
  for (const m of MEMBERS) startMember(m.name);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [cmd, arg] = process.argv.slice(2);
  if (cmd === 'start') await startAll();
  else if (cmd === 'stop') await stopAll();
  else if (cmd === 'start-member') startMember(arg.startsWith('n') ? arg : `n${arg}`);
  else if (cmd === 'du') for (const m of MEMBERS) console.log(m.name, dataDirBytes(m.name));
  else { console.error('usage: flagraft-cluster.mjs start|stop|start-member N|du'); process.exit(2); }
}
