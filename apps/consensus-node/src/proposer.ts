// Proposals of this node and the callers waiting for their applied outcome:
// client writes, restore steps, internal commands (the outbox's published(R))
// and membership changes. Each kind has its own Waiters (timeout message,
// pending limit, what happens when leadership is lost); the state machine's
// results (state-machine.ts, Applied.answer) say whom to answer.
import { randomBytes } from 'node:crypto';
import type { ConfChange, ConfChangeType, NodeId } from '@flagraft/raft-core';
import { encodeCommand, encodeRestoreCommand, type BatchOp, type Command, type RestoreCommand, type SubCommand, type TopLevelOp } from '@flagraft/flag-model';
import { TAG_COMMAND, TAG_INTERNAL, TAG_RESTORE, encodeConfContext, encodeEntry, restoreWaiterKey, writeWaiterKey, type InternalCommand } from './entries.js';
import { ApiError } from './errors.js';
import type { Applied, RestoreOutcome, WriteOutcome } from './state-machine.js';
import { Waiters } from './waiters.js';
import type { WriteTrace } from './write-trace.js';

/** A command as a client sends it: the node stamps `v` and `time`. */
export type CommandInput = { actor: string; actorRole?: string; clientId?: string; requestId?: string } & (SubCommand | BatchOp | TopLevelOp);

/** A restore command as the API hands it over: the node stamps `v` and `time`. */
export type RestoreInput = RestoreCommand extends infer C ? (C extends RestoreCommand ? Omit<C, 'v' | 'time'> : never) : never;

/** What the proposer needs of the Raft driver (raft-driver.ts). */
export interface ProposalSink {
  isLeader(): boolean;
  notLeader(): ApiError;
  /** Returns the entry's log index. */
  propose(data: Uint8Array): number;
  proposeConfChange(cc: ConfChange): void;
}

export interface ProposerOptions {
  nodeId: NodeId;
  /** A proposal not applied within this is answered UNAVAILABLE (ms); the client retries with the same request id. */
  proposalTimeoutMs: number;
  /** Writes waiting on this node before new ones are refused (count). */
  maxPendingProposals: number;
  /**
   * The time stamped on commands (ms since the Unix epoch): the audit time of
   * their changes and the replicated clock retention ages are measured on.
   * The node passes its ClusterClock (clock.ts: the voters' median, so one
   * jumped clock does not move it); default this process's wall clock.
   */
  clusterNow?: () => number;
  /** Stage timings of writes (FLAGRAFT_TRACE_WRITES=1): the answer's moment. */
  trace?: WriteTrace;
}

export class Proposer {
  private readonly writes: Waiters<WriteOutcome>;
  private readonly restores: Waiters<RestoreOutcome>;
  private readonly internal: Waiters<void>;
  private readonly membership: Waiters<void>;
  /** Request ids of writes that come without one, and nonces. */
  private readonly clientId: string;
  private seq = 0;
  private readonly clusterNow: () => number;

  constructor(private readonly raft: ProposalSink, private readonly o: ProposerOptions) {
    this.clusterNow = o.clusterNow ?? (() => Date.now());
    this.clientId = `n${o.nodeId}-${randomBytes(6).toString('hex')}`;
    const notApplied = (what: string) => () => ApiError.of('UNAVAILABLE', `${what} not applied within ${o.proposalTimeoutMs} ms; retry with the same request id`);
    this.writes = new Waiters(o.proposalTimeoutMs, notApplied('write'));
    this.internal = new Waiters(o.proposalTimeoutMs, notApplied('internal command'));
    this.restores = new Waiters(o.proposalTimeoutMs, notApplied('restore entry'));
    this.membership = new Waiters(o.proposalTimeoutMs, notApplied('membership change'));
  }

  /** Writes waiting for their outcome. */
  pendingWrites(): number {
    return this.writes.size;
  }

  /**
   * Proposes a flag-model command and resolves with its applied outcome.
   * `time`: the time to stamp instead of clusterNow(), for work the leader
   * decided on a cluster-clock reading it already took (scheduler.ts: the
   * step is due at that reading, and the state machine checks the same one).
   */
  async propose(cmd: CommandInput, time?: number): Promise<WriteOutcome> {
    if (!this.raft.isLeader()) throw this.raft.notLeader();
    if (this.writes.size >= this.o.maxPendingProposals) throw ApiError.of('RESOURCE_EXHAUSTED', `too many pending writes (maxPendingProposals ${this.o.maxPendingProposals})`);
    const full = { ...cmd, v: 1, time: time ?? this.clusterNow() } as Command;
    if (!full.clientId || !full.requestId) {
      full.clientId = this.clientId;
      full.requestId = String(++this.seq);
    }
    let index = 0;
    const p = this.awaited(this.writes, writeWaiterKey(full.clientId, full.requestId, full.fingerprint), () => { index = this.raft.propose(encodeEntry(TAG_COMMAND, encodeCommand(full))); });
    const { trace } = this.o;
    return trace && index ? p.then((out) => { trace.answered(index); return out; }) : p;
  }

  async proposeInternal(cmd: Omit<InternalCommand, 'nonce'>): Promise<void> {
    if (!this.raft.isLeader()) throw this.raft.notLeader();
    const nonce = this.nonce();
    return this.awaited(this.internal, nonce, () => this.raft.propose(encodeEntry(TAG_INTERNAL, Buffer.from(JSON.stringify({ ...cmd, nonce })))));
  }

  /** Proposes one restore entry (the node stamps `v` and `time`) and resolves with its applied outcome. */
  async proposeRestore(cmd: RestoreInput): Promise<RestoreOutcome> {
    if (!this.raft.isLeader()) throw this.raft.notLeader();
    const full = { ...cmd, v: 1, time: this.clusterNow() } as RestoreCommand;
    return this.awaited(this.restores, restoreWaiterKey(full as RestoreCommand & { seq?: number }), () => this.raft.propose(encodeEntry(TAG_RESTORE, encodeRestoreCommand(full))));
  }

  /** Adds (with its peer address), promotes or removes a member; resolves once the change applied here. */
  async changeMembership(type: ConfChangeType, nodeId: NodeId, address?: string): Promise<void> {
    if (!this.raft.isLeader()) throw this.raft.notLeader();
    const nonce = this.nonce();
    const cc: ConfChange = { changes: [{ type, nodeId }], context: encodeConfContext({ nonce, address }) };
    return this.awaited(this.membership, nonce, () => this.raft.proposeConfChange(cc));
  }

  /** Proposes via `submit` an entry whose applied outcome answers the callers waiting on `key`. */
  private awaited<T>(waiters: Waiters<T>, key: string, submit: () => void): Promise<T> {
    // The same request already in flight here (a client retry): wait for its outcome, with our own deadline.
    if (waiters.has(key)) return waiters.wait(key);
    const p = waiters.wait(key);
    try {
      submit();
    } catch (e) {
      waiters.drop(key);
      throw e;
    }
    return p;
  }

  private nonce(): string {
    return `${this.clientId}-${++this.seq}`;
  }

  /** Answers the callers of the entries one Ready applied. */
  answer(results: Applied[]): void {
    for (const { answer: a } of results) {
      if (!a) continue;
      switch (a.to) {
        case 'write': this.writes.settle(a.key, a.outcome); break;
        case 'restore': this.restores.settle(a.key, a.outcome); break;
        case 'internal': this.internal.settle(a.key, undefined); break;
        case 'membership': this.membership.settle(a.key, undefined); break;
      }
    }
  }

  /**
   * This node stopped being leader. Writes proposed here may or may not
   * commit under the new leader: answer "retry"; the client's retry carries
   * the same request id, so it applies once. (Membership changes keep
   * waiting for their outcome or their deadline.)
   */
  leadershipLost(): void {
    const err = ApiError.of('UNAVAILABLE', 'leadership lost while the write was in flight; retry with the same request id');
    this.writes.failAll(err);
    this.internal.failAll(err);
    this.restores.failAll(err);
  }

  stop(): void {
    const err = ApiError.of('UNAVAILABLE', 'node is shutting down; retry on another node');
    for (const w of [this.writes, this.internal, this.membership, this.restores]) w.failAll(err);
  }
}
