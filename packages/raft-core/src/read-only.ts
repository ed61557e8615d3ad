// ReadIndex bookkeeping (thesis §6.4): a read request is recorded with the
// leader's commit index at arrival and is released once a quorum has
// acknowledged a heartbeat carrying its context, proving that this node was
// still the leader when the request arrived.
import type { Raft } from './raft.js';
import { MessageType, NONE, type Message, type NodeId } from './types.js';
import { bytesKey, newMessage } from './util.js';

export interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Map<NodeId, boolean>;
}

/** Upper bound on read requests waiting for a quorum (requests beyond it are dropped; clients retry). */
export const MAX_PENDING_READ_INDEX = 65_536;

export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Returns false if the request was dropped (duplicate context or queue full). */
  addRequest(index: number, m: Message): boolean {
    const key = bytesKey(m.entries[0]?.data);
    if (this.pending.has(key)) return false;
    if (this.queue.length >= MAX_PENDING_READ_INDEX) return false;
    this.pending.set(key, { index, req: m, acks: new Map() });
    this.queue.push(key);
    return true;
  }

  /** Record a heartbeat ack for a context; returns the acks so far, or undefined if unknown. */
  recvAck(id: NodeId, context: Uint8Array | undefined): Map<NodeId, boolean> | undefined {
    const rs = this.pending.get(bytesKey(context));
    if (!rs) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /**
   * Release the request with this context and every request queued before it
   * (a quorum that confirmed a later heartbeat also confirms the earlier ones).
   */
  advance(context: Uint8Array | undefined): ReadIndexStatus[] {
    const key = bytesKey(context);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const released = this.queue.splice(0, at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of released) {
      const rs = this.pending.get(k);
      if (rs) out.push(rs);
      this.pending.delete(k);
    }
    return out;
  }

  /** Whether the request with this context still waits for its quorum. */
  isPending(context: Uint8Array): boolean {
    return this.pending.has(bytesKey(context));
  }

  lastPendingRequestCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1])!.req.entries[0]?.data;
  }
}

// ---- the leader side of ReadIndex ----

/** Hand a confirmed read to its requester: a ReadState locally, a MsgReadIndexResp to a follower. */
export function responseToReadIndexReq(r: Raft, req: Message, readIndex: number): Message | undefined {
  if (req.from === NONE || req.from === r.id) {
    r.readStates.push({ index: readIndex, requestCtx: req.entries[0].data });
    return undefined;
  }
  return newMessage({ type: MessageType.MsgReadIndexResp, to: req.from, index: readIndex, entries: req.entries });
}

/**
 * ReadIndex step 2 (§6.4): record the commit index and confirm leadership
 * with a heartbeat round (sent with the next Ready: flushReadHeartbeats), or
 * at once while the leader holds a read lease (lease.ts).
 */
export function sendMsgReadIndexResponse(r: Raft, m: Message): void {
  if (r.inLease()) {
    const resp = responseToReadIndexReq(r, m, r.raftLog.committed);
    if (resp) r.send(resp);
    return;
  }
  if (!r.readOnly.addRequest(r.raftLog.committed, m)) return;
  r.readOnly.recvAck(r.id, m.entries[0].data);
  r.needReadBcast = true;
}

export function releasePendingReadIndexMessages(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0 || !r.committedEntryInCurrentTerm()) return;
  const msgs = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of msgs) sendMsgReadIndexResponse(r, m);
}
