// The public driver (etcd's RawNode). The application owns the loop:
//
//   node.tick() every tick interval; node.step(msg) for each message received;
//   if (node.hasReady()) {
//     const rd = node.ready();
//     persist rd.hardState, rd.entries, rd.snapshot (fsync if rd.mustSync);
//     send rd.messages;
//     apply rd.snapshot, then rd.committedEntries (applyConfChange for ConfChange entries);
//     node.advance();
//   }
//
// Only one Ready is outstanding at a time; tick/step/propose may be called
// between ready() and advance(), their effects appear in the next Ready.
// A leader may send rd.messages' MsgApps before its own persist is done
// (thesis §10.2.1): its own copy of rd.entries counts toward the commit
// quorum only from advance() on, which says those entries are durable.
import type { Config } from './config.js';
import { decodeConfChange, encodeConfChange } from './confchange/confchange.js';
import { ErrNoReady, ErrReadyOutstanding, ErrStepLocalMsg, ErrStepPeerNotFound, InvalidMessageError, NotLeaderError } from './errors.js';
import { applyConfChange } from './membership.js';
import { Raft } from './raft.js';
import type { Status, ProgressStatus } from './status.js';
import {
  EntryType,
  MessageType,
  NONE,
  SnapshotStatus,
  StateType,
  type ConfChange,
  type ConfState,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type SoftState,
} from './types.js';
import { isLocalMsg, isResponseMsg, newMessage, payloadsSize } from './util.js';

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

const MAX_MESSAGE_TYPE = MessageType.MsgPreVoteResp;

/** Message types that carry exactly one entry: the read request's context. */
const READ_INDEX_TYPES = new Set<MessageType>([MessageType.MsgReadIndex, MessageType.MsgReadIndexResp]);
/** Message types that may carry entries at all. */
const ENTRY_TYPES = new Set<MessageType>([MessageType.MsgApp, MessageType.MsgProp, MessageType.MsgReadIndex, MessageType.MsgReadIndexResp]);

function isSafeCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Reject malformed messages from the network with an error naming the field:
 * the core trusts the shape of what reaches raft.step() (a peer's bug or a
 * corrupted message must not end in a TypeError deep inside a handler).
 */
export function validateMessage(m: Message): void {
  if (!m || typeof m !== 'object') throw new InvalidMessageError('message', 'must be an object');
  if (!Number.isInteger(m.type) || m.type < 0 || m.type > MAX_MESSAGE_TYPE) throw new InvalidMessageError('type', `unknown message type ${String(m.type)}`);
  for (const f of ['to', 'from', 'term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) {
    const v = m[f];
    if (!isSafeCount(v)) throw new InvalidMessageError(f, `must be a non-negative safe integer, got ${String(v)}`);
  }
  if (m.from === NONE) throw new InvalidMessageError('from', 'a message from the network names its sender');
  // Term 0 means "local" to raft.step() (no term checks at all); only a read
  // request forwarded by a follower legitimately travels without a term.
  if (m.term === 0 && m.type !== MessageType.MsgReadIndex) throw new InvalidMessageError('term', `${MessageType[m.type]} from the network must carry a term`);
  if (!Array.isArray(m.entries)) throw new InvalidMessageError('entries', 'must be an array');
  if (m.entries.length > 0 && !ENTRY_TYPES.has(m.type)) throw new InvalidMessageError('entries', `${MessageType[m.type]} carries no entries, got ${m.entries.length}`);
  if (READ_INDEX_TYPES.has(m.type) && m.entries.length !== 1) throw new InvalidMessageError('entries', `${MessageType[m.type]} carries exactly one entry (the request context), got ${m.entries.length}`);
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i];
    if (!e || typeof e !== 'object') throw new InvalidMessageError(`entries[${i}]`, 'must be an object');
    if (e.type !== EntryType.Normal && e.type !== EntryType.ConfChange) throw new InvalidMessageError(`entries[${i}].type`, `unknown entry type ${String(e.type)}`);
    if (!isSafeCount(e.term) || !isSafeCount(e.index)) throw new InvalidMessageError(`entries[${i}]`, 'term and index must be non-negative safe integers');
    if (!(e.data instanceof Uint8Array)) throw new InvalidMessageError(`entries[${i}].data`, 'must be a Uint8Array');
  }
  if (m.context !== undefined && !(m.context instanceof Uint8Array)) throw new InvalidMessageError('context', 'must be a Uint8Array');
  if (m.type === MessageType.MsgSnap && !m.snapshot) throw new InvalidMessageError('snapshot', 'MsgSnap without snapshot');
}

export class RawNode {
  readonly raft: Raft;
  private prevSoftSt: SoftState;
  private prevHardSt: HardState;
  private outstanding: Ready | undefined;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftSt = this.raft.softState();
    this.prevHardSt = this.raft.hardState();
  }

  /** Advance the logical clock by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /** Campaign now (skipping the election timeout); uses PreVote if configured. */
  campaign(): void {
    this.raft.step(newMessage({ type: MessageType.MsgHup, from: this.raft.id }));
  }

  /**
   * Feed a message received from a peer. Throws ErrStepLocalMsg for local-only
   * types, ErrStepPeerNotFound for a response from a non-member, and
   * InvalidMessageError for a malformed message or a proposal (MsgProp is
   * never accepted from the network); the caller drops the message.
   */
  step(m: Message): void {
    validateMessage(m);
    if (isLocalMsg(m.type)) throw ErrStepLocalMsg;
    // Followers never forward proposals (the application answers its clients
    // with the leader instead), so a proposal from the network is never
    // legitimate: accepting one would let any peer append what it likes.
    if (m.type === MessageType.MsgProp) throw new InvalidMessageError('type', 'proposals are not accepted from the network (propose on the leader)');
    if (isResponseMsg(m.type) && !this.raft.trk.progress.has(m.from)) throw ErrStepPeerNotFound;
    this.raft.step(m);
  }

  /**
   * Propose application data (leader only). Returns the log index the entry
   * got; it is committed once it appears in Ready.committedEntries with the
   * same index and term. Throws NotLeaderError (with .leaderHint) or
   * ErrProposalDropped.
   */
  propose(data: Uint8Array): number {
    if (!(data instanceof Uint8Array)) throw new InvalidMessageError('data', 'must be a Uint8Array');
    if (data.byteLength === 0) throw new InvalidMessageError('data', 'must not be empty (empty Normal entries are reserved for leader no-ops)');
    return this.proposeEntry(EntryType.Normal, data);
  }

  /**
   * Propose a membership change (leader only). Throws NotLeaderError,
   * ErrProposalDropped, ErrConfChangePending (another change not yet applied,
   * or no entry of this term applied yet) or ConfChangeError (invalid for the
   * current configuration). Returns the entry's index.
   */
  proposeConfChange(cc: ConfChange): number {
    if (!cc || !Array.isArray(cc.changes)) throw new InvalidMessageError('changes', 'ConfChange.changes must be an array');
    return this.proposeEntry(EntryType.ConfChange, encodeConfChange(cc));
  }

  private proposeEntry(type: EntryType, data: Uint8Array): number {
    if (this.raft.state !== StateType.Leader) throw new NotLeaderError(this.raft.lead);
    const e = { index: 0, term: 0, type, data };
    this.raft.step(newMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [e] }));
    return e.index;
  }

  /**
   * Request a linearizable read barrier (ReadIndex, thesis §6.4). When it is
   * safe, a ReadState { index, requestCtx: ctx } appears in a Ready: serve the
   * read once the application has applied up to index. On a follower the
   * request is forwarded to the leader. Requests may be silently dropped
   * (leader change, no leader): time out and retry with a new ctx.
   * Throws NotLeaderError when no leader is known.
   */
  readIndex(ctx: Uint8Array): void {
    if (this.raft.state !== StateType.Leader && this.raft.lead === NONE) throw new NotLeaderError(NONE);
    this.raft.step(newMessage({ type: MessageType.MsgReadIndex, entries: [{ index: 0, term: 0, type: EntryType.Normal, data: ctx }] }));
  }

  /**
   * Lease-based reads: forget every heartbeat acknowledgement so far. Call
   * it whenever this node's ticks may have fallen behind real time (the
   * process stalled, the tick interval changed): the lease is measured in
   * ticks and would otherwise outlast the followers' promise (lease.ts).
   */
  expireLease(): void {
    this.raft.lease.expire();
  }

  /** Ask the leader to hand leadership to `transferee` (§3.10). Proposals are refused until it completes or times out (one election timeout). */
  transferLeader(transferee: NodeId): void {
    this.raft.step(newMessage({ type: MessageType.MsgTransferLeader, from: transferee }));
  }

  /** Apply a committed ConfChange entry's change; returns the new membership (store it with the applied index). */
  applyConfChange(cc: ConfChange): ConfState {
    return applyConfChange(this.raft, cc);
  }

  /** The transport could not reach `id`: the leader stops pipelining to it. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(newMessage({ type: MessageType.MsgUnreachable, from: id }));
  }

  /** Outcome of sending a snapshot to `id` (Finish once delivered, Failure if the transfer failed). */
  reportSnapshot(id: NodeId, status: SnapshotStatus): void {
    this.raft.step(newMessage({ type: MessageType.MsgSnapStatus, from: id, reject: status === SnapshotStatus.Failure }));
  }

  /** Is there something to persist, send or apply? False while a Ready is outstanding. */
  hasReady(): boolean {
    if (this.outstanding) return false;
    const r = this.raft;
    r.flushAppends();
    r.flushReadHeartbeats();
    if (r.lead !== this.prevSoftSt.lead || r.state !== this.prevSoftSt.raftState) return true;
    const hs = this.prevHardSt;
    if (r.term !== hs.term || r.vote !== hs.vote || r.raftLog.committed !== hs.commit) return true;
    if (r.raftLog.hasPendingSnapshot()) return true;
    if (r.msgs.length > 0 || r.raftLog.unstable.entries.length > 0 || r.raftLog.hasNextCommittedEnts()) return true;
    return r.readStates.length > 0;
  }

  /** What to do now (see the file comment for the order). Call advance() when done. */
  ready(): Ready {
    if (this.outstanding) throw ErrReadyOutstanding;
    const r = this.raft;
    r.flushAppends();
    r.flushReadHeartbeats();
    const entries = r.raftLog.unstable.entries.slice();
    const rd: Ready = {
      readStates: r.readStates,
      entries,
      committedEntries: r.raftLog.nextCommittedEnts(),
      messages: r.msgs,
      mustSync: false,
    };
    const ss = r.softState();
    if (ss.lead !== this.prevSoftSt.lead || ss.raftState !== this.prevSoftSt.raftState) {
      rd.softState = ss;
      this.prevSoftSt = ss;
    }
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHardSt)) rd.hardState = hs;
    if (r.raftLog.unstable.snapshot) rd.snapshot = r.raftLog.unstable.snapshot;
    // fsync is needed when anything a peer may rely on changes: entries, the vote or the term.
    rd.mustSync = entries.length > 0 || rd.snapshot !== undefined || (rd.hardState !== undefined && (hs.term !== this.prevHardSt.term || hs.vote !== this.prevHardSt.vote));
    r.msgs = [];
    r.readStates = [];
    this.outstanding = rd;
    return rd;
  }

  /** The outstanding Ready was handled (persisted, sent, applied). */
  advance(_rd?: Ready): void {
    const rd = this.outstanding;
    if (!rd) throw ErrNoReady;
    this.outstanding = undefined;
    const r = this.raft;
    if (rd.hardState) this.prevHardSt = rd.hardState;
    r.reduceUncommittedSize(payloadsSize(rd.committedEntries));
    let applied = 0;
    if (rd.committedEntries.length > 0) applied = rd.committedEntries[rd.committedEntries.length - 1].index;
    else if (rd.snapshot) applied = rd.snapshot.metadata.index;
    if (applied > 0) r.appliedTo(applied);
    if (rd.entries.length > 0) {
      const e = rd.entries[rd.entries.length - 1];
      r.raftLog.stableTo(e.index, e.term);
      // advance() means the entries are durable: a leader may now count its own copy.
      r.localAppendDurable(e.index, e.term);
    }
    if (rd.snapshot) r.raftLog.stableSnapTo(rd.snapshot.metadata.index);
  }

  status(): Status {
    const r = this.raft;
    const progress: Record<NodeId, ProgressStatus> = {};
    if (r.state === StateType.Leader) {
      r.trk.visit((id, pr) => {
        progress[id] = {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          inflight: pr.inflights.count,
          pendingSnapshot: pr.pendingSnapshot,
        };
      });
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lead: r.lead,
      raftState: r.state,
      firstIndex: r.raftLog.firstIndex(),
      lastIndex: r.raftLog.lastIndex(),
      progress,
      confState: r.trk.confState(),
      leadTransferee: r.leadTransferee,
      isLearner: r.isLearner,
    };
  }
}

/** Decode a ConfChange entry's data (convenience for the apply loop). */
export function confChangeOf(data: Uint8Array): ConfChange {
  return decodeConfChange(data);
}
