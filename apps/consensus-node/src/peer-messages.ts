// The Raft boundary: what a member may send this node, checked on every
// message before it is converted and stepped into raft-core (which then
// checks the message's shape once more, raw-node.ts validateMessage).
import { MessageType, validateMessage, type Message } from '@flagraft/raft-core';
import type { IdleNotice } from './idle.js';
import type { Refusal } from './security.js';

export interface PeerLimits {
  /** Messages in one batch of a Send stream (count). */
  maxMessagesPerBatch: number;
  /** Entries in one message (count; raft-core sends at most maxEntriesPerMsg, 4,096 by default). */
  maxEntriesPerMessage: number;
  /** Read-request context and heartbeat context (bytes; this node's contexts are ~30 bytes). */
  maxContextBytes: number;
}

export const DEFAULT_PEER_LIMITS: PeerLimits = {
  maxMessagesPerBatch: 10_000,
  maxEntriesPerMessage: 8_192,
  maxContextBytes: 1_024,
};

/**
 * Message types a member sends another on the Send stream. Not MsgProp
 * (followers do not forward proposals: a write is proposed by the leader
 * for its own client), not MsgTransferLeader (this node only transfers
 * leadership when it leads, never forwards the request), not MsgSnap (that
 * has its own Snapshot stream), never the local-only types.
 */
export const PEER_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set([
  MessageType.MsgApp, MessageType.MsgAppResp, MessageType.MsgHeartbeat, MessageType.MsgHeartbeatResp,
  MessageType.MsgVote, MessageType.MsgVoteResp, MessageType.MsgPreVote, MessageType.MsgPreVoteResp,
  MessageType.MsgTimeoutNow, MessageType.MsgReadIndex, MessageType.MsgReadIndexResp,
]);

export interface PeerProblem { reason: Refusal; details: string }

const bad = (details: string): PeerProblem => ({ reason: 'peer_bad_message', details });

function bytesOf(b: unknown): number {
  return b instanceof Uint8Array ? b.byteLength : 0;
}

/**
 * A Send batch (wire form) from the authenticated node `from` to this node:
 * the Raft messages to step, or the problem (then nothing of the batch is stepped).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function checkBatch(batch: any, from: number, self: number, limits: PeerLimits, convert: (w: any) => Message): { messages: Message[]; notice?: { kind: IdleNotice; term: number }; wallMs: number } | PeerProblem {
  if (Number(batch?.from) !== from) return { reason: 'peer_from_mismatch', details: `batch names node ${String(batch?.from)} as sender, the connection is node ${from}` };
  const idle = batch.idle ?? 0;
  if (idle !== 0 && idle !== 1 && idle !== 2) return bad(`idle must be 0, 1 (idle) or 2 (wake), not ${String(idle)}`);
  const idleTerm = batch.idleTerm ?? 0;
  if (!Number.isSafeInteger(idleTerm) || idleTerm < 0) return bad('idleTerm must be a non-negative integer');
  const wallMs = Number(batch.wallMs ?? 0);
  if (!Number.isSafeInteger(wallMs) || wallMs < 0) return bad('wallMs must be a non-negative integer (ms since the Unix epoch)');
  const msgs = batch.messages ?? [];
  if (!Array.isArray(msgs)) return bad('messages must be a list');
  if (msgs.length > limits.maxMessagesPerBatch) return bad(`${msgs.length} messages in one batch; at most ${limits.maxMessagesPerBatch} (maxMessagesPerBatch)`);
  const out: Message[] = [];
  for (let i = 0; i < msgs.length; i++) {
    const p = checkMessage(msgs[i], from, self, limits, PEER_MESSAGE_TYPES);
    if (p) return { reason: p.reason, details: `messages[${i}]: ${p.details}` };
    const m = convert(msgs[i]);
    // The core's own shape rules (one context entry on read requests, a term, entry types ...), counted here.
    try {
      validateMessage(m);
    } catch (e) {
      return bad(`messages[${i}]: ${(e as Error).message}`);
    }
    out.push(m);
  }
  return idle ? { messages: out, notice: { kind: idle === 1 ? 'idle' : 'wake', term: idleTerm }, wallMs } : { messages: out, wallMs };
}

/** The MsgSnap at the head of a Snapshot stream. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function checkSnapshotHead(w: any, from: number, self: number, limits: PeerLimits): PeerProblem | undefined {
  if (!w?.snapshot) return bad('the first snapshot chunk must carry the MsgSnap message with its metadata');
  const p = checkMessage(w, from, self, limits, new Set([MessageType.MsgSnap]), true);
  if (p) return p;
  const cs = w.snapshot.confState ?? {};
  for (const k of ['voters', 'learners', 'votersOutgoing', 'learnersNext']) {
    const ids = cs[k] ?? [];
    if (!Array.isArray(ids) || ids.length > 1024 || ids.some((n: unknown) => !Number.isSafeInteger(n) || (n as number) <= 0)) return bad(`snapshot confState.${k} must be a list of node ids`);
  }
  if (!Number.isSafeInteger(w.snapshot.index) || !Number.isSafeInteger(w.snapshot.term)) return bad('snapshot index and term must be safe integers');
  return undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function checkMessage(w: any, from: number, self: number, limits: PeerLimits, allowed: ReadonlySet<MessageType>, snapshotAllowed = false): PeerProblem | undefined {
  if (!w || typeof w !== 'object') return bad('not a message');
  if (!allowed.has(w.type)) return bad(`message type ${MessageType[w.type] ?? String(w.type)} is not accepted from a peer`);
  if (w.from !== from) return { reason: 'peer_from_mismatch', details: `message from node ${String(w.from)} on the connection of node ${from}` };
  if (w.to !== self) return bad(`message addressed to node ${String(w.to)}, this is node ${self}`);
  const entries = w.entries ?? [];
  if (entries.length > limits.maxEntriesPerMessage) return bad(`${entries.length} entries; at most ${limits.maxEntriesPerMessage} (maxEntriesPerMessage)`);
  if (bytesOf(w.context) > limits.maxContextBytes) return bad(`context of ${bytesOf(w.context)} bytes; at most ${limits.maxContextBytes} (maxContextBytes)`);
  if ((w.type === MessageType.MsgReadIndex || w.type === MessageType.MsgReadIndexResp) && entries.length === 1 && bytesOf(entries[0]?.data) > limits.maxContextBytes) {
    return bad(`read request context of ${bytesOf(entries[0]?.data)} bytes; at most ${limits.maxContextBytes} (maxContextBytes)`);
  }
  if (w.snapshot && !snapshotAllowed) return bad('snapshot metadata only travels on the Snapshot stream');
  return undefined;
}
