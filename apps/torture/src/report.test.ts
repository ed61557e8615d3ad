// What a run prints (seed, the schedule, operations, verdict, failures and the
// file) and the campaign table's rows.
import { describe, expect, it } from 'vitest';
import { campaignRows, formatReport } from './report.js';
import type { RunReport } from './run.js';

const report = (over: Partial<RunReport> = {}): RunReport => ({
  scenario: 'kill-loop', seed: 17, durationMs: 4000, schedule: ['   0.0s start kill-loop seed 17: 3 nodes', '   1.2s SIGKILL 2; restart after 300 ms'],
  ops: 120, completed: 110, pending: 10, excluded: 0, excludedWhy: {}, pendingWhy: { 'grpc DEADLINE': 10 }, staleReads: 4,
  streamEvents: { watch: 50, sse: 49 }, failures: [], anomalies: [], verdict: 'ok', checkMs: 3, wallMs: 9000, ...over,
});

describe('formatReport', () => {
  it('prints the scenario, seed, every schedule line, the operations and an OK verdict', () => {
    const text = formatReport(report());
    expect(text).toMatch(/^scenario kill-loop {2}seed 17 {2}duration 4s\n/);
    expect(text).toContain('\nschedule:\n     0.0s start kill-loop seed 17: 3 nodes\n     1.2s SIGKILL 2; restart after 300 ms\n');
    expect(text).toContain('ops 120 (completed 110, pending 10, stale reads 4');
    expect(text).toContain('stream events watch 50, sse 49');
    expect(text).toContain('pending: 10 x grpc DEADLINE');
    expect(text).toContain('verdict: OK');
    expect(text).not.toContain('INJECTED BUG');
  });

  it('prints an anomaly with its failures, the injected bug and the failure file', () => {
    const text = formatReport(report({ verdict: 'anomaly', injectBug: 'apply-uncommitted', failures: ['not-linearizable: k1'], anomalies: ['no write committed'], file: '/tmp/x.json' }));
    expect(text).toContain('INJECTED BUG apply-uncommitted');
    expect(text).toContain('verdict: ANOMALY');
    expect(text).toContain('  FAIL not-linearizable: k1');
    expect(text).toContain('  ANOMALY no write committed');
    expect(text).toContain('written to /tmp/x.json');
  });
});

describe('campaignRows', () => {
  it('sums runs, operations and anomalous runs per scenario, with the seed range', () => {
    const rows = campaignRows([
      report({ seed: 3 }), report({ seed: 1, ops: 80, verdict: 'anomaly' }), report({ scenario: 'bridge', seed: 2, ops: 7 }),
    ]);
    expect(rows).toEqual([
      { scenario: 'kill-loop', runs: 2, ops: 200, anomalies: 1, seeds: '1-3' },
      { scenario: 'bridge', runs: 1, ops: 7, anomalies: 0, seeds: '2-2' },
    ]);
  });
});
