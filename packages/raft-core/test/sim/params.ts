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
  // Drawn from a second stream (drawMembershipParams), so the dimensions above
  // and every fault they drive stay as they were for the same seed.
  /** Extra membership operations per time unit on top of confChangeRate (a churn nemesis; 0 = off). */
  churnRate: number;
  /** Chance that right after a conf change is proposed, its leader crashes or is cut off (the change is left uncommitted to the next leader). */
  confFaultFraction: number;
  /** Committed entries handed out per Ready, in bytes (small: a slow apply, committed conf changes stay unapplied a while; 0 = the core's default). */
  maxCommittedSizePerReady: number;
  /** Removed servers keep running and campaigning instead of being shut down (the disruptive servers of thesis §4.2.3). */
  keepRemovedRunning: boolean;
  /** Fraction of crashes that are power losses: writes the node did not fsync are lost. */
  powerLossFraction: number;
  /** A slow node (a slow disk or applier): node `slowNode` handles a Ready only every `slowReadyEvery` time units (0 = no slow node). */
  slowNode: number;
  slowReadyEvery: number;
}

/** Draw a seed's own fault rates (swarm testing: some seeds are calm, some brutal, most in between). `mrng` draws the membership and storage dimensions. */
export function drawParams(rng: Rng, mrng: Rng): SimParams {
  const maybe = (p: number, v: () => number): number => (rng.next() < p ? v() : 0);
  const p = {
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
  return { ...p, ...drawMembershipParams(mrng, p.initialVoters) };
}

function drawMembershipParams(
  rng: Rng,
  initialVoters: number,
): Pick<SimParams, 'churnRate' | 'confFaultFraction' | 'maxCommittedSizePerReady' | 'keepRemovedRunning' | 'powerLossFraction' | 'slowNode' | 'slowReadyEvery'> {
  const maybe = (p: number, v: () => number): number => (rng.next() < p ? v() : 0);
  const slow = rng.next() < 0.4;
  return {
    slowNode: slow ? 1 + rng.int(initialVoters) : 0,
    slowReadyEvery: slow ? 2 + rng.int(30) : 0,
    churnRate: maybe(0.35, () => 0.002 + rng.next() * 0.02),
    confFaultFraction: maybe(0.4, () => rng.next() * 0.5),
    // A slow node mostly comes with a small apply batch too: that is what leaves committed entries unapplied for long.
    maxCommittedSizePerReady: maybe(slow ? 0.75 : 0.25, () => 1 + rng.int(rng.next() < 0.5 ? 64 : 1024)),
    keepRemovedRunning: rng.next() < 0.35,
    powerLossFraction: maybe(0.5, () => rng.next()),
  };
}
