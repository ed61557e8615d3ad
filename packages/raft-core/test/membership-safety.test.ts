// Membership safety (thesis chapter 4, etcd-style: a configuration takes
// effect when its entry is applied). Three rules keep any two configurations
// that can decide at the same time overlapping:
//   1. a new leader accepts conf changes only after it applied an entry of its
//      own term (Ongaro's fix, raft-dev 2015);
//   2. at most one conf change is pending (not yet applied) on a leader;
//   3. a node does not campaign while its log holds a committed conf change it
//      has not applied (raft.ts hup()).
// Each test below drives a schedule where breaking one rule lets two disjoint
// quorums commit different entries at one index (split brain), or a node
// lacking a committed entry become leader, and checks that the real core
// does not. Each also runs the same schedule with the rule broken (the
// injected variants of test/sim/bugs.ts) and requires the damage to show:
// a test that cannot fail proves nothing. Deleting any of the three rules
// from src/ fails these tests.
import { describe, expect, it } from 'vitest';
import { ErrConfChangePending, MemoryStorage, MessageType, RawNode, StateType, type Config, type NodeId } from '../src/index.js';
import { BUGS } from './sim/bugs.js';
import { TestCluster, addLearner, addVoter, enc } from './helpers/cluster.js';

type Make = ((cfg: Config) => RawNode) | undefined;

/** Records every applied entry by index and reports indexes where two nodes applied different entries (§5.4.3). */
function watchApplied(c: TestCluster): () => string[] {
  const byIndex = new Map<number, { node: NodeId; what: string }>();
  const conflicts: string[] = [];
  const orig = c.handleReady.bind(c);
  c.handleReady = (n, rd = n.node.ready()) => {
    for (const e of rd.committedEntries) {
      const what = `term ${e.term} type ${e.type} '${new TextDecoder().decode(e.data)}'`;
      const seen = byIndex.get(e.index);
      if (!seen) byIndex.set(e.index, { node: n.id, what });
      else if (seen.what !== what) conflicts.push(`index ${e.index}: node ${seen.node} applied ${seen.what}, node ${n.id} applied ${what}`);
    }
    orig(n, rd);
  };
  return () => conflicts;
}

/** Bootstrap {1,2,3} led by `leader`, with learners 4 and 5 caught up (snapshots on conf apply let them join). */
function clusterWithLearners(make: Make, leader: NodeId): { c: TestCluster; conflicts: () => string[] } {
  const c = new TestCluster({ snapshotOnConfApply: true, makeRawNode: make });
  const conflicts = watchApplied(c);
  c.campaign(leader);
  c.get(leader).node.propose(enc('a'));
  c.stabilize();
  for (const id of [4, 5]) {
    c.get(leader).node.proposeConfChange(addLearner(id));
    c.addNode(id, new MemoryStorage());
    c.stabilize();
    c.tick(undefined, 3);
  }
  expect(c.get(leader).node.status().confState.learners).toEqual([4, 5]);
  return { c, conflicts };
}

/** Propose a conf change; 'refused' if the leader says another one is pending (the rule under test). */
function tryConfChange(n: RawNode, id: NodeId): number | 'refused' {
  try {
    return n.proposeConfChange(addVoter(id));
  } catch (e) {
    if (e === ErrConfChangePending) return 'refused';
    throw e;
  }
}

/**
 * Cut `minority` off from everyone else, let it elect whom it can, and have
 * both sides' leaders commit a write. Returns the minority's leader (if any).
 */
function partitionAndRace(c: TestCluster, minority: NodeId[], majorityLeader: NodeId): NodeId | undefined {
  const inMinority = (id: NodeId): boolean => minority.includes(id);
  c.filter = (m) => inMinority(m.from) === inMinority(m.to);
  let minorityLeader: NodeId | undefined;
  for (let t = 0; t < 100 && minorityLeader === undefined; t++) {
    c.tick(minority);
    minorityLeader = minority.find((id) => c.get(id).node.status().raftState === StateType.Leader);
  }
  if (minorityLeader !== undefined) c.get(minorityLeader).node.propose(enc('minority write'));
  c.get(majorityLeader).node.propose(enc('majority write'));
  c.stabilize();
  c.tick(undefined, 5);
  return minorityLeader;
}

type Outcome = { second: number | 'refused'; minorityLeader?: NodeId; conflicts: string[] };

/** The real core refuses the second change and stays safe on the schedule; with the rule broken (`bug`) the brain splits. */
function splitBrainTests(schedule: (make: Make) => Outcome, bug: 'no-conf-pending-limit' | 'conf-before-noop', title: string): void {
  it(title, () => {
    const r = schedule(undefined);
    expect(r.second).toBe('refused');
    expect(r.minorityLeader).toBeUndefined();
    expect(r.conflicts).toEqual([]);
  });

  it(`without the rule (injected ${bug}) the same schedule splits the brain`, () => {
    const r = schedule(BUGS[bug]);
    expect(typeof r.second).toBe('number');
    expect(r.minorityLeader).toBeDefined();
    expect(r.conflicts.length).toBeGreaterThan(0);
  });
}

describe('membership safety: at most one conf change pending', () => {
  /**
   * Leader 3 promotes learners 4 and 5 back to back. Nodes 1 and 2 receive
   * both entries but never hear that they committed; leader 3 commits them
   * with their acks and moves to {1..5}. Then {1,2} is cut off: with both
   * changes pending at once, 1 and 2 still count votes in {1,2,3} (a majority
   * of 2) while 3, 4, 5 are a majority of {1..5}: two disjoint quorums.
   */
  function schedule(make: Make): Outcome {
    const { c, conflicts } = clusterWithLearners(make, 3);
    const l = c.get(3).node;
    let c2: number | undefined;
    // Once node 1 or 2 holds the second change, it hears nothing more from 3 (acks still reach 3).
    c.filter = (m) => !(m.from === 3 && (m.to === 1 || m.to === 2) && c2 !== undefined && c.get(m.to).storage.lastIndex() >= c2);
    tryConfChange(l, 4);
    let second = tryConfChange(l, 5);
    if (second === 'refused') {
      // The correct path: the second change waits until the first is applied.
      c.stabilize();
      second = tryConfChange(l, 5);
      expect(second).not.toBe('refused');
      c2 = second as number;
      // Reported as refused: that is what the rule did.
      c.stabilize();
      const minorityLeader = partitionAndRace(c, [1, 2], 3);
      return { second: 'refused', minorityLeader, conflicts: conflicts() };
    }
    c2 = second;
    c.stabilize();
    expect(c.get(3).node.status().confState.voters).toEqual([1, 2, 3, 4, 5]);
    const minorityLeader = partitionAndRace(c, [1, 2], 3);
    return { second, minorityLeader, conflicts: conflicts() };
  }

  splitBrainTests(schedule, 'no-conf-pending-limit', 'the second change waits for the first, and the cut-off pair cannot elect a leader (no split brain)');
});

describe("membership safety: Ongaro's fix (no conf change before the new leader applied its no-op)", () => {
  /**
   * Leader 3 proposes promoting 4; only node 1 gets the entry, nobody acks it,
   * and 3 goes away. Node 1 wins term 2 (2 votes for it: 1's log is longer)
   * with that change uncommitted in its log, and is asked at once to promote
   * 5 as well. Accepting it makes two changes pending (the inherited one and
   * the new one), and the schedule of the test above splits {2,3} from {1,4,5}.
   */
  function schedule(make: Make): Outcome {
    const { c, conflicts } = clusterWithLearners(make, 3);
    // The entry promoting 4 reaches node 1 only; its ack is lost.
    c.filter = (m) => !((m.from === 3 && m.to !== 1) || (m.from === 1 && m.to === 3));
    tryConfChange(c.get(3).node, 4);
    c.stabilize();
    // Node 3 is cut off (it keeps its log: it comes back later on the minority side). Node 1 wins the
    // next term (its log is the longest); 2's acks of its appends are lost, so its no-op does not commit.
    const cut3 = (m: { from: NodeId; to: NodeId }): boolean => m.from === 3 || m.to === 3;
    c.filter = (m) => !cut3(m) && !(m.from === 2 && m.type === MessageType.MsgAppResp && !m.reject);
    let lead: NodeId | undefined;
    for (let t = 0; t < 100 && lead === undefined; t++) {
      c.tick([1, 2]);
      lead = [1, 2].find((id) => c.get(id).node.status().raftState === StateType.Leader);
    }
    expect(lead).toBe(1);
    const l = c.get(1);
    let c2: number | undefined;
    // From now on 2's acks flow, but once 2 holds the second change it hears nothing more from 1.
    c.filter = (m) => !cut3(m) && !(m.from === 1 && m.to === 2 && c2 !== undefined && c.get(2).storage.lastIndex() >= c2);
    let second = tryConfChange(l.node, 5);
    const refused = second === 'refused';
    if (refused) {
      // Heartbeats bring 2's acks: the no-op and the inherited change commit and apply.
      c.tick([1, 2], 3);
      second = tryConfChange(l.node, 5);
      expect(second).not.toBe('refused');
    }
    c2 = second as number;
    // Heartbeats resume the probe to 2: it gets the second change, 1 gets its acks and commits both.
    c.tick([1, 2], 3);
    expect(c.get(1).node.status().confState.voters).toEqual([1, 2, 3, 4, 5]);
    const minorityLeader = partitionAndRace(c, [2, 3], 1);
    return { second: refused ? 'refused' : second, minorityLeader, conflicts: conflicts() };
  }

  splitBrainTests(schedule, 'conf-before-noop', 'the new leader refuses the change until its no-op is applied; no split brain follows');
});

describe('membership safety: no campaign with committed but unapplied conf changes (hup guard)', () => {
  /** One round of a slow cluster: every node ticks once, handles at most one Ready, and messages move one hop. */
  function round(c: TestCluster, cut: (from: NodeId, to: NodeId) => boolean): void {
    for (const n of c.nodes.values()) n.node.tick();
    for (const n of c.nodes.values()) if (n.node.hasReady()) c.handleReady(n);
    const q = c.queue;
    c.queue = [];
    for (const m of q) {
      if (cut(m.from, m.to)) continue;
      try {
        c.nodes.get(m.to)?.node.step(m);
      } catch (e) {
        if ((e as Error).name !== 'ErrStepPeerNotFound') throw e;
      }
    }
  }

  /**
   * {1,2,3} writes 30 entries, then promotes learners 4 and 5: {1..5}. Nodes
   * 1 and 2 are cut off; 3, 4, 5 commit a write X. Then 1 and 2 restart from
   * a state that applied nothing (their state files rebuilt: configuration
   * {1,2,3}, every entry to apply again, one per Ready): their logs say the
   * promotions are committed, but they have not applied them yet.
   */
  function schedule(make: Make): { minorityLeader?: NodeId; leaderLacksX: boolean; conflicts: string[] } {
    const { c, conflicts } = clusterWithLearners(make, 1);
    for (let i = 0; i < 30; i++) c.get(1).node.propose(enc(`w${i}`));
    c.stabilize();
    c.get(1).node.proposeConfChange(addVoter(4));
    c.stabilize();
    c.get(1).node.proposeConfChange(addVoter(5));
    c.stabilize();
    c.tick(undefined, 2);
    expect(c.get(3).node.status().confState.voters).toEqual([1, 2, 3, 4, 5]);
    const minority = (id: NodeId): boolean => id === 1 || id === 2;
    c.filter = (m) => minority(m.from) === minority(m.to);
    let leader: NodeId | undefined;
    for (let t = 0; t < 100 && leader === undefined; t++) {
      c.tick([3, 4, 5]);
      leader = [3, 4, 5].find((id) => c.get(id).node.status().raftState === StateType.Leader);
    }
    expect(leader).toBeDefined();
    const x = c.get(leader!).node.propose(enc('X'));
    c.stabilize();
    expect(c.get(leader!).node.status().commit).toBeGreaterThanOrEqual(x);
    for (const id of [1, 2]) {
      // Same log and hard state (commit included), nothing applied: configuration {1,2,3} again.
      const old = c.get(id).storage;
      const st = new MemoryStorage({ voters: [1, 2, 3] });
      st.append(old.entries(1, old.lastIndex() + 1, Infinity));
      st.setHardState(old.initialState().hardState);
      c.addNode(id, st, 0);
    }
    let minorityLeader: NodeId | undefined;
    for (let r = 0; r < 200 && minorityLeader === undefined; r++) {
      round(c, (from, to) => minority(from) !== minority(to));
      minorityLeader = [1, 2].find((id) => c.get(id).node.status().raftState === StateType.Leader);
    }
    const leaderLacksX = minorityLeader !== undefined && c.get(minorityLeader).node.raft.raftLog.maybeTerm(x) !== c.get(leader!).node.raft.raftLog.maybeTerm(x);
    return { minorityLeader, leaderLacksX, conflicts: conflicts() };
  }

  /** One committed entry per Ready: a slow apply, as after a restart with a long backlog. */
  const slowApply =
    (make: Make): Make =>
    (cfg) =>
      (make ?? ((k: Config) => new RawNode(k)))({ ...cfg, maxCommittedSizePerReady: 1 });

  it('a restarted node applies its committed conf changes before it campaigns; the cut-off pair never elects a leader', () => {
    const r = schedule(slowApply(undefined));
    expect(r.minorityLeader).toBeUndefined();
    expect(r.conflicts).toEqual([]);
  });

  it('without the guard (injected campaign-unapplied-conf) a node lacking a committed entry is elected by a stale quorum', () => {
    const r = schedule(slowApply(BUGS['campaign-unapplied-conf']));
    expect(r.minorityLeader).toBeDefined();
    expect(r.leaderLacksX).toBe(true);
  });
});
