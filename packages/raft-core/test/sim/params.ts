// Per-seed parameters (swarm testing): each seed draws its own fault rates
// and protocol limits, so rare combinations get explored.
import type { Rng } from '../../src/index.js';

export interface SimParams {
  initialVoters: number;
  dropRate: number;
  dupRate: number;
  maxDelay: number;
  partitionRate: number;
  /** Fraction of partitions and crashes aimed at the current leader (a nemesis that targets leadership). */
  leaderFaultFraction: number;
  oneWayFraction: number;
  healRate: number;
  crashRate: number;
  midReadyCrashFraction: number;
  writeRate: number;
  readRate: number;
  snapshotRate: number;
  confChangeRate: number;
  transferRate: number;
  preVote: boolean;
  checkQuorum: boolean;
  maxEntriesPerMsg: number;
  maxInflightMsgs: number;
  maxSizePerMsg: number;
}

/** Draw a seed's own fault rates (swarm testing: some seeds are calm, some brutal, most in between). */
export function drawParams(rng: Rng): SimParams {
  const maybe = (p: number, v: () => number): number => (rng.next() < p ? v() : 0);
  return {
    initialVoters: rng.next() < 0.6 ? 3 : 5,
    dropRate: maybe(0.7, () => rng.next() * 0.2),
    dupRate: maybe(0.5, () => rng.next() * 0.1),
    maxDelay: 1 + rng.int(rng.next() < 0.3 ? 60 : 15),
    partitionRate: maybe(0.7, () => rng.next() * 0.006),
    leaderFaultFraction: rng.next(),
    oneWayFraction: rng.next(),
    healRate: 0.001 + rng.next() * 0.01,
    crashRate: maybe(0.7, () => rng.next() * 0.004),
    midReadyCrashFraction: rng.next() * 0.5,
    writeRate: 0.02 + rng.next() * 0.3,
    readRate: rng.next() * 0.1,
    snapshotRate: maybe(0.8, () => rng.next() * 0.3),
    confChangeRate: maybe(0.6, () => rng.next() * 0.006),
    transferRate: maybe(0.4, () => rng.next() * 0.002),
    preVote: rng.next() < 0.75,
    checkQuorum: rng.next() < 0.75,
    maxEntriesPerMsg: 1 + rng.int(rng.next() < 0.5 ? 4 : 64),
    maxInflightMsgs: 1 + rng.int(16),
    maxSizePerMsg: 64 + rng.int(4096),
  };
}
