// A short write-path smoke: a real 3-node cluster (mutual TLS, free loopback
// ports), closed-loop writers on distinct keys through @flagraft/cluster-client,
// like the etcd harness's write phase (c=64) but without its fixed ports.
//   node apps/consensus-node/bench/write-smoke.mjs [--seconds 10] [--writers 64] [--warmup 2] [--dist <consensus-node dist>]
// (build first). `--dist` runs another build of the node (e.g. a copy of the
// previous commit's dist/ with node_modules beside it) for a back-to-back
// comparison on the same machine. Prints one JSON line: writes/s, p50/p99 ms
// and the load average. A smoke on a shared machine, not a figure: figures
// come from bench/etcd on a quiet machine.
import { createClusterClient } from '@flagraft/cluster-client';
import { resolve } from 'node:path';
import { loadavg } from 'node:os';

const args = new Map();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const seconds = Number(args.get('seconds') ?? 10);
const writers = Number(args.get('writers') ?? 64);
const warmup = Number(args.get('warmup') ?? 2);
const dist = resolve(args.get('dist') ?? new URL('../dist', import.meta.url).pathname);
const { startLocalCluster } = await import('@flagraft/testkit');

const flag = (key) => ({ key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [], description: `value of ${key}`.padEnd(256, '.') });

const cluster = await startLocalCluster({ size: 3, mainJs: resolve(dist, 'main.js') });
const client = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 10_000 });
try {
  await cluster.leader();
  let n = 0;
  let measuring = false;
  let stop = false;
  const latencies = [];
  let failed = 0;
  const loops = Array.from({ length: writers }, async () => {
    while (!stop) {
      const key = `smoke-${++n}`;
      const t0 = performance.now();
      try {
        await client.putFlag(flag(key), { actor: 'smoke' });
        if (measuring) latencies.push(performance.now() - t0);
      } catch {
        failed++;
        await new Promise((r) => setImmediate(r));
      }
    }
  });
  await new Promise((r) => setTimeout(r, warmup * 1000));
  measuring = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  const pct = (p) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 10) / 10;
  console.log(JSON.stringify({
    dist, writers, seconds, writes: latencies.length, writesPerSec: Math.round(latencies.length / elapsed * 10) / 10,
    p50Ms: pct(0.5), p99Ms: pct(0.99), failed, loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  }));
} finally {
  client.close?.();
  await cluster.stop();
}
