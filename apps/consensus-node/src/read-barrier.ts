// Linearizable reads (Raft thesis §6.4, ReadIndex): a read waits until this
// node has applied everything committed when the read arrived, as confirmed
// by the leader with a quorum. Reads that arrive while a ReadIndex request is
// in flight share the next one (batching).
//
// How many requests may be in flight depends on where the round happens.
// raft-core's leader runs one read heartbeat round at a time and records a
// request's read index when the request is stepped: a second request handed
// to it while a round is out only waits in its queue, its index already
// fixed, and every read arriving after it had to wait for a third request
// and a third round (2.5 rounds per read on average instead of 1.5: the
// read regression of issue 15, 4,605 -> 3,320 reads/s). So the leader hands
// over the next batch only when the previous one is confirmed: it then goes
// out in the very next round with every read that arrived meanwhile
// (LEADER_READ_BATCHES). A follower or learner forwards its requests to the
// leader, one hop away: a second one in flight reaches the leader in time
// for its next round (FOLLOWER_READ_BATCHES).
import { ApiError } from './errors.js';
import { Waiters } from './waiters.js';

/** ReadIndex requests in flight at once on the leader (count); see the file comment. */
export const LEADER_READ_BATCHES = 1;
/** ReadIndex requests in flight at once on a follower or learner (count); see the file comment. */
export const FOLLOWER_READ_BATCHES = 2;

export interface ReadBarrierOptions {
  /** Asks raft-core for a read index with this context; throws if it refuses. */
  readIndex(ctx: Uint8Array): void;
  /** The known leader (0 = none). */
  leaderId(): number;
  /** This node's id (the leader hands over one batch at a time, a follower two). */
  nodeId: number;
  /** Reads waiting to be sent before new ones are refused (count). */
  maxPendingReads: number;
  /** A ReadIndex not answered within this is given up and its reads fail (ms); the clients retry. */
  timeoutMs: number;
  /** A context no other ReadIndex of this node has used. */
  newContext(): string;
  metrics: { readBatches: number; reads: number };
}

export class ReadBarrier {
  // Every caller waits on the context of its batch: `next` until the batch is sent.
  private readonly waiters = new Waiters<void>(Infinity, () => ApiError.of('UNAVAILABLE', 'linearizable read timed out waiting for the leader'));
  private next: string;
  private readonly inflight = new Map<string, NodeJS.Timeout>();
  private ready: { index: number; ctx: string }[] = [];
  private stopped = false;

  constructor(private readonly o: ReadBarrierOptions) {
    this.next = o.newContext();
  }

  /** Resolves once this node's state is at least as new as any write acknowledged before the call. */
  wait(): Promise<void> {
    if (this.stopped) return Promise.reject(ApiError.of('UNAVAILABLE', 'node is shutting down'));
    if (this.waiters.count(this.next) >= this.o.maxPendingReads) {
      return Promise.reject(ApiError.of('RESOURCE_EXHAUSTED', `too many pending reads (maxPendingReads ${this.o.maxPendingReads})`));
    }
    const p = this.waiters.wait(this.next);
    this.maybeIssue();
    return p;
  }

  /** Reads waiting or in flight (the cluster is not idle while there are any). */
  pending(): boolean {
    return this.inflight.size > 0 || this.ready.length > 0 || this.waiters.count(this.next) > 0;
  }

  /** Sends the waiting reads' ReadIndex if a batch slot is free. */
  maybeIssue(): void {
    if (this.waiters.count(this.next) === 0 || this.stopped) return;
    const lead = this.o.leaderId();
    if (this.inflight.size >= (lead === this.o.nodeId ? LEADER_READ_BATCHES : FOLLOWER_READ_BATCHES)) return;
    const ctx = this.next;
    this.next = this.o.newContext();
    const reads = this.waiters.count(ctx);
    if (lead === 0) {
      this.waiters.fail(ctx, ApiError.of('UNAVAILABLE', 'no leader: cannot serve a linearizable read'));
      return;
    }
    // If the ReadIndex is lost (leader change, dropped message), give up after
    // the timeout and let the client retry.
    const timer = setTimeout(() => {
      if (!this.inflight.delete(ctx)) return;
      this.waiters.fail(ctx, ApiError.of('UNAVAILABLE', 'linearizable read timed out waiting for the leader'));
      this.maybeIssue();
    }, this.o.timeoutMs);
    this.inflight.set(ctx, timer);
    this.o.metrics.readBatches++;
    this.o.metrics.reads += reads;
    try {
      this.o.readIndex(Buffer.from(ctx));
    } catch (e) {
      clearTimeout(timer);
      this.inflight.delete(ctx);
      this.waiters.fail(ctx, ApiError.of('UNAVAILABLE', `read barrier refused: ${(e as Error).message}`));
    }
  }

  /** A Ready's read states: each batch is released once `applied` reaches its index. */
  onReadStates(states: { index: number; requestCtx: Uint8Array }[], applied: number): void {
    for (const rs of states) {
      const ctx = Buffer.from(rs.requestCtx).toString();
      const timer = this.inflight.get(ctx);
      if (timer === undefined) continue;
      clearTimeout(timer);
      this.inflight.delete(ctx);
      this.ready.push({ index: rs.index, ctx });
    }
    if (!this.ready.length) return;
    const still: typeof this.ready = [];
    for (const r of this.ready) {
      if (r.index <= applied) this.waiters.settle(r.ctx, undefined);
      else still.push(r);
    }
    this.ready = still;
  }

  /** The known leader changed: re-issue the reads in flight against the new one rather than failing them. */
  onLeaderChange(): void {
    for (const [ctx, timer] of this.inflight) {
      clearTimeout(timer);
      this.waiters.move(ctx, this.next);
    }
    this.inflight.clear();
  }

  stop(err: Error): void {
    this.stopped = true;
    for (const timer of this.inflight.values()) clearTimeout(timer);
    this.inflight.clear();
    this.ready = [];
    this.waiters.failAll(err);
  }
}
