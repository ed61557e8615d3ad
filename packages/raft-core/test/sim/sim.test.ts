// The simulator in CI: a CI-sized seed count (SIM_SEEDS raises it).
import { describe, expect, it } from 'vitest';
import { runSeed } from './simulator.js';

const SEEDS = Number(process.env.SIM_SEEDS ?? 100);

describe('deterministic simulation', () => {
  it(`${SEEDS} seeds under faults: no safety violation, linearizable client histories, and every healed cluster makes progress`, () => {
    const failures: string[] = [];
    let elections = 0;
    let snapshots = 0;
    let confChanges = 0;
    let reads = 0;
    let historyOps = 0;
    let pending = 0;
    const kinds = new Map<string, number>();
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = runSeed({ seed });
      elections += r.stats.elections;
      snapshots += r.stats.snapshotsInstalled;
      confChanges += r.stats.membershipChanges;
      reads += r.stats.readsChecked;
      historyOps += r.stats.historyOps;
      pending += r.stats.historyPending;
      for (const [k, v] of Object.entries(r.stats.clientOps)) kinds.set(k, (kinds.get(k) ?? 0) + v);
      for (const v of r.violations) {
        failures.push(`seed ${seed} time ${v.time} ${v.kind}: ${v.detail} (replay: pnpm --filter @flagraft/raft-core sim -- --seed ${seed} --verbose)`);
      }
    }
    expect(failures).toEqual([]);
    // The runs really exercised the features (a simulator that does nothing passes trivially).
    expect(elections).toBeGreaterThan(SEEDS);
    expect(snapshots).toBeGreaterThan(0);
    expect(confChanges).toBeGreaterThan(0);
    expect(reads).toBeGreaterThan(SEEDS);
    // Every seed's client history went through the linearizability check, with ops of unknown outcome among them.
    expect(historyOps).toBeGreaterThan(100 * SEEDS);
    expect(pending).toBeGreaterThan(0);
    // ... of every kind the API offers.
    for (const k of ['put', 'cas', 'create', 'delete', 'cas-delete', 'batch', 'read', 'stale-read']) expect(kinds.get(k) ?? 0, k).toBeGreaterThan(SEEDS);
  }, 600_000);

  it('a seed replays exactly', () => {
    const a = runSeed({ seed: 4242 });
    const b = runSeed({ seed: 4242 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  }, 60_000);
});
