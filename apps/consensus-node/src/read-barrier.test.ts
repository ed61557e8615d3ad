// The read barrier alone (no Raft): a read is released only once this node
// has applied the index its ReadIndex returned, whatever order the read state
// and the applies arrive in; reads waiting together share one ReadIndex.
import { describe, expect, it } from 'vitest';
import { ReadBarrier } from './read-barrier.js';

/** A barrier on node 1; `leader` is the leader it knows (2: it is a follower). */
function barrier(leader = 2) {
  const asked: string[] = [];
  let n = 0;
  const metrics = { readBatches: 0, reads: 0 };
  const b = new ReadBarrier({
    readIndex: (ctx) => { asked.push(Buffer.from(ctx).toString()); },
    leaderId: () => leader,
    nodeId: 1,
    maxPendingReads: 100,
    timeoutMs: 60_000,
    newContext: () => `ctx-${++n}`,
    metrics,
  });
  return { b, asked, metrics };
}

/** Settles pending promise callbacks, then says whether `p` has resolved. */
async function isDone(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => { done = true; }, () => { done = true; });
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
}

const rs = (index: number, ctx: string) => ({ index, requestCtx: Buffer.from(ctx) });

describe('ReadBarrier', () => {
  it('does not release a read before apply reaches its read index', async () => {
    const { b, asked } = barrier();
    const read = b.wait();
    expect(asked).toEqual(['ctx-1']);
    // The read index (the leader's commit index) is 10; this node has applied 7.
    b.onReadStates([rs(10, 'ctx-1')], 7);
    expect(await isDone(read)).toBe(false);
    b.onReadStates([], 9);
    expect(await isDone(read)).toBe(false);
    b.onReadStates([], 10);
    expect(await isDone(read)).toBe(true);
    await read;
    expect(b.pending()).toBe(false);
  });

  it('releases at once when apply is already past the read index; a read state of another context releases nothing', async () => {
    const { b } = barrier();
    const read = b.wait();
    b.onReadStates([rs(50, 'someone-else')], 100);
    expect(await isDone(read)).toBe(false);
    b.onReadStates([rs(5, 'ctx-1')], 6);
    await read;
  });

  it('a follower batches: reads arriving while two ReadIndex requests are in flight share the next one', async () => {
    const { b, asked, metrics } = barrier();
    const first = b.wait();
    const second = b.wait();
    const waiting = [b.wait(), b.wait(), b.wait()];
    expect(asked).toEqual(['ctx-1', 'ctx-2']);
    b.onReadStates([rs(3, 'ctx-1')], 3);
    await first;
    // ctx-1's slot is free: the three waiting reads go out as one request (sent after the Ready, by maybeIssue).
    b.maybeIssue();
    expect(asked).toEqual(['ctx-1', 'ctx-2', 'ctx-3']);
    b.onReadStates([rs(4, 'ctx-3'), rs(4, 'ctx-2')], 4);
    await Promise.all([second, ...waiting]);
    expect(metrics).toEqual({ readBatches: 3, reads: 5 });
  });

  it('the leader hands over one batch at a time: reads arriving while it is out wait and share the next one', async () => {
    // raft-core fixes a request's read index when it is stepped and runs one
    // heartbeat round at a time: a second request handed over now would only
    // queue there, and the reads after it would wait a round longer.
    const { b, asked, metrics } = barrier(1);
    const first = b.wait();
    const waiting = [b.wait(), b.wait(), b.wait()];
    expect(asked).toEqual(['ctx-1']);
    b.maybeIssue();
    expect(asked).toEqual(['ctx-1']);
    b.onReadStates([rs(3, 'ctx-1')], 3);
    await first;
    b.maybeIssue();
    expect(asked).toEqual(['ctx-1', 'ctx-2']);
    b.onReadStates([rs(4, 'ctx-2')], 4);
    await Promise.all(waiting);
    expect(metrics).toEqual({ readBatches: 2, reads: 4 });
  });

  it('refuses at once when no leader is known, and after stop()', async () => {
    const { b } = barrier(0);
    await expect(b.wait()).rejects.toMatchObject({ body: { code: 'UNAVAILABLE', message: expect.stringContaining('no leader') } });
    const ok = barrier();
    const read = ok.b.wait();
    ok.b.stop(new Error('stopping'));
    await expect(read).rejects.toThrow('stopping');
    await expect(ok.b.wait()).rejects.toMatchObject({ body: { code: 'UNAVAILABLE' } });
  });
});
