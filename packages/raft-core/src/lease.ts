// Lease-based reads (etcd's ReadOnlyLeaseBased, made explicit). With
// CheckQuorum a follower that heard from its leader refuses to vote for
// anyone else, and does not campaign itself, for electionTick of its own ticks
// (thesis §6.4.1, §4.2.3). So once a quorum of voters acknowledged a
// heartbeat the leader sent at lease clock t, no other leader can exist before
// the followers have counted electionTick ticks from then, and the leader may
// answer reads with its commit index, without a heartbeat round, while
// `clock - t < leaseTicks`.
//
// The clock assumption, which the safe ReadIndex does not need: every node's
// ticks advance at about the same rate in real time. leaseTicks leaves a
// margin for that (default: electionTick - 2 - 10 %; the 2 ticks cover tick
// phase on both sides), and the application must call expireLease() whenever
// this node's ticks may have fallen behind real time (a stalled process, a
// slower tick rate): heartbeats sent before that no longer count.
//
// Unlike etcd's, this lease is measured from when the acknowledged heartbeat
// was sent (it carries the leader's clock in `index`; followers echo it), not
// from CheckQuorum's coarse "heard from within the last election timeout";
// and it ends for the rest of the term once this leader sent MsgTimeoutNow,
// whose campaign bypasses the followers' vote refusal (thesis §3.10).
import { EMPTY_CONFIG_COMMIT, type JointConfig } from './quorum/quorum.js';
import type { NodeId } from './types.js';

export class ReadLease {
  /** Ticks since this node became leader. Unit: ticks. */
  clock = 0;
  /** Per voter: 1 + the clock at which the latest heartbeat it acknowledged was sent (0 = none). */
  private readonly acks = new Map<NodeId, number>();
  /** Heartbeats sent before this clock value do not count (expire()). */
  private floor = 0;
  /** A MsgTimeoutNow went out this term: no lease until the next term. */
  revoked = false;

  /** The value a heartbeat carries in `index`: 1 + the clock now (0 means "no lease stamp"). */
  stamp(): number {
    return this.clock + 1;
  }

  /** A voter acknowledged a heartbeat stamped `stamp`. */
  ack(id: NodeId, stamp: number): void {
    if (stamp <= 0 || stamp - 1 < this.floor || stamp - 1 > this.clock) return;
    if (stamp > (this.acks.get(id) ?? 0)) this.acks.set(id, stamp);
  }

  /**
   * Forget every acknowledgement of a heartbeat sent up to now. The clock
   * moves on by one so that heartbeats sent from now on (same tick) carry a
   * stamp above the floor; leases only get shorter by it.
   */
  expire(): void {
    this.clock++;
    this.floor = this.clock;
    this.acks.clear();
  }

  /** Whether `self` (the leader) holds the lease: a quorum of `voters` acknowledged a heartbeat sent less than leaseTicks ago. */
  valid(voters: JointConfig, self: NodeId, leaseTicks: number): boolean {
    if (this.revoked) return false;
    const start = voters.committedIndex((id) => (id === self ? this.clock + 1 : this.acks.get(id)));
    if (start === 0 || start === EMPTY_CONFIG_COMMIT) return false;
    return this.clock + 1 - start < leaseTicks;
  }
}
