// Quorum maths (Raft thesis §3.6 / §4.3): majorities and joint majorities.
// Pure functions over id sets, tested on their own.
import type { NodeId } from '../types.js';

export enum VoteResult {
  /** Neither won nor lost yet: some votes are missing. */
  Pending = 1,
  Lost = 2,
  Won = 3,
}

/** Look up a voter's acknowledged index; undefined = not known (counts as 0). */
export type AckedIndexer = (id: NodeId) => number | undefined;

/** Index committed by an empty configuration: "infinity", so it never constrains a joint min(). */
export const EMPTY_CONFIG_COMMIT = Number.MAX_SAFE_INTEGER;

const scratch: number[] = [];

/** A set of voters; a decision needs floor(n/2)+1 of them. */
export class MajorityConfig {
  readonly ids: ReadonlySet<NodeId>;
  constructor(ids: Iterable<NodeId> = []) {
    this.ids = new Set(ids);
  }
  get size(): number {
    return this.ids.size;
  }
  has(id: NodeId): boolean {
    return this.ids.has(id);
  }
  sorted(): NodeId[] {
    return [...this.ids].sort((a, b) => a - b);
  }

  /**
   * The largest index acknowledged by a majority: sort the acked indexes in
   * descending order and take the (n/2+1)-th. An empty config returns
   * EMPTY_CONFIG_COMMIT so that a joint config with an empty half is decided
   * by the other half alone.
   */
  committedIndex(acked: AckedIndexer): number {
    const n = this.ids.size;
    if (n === 0) return EMPTY_CONFIG_COMMIT;
    // Insertion sort (descending) into a reused scratch array: n is tiny and
    // this runs on every acknowledgement, so avoid allocating.
    const idx = scratch;
    let k = 0;
    for (const id of this.ids) {
      const v = acked(id) ?? 0;
      let j = k++;
      while (j > 0 && idx[j - 1] < v) {
        idx[j] = idx[j - 1];
        j--;
      }
      idx[j] = v;
    }
    return idx[Math.floor(n / 2)];
  }

  /** Won once a majority voted yes, Lost once a majority can no longer be reached. An empty config wins (joint semantics). */
  voteResult(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    if (this.ids.size === 0) return VoteResult.Won;
    let yes = 0;
    let missing = 0;
    for (const id of this.ids) {
      const v = votes.get(id);
      if (v === undefined) missing++;
      else if (v) yes++;
    }
    const q = Math.floor(this.ids.size / 2) + 1;
    if (yes >= q) return VoteResult.Won;
    if (yes + missing >= q) return VoteResult.Pending;
    return VoteResult.Lost;
  }
}

/**
 * Two majority configs (incoming, outgoing) during joint consensus
 * (thesis §4.3): every decision needs a majority of both.
 */
export class JointConfig {
  constructor(
    readonly incoming: MajorityConfig = new MajorityConfig(),
    readonly outgoing: MajorityConfig = new MajorityConfig(),
  ) {}

  isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  ids(): Set<NodeId> {
    return new Set([...this.incoming.ids, ...this.outgoing.ids]);
  }

  has(id: NodeId): boolean {
    return this.incoming.has(id) || this.outgoing.has(id);
  }

  committedIndex(acked: AckedIndexer): number {
    return Math.min(this.incoming.committedIndex(acked), this.outgoing.committedIndex(acked));
  }

  voteResult(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    const r1 = this.incoming.voteResult(votes);
    const r2 = this.outgoing.voteResult(votes);
    if (r1 === r2) return r1;
    if (r1 === VoteResult.Lost || r2 === VoteResult.Lost) return VoteResult.Lost;
    return VoteResult.Pending;
  }
}
