// The healing phase: removed servers left running must not disrupt a healthy
// cluster with CheckQuorum (thesis §4.2.3), and do without it (so the check
// can fail); the liveness bound grows with the backlog the fault phase left.
import { describe, expect, it } from 'vitest';
import { runSeed } from './simulator.js';

/** Membership churn with removed servers kept running. */
const churn = { keepRemovedRunning: true, confChangeRate: 0.004, churnRate: 0.01 };

describe('healing phase', () => {
  it('removed servers that keep campaigning do not depose the leader of a healthy cluster with CheckQuorum', () => {
    let windows = 0;
    let campaigning = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const r = runSeed({ seed, params: { ...churn, preVote: true, checkQuorum: true } });
      expect(r.violations).toEqual([]);
      windows += r.stats.stabilityWindows;
      campaigning += r.stats.stabilityWindowsWithCampaigns;
    }
    // The windows ran, and in some a removed server was campaigning all along.
    expect(windows).toBeGreaterThan(5);
    expect(campaigning).toBeGreaterThan(2);
  }, 120_000);

  it('without PreVote and CheckQuorum they do (the check can fail)', () => {
    let disrupted = 0;
    for (let seed = 1; seed <= 10; seed++) disrupted += runSeed({ seed, params: { ...churn, preVote: false, checkQuorum: false } }).stats.disruptionsWithoutCheckQuorum;
    expect(disrupted).toBeGreaterThan(0);
  }, 120_000);

  it('a long fault phase leaves a backlog the healed cluster still works through: the bound grows with it (seed 500052)', () => {
    // With a fixed 5,000-unit bound this seed failed liveness while still progressing (one entry per message, one
    // message in flight, 2,900 entries behind).
    const r = runSeed({ seed: 500052, faultUnits: 15_000, checkHistory: false });
    expect(r.violations).toEqual([]);
    expect(r.stats.livenessBacklog).toBeGreaterThan(2000);
    expect(r.stats.livenessBound).toBeGreaterThan(5000);
  }, 120_000);
});
