// ReadIndex (§6.4), leadership transfer (§3.10), snapshots (§5.1 / chapter 5)
// and membership changes (chapter 4).
import { describe, expect, it } from 'vitest';
import {
  ConfChangeError,
  ConfChangeType,
  ErrConfChangePending,
  ErrProposalDropped,
  MemoryStorage,
  MessageType,
  type Message,
  ProgressState,
  SnapshotStatus,
  StateType,
} from '../src/index.js';
import { TestCluster, addLearner, addVoter, enc, removeNode } from './helpers/cluster.js';

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('§6.4 ReadIndex', () => {
  it('the leader answers a read with its commit index after a quorum heartbeat round', () => {
    const c = new TestCluster();
    const l = c.campaign(1);
    l.node.propose(enc('a'));
    c.stabilize();
    l.node.readIndex(enc('r1'));
    const rd = l.node.ready();
    // Not yet: leadership must be confirmed by heartbeats carrying the context.
    expect(rd.readStates).toEqual([]);
    expect(rd.messages.filter((m) => m.type === MessageType.MsgHeartbeat && m.context && dec(m.context) === 'r1').length).toBe(2);
    c.handleReady(l, rd);
    let got: { index: number; ctx: string }[] = [];
    const orig = c.handleReady.bind(c);
    c.handleReady = (n, r = n.node.ready()) => {
      if (n.id === 1) got = got.concat(r.readStates.map((s) => ({ index: s.index, ctx: dec(s.requestCtx) })));
      orig(n, r);
    };
    c.stabilize();
    expect(got).toEqual([{ index: l.node.status().commit, ctx: 'r1' }]);
  });

  it('a leader cut off from its quorum never answers a read (no stale reads)', () => {
    const c = new TestCluster();
    const l = c.campaign(1);
    c.isolate(1);
    l.node.readIndex(enc('r'));
    let states = 0;
    const orig = c.handleReady.bind(c);
    c.handleReady = (n, r = n.node.ready()) => {
      if (n.id === 1) states += r.readStates.length;
      orig(n, r);
    };
    c.tick([1], 30);
    expect(states).toBe(0);
  });

  it('a new leader holds reads until an entry of its own term commits', () => {
    const c = new TestCluster();
    // Block appends so the no-op of the term cannot commit.
    c.filter = (m) => m.type !== MessageType.MsgApp;
    const l = c.campaign(1);
    l.node.readIndex(enc('early'));
    let states: number[] = [];
    const orig = c.handleReady.bind(c);
    c.handleReady = (n, r = n.node.ready()) => {
      if (n.id === 1) states = states.concat(r.readStates.map((s) => s.index));
      orig(n, r);
    };
    c.stabilize();
    c.tick([1], 2);
    expect(states).toEqual([]);
    c.heal();
    c.tick([1], 2);
    expect(states.length).toBe(1);
    expect(states[0]).toBeGreaterThanOrEqual(1);
  });

  it('a follower forwards the read to the leader and gets the read state back', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.get(1).node.propose(enc('a'));
    c.stabilize();
    c.get(2).node.readIndex(enc('f'));
    let got: number[] = [];
    const orig = c.handleReady.bind(c);
    c.handleReady = (n, r = n.node.ready()) => {
      if (n.id === 2) got = got.concat(r.readStates.map((s) => s.index));
      orig(n, r);
    };
    c.stabilize();
    expect(got).toEqual([c.get(1).node.status().commit]);
  });
});

describe('§3.10 leadership transfer', () => {
  it('transfers to an up-to-date follower via TimeoutNow', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.get(1).node.transferLeader(2);
    c.stabilize();
    expect(c.get(2).node.status().raftState).toBe(StateType.Leader);
    expect(c.get(1).node.status().lead).toBe(2);
  });

  it('refuses proposals while a transfer is in progress and aborts after an election timeout', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.isolate(3);
    c.get(1).node.propose(enc('a'));
    c.stabilize();
    // 3 is behind and unreachable: the transfer cannot complete.
    c.get(1).node.transferLeader(3);
    c.stabilize();
    expect(c.get(1).node.status().leadTransferee).toBe(3);
    expect(() => c.get(1).node.propose(enc('b'))).toThrow(ErrProposalDropped);
    c.tick([1, 2], 10);
    expect(c.get(1).node.status().leadTransferee).toBe(0);
    expect(c.get(1).node.status().raftState).toBe(StateType.Leader);
    c.get(1).node.propose(enc('c'));
  });

  it('a lagging transferee is caught up first, then receives TimeoutNow', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.get(1).node.propose(enc(`e${i}`));
    c.stabilize();
    c.heal();
    c.get(1).node.transferLeader(3);
    c.stabilize();
    expect(c.get(3).node.status().raftState).toBe(StateType.Leader);
    c.tick(undefined, 2);
    expect(c.appliedData(3)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
  });
});

describe('§5.1 snapshots and log compaction', () => {
  it('a follower that needs compacted entries gets InstallSnapshot, surfaced in its Ready', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 10; i++) c.get(1).node.propose(enc(`e${i}`));
    c.stabilize();
    const l = c.get(1);
    const applied = l.node.status().applied;
    l.storage.createSnapshot(applied, l.confState, enc('state@' + applied));
    l.storage.compact(applied);
    c.heal();
    let snapSeen = 0;
    const orig = c.handleReady.bind(c);
    c.handleReady = (n, r = n.node.ready()) => {
      if (n.id === 3 && r.snapshot) {
        snapSeen = r.snapshot.metadata.index;
        expect(dec(r.snapshot.data)).toBe('state@' + applied);
      }
      orig(n, r);
    };
    c.tick(undefined, 3);
    expect(snapSeen).toBe(applied);
    expect(c.get(3).storage.firstIndex()).toBe(applied + 1);
    // New entries replicate normally after the snapshot.
    c.get(1).node.propose(enc('after'));
    c.tick(undefined, 2);
    expect(c.appliedData(3)).toEqual(['after']);
    expect(c.get(1).node.status().progress[3].state).toBe(ProgressState.Replicate);
  });

  it('a lost snapshot is retried after reportSnapshot(Failure)', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 4; i++) c.get(1).node.propose(enc(`e${i}`));
    c.stabilize();
    const l = c.get(1);
    const applied = l.node.status().applied;
    l.storage.createSnapshot(applied, l.confState, enc('s'));
    l.storage.compact(applied);
    c.heal();
    let dropped = 0;
    c.filter = (m) => {
      if (m.type === MessageType.MsgSnap && dropped === 0) {
        dropped++;
        l.node.reportSnapshot(m.to, SnapshotStatus.Failure);
        return false;
      }
      return true;
    };
    c.tick(undefined, 5);
    expect(dropped).toBe(1);
    expect(c.get(3).storage.firstIndex()).toBe(applied + 1);
  });
});

describe('chapter 4 membership changes', () => {
  const remove = removeNode;

  it('adds a learner, which catches up by snapshot but does not vote, then promotes it', () => {
    // The application snapshots when it applies a conf change (so joiners can be caught up).
    const c = new TestCluster({ snapshotOnConfApply: true });
    c.campaign(1);
    c.get(1).node.propose(enc('a'));
    c.stabilize();
    c.get(1).node.proposeConfChange(addLearner(4));
    c.addNode(4, new MemoryStorage());
    c.stabilize();
    c.tick(undefined, 3);
    expect(c.get(1).node.status().confState.learners).toEqual([4]);
    expect(c.get(4).node.status().isLearner).toBe(true);
    expect(c.get(4).node.status().commit).toBe(c.get(1).node.status().commit);
    // A learner never campaigns.
    c.isolate(1);
    c.tick([4], 50);
    expect(c.get(4).node.status().raftState).toBe(StateType.Follower);
    c.heal();
    c.tick(undefined, 3);
    c.get(1).node.proposeConfChange(addVoter(4));
    c.tick(undefined, 3);
    expect(c.get(1).node.status().confState.voters).toEqual([1, 2, 3, 4]);
    expect(c.get(4).node.status().isLearner).toBe(false);
  });

  it('at most one change pending: a second proposal is refused until the first is applied', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.isolate(2);
    c.isolate(3);
    c.get(1).node.proposeConfChange(addLearner(4));
    expect(() => c.get(1).node.proposeConfChange(addLearner(5))).toThrow(ErrConfChangePending);
  });

  it("Ongaro's fix: a new leader refuses conf changes until an entry of its term is applied", () => {
    const c = new TestCluster();
    c.filter = (m) => m.type !== MessageType.MsgAppResp;
    c.campaign(1);
    expect(() => c.get(1).node.proposeConfChange(addLearner(4))).toThrow(ErrConfChangePending);
    c.heal();
    c.tick([1], 2);
    c.get(1).node.proposeConfChange(addLearner(4));
  });

  it('invalid changes are refused at proposal time with a named error', () => {
    const c = new TestCluster({ voters: [1] });
    c.campaign(1);
    c.stabilize();
    // Removing the last voter would leave no quorum at all.
    expect(() => c.get(1).node.proposeConfChange(remove(1))).toThrow(ConfChangeError);
    // Leaving a joint config that was never entered.
    expect(() => c.get(1).node.proposeConfChange({ changes: [] })).toThrow(/not in joint state/);
  });

  it('while joint (explicit transition), only the leave-joint change is accepted', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.tick([1], 2);
    c.addNode(4, new MemoryStorage());
    c.get(1).node.proposeConfChange({ changes: [{ type: ConfChangeType.AddNode, nodeId: 4 }], transition: 'explicit' });
    c.tick(undefined, 3);
    expect(c.get(1).node.status().confState.votersOutgoing).toEqual([1, 2, 3]);
    expect(() => c.get(1).node.proposeConfChange(addLearner(5))).toThrow(/must transition out of joint config first/);
    c.get(1).node.proposeConfChange({ changes: [] });
    c.tick(undefined, 3);
    expect(c.get(1).node.status().confState).toMatchObject({ voters: [1, 2, 3, 4], votersOutgoing: [] });
  });

  it('joint consensus: replacing a voter through C_old,new and leaving it automatically', () => {
    // The application snapshots when it applies a conf change (so joiners can be caught up).
    const c = new TestCluster({ snapshotOnConfApply: true });
    c.campaign(1);
    c.get(1).node.propose(enc('a'));
    c.stabilize();
    c.addNode(4, new MemoryStorage());
    c.get(1).node.proposeConfChange({
      changes: [
        { type: ConfChangeType.AddNode, nodeId: 4 },
        { type: ConfChangeType.RemoveNode, nodeId: 3 },
      ],
    });
    c.tick(undefined, 5);
    const cs = c.get(1).node.status().confState;
    expect(cs.voters).toEqual([1, 2, 4]);
    expect(cs.votersOutgoing).toEqual([]);
    c.get(1).node.propose(enc('b'));
    c.tick(undefined, 2);
    expect(c.appliedData(4).at(-1)).toBe('b');
  });

  it('the leader removing itself steps down and another voter takes over', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.get(1).node.propose(enc('a'));
    c.stabilize();
    c.get(1).node.proposeConfChange(remove(1));
    c.stabilize();
    c.tick([2, 3], 3);
    expect(c.get(1).node.status().raftState).toBe(StateType.Follower);
    const l = c.leader();
    expect(l && l.id !== 1).toBe(true);
    expect(l!.node.status().confState.voters).toEqual([2, 3]);
    l!.node.propose(enc('after'));
    c.tick([2, 3], 2);
    expect(c.appliedData(2).at(-1)).toBe('after');
    expect(c.appliedData(3).at(-1)).toBe('after');
  });

  it('a leader removing itself hands off even when no voter has its newest entries (a write load)', () => {
    // Torture finding 6: writes proposed after the conf change were not yet
    // on any voter when the leader applied its removal, so no voter's match
    // was the leader's last index and no TimeoutNow was sent: the voters
    // waited an election timeout (and split a vote) although one of them had
    // everything committed and could win at once.
    const c = new TestCluster();
    c.campaign(1);
    c.get(1).node.propose(enc('a'));
    c.stabilize();
    const term = c.get(1).node.status().term;
    c.get(1).node.proposeConfChange(remove(1));
    const confIndex = c.get(1).node.status().lastIndex;
    // The change goes out alone; the write proposed next never reaches a voter.
    c.handleReady(c.get(1));
    c.get(1).node.propose(enc('late'));
    c.filter = (m) => !(m.from === 1 && m.type === MessageType.MsgApp && m.entries.some((e) => e.index > confIndex));
    c.stabilize();
    // No tick: the hand-off alone elects one of 2 and 3.
    expect(c.get(1).node.status().raftState).toBe(StateType.Follower);
    // It stepped down holding the write no voter had (the new leader does not write to a removed node).
    expect(c.get(1).node.status().lastIndex).toBe(confIndex + 1);
    c.filter = () => true;
    c.stabilize();
    const l = c.leader();
    expect(l && l.id !== 1).toBe(true);
    expect(l!.node.status().term).toBe(term + 1);
    expect(l!.node.status().confState.voters).toEqual([2, 3]);
    // The write no voter had was never committed; the new leader's log goes on without it.
    l!.node.propose(enc('after'));
    c.stabilize();
    expect(c.appliedData(2).slice(-1)).toEqual(['after']);
    expect(c.appliedData(3)).not.toContain('late');
  });

  it('a leader removing itself hands off even when the transferee steps the commit and TimeoutNow before applying', () => {
    // On a real node both messages often arrive in one batch and are stepped
    // before the Ready that applies the change: the TimeoutNow must not be lost.
    const c = new TestCluster();
    c.campaign(1);
    c.get(1).node.propose(enc('a'));
    c.stabilize();
    const term = c.get(1).node.status().term;
    c.get(1).node.proposeConfChange(remove(1));
    const confIndex = c.get(1).node.status().lastIndex;
    // Hold what carries the commit of the change, and the TimeoutNow.
    const held: Message[] = [];
    c.filter = (m) => {
      const carriesCommit = (m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat) && m.commit >= confIndex;
      if (m.from === 1 && (carriesCommit || m.type === MessageType.MsgTimeoutNow)) {
        held.push(m);
        return false;
      }
      return true;
    };
    c.stabilize();
    expect(c.get(1).node.status().raftState).toBe(StateType.Follower);
    const timeoutNow = held.find((m) => m.type === MessageType.MsgTimeoutNow);
    expect(timeoutNow).toBeDefined();
    const t = c.get(timeoutNow!.to);
    for (const m of held.filter((x) => x.to === t.id)) t.node.step(m);
    // Stepped, not applied yet: the change is committed on t but not applied.
    expect(t.node.status().commit).toBeGreaterThanOrEqual(confIndex);
    expect(t.node.status().applied).toBeLessThan(confIndex);
    c.filter = () => true;
    // No tick: the hand-off alone must elect t.
    c.stabilize();
    const st = t.node.status();
    expect(st.raftState).toBe(StateType.Leader);
    expect(st.term).toBe(term + 1);
    expect(st.confState.voters).toEqual([2, 3]);
    t.node.propose(enc('after'));
    c.stabilize();
    expect(c.appliedData(2).at(-1)).toBe('after');
    expect(c.appliedData(3).at(-1)).toBe('after');
  });
});
