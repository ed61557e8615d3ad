// The read barrier in front of a real raft-core leader (three in-memory
// nodes, messages delivered by hand): how many heartbeat rounds a read that
// arrives while a round is out waits for, and that a read never gets a read
// index fixed before it arrived. The first case is the read regression of
// issue 15: with a second ReadIndex request handed to raft-core while its
// one round was out, reads arriving after it waited for a third round.
import { describe, expect, it } from 'vitest';
import { MemoryStorage, MessageType, RawNode, StateType, createRng, type Message, type ReadState } from '@flagraft/raft-core';
import { ReadBarrier } from './read-barrier.js';

class Cluster {
  readonly nodes = new Map<number, RawNode>();
  readonly storages = new Map<number, MemoryStorage>();
  queue: Message[] = [];
  /** Messages held back instead of delivered (a round the test keeps "on the wire"). */
  held: Message[] = [];
  hold: (m: Message) => boolean = () => false;
  /** Contexts of the read heartbeat rounds the leader sent. */
  readonly rounds: string[] = [];
  leaderApplied = 0;
  onLeaderReady: (readStates: ReadState[], applied: number) => void = () => {};
  afterLeaderAdvance: () => void = () => {};

  constructor() {
    for (const id of [1, 2, 3]) {
      const storage = new MemoryStorage({ voters: [1, 2, 3] });
      this.storages.set(id, storage);
      this.nodes.set(id, new RawNode({ id, storage, electionTick: 10, heartbeatTick: 1, checkQuorum: true, preVote: true, rng: createRng(id) }));
    }
  }

  get leader(): RawNode {
    return this.nodes.get(1)!;
  }

  /** Every Ready handled and every message not held delivered, until nothing moves. */
  settle(): void {
    for (let i = 0; i < 1000; i++) {
      let moved = false;
      for (const [id, n] of this.nodes) {
        if (!n.hasReady()) continue;
        moved = true;
        const rd = n.ready();
        const st = this.storages.get(id)!;
        st.append(rd.entries);
        if (rd.hardState) st.setHardState(rd.hardState);
        for (const m of rd.messages) {
          if (id === 1 && m.type === MessageType.MsgHeartbeat && m.context?.byteLength) {
            const ctx = Buffer.from(m.context).toString();
            if (this.rounds.at(-1) !== ctx) this.rounds.push(ctx);
          }
          (this.hold(m) ? this.held : this.queue).push(m);
        }
        if (id === 1) {
          const last = rd.committedEntries.at(-1);
          if (last) this.leaderApplied = last.index;
          this.onLeaderReady(rd.readStates, this.leaderApplied);
        }
        n.advance();
        if (id === 1) this.afterLeaderAdvance();
      }
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        moved = true;
        this.nodes.get(m.to)!.step(m);
      }
      if (!moved) return;
    }
    throw new Error('cluster did not settle');
  }

  release(): void {
    this.queue.push(...this.held);
    this.held = [];
    this.hold = () => false;
  }
}

/** Node 1 leads with its no-op committed; a ReadBarrier serves reads on it the way raft-driver.ts wires one. */
function leaderWithBarrier() {
  const c = new Cluster();
  c.leader.campaign();
  c.settle();
  expect(c.leader.status().raftState).toBe(StateType.Leader);
  let n = 0;
  const b = new ReadBarrier({
    readIndex: (ctx) => c.leader.readIndex(ctx),
    leaderId: () => 1,
    nodeId: 1,
    maxPendingReads: 1000,
    timeoutMs: 60_000,
    newContext: () => `r${++n}`,
    metrics: { readBatches: 0, reads: 0 },
  });
  c.onLeaderReady = (states, applied) => b.onReadStates(states, applied);
  c.afterLeaderAdvance = () => b.maybeIssue();
  return { c, b };
}

/** Whether each promise has settled (after pending callbacks ran). */
async function done(ps: Promise<unknown>[]): Promise<boolean[]> {
  const out = ps.map(() => false);
  ps.forEach((p, i) => void p.then(() => { out[i] = true; }, () => { out[i] = true; }));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return out;
}

const heartbeats = (m: Message) => m.type === MessageType.MsgHeartbeat;

describe('ReadBarrier on a raft-core leader', () => {
  it('reads that arrive while a heartbeat round is out are all confirmed by the next round', async () => {
    const { c, b } = leaderWithBarrier();
    c.hold = heartbeats;
    const first = b.wait();
    c.settle();
    expect(c.rounds).toEqual(['r1']);
    // Round r1 is on the wire: these three arrive meanwhile.
    const later = [b.wait(), b.wait(), b.wait()];
    c.settle();
    expect(await done([first, ...later])).toEqual([false, false, false, false]);
    c.release();
    c.settle();
    expect(await done([first, ...later])).toEqual([true, true, true, true]);
    // One round after r1, not two: with a second request handed over while
    // r1 was out, the reads after it went out in a third round.
    expect(c.rounds).toEqual(['r1', 'r2']);
  });

  it('a read gets a read index fixed after it arrived: at least a write committed before it', async () => {
    const { c, b } = leaderWithBarrier();
    c.hold = heartbeats;
    const first = b.wait();
    c.settle();
    // While round r1 is out, read A arrives, then a write commits, then read B arrives.
    const a = b.wait();
    c.settle();
    c.leader.propose(Buffer.from('w'));
    c.settle();
    const written = c.leader.status().commit;
    expect(c.leaderApplied).toBe(written);
    const indexes: number[] = [];
    const onReady = c.onLeaderReady;
    c.onLeaderReady = (states, applied) => { indexes.push(...states.map((s) => s.index)); onReady(states, applied); };
    const later = b.wait();
    c.release();
    c.settle();
    expect(await done([first, a, later])).toEqual([true, true, true]);
    // r1's index came before the write; the batch of A and B was handed over after it.
    expect(indexes).toHaveLength(2);
    expect(indexes[0]).toBeLessThan(written);
    expect(indexes[1]).toBeGreaterThanOrEqual(written);
  });
});
