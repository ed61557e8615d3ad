// The simulator with lease-based reads: the same faults (partitions aimed at
// the leader, crashes, transfers, membership changes) with nodes whose ticks
// run at rates up to ~20 % apart (tickEvery 9-11 time units). The client
// histories must stay linearizable; and a lease longer than the followers'
// promise (a broken leaseTicks, past the config check) must be caught, so the
// check can fail: a lease kept without CheckQuorum (which the config refuses),
// so that a leader cut off from its quorum keeps answering from its lease.
import { describe, expect, it } from 'vitest';
import { RawNode, type Config } from '../../src/index.js';
import { runSeed } from './simulator.js';

const SEEDS = Number(process.env.SIM_LEASE_SEEDS ?? 60);

function run(broken = false) {
  let leaseReads = 0;
  const failures: string[] = [];
  let reads = 0;
  const makeRawNode = (cfg: Config) => {
    const n = new RawNode({ ...cfg, readOnlyOption: 'lease-based' });
    // The negative control: a long lease and no CheckQuorum, set after the config check, as a bug would.
    if (broken) Object.assign(n.raft.cfg, { leaseTicks: 200, checkQuorum: false });
    const inLease = n.raft.inLease.bind(n.raft);
    n.raft.inLease = () => {
      const v = inLease();
      if (v) leaseReads++;
      return v;
    };
    return n;
  };
  for (let seed = 1; seed <= SEEDS; seed++) {
    // The broken runs are judged by the read checks alone: a search of a non-linearizable history can take long.
    const r = runSeed({ seed, makeRawNode, checkHistory: !broken, params: { checkQuorum: true, readRate: 0.1, leaderFaultFraction: 0.8 } });
    if (broken && r.violations.length > 0 && failures.length >= 3) break;
    reads += r.stats.readsChecked;
    for (const v of r.violations) failures.push(`seed ${seed} time ${v.time} ${v.kind}: ${v.detail}`);
  }
  return { failures, leaseReads, reads };
}

describe('simulation with lease-based reads', () => {
  it(`${SEEDS} seeds: no violation, linearizable histories, and most reads served from the lease`, () => {
    const r = run();
    expect(r.failures).toEqual([]);
    expect(r.reads).toBeGreaterThan(SEEDS);
    expect(r.leaseReads).toBeGreaterThan(r.reads / 4);
  });

  it('a lease without CheckQuorum is caught (a leader cut off from its quorum answers stale reads)', () => {
    const r = run(true);
    expect(r.failures.length).toBeGreaterThan(0);
    expect(r.failures.join('\n')).toMatch(/read|linearizab|stale/i);
  });
});
