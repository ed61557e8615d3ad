#!/usr/bin/env node
// Idle cost: a 3-node flagraft cluster and a 3-member etcd cluster, started in
// turn on free loopback ports, each left alone for a while; prints the CPU
// each server process used (utime + stime from /proc/<pid>/stat, which counts
// only that process's own work and so is far less sensitive to neighbours than
// a wall-clock figure), the whole machine's CPU over the same window and the
// load average, and the ratio flagraft / etcd.
//
//   node bench/idle/idle-cpu.mjs [--seconds 60] [--settle 5] [--only flagraft|etcd]
//        [--flagraft-env KEY=V,KEY=V] [--cpu-prof DIR] [--etcd /usr/bin/etcd]
//
// flagraft runs with its defaults (mutual TLS, like `npm start`), through
// @flagraft/testkit's startLocalCluster (build it first). etcd (Debian's
// etcd-server 3.4) runs with its defaults (heartbeat 100 ms, election 1000 ms)
// like the etcd-baseline harness. Every process is stopped by its PID.
// --cpu-prof DIR: the flagraft nodes are profiled (cpu-prof-preload.mjs: a
// .cpuprofile per node in DIR at exit); summarise with cpuprofile-top.mjs.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, loadavg, machineJiffies } from '../proc-stat.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const seconds = Number(args.seconds ?? 60);
const settle = Number(args.settle ?? 5);
const only = args.only;
const etcdBin = args.etcd ?? '/usr/bin/etcd';
if (!(seconds > 0) || !(settle >= 0)) throw new Error('--seconds must be > 0 and --settle >= 0');
if (only && !['flagraft', 'etcd'].includes(only)) throw new Error('--only must be flagraft or etcd');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Measures the given PIDs for `seconds`; CPU in % of one core. */
async function measure(name, pids, beforeWindow = () => {}) {
  await sleep(settle * 1000);
  beforeWindow();
  const load0 = loadavg();
  const m0 = machineJiffies();
  const c0 = pids.map(cpuSeconds);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const c1 = pids.map(cpuSeconds);
  const m1 = machineJiffies();
  const wall = (performance.now() - t0) / 1000;
  const perProcess = pids.map((pid, i) => ({ pid, cpuPct: round(((c1[i] - c0[i]) / wall) * 100) }));
  const total = round(perProcess.reduce((a, p) => a + p.cpuPct, 0));
  const cores = (m1.total - m0.total) > 0 ? round(((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 * availableParallelism()) : 0;
  const r = { name, seconds: round(wall), perProcess, totalCpuPct: total, machineBusyPct: cores, otherProcessesPct: round(cores - total), loadBefore: load0, loadAfter: loadavg() };
  console.log(JSON.stringify(r));
  return r;
}

const round = (x) => Math.round(x * 100) / 100;

async function flagraft() {
  const { startLocalCluster } = await import(path.join(REPO, 'packages', 'testkit', 'dist', 'index.js'));
  const env = { FLAGRAFT_TLS_RELOAD_INTERVAL_MS: '5000' }; // the node's default (the test harness checks more often)
  for (const kv of (args['flagraft-env'] ?? '').split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i < 1) throw new Error(`--flagraft-env: "${kv}" is not KEY=V`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  if (args['cpu-prof']) Object.assign(env, { NODE_OPTIONS: `--import=${path.join(HERE, 'cpu-prof-preload.mjs')}`, FLAGRAFT_CPU_PROF_DIR: path.resolve(args['cpu-prof']) });
  const cluster = await startLocalCluster({ env });
  try {
    await cluster.leader();
    const pids = cluster.nodes.map((n) => n.pid);
    // SIGUSR2 starts the profiler of cpu-prof-preload.mjs: only the measured window is profiled.
    return await measure('flagraft', pids, () => { if (args['cpu-prof']) for (const pid of pids) process.kill(pid, 'SIGUSR2'); });
  } finally {
    await cluster.stop();
  }
}

async function freePorts(n) {
  const { createServer } = await import('node:net');
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((res, rej) => { const s = createServer(); s.once('error', rej); s.listen(0, '127.0.0.1', () => res(s)); })));
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function etcd() {
  if (!existsSync(etcdBin)) throw new Error(`${etcdBin} not found: apt-get install -y etcd-server (or --etcd PATH)`);
  const base = mkdtempSync(path.join(tmpdir(), 'etcd-idle-'));
  const ports = await freePorts(6);
  const members = [1, 2, 3].map((n, i) => ({ name: `m${n}`, client: `http://127.0.0.1:${ports[2 * i]}`, peer: `http://127.0.0.1:${ports[2 * i + 1]}` }));
  const initial = members.map((m) => `${m.name}=${m.peer}`).join(',');
  const children = members.map((m) => spawn(etcdBin, [
    '--name', m.name, '--data-dir', path.join(base, `${m.name}.etcd`),
    '--listen-client-urls', m.client, '--advertise-client-urls', m.client,
    '--listen-peer-urls', m.peer, '--initial-advertise-peer-urls', m.peer,
    '--initial-cluster', initial, '--initial-cluster-token', 'idle-bench', '--initial-cluster-state', 'new',
    '--heartbeat-interval', '100', '--election-timeout', '1000', '--logger', 'zap', '--log-outputs', 'stderr',
  ], { stdio: 'ignore' }));
  try {
    // Healthy = every member answers /health with "true" (it needs a leader for that).
    const deadline = Date.now() + 30_000;
    for (const m of members) {
      for (;;) {
        if (Date.now() > deadline) throw new Error(`etcd ${m.name} not healthy within 30 s`);
        const ok = await fetch(`${m.client}/health`).then((r) => r.json()).then((j) => j.health === 'true').catch(() => false);
        if (ok) break;
        await sleep(100);
      }
    }
    return await measure('etcd', children.map((c) => c.pid));
  } finally {
    await Promise.all(children.map((c) => new Promise((res) => {
      if (c.exitCode !== null || c.signalCode !== null) return res();
      const t = setTimeout(() => { try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }, 10_000);
      c.once('exit', () => { clearTimeout(t); res(); });
      process.kill(c.pid, 'SIGTERM');
    })));
    rmSync(base, { recursive: true, force: true });
  }
}

const results = {};
if (only !== 'etcd') results.flagraft = await flagraft();
if (only !== 'flagraft') results.etcd = await etcd();
if (results.flagraft && results.etcd) {
  const ratio = results.etcd.totalCpuPct > 0 ? round(results.flagraft.totalCpuPct / results.etcd.totalCpuPct) : Infinity;
  console.log(JSON.stringify({ flagraftCpuPct: results.flagraft.totalCpuPct, etcdCpuPct: results.etcd.totalCpuPct, ratio, goal: 'ratio <= 1' }));
}
