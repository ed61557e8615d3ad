#!/usr/bin/env node
// Reads scale out (issue 15 goal 3): linearizable reads/s and server CPU per
// read, in one run on one cluster, for
//   leader-3   3 voters, every read on the leader (readFrom 'leader')
//   spread-3   3 voters, reads spread over them (readFrom 'any')
//   spread-5   3 voters + 2 learners, reads spread over all five
//   leader-5   the same five members, every read on the leader (control: what the learners cost)
// Each phase is a closed loop of --concurrency GetFlag calls (linearizable)
// over --keys flags for --seconds. Per phase it prints reads/s, p50/p99, each
// server's CPU (utime + stime from /proc/<pid>/stat) as % of a core and as ms
// per read, the load generator's own CPU, the whole machine's busy CPU and the
// load average. CPU per read is counted above each node's own idle CPU
// (ticks, heartbeats), measured in the same run right before the phases of
// each layout (idle mode off, FLAGRAFT_IDLE_TICK_MS=0, so that the idle
// window ticks like a loaded cluster): on a loaded machine the throughput is
// low and that fixed cost would otherwise dominate the per-read figure. On a machine with fewer cores than processes the throughput
// cannot grow with the members (they share the same cores), so the summary
// also gives the capacity each layout would have if every node had a core of
// its own: 1000 / (the busiest node's CPU ms per read).
//
//   node bench/reads/read-scale.mjs [--seconds 10] [--concurrency 64] [--keys 1000] [--rounds 1] [--settle 2]
//        [--read-mode safe|lease] [--rate N] [--json out.json]
// --rate N: open loop at N reads/s (at most --concurrency in flight) instead of
// a closed loop: every phase then does the same work per second, so the CPU per
// read of the layouts compares at equal batch sizes (a closed loop on a loaded
// machine runs each layout at a different rate, and the batching with it).
// --read-mode: the nodes' FLAGRAFT_READ_MODE (default safe).
//
// Needs the builds of @flagraft/consensus-node and @flagraft/cluster-client.
// The cluster runs with mutual TLS (the default of every deployment) on free
// loopback ports; every node is stopped by its PID at the end.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, loadavg, machineJiffies } from '../proc-stat.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const seconds = Number(args.seconds ?? 10);
const concurrency = Number(args.concurrency ?? 64);
const keys = Number(args.keys ?? 1000);
const rounds = Number(args.rounds ?? 1);
const settle = Number(args.settle ?? 2);
const readMode = args['read-mode'] ?? 'safe';
const rate = args.rate === undefined ? 0 : Number(args.rate);
if (!(rate >= 0)) throw new Error(`--rate must be a number >= 0, got ${args.rate}`);
if (!['safe', 'lease'].includes(readMode)) throw new Error(`--read-mode must be safe or lease, got ${readMode}`);
for (const [k, v, min] of [['seconds', seconds, 1], ['concurrency', concurrency, 1], ['keys', keys, 1], ['rounds', rounds, 1], ['settle', settle, 0]]) {
  if (!Number.isFinite(v) || v < min) throw new Error(`--${k} must be a number >= ${min}, got ${args[k]}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const flagOf = (key) => ({ key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [], description: `bench ${key}` });

const { startLocalCluster } = await import(path.join(REPO, 'packages', 'testkit', 'dist', 'index.js'));
const { createClusterClient } = await import(path.join(REPO, 'packages', 'cluster-client', 'dist', 'index.js'));

/** Each node's CPU while nothing is asked of the cluster (% of a core), over `secs`. */
async function idleCpu(nodes, secs) {
  const c0 = nodes.map((n) => cpuSeconds(n.pid));
  const t0 = performance.now();
  await sleep(secs * 1000);
  const el = (performance.now() - t0) / 1000;
  const out = new Map(nodes.map((n, i) => [n.id, (100 * (cpuSeconds(n.pid) - c0[i])) / el]));
  console.log(`\nidle window ${secs} s (load ${loadavg()}): ${nodes.map((n) => `node ${n.id} ${out.get(n.id).toFixed(1)} %`).join(', ')} of a core`);
  return out;
}

/** One closed-loop read phase against `client`; CPU of the nodes (roles asked of the cluster now) over the window, above `idle`. */
async function phase(name, client, idle) {
  const nodes = await roles();
  const warm = Date.now() + 1000 * settle;
  // Warm-up: the same load, not measured (connections, JIT, member list of the client).
  let stop = false;
  let count = 0;
  let failures = 0;
  const lat = [];
  let measuring = false;
  let seq = 0;
  const one = async () => {
    const key = `k-${(seq = (seq * 7919 + 13) % keys)}`;
    const t = performance.now();
    try {
      const f = await client.getFlag(key);
      if (!f) throw new Error(`${key} missing`);
      if (measuring) { count++; lat.push(performance.now() - t); }
    } catch {
      if (measuring) failures++;
    }
  };
  let loops;
  if (rate > 0) {
    // Open loop: reads are due at `rate` per second; skipped (counted as failures) while --concurrency are in flight.
    loops = [(async () => {
      let inFlight = 0;
      const t0 = performance.now();
      let issued = 0;
      while (!stop) {
        const due = Math.floor(((performance.now() - t0) / 1000) * rate);
        for (; issued < due; issued++) {
          if (inFlight >= concurrency) { if (measuring) failures++; continue; }
          inFlight++;
          void one().finally(() => { inFlight--; });
        }
        await sleep(2);
      }
      while (inFlight > 0) await sleep(5);
    })()];
  } else {
    loops = Array.from({ length: concurrency }, async () => { while (!stop) await one(); });
  }
  while (Date.now() < warm) await sleep(50);
  const m0 = machineJiffies();
  const l0 = loadavg();
  const c0 = nodes.map((n) => cpuSeconds(n.pid));
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await sleep(seconds * 1000);
  measuring = false;
  const secs = (performance.now() - t0) / 1000;
  const c1 = nodes.map((n) => cpuSeconds(n.pid));
  const self1 = process.cpuUsage(self0);
  const m1 = machineJiffies();
  const l1 = loadavg();
  stop = true;
  await Promise.all(loops);
  lat.sort((a, b) => a - b);
  const perNode = nodes.map((n, i) => {
    const cpu = c1[i] - c0[i];
    const idlePct = idle.get(n.id) ?? 0;
    const above = Math.max(0, cpu - (idlePct / 100) * secs);
    return { id: n.id, role: n.role, cpuPctOfCore: (100 * cpu) / secs, idlePctOfCore: idlePct, cpuMsPerRead: (1000 * above) / Math.max(1, count) };
  });
  const serverCpu = perNode.reduce((a, n) => a + n.cpuMsPerRead, 0);
  const r = {
    phase: name, members: nodes.length, readsPerSec: count / secs, failures, p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99),
    perNode, serversCpuMsPerRead: serverCpu, leaderCpuMsPerRead: perNode.find((n) => n.role === 'leader')?.cpuMsPerRead ?? NaN,
    busiestNodeCpuMsPerRead: Math.max(...perNode.map((n) => n.cpuMsPerRead)),
    clientCpuMsPerRead: (self1.user + self1.system) / 1000 / Math.max(1, count),
    machineBusyPct: (200 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total), loadavg: `${l0} -> ${l1}`,
  };
  r.capacityIfCoreEach = 1000 / r.busiestNodeCpuMsPerRead;
  console.log(`\n${name}: ${r.readsPerSec.toFixed(0)} reads/s (${failures} failed), p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms; load ${r.loadavg}; machine busy ${r.machineBusyPct.toFixed(0)} % of 200 %`);
  for (const n of perNode) console.log(`  node ${n.id} ${n.role.padEnd(8)} ${n.cpuPctOfCore.toFixed(1).padStart(5)} % of a core (idle ${n.idlePctOfCore.toFixed(1)} %)  ${n.cpuMsPerRead.toFixed(3)} ms CPU per read above idle`);
  console.log(`  servers together ${serverCpu.toFixed(3)} ms per read; load generator ${r.clientCpuMsPerRead.toFixed(3)} ms per read; busiest node ${r.busiestNodeCpuMsPerRead.toFixed(3)} ms -> ${r.capacityIfCoreEach.toFixed(0)} reads/s with a core per node`);
  return r;
}

const cluster = await startLocalCluster({ size: 3, env: { FLAGRAFT_LOG_LEVEL: 'warn', FLAGRAFT_READ_MODE: readMode, FLAGRAFT_IDLE_TICK_MS: '0' } });
let roles;
const clients = [];
const cleanup = async () => {
  for (const c of clients) c.close();
  await cluster.stop();
};
process.once('SIGINT', () => { cleanup().finally(() => process.exit(130)); });
try {
  const opts = cluster.clientOptions();
  const admin = createClusterClient({ ...opts, retryDeadlineMs: 30_000 });
  clients.push(admin);
  const toLeader = createClusterClient({ ...opts, readFrom: 'leader' });
  const spread = createClusterClient({ ...opts, readFrom: 'any', memberRefreshMs: 1000 });
  clients.push(toLeader, spread);
  console.log(`read-scale (read mode ${readMode}${rate ? `, open loop at ${rate} reads/s` : ', closed loop'}): ${concurrency} in flight, ${keys} flags, ${seconds} s per phase (+${settle} s warm-up), ${rounds} round(s); machine: load ${loadavg()}`);
  for (let i = 0; i < keys; i += 32) await Promise.all(Array.from({ length: Math.min(32, keys - i) }, (_, j) => admin.putFlag(flagOf(`k-${i + j}`), { actor: 'bench' })));
  roles = async () => {
    const st = await admin.status();
    return cluster.nodes.filter((n) => n.pid).map((n) => ({ id: n.id, pid: n.pid, role: n.id === st.leaderId ? 'leader' : st.members.find((m) => m.id === n.id)?.role === 'learner' ? 'learner' : 'follower' }));
  };
  // The 'leader' client sends reads where its writes go: one write makes it find the leader (a follower would serve its reads too).
  const findLeader = () => toLeader.putFlag(flagOf('k-0'), { actor: 'bench' });
  const results = [];
  const idle3 = await idleCpu(await roles(), seconds);
  for (let r = 0; r < rounds; r++) {
    await findLeader();
    results.push(await phase('leader-3', toLeader, idle3));
    results.push(await phase('spread-3', spread, idle3));
  }
  for (const id of [4, 5]) {
    const n = await cluster.spawnJoiner(id);
    await admin.addLearner(id, n.peerAddress);
  }
  const target = (await admin.status()).commitIndex;
  for (const n of cluster.nodes.slice(3)) {
    const one = createClusterClient({ ...opts, endpoints: [n.address] });
    clients.push(one);
    const deadline = Date.now() + 60_000;
    while ((await one.status()).appliedIndex < target) {
      if (Date.now() > deadline) throw new Error(`learner ${n.id} did not catch up within 60 s`);
      await sleep(100);
    }
  }
  const idle5 = await idleCpu(await roles(), seconds);
  // The spreading client learns the learners from Status (memberRefreshMs 1 s; the warm-up covers it).
  for (let r = 0; r < rounds; r++) {
    results.push(await phase('spread-5', spread, idle5));
    await findLeader();
    results.push(await phase('leader-5', toLeader, idle5));
  }
  const avg = (name, f) => { const xs = results.filter((x) => x.phase === name).map(f); return xs.reduce((a, b) => a + b, 0) / xs.length; };
  const rows = ['leader-3', 'spread-3', 'spread-5', 'leader-5'].map((p) => ({
    p, rps: avg(p, (x) => x.readsPerSec), leader: avg(p, (x) => x.leaderCpuMsPerRead), servers: avg(p, (x) => x.serversCpuMsPerRead), busiest: avg(p, (x) => x.busiestNodeCpuMsPerRead), cap: avg(p, (x) => x.capacityIfCoreEach),
  }));
  const base = rows[0];
  console.log('\nsummary (means over rounds; ratios against leader-3 of the same run)');
  console.log('(CPU per read above each node\'s idle CPU)');
  console.log('phase     reads/s  ratio  leader ms/read  servers ms/read  busiest node ms/read  reads/s with a core per node  ratio');
  for (const x of rows) {
    console.log(`${x.p.padEnd(9)} ${x.rps.toFixed(0).padStart(7)}  ${(x.rps / base.rps).toFixed(2).padStart(5)}  ${x.leader.toFixed(3).padStart(14)}  ${x.servers.toFixed(3).padStart(15)}  ${x.busiest.toFixed(3).padStart(20)}  ${x.cap.toFixed(0).padStart(28)}  ${(x.cap / base.cap).toFixed(2).padStart(5)}`);
  }
  if (args.json) writeFileSync(args.json, JSON.stringify({ at: new Date().toISOString(), readMode, rate, seconds, concurrency, keys, rounds, results }, null, 2));
} finally {
  await cleanup();
}
