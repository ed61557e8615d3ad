// Prove the client-history check can fail where every older check is blind:
// the application acknowledges a write when the leader accepted the proposal
// (ack-put-on-propose), before it commits, with the index it was given as its
// revision. Raft itself stays correct, so election safety, log matching,
// leader completeness, state machine safety and the per-read index check all
// pass; only the clients' history shows it: acknowledged writes that reads do
// not see (or never see: lost writes), or two writes claiming one revision.
import { describe, expect, it } from 'vitest';
import { runSeed } from './simulator.js';

/** Seeds tried before declaring the history check blind to the bug. */
const BUDGET = 50;

describe('injected client bug: ack-put-on-propose', () => {
  it('is caught by the history linearizability check, and only by it', () => {
    let caught: { seed: number; detail: string } | undefined;
    for (let seed = 1; seed <= BUDGET && !caught; seed++) {
      const r = runSeed({ seed, clientBug: 'ack-put-on-propose' });
      const hist = r.violations.filter((v) => v.kind === 'history-linearizability');
      if (hist.length === 0) continue;
      // The older checks see nothing on this seed: the bug is invisible to them.
      expect(r.violations.filter((v) => v.kind !== 'history-linearizability')).toEqual([]);
      caught = { seed, detail: hist[0].detail };
    }
    expect(caught, `not caught within ${BUDGET} seeds`).toBeDefined();
    console.log(`ack-put-on-propose: caught at seed ${caught!.seed}: ${caught!.detail}`);
    // The report names the keys and a small window (or the two ops that claim one revision).
    expect(caught!.detail).toMatch(/^(keys? [\w, ]+ (is|are) not linearizable \(\d+ ops; minimal failing window of \d+|ops \d+ and \d+ both committed at revision \d+)/);
    const window = /minimal failing window of (\d+)/.exec(caught!.detail);
    if (window) expect(Number(window[1])).toBeLessThanOrEqual(10);
    // Same seed, correct application: linearizable (the bug, not the harness, fails it).
    expect(runSeed({ seed: caught!.seed }).violations).toEqual([]);
  }, 300_000);

  it('the same buggy runs pass every older check (history check off)', () => {
    for (let seed = 1; seed <= 10; seed++) {
      expect(runSeed({ seed, clientBug: 'ack-put-on-propose', checkHistory: false }).violations).toEqual([]);
    }
  }, 300_000);
});

describe('injected client bug: cas-ignores-revision', () => {
  it('is caught by the history check (a compare-and-set succeeds on a revision that is gone), and only by it', () => {
    let caught: { seed: number; detail: string } | undefined;
    for (let seed = 1; seed <= BUDGET && !caught; seed++) {
      const r = runSeed({ seed, clientBug: 'cas-ignores-revision' });
      const hist = r.violations.filter((v) => v.kind === 'history-linearizability');
      if (hist.length === 0) continue;
      expect(r.violations.filter((v) => v.kind !== 'history-linearizability')).toEqual([]);
      caught = { seed, detail: hist[0].detail };
    }
    expect(caught, `not caught within ${BUDGET} seeds`).toBeDefined();
    console.log(`cas-ignores-revision: caught at seed ${caught!.seed}: ${caught!.detail.slice(0, 600)}`);
    // The window shows a compare-and-set that succeeded although its expected revision was gone.
    expect(caught!.detail).toMatch(/not linearizable .*if (@\d+|absent)\) -> ok@\d+/);
    expect(runSeed({ seed: caught!.seed }).violations).toEqual([]);
  }, 300_000);
});

