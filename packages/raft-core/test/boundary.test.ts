// What the core accepts from the network and from one proposal, at its
// boundary: malformed or forbidden input is refused with a named error before
// it reaches a handler, and configuration changes stay one at a time.
import { describe, expect, it } from 'vitest';
import {
  ConfChangeError, ConfChangeType, EntryType, InvalidMessageError, MessageType, encodeConfChange,
  type Entry, type Message,
} from '../src/index.js';
import { TestCluster, enc } from './helpers/cluster.js';

const msg = (m: Partial<Message>): Message => ({ type: MessageType.MsgHeartbeat, to: 1, from: 2, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...m });
const ccEntry = (changes: { type: ConfChangeType; nodeId: number }[]): Entry => ({ index: 0, term: 0, type: EntryType.ConfChange, data: encodeConfChange({ changes }) });

function leaderOfThree(): TestCluster {
  const c = new TestCluster();
  c.campaign(1);
  c.get(1).node.propose(enc('a'));
  c.stabilize();
  return c;
}

function invalid(f: () => void, field: string): void {
  try {
    f();
    expect.unreachable('expected InvalidMessageError');
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidMessageError);
    expect((e as InvalidMessageError).field).toBe(field);
  }
}

describe('messages from the network', () => {
  it('a MsgReadIndex without its context entry is refused, not a TypeError inside the leader', () => {
    const c = leaderOfThree();
    const l = c.get(1).node;
    invalid(() => l.step(msg({ type: MessageType.MsgReadIndex, term: 0, entries: [] })), 'entries');
    invalid(() => l.step(msg({ type: MessageType.MsgReadIndex, term: 0, entries: [{ index: 0, term: 0, type: EntryType.Normal, data: enc('x') }, { index: 0, term: 0, type: EntryType.Normal, data: enc('y') }] })), 'entries');
    invalid(() => c.get(2).node.step(msg({ type: MessageType.MsgReadIndexResp, from: 1, to: 2, term: l.status().term, entries: [] })), 'entries');
    // The well-formed request still works.
    l.step(msg({ type: MessageType.MsgReadIndex, term: 0, entries: [{ index: 0, term: 0, type: EntryType.Normal, data: enc('ctx') }] }));
  });

  it('a proposal from a peer is refused and appends nothing', () => {
    const c = leaderOfThree();
    const l = c.get(1).node;
    const last = l.status().lastIndex;
    invalid(() => l.step(msg({ type: MessageType.MsgProp, term: l.status().term, entries: [{ index: 0, term: 0, type: EntryType.Normal, data: enc('forged') }] })), 'type');
    c.stabilize();
    expect(l.status().lastIndex).toBe(last);
    expect(c.appliedData(2)).not.toContain('forged');
  });

  it('term 0 (which the core reads as "local") is only accepted on a forwarded read request', () => {
    const c = leaderOfThree();
    const f = c.get(2).node;
    const commit = f.status().commit;
    invalid(() => f.step(msg({ type: MessageType.MsgApp, from: 1, to: 2, term: 0, index: commit, logTerm: 1, commit: commit + 5, entries: [{ index: commit + 1, term: 99, type: EntryType.Normal, data: enc('x') }] })), 'term');
    invalid(() => f.step(msg({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 0 })), 'term');
    expect(f.status().lastIndex).toBe(commit);
  });

  it('entries only where a message type carries them, each well-formed; no anonymous sender', () => {
    const c = leaderOfThree();
    const f = c.get(2).node;
    const t = f.status().term;
    invalid(() => f.step(msg({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: t, entries: [{ index: 1, term: 1, type: EntryType.Normal, data: enc('x') }] })), 'entries');
    invalid(() => f.step(msg({ type: MessageType.MsgApp, from: 1, to: 2, term: t, entries: [{ index: 9, term: 1, type: 7 as EntryType, data: enc('x') }] })), 'entries[0].type');
    invalid(() => f.step(msg({ type: MessageType.MsgApp, from: 1, to: 2, term: t, entries: [{ index: 9, term: 1, type: EntryType.Normal, data: 'x' as unknown as Uint8Array }] })), 'entries[0].data');
    invalid(() => f.step(msg({ type: MessageType.MsgApp, from: 0, to: 2, term: t })), 'from');
  });
});

describe('one configuration change at a time', () => {
  it('a proposal batch with two conf changes is refused whole', () => {
    const c = leaderOfThree();
    const l = c.get(1).node;
    const last = l.status().lastIndex;
    // Only the core's own step sees a batch (RawNode proposes one entry at a time, and peers may not propose).
    expect(() => l.raft.step(msg({ type: MessageType.MsgProp, from: 1, to: 0, term: 0, entries: [
      ccEntry([{ type: ConfChangeType.AddLearnerNode, nodeId: 4 }]),
      ccEntry([{ type: ConfChangeType.AddLearnerNode, nodeId: 5 }]),
    ] }))).toThrow(ConfChangeError);
    expect(l.status().lastIndex).toBe(last);
    c.stabilize();
    expect(l.status().confState.learners).toEqual([]);
    // One change per proposal still works.
    l.proposeConfChange({ changes: [{ type: ConfChangeType.AddLearnerNode, nodeId: 4 }] });
    c.stabilize();
    expect(l.status().confState.learners).toEqual([4]);
  });

  it('the automatic leave-joint entry waits while a leadership transfer is in progress', () => {
    const c = leaderOfThree();
    const l = c.get(1).node;
    // Node 3 cannot catch up, so a transfer to it stays pending.
    c.isolate(3);
    const ccIndex = l.proposeConfChange({ changes: [{ type: ConfChangeType.AddLearnerNode, nodeId: 4 }, { type: ConfChangeType.AddLearnerNode, nodeId: 5 }] });
    l.transferLeader(3);
    expect(l.status().leadTransferee).toBe(3);
    c.stabilize();
    // The joint config (auto-leave) is applied on the leader, but nothing was appended after it.
    expect(l.status().applied).toBe(ccIndex);
    expect(l.status().confState.autoLeave).toBe(true);
    expect(l.status().lastIndex).toBe(ccIndex);
    // The transfer times out after an election timeout; then the leave-joint goes.
    c.tick([1, 2], 10);
    expect(l.status().leadTransferee).toBe(0);
    c.stabilize();
    expect(l.status().lastIndex).toBe(ccIndex + 1);
    expect(l.status().confState).toMatchObject({ autoLeave: false, votersOutgoing: [], learners: [4, 5] });
  });
});
