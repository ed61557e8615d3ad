#!/usr/bin/env node
// The state file's size under N writes over K keys, driving the node's state
// machine directly (no Raft, no network: the big counts of issue 15 goal 5 in
// minutes instead of hours). Each write is a putFlag command with a client
// and request id (so de-duplication rows are kept too), applied in batches
// like the Ready loop does; retention as the node configures it. It measures
// flagraft.db (+ -wal/-shm) only, not the Raft log (bounded by
// FLAGRAFT_SNAPSHOT_EVERY + FLAGRAFT_SNAPSHOT_CATCHUP_ENTRIES entries); use
// bench/etcd/disk.mjs for a whole data dir through a real cluster.
//   node bench/disk/state-disk.mjs [--writes 1000000] [--keys 1000] [--every 100000] [--batch 64]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => import(path.join(REPO, 'apps', 'consensus-node', 'dist', p));
const { openStorage } = await dist('storage/open.js');
const { StateMachine } = await dist('state-machine.js');
const { DEFAULTS } = await dist('config.js');
const { TAG_COMMAND } = await dist('entries.js');
const { encodeCommand } = await import(path.join(REPO, 'packages', 'flag-model', 'dist', 'index.js'));

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const writes = Number(args.writes ?? 1_000_000);
const keys = Number(args.keys ?? 1000);
const every = Number(args.every ?? 100_000);
const batch = Number(args.batch ?? 64);
for (const [k, v] of Object.entries({ writes, keys, every, batch })) if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`--${k} must be a positive integer`);

const dir = mkdtempSync(path.join(tmpdir(), 'flagraft-state-disk-'));
const storage = openStorage({ statePath: path.join(dir, 'flagraft.db'), clusterId: 'disk-bench', nodeId: 1, bootstrap: { members: [{ id: 1, address: 'x:1' }] } });
// As node-core.ts configures the state machine.
const fsm = new StateMachine(storage.state, {
  changesRetentionRevisions: DEFAULTS.changesRetentionRevisions,
  dedupWindowRevisions: DEFAULTS.dedupWindowRevisions,
  pruneEveryRevisions: Math.max(1, Math.min(1000, Math.floor(Math.min(DEFAULTS.changesRetentionRevisions, DEFAULTS.dedupWindowRevisions) / 4))),
});
const value = (i) => JSON.stringify({ i, pad: 'x'.repeat(80) });
const entry = (index) => {
  const cmd = encodeCommand({ v: 1, actor: 'disk-bench', clientId: 'bench-client', requestId: `r${index}`, time: Date.now(), op: 'putFlag',
    flag: { key: `flag-${index % keys}`, type: 'string', variants: { v: value(index) }, defaultVariant: 'v', enabled: true, rules: [] } });
  const data = new Uint8Array(cmd.length + 1);
  data[0] = TAG_COMMAND;
  data.set(cmd, 1);
  return { term: 1, index, type: 0, data };
};
const t0 = Date.now();
try {
  for (let i = 1; i <= writes;) {
    const last = Math.min(writes, i + batch - 1);
    fsm.atomically({ index: last, term: 1 }, () => { for (let j = i; j <= last; j++) fsm.apply(entry(j)); });
    if (Math.floor(last / every) > Math.floor((i - 1) / every) || last === writes) {
      const live = storage.state.allJson('flag').reduce((a, j) => a + Buffer.byteLength(j), 0);
      console.log(JSON.stringify({ writes: last, keys, seconds: Math.round((Date.now() - t0) / 1000), stateFileBytes: storage.state.bytes(), liveFlagJsonBytes: live, ratio: Math.round((storage.state.bytes() / live) * 10) / 10, rows: storage.state.liveCounts() }));
    }
    i = last + 1;
  }
} finally {
  storage.log.close();
  storage.state.close();
  rmSync(dir, { recursive: true, force: true });
}
