#!/usr/bin/env node
// Disk use under an endless write load: N writes over K keys (~100-byte
// values, 64 in flight) against the bench cluster (flagraft-cluster.mjs),
// printing each node's data dir size as it goes. Live data = K flags.
//   node disk.mjs [--writes 1000000] [--keys 1000] [--concurrency 64] [--every 50000]
import path from 'node:path';
import { MEMBERS, REPO, clientSecurity, dataDirBytes, startAll, stopAll } from './flagraft-cluster.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const writes = Number(args.writes ?? 1_000_000);
const keys = Number(args.keys ?? 1000);
const concurrency = Number(args.concurrency ?? 64);
const every = Number(args.every ?? 50_000);
const { createClusterClient } = await import(path.join(REPO, 'packages', 'cluster-client', 'dist', 'index.js'));

await startAll();
const client = createClusterClient({ endpoints: MEMBERS.map((m) => m.address), ...(await clientSecurity()), retryDeadlineMs: 30_000 });
const value = (i) => JSON.stringify({ i, pad: 'x'.repeat(80) });
const flagOf = (key, i) => ({ key, type: 'string', variants: { v: value(i) }, defaultVariant: 'v', enabled: true, rules: [] });
const sizes = () => Object.fromEntries(MEMBERS.map((m) => [m.name, dataDirBytes(m.name)]));
const t0 = Date.now();
let issued = 0;
let done = 0;
let nextReport = every;
const rows = [];
try {
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (issued < writes) {
      const i = issued++;
      await client.putFlag(flagOf(`flag-${i % keys}`, i), { actor: 'disk-bench' });
      done++;
      if (done >= nextReport) {
        nextReport += every;
        const st = await client.status();
        const row = { writes: done, seconds: Math.round((Date.now() - t0) / 1000), writesPerSec: Math.round(done / ((Date.now() - t0) / 1000)), dataDirBytes: sizes(), firstIndex: st.firstIndex, lastIndex: st.lastIndex };
        rows.push(row);
        console.log(JSON.stringify(row));
      }
    }
  }));
  const snap = await client.snapshotAll();
  const live = Buffer.byteLength(JSON.stringify(snap.flags));
  console.log(JSON.stringify({ done, seconds: Math.round((Date.now() - t0) / 1000), liveFlags: snap.flags.length, liveJsonBytes: live, dataDirBytes: sizes() }));
} finally {
  client.close();
  if (process.env.FLAGRAFT_BENCH_KEEP !== '1') await stopAll();
}
