// The RawNode contract: input validation with named errors, the one-Ready-
// at-a-time rule, restart from storage, and config validation.
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  ErrNoReady,
  ErrReadyOutstanding,
  ErrStepLocalMsg,
  ErrStepPeerNotFound,
  InvalidMessageError,
  MemoryStorage,
  MessageType,
  RawNode,
  StateType,
  createRng,
} from '../src/index.js';
import type { Message } from '../src/index.js';
import { TestCluster, enc } from './helpers/cluster.js';

const msg = (m: Partial<Message>): Message => ({ type: MessageType.MsgHeartbeat, to: 1, from: 2, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...m });
const newNode = () => new RawNode({ id: 1, storage: new MemoryStorage({ voters: [1, 2, 3] }), electionTick: 10, heartbeatTick: 1 });

describe('RawNode input validation', () => {
  it('refuses local-only message types from the network', () => {
    expect(() => newNode().step(msg({ type: MessageType.MsgHup }))).toThrow(ErrStepLocalMsg);
  });

  it('refuses responses from peers outside the configuration', () => {
    expect(() => newNode().step(msg({ type: MessageType.MsgAppResp, from: 9 }))).toThrow(ErrStepPeerNotFound);
  });

  it('names the bad field of a malformed message', () => {
    try {
      newNode().step(msg({ term: -1 }));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidMessageError);
      expect((e as InvalidMessageError).field).toBe('term');
    }
    expect(() => newNode().step(msg({ type: 99 as MessageType }))).toThrow(/unknown message type/);
    expect(() => newNode().step(msg({ type: MessageType.MsgSnap }))).toThrow(/MsgSnap without snapshot/);
  });

  it('refuses empty proposals (reserved for leader no-ops)', () => {
    const n = new RawNode({ id: 1, storage: new MemoryStorage({ voters: [1] }), electionTick: 10, heartbeatTick: 1 });
    n.campaign();
    expect(() => n.propose(new Uint8Array(0))).toThrow(InvalidMessageError);
  });

  it('config errors name the field', () => {
    const storage = new MemoryStorage({ voters: [1] });
    const bad = (c: object, field: string) => {
      try {
        new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, ...c });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).field).toBe(field);
      }
    };
    bad({ id: 0 }, 'id');
    bad({ electionTick: 1 }, 'electionTick');
    bad({ maxInflightMsgs: 0 }, 'maxInflightMsgs');
    bad({ maxSizePerMsg: 1.5 }, 'maxSizePerMsg');
  });
});

describe('the Ready contract', () => {
  it('only one Ready is outstanding; advance without a Ready is refused', () => {
    const n = new RawNode({ id: 1, storage: new MemoryStorage({ voters: [1] }), electionTick: 10, heartbeatTick: 1 });
    expect(() => n.advance()).toThrow(ErrNoReady);
    n.campaign();
    expect(n.hasReady()).toBe(true);
    n.ready();
    expect(n.hasReady()).toBe(false);
    expect(() => n.ready()).toThrow(ErrReadyOutstanding);
    n.advance();
  });

  it('entries are handed out once for persisting and committed entries once for applying', () => {
    const s = new MemoryStorage({ voters: [1] });
    const n = new RawNode({ id: 1, storage: s, electionTick: 10, heartbeatTick: 1, rng: createRng(3) });
    n.campaign();
    n.propose(enc('x'));
    const rd = n.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([1, 2]);
    // Not committed before the leader's own write is durable, even alone.
    expect(rd.committedEntries).toEqual([]);
    s.append(rd.entries);
    s.setHardState(rd.hardState!);
    n.advance();
    const rd2 = n.ready();
    expect(rd2.entries).toEqual([]);
    expect(rd2.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    s.setHardState(rd2.hardState!);
    n.advance();
    expect(n.hasReady()).toBe(false);
  });

  it('a restarted node keeps its term, vote and log, and does not re-apply what it applied', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.get(1).node.propose(enc('a'));
    c.stabilize();
    c.tick(undefined, 2);
    const before = c.get(2).node.status();
    const applied = before.applied;
    const n2 = c.addNode(2, c.get(2).storage, applied);
    const after = n2.node.status();
    expect([after.term, after.vote, after.commit, after.lastIndex, after.applied]).toEqual([before.term, before.vote, before.commit, before.lastIndex, applied]);
    c.get(1).node.propose(enc('b'));
    c.tick(undefined, 2);
    expect(c.appliedData(2)).toEqual(['b']);
    expect(c.get(1).node.status().raftState).toBe(StateType.Leader);
  });
});

describe('defensive input handling', () => {
  it('a leader ignores an acknowledgement beyond its own log instead of corrupting its progress', () => {
    const c = new TestCluster();
    const l = c.campaign(1);
    const match = l.node.status().progress[2].match;
    l.node.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: l.node.status().term, index: 1_000_000 }));
    expect(l.node.status().progress[2].match).toBe(match);
    l.node.propose(enc('still fine'));
    c.stabilize();
    expect(c.appliedData(2)).toEqual(['still fine']);
  });
});
