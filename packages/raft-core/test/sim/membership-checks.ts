// Membership-safety checks of the simulator (thesis chapter 4; etcd-style:
// a configuration takes effect when its entry is applied). Each states a rule
// whose breach lets two configurations with disjoint quorums decide at once:
//
//   conf-change-pending: a leader appends a conf change only when every
//     earlier conf change in its log is applied (at most one pending, so any
//     two configurations in force differ by one change: their quorums overlap);
//   conf-change-before-noop: ... and only once it applied an entry of its own
//     term (Ongaro's fix: a change the previous leader left uncommitted is
//     then committed and applied first, so it cannot pile up with a new one);
//   stale-config-campaign: a node never campaigns while its log holds a
//     committed conf change it has not applied (it would count votes with a
//     configuration the cluster has left);
//   conf-change-apply: every committed conf change applies cleanly to the
//     configuration it meets (a change validated against another one does not);
//   snapshot-config: a snapshot's configuration is the one in force at its index.
//
// The consequences (two leaders in a term, a leader without a committed
// entry, divergent logs) are caught by checker.ts; these catch the cause at
// the step it happens, long before a schedule is unlucky enough to show it.
import { EntryType, StateType, type ConfState, type Entry, type RawNode } from '../../src/index.js';

type Violate = (kind: string, detail: string) => void;

/** Index of the first entry of `term` in the node's log at or before `from` (the leader's no-op of that term). */
function firstIndexOfTerm(raw: RawNode, term: number, from: number): number {
  const log = raw.raft.raftLog;
  let i = from;
  // maybeTerm also answers at the snapshot point (firstIndex - 1): a no-op compacted away is found there or before.
  while (i > 1 && log.maybeTerm(i - 1) === term) i--;
  return i;
}

/**
 * The leader `raw` just handed out `entries` to persist; `applied` is what it
 * had applied when it appended them (nothing is applied between a proposal and
 * the Ready that carries it in the simulator). Checks its own conf-change appends.
 */
export function checkLeaderConfAppends(id: number, raw: RawNode, entries: Entry[], applied: number, violate: Violate): void {
  const r = raw.raft;
  if (r.state !== StateType.Leader) return;
  for (const e of entries) {
    if (e.type !== EntryType.ConfChange || e.term !== r.term) continue;
    const noop = firstIndexOfTerm(raw, r.term, e.index);
    if (applied < noop) {
      violate('conf-change-before-noop', `leader ${id} of term ${r.term} appended a conf change at ${e.index} with applied ${applied}, before applying its no-op at ${noop}`);
      return;
    }
    const lo = Math.max(applied + 1, r.raftLog.firstIndex());
    if (lo < e.index) {
      const earlier = r.raftLog.slice(lo, e.index, Infinity).find((x) => x.type === EntryType.ConfChange);
      if (earlier) {
        violate('conf-change-pending', `leader ${id} of term ${r.term} appended a conf change at ${e.index} while the one at ${earlier.index} (term ${earlier.term}) was not applied (applied ${applied})`);
        return;
      }
    }
  }
}

/** A committed conf change in (applied, committed] of this node's log, if any. */
export function unappliedCommittedConf(raw: RawNode): Entry | undefined {
  const log = raw.raft.raftLog;
  if (log.committed <= log.applied) return undefined;
  const lo = Math.max(log.applied + 1, log.firstIndex());
  if (lo > log.committed) return undefined;
  return log.slice(lo, log.committed + 1, Infinity).find((e) => e.type === EntryType.ConfChange);
}

/** Remembers each node's last seen role and term, so each campaign is checked once, when it starts. */
export class CampaignWatch {
  private seen = new Map<number, { state: StateType; term: number }>();

  /**
   * Call for every running node after anything that can start a campaign
   * (ticks, MsgTimeoutNow). Returns true when `id` just became a candidate
   * (a real election, after any pre-vote); checks the rule if `rules`.
   */
  check(id: number, raw: RawNode, rules: boolean, violate: Violate): boolean {
    const r = raw.raft;
    const last = this.seen.get(id);
    if (last && last.state === r.state && last.term === r.term) return false;
    this.seen.set(id, { state: r.state, term: r.term });
    if (r.state !== StateType.Candidate && r.state !== StateType.PreCandidate) return false;
    const c = rules ? unappliedCommittedConf(raw) : undefined;
    if (c) {
      violate(
        'stale-config-campaign',
        `node ${id} campaigns (${r.state}, term ${r.term}) with the conf change at ${c.index} committed (commit ${r.raftLog.committed}) but not applied (applied ${r.raftLog.applied})`,
      );
    }
    return r.state === StateType.Candidate;
  }
}

/** Canonical text of a configuration (for comparisons and reports). */
export function confKey(cs: ConfState): string {
  const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);
  return JSON.stringify({ v: sorted(cs.voters), l: sorted(cs.learners), o: sorted(cs.votersOutgoing), n: sorted(cs.learnersNext), a: cs.autoLeave });
}

/** The configuration each applied conf change produced, by log index, as first seen by any node. */
export class ConfHistory {
  private byIndex = new Map<number, string>();
  /** Conf change indexes, ascending. */
  private indexes: number[] = [];

  constructor(private readonly initial: string) {}

  /** A node applied the conf change at `index` and got `cs`: undefined if new or equal, else the other configuration seen there. */
  record(index: number, cs: ConfState): { isNew: boolean; conflict?: string } {
    const key = confKey(cs);
    const prev = this.byIndex.get(index);
    if (prev !== undefined) return prev === key ? { isNew: false } : { isNew: false, conflict: prev };
    this.byIndex.set(index, key);
    let i = this.indexes.length;
    while (i > 0 && this.indexes[i - 1] > index) i--;
    this.indexes.splice(i, 0, index);
    return { isNew: true };
  }

  /** The configuration in force at `index` (after applying every conf change at or below it), as far as anyone applied them. */
  at(index: number): string {
    let lo = 0;
    let hi = this.indexes.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.indexes[mid] <= index) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? this.initial : this.byIndex.get(this.indexes[found])!;
  }
}
