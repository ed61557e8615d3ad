#!/usr/bin/env node
// OFREP evaluation against the bare node:http ceiling, many short alternating
// rounds (issue 15 goal 6). On a shared 2-core machine one long run says
// little; the median of per-round ratios (each round: the bare server, then
// each gateway build, back to back) says more.
//
//   node bench/gateway/ofrep.mjs [--builds dist,node_modules/.dist-main] [--rounds 5]
//     [--duration 4] [--warmup 1] [--connections 64] [--bulk-duration 3]
//     [--gateway-node-args "--max-semi-space-size=32"]  (or "dist=...;other=..." per build)
//     [--cpu-prof DIR]   (profile each server; SIGTERM writes DIR/<build>/*.cpuprofile, DIR/bare/)
//     [--contexts N]     (N >= 2: each connection cycles through N contexts, so no body repeats its predecessor)
//
// Each build (relative to apps/gateway) runs as its own process in front of
// write-path-server.mjs's in-memory cluster: OFREP reads only the gateway's
// replica, so the nodes would add nothing but noise here (bench.mjs runs the
// same requests against a real 3-node cluster). Same flag, context and
// settings as bench.mjs: a flag with three rules whose context lands in the
// 25/75 rollout, and 100 flags (half ruled, half static) for bulk.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    builds: { type: 'string', default: 'dist' },
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '4' },
    'bulk-duration': { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '64' },
    'cpu-prof': { type: 'string', default: '' },
    'skip-bulk': { type: 'boolean', default: false },
    // Distinct contexts each connection cycles through (targetingKey differs): with 2 or more no request
    // repeats its connection's previous body, so the gateway's per-connection context memo never hits.
    contexts: { type: 'string', default: '1' },
    // Node options for the gateways, space-separated; "BUILD=opts;BUILD2=opts" gives each build its own.
    'gateway-node-args': { type: 'string', default: '' },
  },
});
const num = (name) => {
  const v = Number(args[name]);
  if (!(v >= 0)) throw new Error(`--${name}: expected a number >= 0, got ${args[name]}`);
  return v;
};
const ROUNDS = num('rounds');
const DURATION = num('duration');
const BULK_DURATION = num('bulk-duration');
const WARMUP = num('warmup');
const CONNECTIONS = num('connections');
const builds = args.builds.split(',').map((b) => b.trim()).filter(Boolean);

const root = fileURLToPath(new URL('../../', import.meta.url));
const gatewayDir = join(root, 'apps/gateway');
const requireFromGateway = createRequire(join(gatewayDir, 'package.json'));
const autocannon = (await import(pathToFileURL(requireFromGateway.resolve('autocannon')).href)).default;

const TOKEN = 'ofrep-bench-' + Math.random().toString(36).slice(2);
const workDir = mkdtempSync(join(tmpdir(), 'flagraft-ofrep-bench-'));
const children = [];

function startChild(name, argv, env) {
  const logFile = join(workDir, `${name.replace(/[^\w.-]/g, '_')}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.push(child);
  const deadline = Date.now() + 30_000;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const text = readFileSync(logFile, 'utf8');
      const m = /"port":(\d+)/.exec(text);
      if (m) return resolve({ child, url: `http://127.0.0.1:${m[1]}` });
      if (child.exitCode !== null) return reject(new Error(`${name} exited: ${text.slice(-2000)}`));
      if (Date.now() > deadline) return reject(new Error(`${name} did not start: ${text.slice(-2000)}`));
      setTimeout(poll, 50);
    };
    poll();
  });
}

function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime at 100 ticks/s
}

const run = (opts) => new Promise((resolve, reject) => autocannon({ connections: CONNECTIONS, pipelining: 1, ...opts }, (err, r) => (err ? reject(err) : resolve(r))));

async function measure(opts, pid, duration) {
  if (WARMUP > 0) await run({ ...opts, duration: WARMUP });
  const load = loadavg()[0];
  const c0 = cpuMs(pid);
  const r = await run({ ...opts, duration });
  const cpu = cpuMs(pid) - c0;
  if (r.non2xx || r.errors) throw new Error(`${opts.url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return { rps: Math.round(r.requests.average), p99: r.latency.p99, cpuUs: Math.round((cpu * 1000) / Math.max(1, r.requests.total)), load: Math.round(load * 10) / 10 };
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
const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
const evalOpts = { method: 'POST', body: JSON.stringify(context), headers };
const CONTEXTS = num('contexts');
if (CONTEXTS > 1) {
  // Every key still lands in the rollout rule (plan pro): only the bucket differs.
  evalOpts.requests = Array.from({ length: CONTEXTS }, (_, i) => ({ method: 'POST', body: JSON.stringify({ context: { ...context.context, targetingKey: `user-${4711 + i}` } }) }));
}

async function put(base, flag) {
  const res = await fetch(`${base}/api/v1/flags/${flag.key}`, { method: 'PUT', headers, body: JSON.stringify(flag) });
  if (res.status >= 300) throw new Error(`PUT ${flag.key}: ${res.status} ${await res.text()}`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const bareArgs = [];
  if (args['cpu-prof']) {
    mkdirSync(join(args['cpu-prof'], 'bare'), { recursive: true });
    bareArgs.push('--cpu-prof', `--cpu-prof-dir=${join(args['cpu-prof'], 'bare')}`);
  }
  const bare = await startChild('bare', [...bareArgs, fileURLToPath(new URL('./bare-server.mjs', import.meta.url))], {});
  const gateways = [];
  for (const build of builds) {
    const spec = args['gateway-node-args'];
    const own = spec.includes('=') && !spec.startsWith('-') ? spec.split(';').map((x) => x.split(/=(.*)/s)).find(([b]) => b === build)?.[1] ?? '' : spec;
    const nodeArgs = own.split(' ').filter(Boolean);
    if (args['cpu-prof']) {
      const dir = join(args['cpu-prof'], build.replace(/[^\w.-]/g, '_'));
      mkdirSync(dir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
    }
    const g = await startChild(`gateway-${build}`, [...nodeArgs, fileURLToPath(new URL('./write-path-server.mjs', import.meta.url)), build], { BENCH_TOKEN: TOKEN });
    await put(g.url, ruled);
    for (let i = 0; i < 99; i++) {
      await put(g.url, i % 2 ? { ...ruled, key: `bulk-${i}` } : { key: `bulk-${i}`, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [] });
    }
    const check = await (await fetch(`${g.url}/ofrep/v1/evaluate/flags/${ruled.key}`, evalOpts)).json();
    if (check.reason !== 'SPLIT') throw new Error(`${build}: unexpected evaluation ${JSON.stringify(check)}`);
    gateways.push({ build, ...g, single: [], bulk: [] });
  }
  const bareRuns = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const b = await measure({ url: `${bare.url}/ofrep/v1/evaluate/flags/x`, ...evalOpts }, bare.child.pid, DURATION);
    bareRuns.push(b);
    const line = [`round ${round}: bare ${b.rps} req/s p99 ${b.p99} ms ${b.cpuUs} µs/req (load ${b.load})`];
    for (const g of gateways) {
      const s = await measure({ url: `${g.url}/ofrep/v1/evaluate/flags/${ruled.key}`, ...evalOpts }, g.child.pid, DURATION);
      s.ratio = s.rps / b.rps;
      g.single.push(s);
      line.push(`${g.build} ${s.rps} req/s (${(s.ratio * 100).toFixed(1)} %) p99 ${s.p99} ms ${s.cpuUs} µs/req (load ${s.load})`);
    }
    for (const g of gateways) {
      if (args['skip-bulk']) break;
      const k = await measure({ url: `${g.url}/ofrep/v1/evaluate/flags`, ...evalOpts }, g.child.pid, BULK_DURATION);
      g.bulk.push(k);
      line.push(`${g.build} bulk ${k.rps} req/s = ${k.rps * 100} flags/s p99 ${k.p99} ms ${k.cpuUs} µs/req (load ${k.load})`);
    }
    console.log(line.join('\n  '));
  }
  const summary = {
    when: new Date().toISOString(),
    rounds: ROUNDS,
    durationS: DURATION,
    connections: CONNECTIONS,
    contexts: CONTEXTS,
    bare: { medianRps: median(bareRuns.map((r) => r.rps)), medianP99Ms: median(bareRuns.map((r) => r.p99)), medianCpuUsPerReq: median(bareRuns.map((r) => r.cpuUs)) },
    loadavg: [Math.min(...bareRuns.map((r) => r.load)), Math.max(...bareRuns.map((r) => r.load))],
    builds: gateways.map((g) => ({
      build: g.build,
      medianRatio: Math.round(median(g.single.map((s) => s.ratio)) * 1000) / 10 + ' %',
      ratios: g.single.map((s) => Math.round(s.ratio * 1000) / 10),
      medianRps: median(g.single.map((s) => s.rps)),
      medianP99Ms: median(g.single.map((s) => s.p99)),
      p99Ms: g.single.map((s) => s.p99),
      medianCpuUsPerReq: median(g.single.map((s) => s.cpuUs)),
      bulkMedianFlagsPerSec: g.bulk.length ? median(g.bulk.map((k) => k.rps)) * 100 : undefined,
      bulkMedianP99Ms: g.bulk.length ? median(g.bulk.map((k) => k.p99)) : undefined,
      bulkMedianCpuUsPerReq: g.bulk.length ? median(g.bulk.map((k) => k.cpuUs)) : undefined,
    })),
  };
  console.log('summary ' + JSON.stringify(summary, null, 2));
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  rmSync(workDir, { recursive: true, force: true });
}
