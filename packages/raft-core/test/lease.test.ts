// Lease-based reads (readOnlyOption 'lease-based', src/lease.ts): the leader
// answers at once while a quorum acknowledged a heartbeat it sent less than
// leaseTicks ago; otherwise, and after expireLease(), a leadership transfer
// or in a new term, it falls back to the heartbeat round of ReadIndex.
import { describe, expect, it } from 'vitest';
import { ConfigError, MemoryStorage, MessageType, RawNode, type Ready } from '../src/index.js';
import { TestCluster, enc } from './helpers/cluster.js';

const LEASE = { readOnlyOption: 'lease-based' as const, leaseTicks: 5 };

/** Collects the read states node `id` hands out from now on. */
function readStates(c: TestCluster, id: number): { index: number }[] {
  const got: { index: number }[] = [];
  const orig = c.handleReady.bind(c);
  c.handleReady = (n, r: Ready = n.node.ready()) => {
    if (n.id === id) got.push(...r.readStates.map((s) => ({ index: s.index })));
    orig(n, r);
  };
  return got;
}

/** A read on `id`: whether its read state came back in the first Ready, with no message sent in between. */
function readAtOnce(c: TestCluster, id: number, ctx: string): { immediate: boolean; heartbeats: number } {
  const n = c.get(id);
  n.node.readIndex(enc(ctx));
  const rd = n.node.ready();
  const immediate = rd.readStates.some((s) => new TextDecoder().decode(s.requestCtx) === ctx);
  const heartbeats = rd.messages.filter((m) => m.type === MessageType.MsgHeartbeat && m.context && m.context.byteLength > 0).length;
  c.handleReady(n, rd);
  c.stabilize();
  return { immediate, heartbeats };
}

describe('lease-based reads', () => {
  it('config: needs CheckQuorum, electionTick >= 3, leaseTicks at most electionTick - 2; a 10 % margin by default', () => {
    const storage = new MemoryStorage({ voters: [1] });
    const base = { id: 1, storage, electionTick: 10, heartbeatTick: 1 };
    expect(() => new RawNode({ ...base, readOnlyOption: 'lease-based', checkQuorum: false })).toThrow(ConfigError);
    expect(() => new RawNode({ ...base, readOnlyOption: 'lease-based', checkQuorum: false })).toThrow(/readOnlyOption: 'lease-based' requires checkQuorum/);
    expect(() => new RawNode({ ...base, readOnlyOption: 'lease-based', leaseTicks: 9 })).toThrow(/leaseTicks: must be at most electionTick - 2 \(8\), got 9/);
    expect(() => new RawNode({ ...base, electionTick: 2, readOnlyOption: 'lease-based' })).toThrow(/electionTick >= 3/);
    expect(() => new RawNode({ ...base, leaseTicks: 3 })).toThrow(/leaseTicks: is only meaningful with readOnlyOption 'lease-based'/);
    expect(() => new RawNode({ ...base, readOnlyOption: 'fast' as any })).toThrow(/readOnlyOption: must be 'safe' or 'lease-based'/);
    expect(new RawNode({ ...base, readOnlyOption: 'lease-based' }).raft.cfg.leaseTicks).toBe(7);
    expect(new RawNode({ ...base, electionTick: 50, readOnlyOption: 'lease-based' }).raft.cfg.leaseTicks).toBe(43);
  });

  it('the leader answers without a heartbeat round while a quorum acknowledged a heartbeat sent less than leaseTicks ago', () => {
    const c = new TestCluster({ config: LEASE });
    const l = c.campaign(1);
    l.node.propose(enc('a'));
    c.stabilize();
    // No lease yet in this term: the first read takes the heartbeat round, whose acknowledgements start the lease.
    const states = readStates(c, 1);
    expect(readAtOnce(c, 1, 'r1')).toEqual({ immediate: false, heartbeats: 2 });
    expect(states.length).toBe(1);
    expect(readAtOnce(c, 1, 'r2')).toEqual({ immediate: true, heartbeats: 0 });
    expect(states[1].index).toBe(l.node.status().commit);
    // Only the leader ticks, and the followers stop answering: the lease runs out after leaseTicks (5).
    c.isolate(2);
    c.isolate(3);
    c.tick([1], 4);
    expect(readAtOnce(c, 1, 'r3').immediate).toBe(true);
    c.tick([1], 1);
    expect(readAtOnce(c, 1, 'r4')).toEqual({ immediate: false, heartbeats: 2 });
    c.heal();
    c.tick([1], 1);
    expect(readAtOnce(c, 1, 'r5').immediate).toBe(true);
  });

  it('one acknowledging follower out of two is a quorum of three', () => {
    const c = new TestCluster({ config: LEASE });
    c.campaign(1);
    c.stabilize();
    readAtOnce(c, 1, 'start');
    c.isolate(3);
    c.tick([1, 2], 6); // heartbeats every tick, acknowledged by 2 alone
    expect(readAtOnce(c, 1, 'with-2').immediate).toBe(true);
    c.isolate(2);
    c.tick([1], 6);
    expect(readAtOnce(c, 1, 'alone').immediate).toBe(false);
  });

  it('a learner\'s acknowledgements do not hold the lease', () => {
    // Voters 1-3 and learner 4, all from the same bootstrap configuration.
    const c = new TestCluster({ config: LEASE, voters: [] });
    for (const id of [1, 2, 3, 4]) c.addNode(id, new MemoryStorage({ voters: [1, 2, 3], learners: [4] }));
    const learner = c.get(4);
    expect(learner.node.raft.isLearner).toBe(true);
    c.campaign(1);
    c.stabilize();
    readAtOnce(c, 1, 'start');
    expect(readAtOnce(c, 1, 'leased').immediate).toBe(true);
    c.isolate(2);
    c.isolate(3);
    c.tick([1, 4], 6); // only the learner hears and acknowledges the heartbeats
    expect(readAtOnce(c, 1, 'learner-only').immediate).toBe(false);
  });

  it('expireLease() forgets earlier acknowledgements: the next read takes a round, whose acknowledgements start a new lease', () => {
    const c = new TestCluster({ config: LEASE });
    c.campaign(1);
    c.stabilize();
    readAtOnce(c, 1, 'start');
    expect(readAtOnce(c, 1, 'leased').immediate).toBe(true);
    c.get(1).node.expireLease();
    expect(readAtOnce(c, 1, 'expired')).toEqual({ immediate: false, heartbeats: 2 });
    expect(readAtOnce(c, 1, 'renewed').immediate).toBe(true);
  });

  it('a leadership transfer ends the lease for the rest of the term (the transferee campaigns past the followers\' refusal)', () => {
    const c = new TestCluster({ config: LEASE });
    c.campaign(1);
    c.stabilize();
    readAtOnce(c, 1, 'start');
    expect(readAtOnce(c, 1, 'leased').immediate).toBe(true);
    // The transferee never gets to campaign (MsgTimeoutNow dropped): node 1 stays leader, without its lease.
    c.filter = (m) => m.type !== MessageType.MsgTimeoutNow;
    c.get(1).node.transferLeader(2);
    c.stabilize();
    c.tick([1, 2, 3], 11); // the transfer times out (an election timeout)
    expect(c.leader()?.id).toBe(1);
    expect(readAtOnce(c, 1, 'after-transfer').immediate).toBe(false);
  });

  it('safe mode (the default) never answers without a round, and heartbeats carry no lease stamp', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.stabilize();
    readAtOnce(c, 1, 'a');
    expect(readAtOnce(c, 1, 'b')).toEqual({ immediate: false, heartbeats: 2 });
    c.get(1).node.tick();
    const rd = c.get(1).node.ready();
    expect(rd.messages.filter((m) => m.type === MessageType.MsgHeartbeat).every((m) => m.index === 0)).toBe(true);
  });
});

describe('ReadIndex rounds at the leader', () => {
  it('reads stepped together share one heartbeat round, sent to the voters only', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.stabilize();
    const l = c.get(1);
    const states = readStates(c, 1);
    for (const ctx of ['x', 'y', 'z']) l.node.readIndex(enc(ctx));
    const rd = l.node.ready();
    const hbs = rd.messages.filter((m) => m.type === MessageType.MsgHeartbeat);
    expect(hbs.map((m) => [m.to, new TextDecoder().decode(m.context!)])).toEqual([[2, 'z'], [3, 'z']]);
    c.handleReady(l, rd);
    c.stabilize();
    expect(states.map((s) => s.index)).toEqual([l.node.status().commit, l.node.status().commit, l.node.status().commit]);
  });

  it('one round in flight at a time: reads that arrive meanwhile go with the next round, sent once the first is confirmed', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.stabilize();
    const l = c.get(1);
    const states = readStates(c, 1);
    l.node.readIndex(enc('first'));
    const rd1 = l.node.ready();
    const round1 = rd1.messages.filter((m) => m.type === MessageType.MsgHeartbeat);
    expect(round1.map((m) => new TextDecoder().decode(m.context!))).toEqual(['first', 'first']);
    l.node.advance();
    // The first round is in flight (not delivered yet): later reads send nothing.
    l.node.readIndex(enc('second'));
    l.node.readIndex(enc('third'));
    expect(l.node.hasReady()).toBe(false);
    // The acknowledgements of the first round release it and send the second, with the newest context.
    for (const m of round1) c.get(m.to).node.step(m);
    for (const id of [2, 3]) {
      const rd = c.get(id).node.ready();
      for (const m of rd.messages) l.node.step(m);
      c.get(id).node.advance();
    }
    const rd2 = l.node.ready();
    expect(rd2.readStates.map((s) => new TextDecoder().decode(s.requestCtx))).toEqual(['first']);
    expect(rd2.messages.filter((m) => m.type === MessageType.MsgHeartbeat).map((m) => new TextDecoder().decode(m.context!))).toEqual(['third', 'third']);
    c.handleReady(l, rd2);
    c.stabilize();
    expect(states.length).toBe(3); // 'first' (in rd2), then 'second' and 'third', released together by the second round
  });

  it('a lost round is made good by the next regular heartbeat', () => {
    const c = new TestCluster();
    c.campaign(1);
    c.stabilize();
    const states = readStates(c, 1);
    c.filter = (m) => !(m.type === MessageType.MsgHeartbeat && m.context && new TextDecoder().decode(m.context) === 'lost');
    c.get(1).node.readIndex(enc('lost'));
    c.stabilize();
    c.get(1).node.readIndex(enc('after'));
    c.stabilize();
    expect(states).toEqual([]);
    c.heal();
    c.tick([1], 1); // heartbeatTick 1: a regular heartbeat carrying the newest context
    expect(states.length).toBe(2);
  });
});
