// What a run prints: seed, fault schedule, operations, verdict; and the
// campaign table's row for a set of runs.
import type { RunReport } from './run.js';

export function formatReport(r: RunReport): string {
  const out = [
    `scenario ${r.scenario}  seed ${r.seed}  duration ${r.durationMs / 1000}s${r.injectBug ? `  INJECTED BUG ${r.injectBug}` : ''}`,
    'schedule:',
    ...r.schedule.map((s) => `  ${s}`),
    `ops ${r.ops} (completed ${r.completed}, pending ${r.pending}, stale reads ${r.staleReads}; refused before the state machine ${r.excluded}); stream events ${Object.entries(r.streamEvents).map(([k, v]) => `${k} ${v}`).join(', ')}; check ${r.checkMs} ms; wall ${(r.wallMs / 1000).toFixed(1)} s`,
    `verdict: ${r.verdict === 'ok' ? 'OK (linearizable, stale reads valid, streams complete)' : 'ANOMALY'}`,
    ...Object.entries(r.excludedWhy).map(([k, v]) => `  refused before the state machine: ${v} x ${k}`),
    ...Object.entries(r.pendingWhy).slice(0, 8).map(([k, v]) => `  pending: ${v} x ${k}`),
    ...r.failures.map((f) => `  FAIL ${f.slice(0, 2000)}`),
    ...r.anomalies.map((a) => `  ANOMALY ${a}`),
  ];
  if (r.file) out.push(`history and minimal failing windows written to ${r.file}`);
  if (r.keptDir) out.push(`node logs and data dirs kept in ${r.keptDir}`);
  return out.join('\n');
}

export interface CampaignRow { scenario: string; runs: number; ops: number; anomalies: number; seeds: string }

export function campaignRows(reports: RunReport[]): CampaignRow[] {
  const by = new Map<string, RunReport[]>();
  for (const r of reports) by.set(r.scenario, [...(by.get(r.scenario) ?? []), r]);
  return [...by].map(([scenario, rs]) => ({
    scenario,
    runs: rs.length,
    ops: rs.reduce((a, r) => a + r.ops, 0),
    anomalies: rs.filter((r) => r.verdict !== 'ok').length,
    seeds: `${Math.min(...rs.map((r) => r.seed))}-${Math.max(...rs.map((r) => r.seed))}`,
  }));
}
