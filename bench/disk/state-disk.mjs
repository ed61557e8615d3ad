#!/usr/bin/env node
// A node's data dir under N writes over K keys, driving the node's own
// durability path (src/durability.ts: log append + fsync, apply in one state
// transaction, pruning, log compaction) with the real stores and the real
// Reclaimer, but no Raft, network or gRPC: the big counts of issue 15 goal 5
// in minutes instead of hours. Each write is a putFlag command with a client
// and request id (so de-duplication rows are kept too), `--batch` writes per
// Ready, stamped with a simulated clock advancing at `--rate` writes/s (the
// age limits and the de-duplication floor see that rate, not this machine's
// speed). Retention, compaction and reclaim as the node configures them by
// default (apps/consensus-node/src/config.ts DEFAULTS). Between Readies one
// reclaim step runs, as the node interleaves them on its event loop.
//
// Prints one JSON line per `--every` writes: the data dir (both files with
// -wal/-shm), the live flags' JSON bytes, their ratio, the estimated history
// and de-dup bytes, and the longest Ready (a write's stall: persist + apply +
// prune + compaction) and reclaim step so far; at the end where the bytes
// are (SQLite dbstat per table and index, free pages, WALs) and how the
// history and de-dup pages compare with their estimates. The de-dup table holds at
// least rate x FLAGRAFT_DEDUP_MIN_AGE_MS rows (the correctness floor), so
// `--rate` changes the figure; fsync 0 skips the log's fsyncs (same sizes,
// faster; the stall figures then leave out the disk).
//   node bench/disk/state-disk.mjs [--writes 1000000] [--keys 1000] [--every 100000] [--batch 64] [--rate 2000] [--fsync 1]
//                                  [--history-bytes <FLAGRAFT_HISTORY_MAX_BYTES>] [--dedup-bytes <FLAGRAFT_DEDUP_MAX_BYTES>]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => import(path.join(REPO, 'apps', 'consensus-node', 'dist', p));
const { openStorage, spaceReclaimer } = await dist('storage/open.js');
const { RaftStorage } = await dist('storage/raft-storage.js');
const { StateMachine } = await dist('state-machine.js');
const { Durability } = await dist('durability.js');
const { DEFAULTS } = await dist('config.js');
const { TAG_COMMAND } = await dist('entries.js');
const { createLogger } = await dist('log.js');
const { encodeCommand } = await import(path.join(REPO, 'packages', 'flag-model', 'dist', 'index.js'));

const args = new Map();
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (!a.startsWith('--') || i + 1 >= process.argv.length) throw new Error(`expected --name value, got "${a}"`);
  args.set(a.slice(2), process.argv[++i]);
}
const opt = (k, def) => {
  const v = Number(args.get(k) ?? def);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${k} must be a non-negative integer`);
  return v;
};
const writes = opt('writes', 1_000_000);
const keys = opt('keys', 1000);
const every = opt('every', 100_000);
const batch = opt('batch', 64);
const rate = opt('rate', 2000);
const fsync = opt('fsync', 1) === 1;
// Budgets: the node's defaults unless given (bytes).
const R = { ...DEFAULTS.retention, historyMaxBytes: opt('history-bytes', DEFAULTS.retention.historyMaxBytes), dedupMaxBytes: opt('dedup-bytes', DEFAULTS.retention.dedupMaxBytes) };
for (const [k, v] of Object.entries({ writes, keys, every, batch, rate })) if (v <= 0) throw new Error(`--${k} must be positive`);
for (const k of args.keys()) if (!['writes', 'keys', 'every', 'batch', 'rate', 'fsync', 'history-bytes', 'dedup-bytes'].includes(k)) throw new Error(`unknown option --${k}`);

const dir = mkdtempSync(path.join(tmpdir(), 'flagraft-state-disk-'));
const logger = createLogger({ app: 'state-disk' }, 'warn');
const storage = openStorage({ statePath: path.join(dir, 'flagraft.db'), clusterId: 'disk-bench', nodeId: 1, bootstrap: { members: [{ id: 1, address: 'x:1' }] } });
const fsm = new StateMachine(storage.state, { ...R, logger });
const metrics = { readies: 0, fsyncs: 0, txMs: 0, entriesPersisted: 0, entriesApplied: 0, messagesSent: 0 };
const durability = new Durability({
  log: storage.log, storage: new RaftStorage(storage.log, fsm), fsm, logger, metrics,
  node: { applyConfChange: () => { throw new Error('no membership changes here'); }, advance: () => {} },
  send: () => {},
  // No messages and never a leader: every Ready completes inside handle(), as the loop below assumes.
  stopped: () => false,
  snapshotEveryEntries: DEFAULTS.snapshotEveryEntries,
  snapshotCatchUpEntries: DEFAULTS.snapshotCatchUpEntries,
  snapshotEveryBytes: DEFAULTS.snapshotEveryBytes,
  snapshotCatchUpBytes: DEFAULTS.snapshotCatchUpBytes,
  dataBytes: () => storage.log.bytes() + storage.state.bytes(),
});
const reclaimer = spaceReclaimer(storage, DEFAULTS, logger);

const t0Sim = Date.UTC(2026, 0, 1);
const value = (i) => JSON.stringify({ i, pad: 'x'.repeat(80) });
const entry = (index) => {
  const cmd = encodeCommand({ v: 1, actor: 'disk-bench', clientId: 'bench-client', requestId: `r${index}`, time: t0Sim + Math.floor((index * 1000) / rate), op: 'putFlag',
    flag: { key: `flag-${index % keys}`, type: 'string', variants: { v: value(index) }, defaultVariant: 'v', enabled: true, rules: [] } });
  const data = new Uint8Array(cmd.length + 1);
  data[0] = TAG_COMMAND;
  data.set(cmd, 1);
  return { term: 1, index, type: 0, data };
};
const hooks = { answer: () => {}, afterAdvance: () => {} };
const readyMs = [];
const stepMs = [];
const pct = (xs, p) => (xs.length ? Math.round(xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] * 10) / 10 : 0);
let maxReadyMs = 0;
const t0 = Date.now();
// Ctrl-C / SIGTERM stop at the next report line (the loop yields there), and the temporary data dir is still removed.
let stopRequested = false;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopRequested = true; });
const fileBytes = (p) => { try { return statSync(p).size; } catch { return 0; } };
const mb = (n) => Math.round(n / 1e5) / 10;
try {
  for (let i = 1; i <= writes && !stopRequested;) {
    const last = Math.min(writes, i + batch - 1);
    const entries = [];
    for (let j = i; j <= last; j++) entries.push(entry(j));
    const started = performance.now();
    durability.handle({ entries, committedEntries: entries, hardState: { term: 1, vote: 1, commit: last }, messages: [], mustSync: fsync, readStates: [] }, false, hooks);
    const ms = performance.now() - started;
    if (durability.appliedIndex() !== last) throw new Error(`Ready for ${last} did not complete inside handle() (applied ${durability.appliedIndex()}): the bench must follow durability.ts`);
    readyMs.push(ms);
    if (ms > maxReadyMs) maxReadyMs = ms;
    const stepsBefore = reclaimer.stats.steps;
    const stepStarted = performance.now();
    reclaimer.step();
    if (reclaimer.stats.steps > stepsBefore) stepMs.push(performance.now() - stepStarted);
    if (Math.floor(last / every) > Math.floor((i - 1) / every) || last === writes) {
      const live = storage.state.allJson('flag').reduce((a, j) => a + Buffer.byteLength(j), 0);
      const stateBytes = storage.state.bytes();
      const logBytes = storage.log.bytes();
      readyMs.sort((a, b) => a - b);
      console.log(JSON.stringify({
        writes: last, keys, rate, seconds: Math.round((Date.now() - t0) / 1000),
        dataDirMB: mb(stateBytes + logBytes), stateMB: mb(stateBytes), logMB: mb(logBytes), liveFlagJsonKB: Math.round(live / 1000),
        ratio: Math.round(((stateBytes + logBytes) / live) * 10) / 10,
        // The target (10 x live + the history budget, which holds the local margins, de-dup and history: retention.ts).
        targetMB: mb(10 * live + R.historyMaxBytes), reservedMB: mb(R.reservedBytes),
        historyMB: mb(storage.state.changesBytes()), dedupMB: mb(storage.state.requestsBytes()), logEntriesMB: mb(storage.log.entriesBytes()),
        rows: storage.state.liveCounts(),
        p50ReadyMs: pct(readyMs, 0.5), p99ReadyMs: pct(readyMs, 0.99), maxReadyMs: Math.round(maxReadyMs * 10) / 10,
        reclaim: { steps: reclaimer.stats.steps, pages: reclaimer.stats.pages, p50StepMs: pct(stepMs.sort((a, b) => a - b), 0.5), p99StepMs: pct(stepMs, 0.99), maxStepMs: Math.round(reclaimer.stats.maxStepMs * 10) / 10 },
      }));
      readyMs.length = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
    i = last + 1;
  }
  // Where the bytes are, before anything is vacuumed: each table's and index's pages (SQLite's dbstat), the
  // -wal files and the free pages; history and de-dup on disk against their estimates.
  const Database = (await import(path.join(REPO, 'apps', 'consensus-node', 'node_modules', 'better-sqlite3', 'lib', 'index.js'))).default;
  const { registerChecksumFunctions } = await dist('storage/checksum.js');
  const breakdown = {};
  for (const f of ['flagraft.db', 'raft-log.db']) {
    const db = new Database(path.join(dir, f), { readonly: true });
    const rows = db.prepare('SELECT name, count(*) AS pages, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all();
    breakdown[f] = {
      tablesKB: Object.fromEntries(rows.filter((r) => r.bytes >= 8192).map((r) => [r.name, Math.round(r.bytes / 1000)])),
      freePagesKB: Math.round((db.pragma('freelist_count', { simple: true }) * 4096) / 1000),
      walKB: Math.round(fileBytes(path.join(dir, `${f}-wal`)) / 1000),
    };
    db.close();
  }
  const onDisk = (names) => names.reduce((a, n) => a + (breakdown['flagraft.db'].tablesKB[n] ?? 0) * 1000, 0);
  console.log(JSON.stringify({
    breakdown,
    historyOnDiskPerEstimate: Math.round((onDisk(['changes', 'changes_key']) / storage.state.changesBytes()) * 100) / 100,
    dedupOnDiskPerEstimate: Math.round((onDisk(['client_requests', 'client_requests_rev']) / Math.max(1, storage.state.requestsBytes())) * 100) / 100,
  }));
  // What a one-shot VACUUM of the state file would stall a write for (the incremental steps above replace it).
  const vacuumStarted = performance.now();
  const side = new Database(path.join(dir, 'flagraft.db'));
  registerChecksumFunctions(side);
  side.exec('VACUUM');
  side.pragma('wal_checkpoint(TRUNCATE)');
  side.close();
  console.log(JSON.stringify({ fullVacuumOfStateFileMs: Math.round(performance.now() - vacuumStarted), stateMBAfterVacuum: mb(storage.state.bytes()) }));
  console.log(JSON.stringify({ budgets: { historyMaxBytes: R.historyMaxBytes, reservedBytes: R.reservedBytes, dedupMaxBytes: R.dedupMaxBytes, dedupMinAgeMs: R.dedupMinAgeMs, snapshotEveryBytes: DEFAULTS.snapshotEveryBytes, snapshotCatchUpBytes: DEFAULTS.snapshotCatchUpBytes }, fsync, batch, loadavg: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100) }));
} finally {
  reclaimer.stop();
  storage.log.close();
  storage.state.close();
  rmSync(dir, { recursive: true, force: true });
}
