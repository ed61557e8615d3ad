// One torture run: start the cluster, run clients and the scenario's faults
// for the duration, heal, demand progress (a fence write and a final read of
// every key), then check the history (linearizability, stale reads) and both
// change streams. Everything started is stopped in finally. A failing run
// writes its history and the minimal failing windows to a file.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkHistory, checkStream, committedLog, describeOp, type Op } from '@flagraft/history-check';
import { TOKEN, TortureCluster, type NodeLogLevel } from './cluster.js';
import { heal, restartDead, voters, waitUntil, type FaultContext } from './faults.js';
import { History } from './history.js';
import { Rng } from './rng.js';
import { scenarioByName } from './scenarios.js';
import { recordSse, recordWatch, type StreamRecorder } from './streams.js';
import { GrpcTransport, HttpTransport, type Transport } from './transports.js';
import { runClient } from './workload.js';

export interface RunOptions {
  scenario: string;
  seed: number;
  durationMs: number;
  /** Clients (half HTTP through the gateways, half gRPC); default 4. */
  clients?: number;
  /** gRPC clients that only read (workload.ts readOnly), besides `clients`; default 1. */
  readers?: number;
  keys?: number;
  electionTimeoutMs?: number;
  /** FLAGRAFT_INJECT_BUG for every node. */
  injectBug?: string;
  /** Where a failing run's file goes (default ./torture-failures). */
  outDir?: string;
  /** Called with each schedule line as it happens. */
  onLine?: (line: string) => void;
  /**
   * After healing, clients keep working until at least this many operations
   * completed (bounded by MIN_OPS_WAIT_MS), so a loaded machine still yields a
   * history worth checking instead of a run judged on a handful of ops.
   */
  minCompletedOps?: number;
  /** FLAGRAFT_LOG_LEVEL of the nodes (default warn). */
  nodeLogLevel?: NodeLogLevel;
  /**
   * Keep the cluster's base dir (node-N.log, data dirs) after the run:
   * 'anomaly' only when the verdict is an anomaly, 'always' every run. Its
   * path is in the report (keptDir). Default: removed.
   */
  keep?: 'anomaly' | 'always';
}

export interface RunReport {
  scenario: string;
  seed: number;
  durationMs: number;
  injectBug?: string;
  schedule: string[];
  ops: number;
  completed: number;
  pending: number;
  excluded: number;
  excludedWhy: Record<string, number>;
  pendingWhy: Record<string, number>;
  staleReads: number;
  streamEvents: Record<string, number>;
  failures: string[];
  anomalies: string[];
  verdict: 'ok' | 'anomaly';
  file?: string;
  /** The base dir kept (options.keep): node-N.log per node. */
  keptDir?: string;
  checkMs: number;
  wallMs: number;
}

/** After healing, the cluster must commit a write within this (ms). */
export const PROGRESS_TIMEOUT_MS = 30_000;
/** How long clients may keep working after healing to reach minCompletedOps (ms). */
export const MIN_OPS_WAIT_MS = 30_000;
/** Membership changes a run may make (spare node ids beyond the initial voters). */
const SPARE_IDS = 3;

export async function runScenario(o: RunOptions): Promise<RunReport> {
  const started = Date.now();
  const scenario = scenarioByName(o.scenario);
  const rng = new Rng(o.seed);
  const electionMs = o.electionTimeoutMs ?? 300;
  const schedule: string[] = [];
  const anomalies: string[] = [];
  const line = (s: string) => {
    const l = `${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s ${s}`;
    schedule.push(l);
    o.onLine?.(l);
  };
  const c = new TortureCluster({
    size: scenario.size,
    maxId: scenario.size + SPARE_IDS,
    gateways: 2,
    rng: rng.fork(),
    electionTimeoutMs: electionMs,
    tmpfsNodes: scenario.tmpfsNodes,
    tmpfsBytes: 32 * 1024 * 1024,
    injectBug: o.injectBug,
    env: scenario.env,
    clockControl: scenario.clockControl,
    nodeLogLevel: o.nodeLogLevel,
  });
  const h = new History();
  const keys = Array.from({ length: o.keys ?? 6 }, (_, i) => `k${i}`);
  const streams: StreamRecorder[] = [];
  const transports: Transport[] = [];
  let fenceRevision = 0;
  try {
    line(`start ${scenario.name} seed ${o.seed}: ${scenario.size} nodes${o.injectBug ? `, INJECTED BUG ${o.injectBug}` : ''}`);
    await c.start();
    const clock = () => h.now();
    const watch = recordWatch('watch', c.local.clientOptions(), clock);
    c.joinListeners.add((address) => watch.addEndpoint?.(address));
    streams.push(watch);
    streams.push(recordSse('sse', c.gateways[1].url, TOKEN, clock));
    const nClients = o.clients ?? 4;
    for (let i = 0; i < nClients; i++) {
      transports.push(i % 2 === 0
        ? new HttpTransport(`http${i}`, c.gateways[(i / 2) % c.gateways.length].url, TOKEN)
        : new GrpcTransport(`grpc${i}`, c.local.clientOptions()));
    }
    let stop = false;
    const endAt = Date.now() + o.durationMs;
    const work = transports.map((t) => runClient(t.name, t, h, rng.fork(), { keys, thinkMs: 5 }, () => stop));
    const x: FaultContext = {
      c, rng: rng.fork(), electionMs, log: line, anomaly: (a) => { anomalies.push(a); line(`ANOMALY ${a}`); },
      done: () => Date.now() >= endAt,
      size: scenario.size,
      spareIds: Array.from({ length: SPARE_IDS }, (_, i) => scenario.size + 1 + i),
    };
    // Readers draw their generators after the faults' one: a seed's fault schedule stays what it was before they existed.
    for (let i = 0; i < (o.readers ?? 1); i++) {
      const t = new GrpcTransport(`reader${i}`, c.local.clientOptions());
      transports.push(t);
      work.push(runClient(t.name, t, h, rng.fork(), { keys, thinkMs: 5, readOnly: true }, () => stop));
    }
    try {
      await scenario.run(x);
    } catch (e) {
      x.anomaly(`the harness failed during the faults: ${(e as Error).stack?.split('\n').slice(0, 3).join(' ')}`);
    }
    heal(x, 'heal all');
    await restartDead(x, await voters(c));
    const want = o.minCompletedOps ?? 0;
    const completed = () => h.completed();
    if (completed() < want) {
      line(`${completed()} ops completed; clients continue until ${want}`);
      if (!(await waitUntil(MIN_OPS_WAIT_MS, () => completed() >= want))) {
        x.anomaly(`only ${completed()} operations completed within ${MIN_OPS_WAIT_MS / 1000} s after healing (wanted ${want})`);
      }
    }
    stop = true;
    await Promise.all(work);
    line(`clients stopped: ${h.ops.length} ops`);

    // Progress after healing: a fence write through the cluster client, then a final read of every key.
    const fence = transports.find((t) => t instanceof GrpcTransport) ?? transports[0];
    let fenceWhy = '';
    const fenced = await waitUntil(PROGRESS_TIMEOUT_MS, async () => {
      const out = await h.record('final', fence.name, { kind: 'put', key: keys[0], value: `fence-${o.seed}-${h.ops.length}` }, () => fence.put(keys[0], `fence-${o.seed}-${h.ops.length}`));
      if (out.type === 'pending') fenceWhy = out.detail ? `${out.why}: ${out.detail}` : out.why;
      return out.type === 'ok' && (out.result as { ok: boolean; revision?: number }).ok ? (out.result as { revision: number }).revision : undefined;
    }, 200);
    if (!fenced) {
      x.anomaly(`no write committed within ${PROGRESS_TIMEOUT_MS / 1000} s after healing${fenceWhy ? ` (last: ${fenceWhy.slice(0, 240)})` : ''}`);
      for (const l of await c.describeNodes()) line(l);
    }
    else {
      fenceRevision = fenced;
      line(`fence write committed at revision ${fenced}`);
      for (const k of keys) await h.record('final', fence.name, { kind: 'read', key: k }, () => fence.read(k, false));
      for (const s of streams) {
        const ok = await waitUntil(15_000, () => s.delivered() >= fenced);
        if (!ok) x.anomaly(`${s.name} stream did not reach revision ${fenced} within 15 s (at ${s.delivered()})`);
      }
      if (scenario.finalCheck) {
        try {
          await scenario.finalCheck(x, fenced);
        } catch (e) {
          x.anomaly(`the final check failed: ${(e as Error).message}`);
        }
      }
    }
  } finally {
    for (const s of streams) s.close();
    for (const t of transports) t.close();
    try { await c.stop(o.keep !== undefined); } catch (e) { anomalies.push(`cleanup failed: ${(e as Error).message}`); }
  }

  const t0 = Date.now();
  const failures: string[] = [];
  const result = checkHistory(h.ops);
  for (const f of result.failures) failures.push(`${f.kind}: ${f.message}`);
  const log = committedLog(h.ops);
  for (const s of streams) {
    if (s.from < 0) { failures.push(`${s.name}: never connected`); continue; }
    const r = checkStream(s.events, log, { from: s.from, until: fenceRevision || undefined, delivery: 'exactly-once' });
    for (const f of r.failures.slice(0, 5)) failures.push(`${s.name} stream ${f.kind}: ${f.message}`);
  }
  const checkMs = Date.now() - t0;
  const report: RunReport = {
    scenario: scenario.name, seed: o.seed, durationMs: o.durationMs, injectBug: o.injectBug, schedule,
    ops: h.ops.length, completed: h.completed(), pending: result.stats.pending, excluded: [...h.excluded.values()].reduce((a, b) => a + b, 0),
    excludedWhy: Object.fromEntries(h.excluded), pendingWhy: Object.fromEntries(h.pendingWhy),
    staleReads: result.stats.staleReads,
    streamEvents: Object.fromEntries(streams.map((s) => [s.name, s.events.length])),
    failures, anomalies, verdict: failures.length || anomalies.length ? 'anomaly' : 'ok', checkMs, wallMs: Date.now() - started,
  };
  if (report.verdict !== 'ok') report.file = writeFailure(o, report, h.ops, result.failures.map((f) => ({ kind: f.kind, message: f.message, window: f.window.map(describeOp), windowStart: f.windowStart ? [...f.windowStart] : undefined })), streams);
  if (o.keep === 'always' || (o.keep === 'anomaly' && report.verdict !== 'ok')) report.keptDir = c.baseDir;
  else if (o.keep) rmSync(c.baseDir, { recursive: true, force: true });
  return report;
}

function writeFailure(o: RunOptions, report: RunReport, ops: Op[], windows: unknown[], streams: StreamRecorder[]): string {
  const dir = resolve(o.outDir ?? 'torture-failures');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${report.scenario}-seed${report.seed}${o.injectBug ? `-${o.injectBug}` : ''}-${Date.now()}.json`);
  const json = (v: unknown) => JSON.stringify(v, (_k, x) => (x === Infinity ? 'Infinity' : x));
  writeFileSync(file, json({ report, minimalFailingWindows: windows, history: ops, streams: Object.fromEntries(streams.map((s) => [s.name, { from: s.from, events: s.events }])) }));
  return file;
}

