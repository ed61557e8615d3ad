#!/usr/bin/env node
// The gateway's own CPU per write: PUT /api/v1/flags/:key through gateways in
// front of an in-memory cluster (write-path-server.mjs), several builds
// alternating round by round, so a before/after comparison sees the same machine.
//
//   node bench/gateway/write-path.mjs --builds dist,node_modules/.dist-main [--rounds 3] [--duration 5] [--connections 64]
//
// Builds are directories relative to apps/gateway. Reports per round: writes/s
// and the gateway process's CPU time per write (user + system, from /proc).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    builds: { type: 'string', default: 'dist' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '64' },
    'node-args': { type: 'string', default: '' },
  },
});
const root = fileURLToPath(new URL('../../', import.meta.url));
const req = createRequire(join(root, 'apps/gateway/package.json'));
const autocannon = (await import(pathToFileURL(req.resolve('autocannon')).href)).default;
const TOKEN = 'write-path-token';
const builds = args.builds.split(',').filter(Boolean);

function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

function start(build) {
  const child = spawn(process.execPath, [...args['node-args'].split(' ').filter(Boolean), fileURLToPath(new URL('./write-path-server.mjs', import.meta.url)), build], {
    env: { ...process.env, BENCH_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d;
      const m = /\{"port":(\d+)\}/.exec(buf);
      if (m) {
        child.stdout.off('data', onData);
        child.stdout.resume(); // access log lines: drained, not kept
        resolve({ child, port: Number(m[1]) });
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${build}: exited ${code}`)));
  });
}

const run = (port, duration) =>
  new Promise((resolve, reject) => {
    let n = 0;
    autocannon(
      {
        url: `http://127.0.0.1:${port}/api/v1/flags/w-0`,
        connections: Number(args.connections),
        duration,
        requests: [{
          method: 'PUT',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          setupRequest: (r) => {
            const key = `w-${n++ % 1000}`;
            return { ...r, path: `/api/v1/flags/${key}`, body: JSON.stringify({ key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: n % 2 ? 'on' : 'off', enabled: true, rules: [] }) };
          },
        }],
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    );
  });

const servers = [];
try {
  for (const b of builds) servers.push({ build: b, ...(await start(b)) });
  const summary = new Map(builds.map((b) => [b, []]));
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const s of servers) {
      if (Number(args.warmup) > 0) await run(s.port, Number(args.warmup));
      const c0 = cpuMs(s.child.pid);
      const r = await run(s.port, Number(args.duration));
      const us = ((cpuMs(s.child.pid) - c0) * 1000) / Math.max(1, r.requests.total);
      const out = { round, build: s.build, rps: Math.round(r.requests.average), p99ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors, cpuUsPerWrite: Math.round(us), load1: loadavg()[0] };
      console.log(JSON.stringify(out));
      summary.get(s.build).push(out.cpuUsPerWrite);
    }
  }
  for (const [b, xs] of summary) console.log(`${b}: CPU µs per write ${xs.join(' / ')}`);
} finally {
  for (const s of servers) s.child.kill('SIGTERM');
}
