// Backup and restore figures between two real 3-node clusters on this machine.
//   node apps/consensus-node/bench/backup-restore.mjs [flags=1000] [versions=10] [descriptionBytes=200]
// (build first: pnpm --filter @flagraft/consensus-node build). Prints one JSON
// object per measurement. A write loop runs against the source cluster during
// the backup and against the target after the restore's commit, to show the
// node keeps answering while a backup streams.
import { createClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster } from '@flagraft/testkit';

const [flags = 1000, versions = 10, descBytes = 200] = process.argv.slice(2).map(Number);
const BATCH = 50;
const flag = (key, i) => ({ key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: i % 2 ? 'on' : 'off', enabled: true, rules: [], description: `v${i} `.padEnd(descBytes, 'x') });
const out = (o) => console.log(JSON.stringify(o));

const clusters = [];
try {
  const src = await startLocalCluster({ size: 3 });
  clusters.push(src);
  const a = createClusterClient({ ...src.clientOptions(), retryDeadlineMs: 30_000 });
  let t = Date.now();
  for (let v = 0; v < versions; v++) {
    for (let i = 0; i < flags; i += BATCH) {
      const ops = [];
      for (let k = i; k < Math.min(flags, i + BATCH); k++) ops.push({ op: 'putFlag', flag: flag(`flag-${k}`, v) });
      await a.batch(ops, { actor: `writer-${v % 3}` });
    }
  }
  out({ step: 'load', flags, changes: flags * versions, ms: Date.now() - t });

  // A write loop beside the backup: its slowest write shows whether the leader stalls.
  const probe = (client, prefix) => {
    let stop = false; let max = 0; let n = 0;
    const done = (async () => {
      while (!stop) {
        const s = performance.now();
        await client.putFlag(flag(`${prefix}-${n++ % 10}`, n), { actor: 'probe' });
        max = Math.max(max, performance.now() - s);
      }
    })();
    return async () => { stop = true; await done; return { writes: n, maxWriteMs: Math.round(max) }; };
  };
  const stopProbe = probe(a, 'probe-src');
  t = performance.now();
  const b = await a.backup();
  const backupMs = performance.now() - t;
  const probeDuring = await stopProbe();
  const bytes = [b.segmentsJson, b.flagsJson, b.changesJson].flat().reduce((n, s) => n + Buffer.byteLength(s), 0);
  out({ step: 'backup', revision: b.revision, flags: b.flagsJson.length, changes: b.changesJson.length, itemMB: +(bytes / 1048576).toFixed(2), ms: Math.round(backupMs), MBperS: +(bytes / 1048576 / (backupMs / 1000)).toFixed(1), ...probeDuring });

  const doc = {
    format: 'flagraft-backup', v: 1, clusterId: b.clusterId, revision: b.revision, createdAt: b.createdAt,
    segments: b.segmentsJson.map((j) => JSON.parse(j)), flags: b.flagsJson.map((j) => JSON.parse(j)), changes: b.changesJson.map((j) => JSON.parse(j)),
  };
  const dst = await startLocalCluster({ size: 3, clusterId: 'restore-target' });
  clusters.push(dst);
  const c = createClusterClient({ ...dst.clientOptions(), retryDeadlineMs: 30_000 });
  t = performance.now();
  const r = await c.restore(doc, { actor: 'bench' });
  const restoreMs = performance.now() - t;
  out({ step: 'restore', revision: r.revision, entries: r.entries, ms: Math.round(restoreMs), MBperS: +(bytes / 1048576 / (restoreMs / 1000)).toFixed(1) });
  const snap = await c.snapshotAll();
  const hist = await c.history('flag-0', { limit: 1000 });
  out({ step: 'verify', flags: snap.flags.length, flagsEqual: JSON.stringify(snap.flags) === JSON.stringify(doc.flags), historyOfFlag0: hist.length });
  const st = await c.status();
  out({ step: 'target', appliedIndex: st.appliedIndex, appliedRevision: st.appliedRevision, dbMB: +(st.dbBytes / 1048576).toFixed(1) });
  a.close(); c.close();
} finally {
  await Promise.all(clusters.map((x) => x.stop()));
}
