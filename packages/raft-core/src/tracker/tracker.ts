// The leader's view of the cluster: the active configuration (possibly
// joint), one Progress per member, and the votes of an election.
import { JointConfig, MajorityConfig, VoteResult } from '../quorum/quorum.js';
import type { ConfState, NodeId } from '../types.js';
import { Progress } from './progress.js';

/** A configuration as the tracker holds it (etcd's tracker.Config). */
export interface TrackerConfig {
  voters: JointConfig;
  /** Non-voting members (never overlap voters). */
  learners: Set<NodeId>;
  /**
   * Voters of the outgoing config being demoted to learners: they stay voters
   * (in `voters.outgoing`) until the joint config is left, then become learners.
   */
  learnersNext: Set<NodeId>;
  /** Leave the joint config automatically once the entering change is applied. */
  autoLeave: boolean;
}

export function emptyTrackerConfig(): TrackerConfig {
  return { voters: new JointConfig(), learners: new Set(), learnersNext: new Set(), autoLeave: false };
}

export function cloneTrackerConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: new JointConfig(new MajorityConfig(c.voters.incoming.ids), new MajorityConfig(c.voters.outgoing.ids)),
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

export type ProgressMap = Map<NodeId, Progress>;

const sortIds = (s: Iterable<NodeId>): NodeId[] => [...s].sort((a, b) => a - b);

export function confStateOf(c: TrackerConfig): ConfState {
  return {
    voters: c.voters.incoming.sorted(),
    learners: sortIds(c.learners),
    votersOutgoing: c.voters.outgoing.sorted(),
    learnersNext: sortIds(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

export interface TallyResult {
  granted: number;
  rejected: number;
  result: VoteResult;
}

export class ProgressTracker {
  config: TrackerConfig = emptyTrackerConfig();
  progress: ProgressMap = new Map();
  votes = new Map<NodeId, boolean>();

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {}

  confState(): ConfState {
    return confStateOf(this.config);
  }

  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && !this.config.voters.isJoint();
  }

  /** Highest index replicated on a (joint) majority of voters. */
  committed(): number {
    return this.config.voters.committedIndex((id) => this.progress.get(id)?.match);
  }

  /** Visit members in id order (deterministic message order). */
  visit(f: (id: NodeId, pr: Progress) => void): void {
    const ids = [...this.progress.keys()].sort((a, b) => a - b);
    for (const id of ids) f(id, this.progress.get(id)!);
  }

  /** Did a quorum of voters talk to us since the last check? (CheckQuorum, thesis §6.2.) */
  quorumActive(): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      votes.set(id, pr.recentActive);
    }
    return this.config.voters.voteResult(votes) === VoteResult.Won;
  }

  voterNodes(): NodeId[] {
    return sortIds(this.config.voters.ids());
  }

  learnerNodes(): NodeId[] {
    return sortIds(this.config.learners);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Record a vote; only the first answer of each node counts. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): TallyResult {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: this.config.voters.voteResult(this.votes) };
  }
}
