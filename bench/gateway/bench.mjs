#!/usr/bin/env node
// Gateway benchmark: autocannon against the gateway and, side by side in the
// same run, a bare node:http server; plus writes/s through the gateway and
// straight to the cluster with the cluster client.
//
//   pnpm build && node bench/gateway/bench.mjs [--duration 10] [--warmup 2] [--connections 64] [--out results.json]
//
// Starts (and stops, by PID) a real 3-node cluster, one gateway process
// (apps/gateway/dist/main.js) and the bare server; all on 127.0.0.1.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '64' },
    'write-connections': { type: 'string', default: '64' },
    'access-log': { type: 'string', default: 'all' },
    out: { type: 'string', default: '' },
    'idle-load': { type: 'string', default: '1.5' },
    'idle-wait-s': { type: 'string', default: '0' },
    // Comma-separated subset of single,bulk,writes (single includes the bare server).
    stages: { type: 'string', default: 'single,bulk,writes' },
    // The gateway entry point to run (e.g. an experimental build), relative to apps/gateway.
    'gateway-main': { type: 'string', default: 'dist/main.js' },
    // Node options for the gateway process, space-separated (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
    'gateway-node-args': { type: 'string', default: '' },
    // Rounds of the write stage: gateway and cluster client alternate this many times.
    'write-rounds': { type: 'string', default: '2' },
    // Which node the gateway's endpoint list starts with: as-is, leader (first) or follower (first).
    // Its replica's Watch goes to the first endpoint, so this decides which node's apply a write waits for.
    'gateway-first-endpoint': { type: 'string', default: 'as-is' },
  },
});
const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
const CONNECTIONS = Number(args.connections);
const WRITE_CONNECTIONS = Number(args['write-connections']);
const WRITE_ROUNDS = Number(args['write-rounds']);
if (!Number.isInteger(WRITE_ROUNDS) || WRITE_ROUNDS < 1) throw new Error(`--write-rounds: expected a positive integer, got ${args['write-rounds']}`);
const STAGES = new Set(args.stages.split(',').map((x) => x.trim()));
for (const s of STAGES) if (!['single', 'bulk', 'writes'].includes(s)) throw new Error(`--stages: unknown stage ${s} (single, bulk, writes)`);

const root = fileURLToPath(new URL('../../', import.meta.url));
const gatewayDir = join(root, 'apps/gateway');
const requireFromGateway = createRequire(join(gatewayDir, 'package.json'));
const load = async (name) => import(pathToFileURL(requireFromGateway.resolve(name)).href);
const autocannon = (await load('autocannon')).default;
const { startLocalCluster } = await load('@flagraft/testkit');
const { createClusterClient } = await load('@flagraft/cluster-client');

const TOKEN = 'bench-token-' + Math.random().toString(36).slice(2);
const tokens = JSON.stringify([{ name: 'bench', role: 'admin', sha256: createHash('sha256').update(TOKEN).digest('hex') }]);
const workDir = mkdtempSync(join(tmpdir(), 'flagraft-bench-'));
const children = [];

function startChild(name, argv, env, readyPattern) {
  const logFile = join(workDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.push(child);
  const deadline = Date.now() + 30_000;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const text = readFileSync(logFile, 'utf8');
      const m = readyPattern.exec(text);
      if (m) return resolve({ child, port: Number(m[1]), logFile });
      if (child.exitCode !== null) return reject(new Error(`${name} exited: ${text.slice(-2000)}`));
      if (Date.now() > deadline) return reject(new Error(`${name} did not start: ${text.slice(-2000)}`));
      setTimeout(poll, 50);
    };
    poll();
  });
}

async function http(method, url, body) {
  const res = await fetch(url, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

function run(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, pipelining: 1, ...opts }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

/** CPU time (user and system, ms) a process has used, from /proc (Linux). */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return { user: (Number(fields[11]) * 1000) / 100, system: (Number(fields[12]) * 1000) / 100 }; // utime, stime at 100 ticks/s
  } catch {
    return { user: NaN, system: NaN };
  }
}

const sumCpu = (pids) => pids.reduce((t, p) => { const c = cpuMs(p); return t + c.user + c.system; }, 0);

/** `nodePids`: the cluster's processes, whose CPU per answered request is reported too. */
async function measure(label, opts, pid, nodePids = []) {
  if (WARMUP > 0) await run({ ...opts, duration: WARMUP });
  const cpu0 = pid ? cpuMs(pid) : undefined;
  const nodes0 = sumCpu(nodePids);
  const r = await run({ ...opts, duration: DURATION });
  const cpu1 = pid ? cpuMs(pid) : undefined;
  const nodesMs = sumCpu(nodePids) - nodes0;
  const out = {
    label,
    connections: opts.connections ?? CONNECTIONS,
    rps: Math.round(r.requests.average),
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    maxms: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    // Server CPU per answered request: less sensitive than req/s to other load on the machine.
    serverCpuUsPerReq: pid ? Math.round(((cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1000) / Math.max(1, r.requests.total)) : undefined,
    // ... of which in the kernel (socket reads and writes): the same syscalls for every server.
    serverSysUsPerReq: pid ? Math.round(((cpu1.system - cpu0.system) * 1000) / Math.max(1, r.requests.total)) : undefined,
    nodesCpuUsPerReq: nodePids.length ? Math.round((nodesMs * 1000) / Math.max(1, r.requests.total)) : undefined,
  };
  console.log(JSON.stringify(out));
  return out;
}

const ruled = {
  key: 'bench-ruled',
  type: 'string',
  variants: { control: 'blue', treatment: 'green', internal: 'red' },
  defaultVariant: 'control',
  enabled: true,
  rules: [
    { conditions: [{ attribute: 'email', op: 'endsWith', value: '@flagraft.dev' }], variant: 'internal' },
    { conditions: [{ attribute: 'country', op: 'in', value: ['DE', 'AT', 'CH'] }, { attribute: 'appVersion', op: 'semverGte', value: '2.1.0' }], variant: 'treatment' },
    { conditions: [{ attribute: 'plan', op: 'equals', value: 'pro' }], rollout: { weights: [{ variant: 'treatment', weight: 25 }, { variant: 'control', weight: 75 }] } },
  ],
};
const context = { context: { targetingKey: 'user-4711', email: 'someone@example.com', country: 'FR', appVersion: '2.3.1', plan: 'pro' } };

/** FLAGRAFT_CLUSTER_ENDPOINTS for the gateway with the leader (or a follower) first; {} for as-is. */
async function endpointOrder(mode) {
  if (mode === 'as-is') return {};
  if (mode !== 'leader' && mode !== 'follower') throw new Error(`--gateway-first-endpoint: as-is, leader or follower, got ${mode}`);
  const leader = (await cluster.leader()).address;
  const rest = cluster.endpoints.filter((e) => e !== leader);
  results.gatewayFirstEndpoint = mode;
  return { FLAGRAFT_CLUSTER_ENDPOINTS: (mode === 'leader' ? [leader, ...rest] : [...rest, leader]).join(',') };
}

let cluster;
const results = { when: new Date().toISOString(), node: process.version, cpus: cpus().length, loadavgBefore: loadavg(), duration: DURATION, warmup: WARMUP, runs: [] };
try {
  cluster = await startLocalCluster({ size: 3 });
  const gw = await startChild(
    'gateway',
    [...args['gateway-node-args'].split(' ').filter(Boolean), resolvePath(gatewayDir, args['gateway-main'])],
    {
      FLAGRAFT_GATEWAY_PORT: '0',
      ...(await cluster.clientEnv('gateway', 'bench')),
      ...(await endpointOrder(args['gateway-first-endpoint'])),
      FLAGRAFT_TOKENS: tokens,
      FLAGRAFT_ACCESS_LOG: args['access-log'],
      // Rate limits off: the load generator evaluates and writes as fast as the
      // gateway answers, from one token; with the default per-token limits
      // (1,000 evaluations/s) it would measure 429s, not the gateway.
      FLAGRAFT_RATE_LIMIT_EVALUATIONS_PER_SEC: '0',
      FLAGRAFT_RATE_LIMIT_WRITES_PER_SEC: '0',
    },
    /"msg":"gateway listening".*?"port":(\d+)/,
  );
  const bare = await startChild('bare', [fileURLToPath(new URL('./bare-server.mjs', import.meta.url))], {}, /"port":(\d+)/);
  const G = `http://127.0.0.1:${gw.port}`;
  const B = `http://127.0.0.1:${bare.port}`;
  for (const deadline = Date.now() + 30_000; ; ) {
    const r = await fetch(`${G}/ready`).catch(() => undefined);
    if (r?.status === 200) break;
    if (Date.now() > deadline) throw new Error('gateway not ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  await http('PUT', `${G}/api/v1/flags/${ruled.key}`, ruled);
  // 100 flags for the bulk run: half with rules, half static.
  const ops = [];
  for (let i = 0; i < 99; i++) {
    ops.push({ op: 'putFlag', flag: i % 2 ? { ...ruled, key: `bulk-${i}` } : { key: `bulk-${i}`, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [] } });
  }
  await http('POST', `${G}/api/v1/batch`, { ops });
  const check = await http('POST', `${G}/ofrep/v1/evaluate/flags/${ruled.key}`, context);
  if (check.reason !== 'SPLIT') throw new Error(`unexpected evaluation ${JSON.stringify(check)}`);

  const evalOpts = { method: 'POST', body: JSON.stringify(context), headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } };
  const idleWait = Number(args['idle-wait-s']);
  for (const deadline = Date.now() + idleWait * 1000; loadavg()[0] > Number(args['idle-load']) && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 2000));
  }
  results.loadavgAtStart = loadavg();
  const bp = bare.child.pid;
  const gp = gw.child.pid;
  // Bare and gateway alternate twice: the machine may be shared, and alternating
  // exposes the noise instead of hiding it in one lucky or unlucky run.
  const bareRuns = [];
  const singleRuns = [];
  for (let round = 1; round <= 2 && STAGES.has('single'); round++) {
    bareRuns.push(await measure(`bare node:http (fixed JSON) #${round}`, { url: `${B}/ofrep/v1/evaluate/flags/x`, ...evalOpts }, bp));
    singleRuns.push(await measure(`gateway OFREP single flag with rules #${round}`, { url: `${G}/ofrep/v1/evaluate/flags/${ruled.key}`, ...evalOpts }, gp));
  }
  results.runs.push(...bareRuns, ...singleRuns);
  const bulk = STAGES.has('bulk') ? await measure('gateway OFREP bulk (100 flags)', { url: `${G}/ofrep/v1/evaluate/flags`, ...evalOpts }, gp) : {};
  if (STAGES.has('bulk')) results.runs.push(bulk);

  // Writes: through the gateway (autocannon) and straight to the cluster (the
  // cluster client in this process), alternating WRITE_ROUNDS times so both
  // see the same machine; the ratio of the means is the figure that matters.
  let n = 0;
  const gatewayWriteOpts = {
    url: `${G}/api/v1/flags/w-0`,
    connections: WRITE_CONNECTIONS,
    requests: [
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        setupRequest: (req) => {
          const key = `w-${n++ % 1000}`;
          return { ...req, path: `/api/v1/flags/${key}`, body: JSON.stringify({ key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: n % 2 ? 'on' : 'off', enabled: true, rules: [] }) };
        },
      },
    ],
  };
  const nodePids = () => cluster.nodes.map((x) => x.pid).filter(Boolean);
  // Same concurrency as autocannon's connections: each worker waits for its answer.
  const client = createClusterClient({ ...cluster.clientOptions() });
  const direct = async (seconds) => {
    const lat = [];
    let errors = 0;
    let m = 0;
    const end = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: WRITE_CONNECTIONS }, async () => {
        while (Date.now() < end) {
          const key = `d-${m++ % 1000}`;
          const t = performance.now();
          try {
            await client.putFlag({ key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: m % 2 ? 'on' : 'off', enabled: true, rules: [] }, { actor: 'bench' });
            lat.push(performance.now() - t);
          } catch {
            errors++;
          }
        }
      }),
    );
    lat.sort((a, b) => a - b);
    return { count: lat.length, errors, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)] };
  };
  const gwWriteRuns = [];
  const directRuns = [];
  for (let round = 1; round <= WRITE_ROUNDS && STAGES.has('writes'); round++) {
    gwWriteRuns.push(await measure(`gateway writes (PUT, answered after commit) #${round}`, gatewayWriteOpts, gp, nodePids()));
    if (WARMUP > 0) await direct(WARMUP);
    const nodes1 = sumCpu(nodePids());
    const gw0 = cpuMs(gp);
    const self0 = process.cpuUsage();
    const d = await direct(DURATION);
    const self1 = process.cpuUsage(self0);
    const gw1 = cpuMs(gp);
    const directOut = {
      label: `cluster client writes (putFlag, straight to the cluster) #${round}`,
      connections: WRITE_CONNECTIONS,
      rps: Math.round(d.count / DURATION),
      p50ms: Math.round(d.p50 * 10) / 10,
      p99ms: Math.round(d.p99 * 10) / 10,
      errors: d.errors,
      // The client's CPU (this process) and the gateway's (following the changes with its watch) per write.
      clientCpuUsPerReq: Math.round((self1.user + self1.system) / Math.max(1, d.count)),
      gatewayCpuUsPerReq: Math.round(((gw1.user + gw1.system - gw0.user - gw0.system) * 1000) / Math.max(1, d.count)),
      nodesCpuUsPerReq: Math.round(((sumCpu(nodePids()) - nodes1) * 1000) / Math.max(1, d.count)),
    };
    console.log(JSON.stringify(directOut));
    directRuns.push(directOut);
  }
  results.runs.push(...gwWriteRuns, ...directRuns);
  client.close();

  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const bareRps = mean(bareRuns.map((r) => r.rps));
  const singleRps = mean(singleRuns.map((r) => r.rps));
  results.loadavgAfter = loadavg();
  results.summary = {
    bareRps: Math.round(bareRps),
    singleRps: Math.round(singleRps),
    singleVsBare: bareRuns.length ? Math.round((singleRps / bareRps) * 1000) / 10 + '%' : undefined,
    p99ms: { bare: bareRuns.map((r) => r.p99ms), single: singleRuns.map((r) => r.p99ms) },
    cpuUsPerReq: { bare: bareRuns.map((r) => r.serverCpuUsPerReq), single: singleRuns.map((r) => r.serverCpuUsPerReq), bulk: bulk.serverCpuUsPerReq },
    sysUsPerReq: { bare: bareRuns.map((r) => r.serverSysUsPerReq), single: singleRuns.map((r) => r.serverSysUsPerReq) },
    bulkRps: bulk.rps,
    bulkP99ms: bulk.p99ms,
    gatewayWritesPerSec: gwWriteRuns.map((r) => r.rps),
    clusterWritesPerSec: directRuns.map((r) => r.rps),
    writesGatewayVsCluster: gwWriteRuns.length ? Math.round((mean(gwWriteRuns.map((r) => r.rps)) / mean(directRuns.map((r) => r.rps))) * 1000) / 10 + '%' : undefined,
    gatewayCpuUsPerWrite: gwWriteRuns.map((r) => r.serverCpuUsPerReq),
    writeP99ms: { gateway: gwWriteRuns.map((r) => r.p99ms), cluster: directRuns.map((r) => r.p99ms) },
    loadavg: { before: results.loadavgAtStart, after: results.loadavgAfter },
  };
  console.log('\nsummary ' + JSON.stringify(results.summary, null, 2));
  if (args.out) writeFileSync(args.out, JSON.stringify(results, null, 2) + '\n');
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  if (cluster) await cluster.stop();
  rmSync(workDir, { recursive: true, force: true });
}
