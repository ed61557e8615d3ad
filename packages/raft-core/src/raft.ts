// The Raft state machine (etcd's raft struct). Deterministic: no clocks, no
// I/O, no randomness except the injected Rng. Inputs are tick() and step();
// outputs are the log (unstable tail), the hard state, `msgs` and
// `readStates`, collected by RawNode into a Ready.
//
// Role behaviour is swapped, not branched: becomeFollower / becomeCandidate /
// becomePreCandidate / becomeLeader install `stepFn` and `tickFn`; term
// handling happens once, in step(), before dispatch.
import { resolveConfig, type Config, type LogLevel, type Logger, type ResolvedConfig } from './config.js';
import { encodeConfChange, restoreConfState } from './confchange/confchange.js';
import { ErrCompacted, ErrSnapshotTemporarilyUnavailable, invariant } from './errors.js';
import { NO_LIMIT, RaftLog } from './log/raft-log.js';
import { VoteResult } from './quorum/quorum.js';
import { switchToConfig } from './membership.js';
import { ReadLease } from './lease.js';
import { ReadOnly, releasePendingReadIndexMessages } from './read-only.js';
import { stepCandidate } from './step-candidate.js';
import { stepFollower } from './step-follower.js';
import { stepLeader } from './step-leader.js';
import { Progress } from './tracker/progress.js';
import { ProgressTracker } from './tracker/tracker.js';
import {
  EntryType,
  MessageType,
  NONE,
  StateType,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ReadState,
  type Snapshot,
  type SoftState,
} from './types.js';
import { bytesEqual, entsSize, newMessage, payloadsSize, voteRespMsgType } from './util.js';

/** Context of a vote request that follows a leadership transfer: voters ignore their leader lease for it (thesis §3.10). */
export const CAMPAIGN_TRANSFER_CONTEXT = new TextEncoder().encode('CampaignTransfer');

export enum CampaignType {
  PreElection = 'pre-election',
  Election = 'election',
  Transfer = 'transfer',
}

export type StepFn = (r: Raft, m: Message) => void;

export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedConfig;
  term = 0;
  vote: NodeId = NONE;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  trk: ProgressTracker;
  state: StateType = StateType.Follower;
  /** This node is a learner in the current config (it never campaigns). */
  isLearner = false;
  /** Outgoing messages; drained into Ready. */
  msgs: Message[] = [];
  lead: NodeId = NONE;
  /** Target of an ongoing leadership transfer (thesis §3.10), NONE otherwise. */
  leadTransferee: NodeId = NONE;
  /**
   * Index of the latest conf change (or the leader's no-op): a new change is
   * accepted only once applied >= pendingConfIndex, so at most one is pending
   * and the leader has committed an entry of its own term first.
   */
  pendingConfIndex = 0;
  /**
   * Term of a MsgTimeoutNow refused because a committed conf change was not
   * applied yet (0 = none): the campaign starts once it is applied (see hup).
   */
  transferCampaignTerm = 0;
  /** Payload bytes of entries appended by this leader and not yet committed. */
  uncommittedSize = 0;
  readOnly = new ReadOnly();
  /** Read requests that arrived before this leader committed an entry of its term (§6.4 step 1). */
  pendingReadIndexMessages: Message[] = [];
  /** Read requests are waiting for their heartbeat round: one round, sent with a Ready, confirms all of them. */
  needReadBcast = false;
  /** Context of the read heartbeat round in flight (flushReadHeartbeats). */
  readRoundCtx: Uint8Array | undefined;
  /** The leader's read lease (readOnlyOption 'lease-based'; lease.ts). */
  lease = new ReadLease();
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Followers need an append (new entries or a new commit index); sent when the Ready is built, so proposals batch. */
  needBcast = false;
  tickFn: () => void = () => this.tickElection();
  stepFn: StepFn = stepFollower;
  private readonly logger: Logger | undefined;

  constructor(config: Config) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.logger = this.cfg.logger;
    this.raftLog = new RaftLog(this.cfg.storage, this.cfg.maxCommittedSizePerReady);
    const { hardState, confState } = this.cfg.storage.initialState();
    this.trk = new ProgressTracker(this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes);
    const restored = restoreConfState(this.changerBase(), confState);
    switchToConfig(this, restored);
    if (hardState.term !== 0 || hardState.vote !== 0 || hardState.commit !== 0) this.loadState(hardState);
    if (this.cfg.applied > 0) this.raftLog.appliedTo(this.cfg.applied);
    this.becomeFollower(this.term, NONE);
    this.log('info', 'raft node started', {
      voters: this.trk.config.voters.incoming.sorted(),
      term: this.term,
      commit: this.raftLog.committed,
      applied: this.raftLog.applied,
      lastIndex: this.raftLog.lastIndex(),
    });
  }

  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (this.logger) this.logger(level, msg, { node: this.id, term: this.term, ...fields });
  }

  // ---------------------------------------------------------------- state

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  private loadState(hs: HardState): void {
    invariant(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      () => `${this.id} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /** A node may campaign only as a voter of its config, and not while it holds an unpersisted snapshot. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  changerBase() {
    return { maxInflight: this.cfg.maxInflightMsgs, maxInflightBytes: this.cfg.maxInflightBytes, lastIndex: this.raftLog.lastIndex() };
  }

  // ---------------------------------------------------------------- sending

  send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    const t = m.type;
    if (t === MessageType.MsgVote || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVote || t === MessageType.MsgPreVoteResp) {
      // Vote messages carry their own term (a pre-vote asks for term+1 without moving there).
      invariant(m.term !== 0, () => `term should be set when sending ${MessageType[t]}`);
    } else {
      invariant(m.term === 0, () => `term should not be set when sending ${MessageType[t]} (was ${m.term})`);
      // Proposals and read requests forwarded to the leader are local to it: no term.
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  /**
   * Send entries from pr.next (or a snapshot when they are compacted).
   * Returns whether a message was sent. With sendIfEmpty=false nothing is
   * sent when there are no new entries.
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.maybeTerm(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        ents = this.raftLog.entries(pr.next, this.cfg.maxSizePerMsg, this.cfg.maxEntriesPerMsg);
      } catch (e) {
        if (e !== ErrCompacted) throw e;
      }
    }
    if (prevTerm === undefined || ents === undefined) {
      invariant(prevIndex < this.raftLog.firstIndex(), () => `progress of ${to} is beyond our log: next ${pr.next}, last ${this.raftLog.lastIndex()}`);
      return this.maybeSendSnapshot(to, pr);
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(newMessage({ type: MessageType.MsgApp, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.raftLog.committed }));
    if (ents.length > 0) pr.sentEntries(ents[ents.length - 1].index, entsSize(ents));
    return true;
  }

  /** InstallSnapshot (thesis §5.1): the entries this follower needs are gone. */
  maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    // Only to a follower we heard from recently: a snapshot is expensive.
    if (!pr.recentActive) return false;
    let snap: Snapshot;
    try {
      snap = this.raftLog.snapshot();
    } catch (e) {
      if (e === ErrSnapshotTemporarilyUnavailable) return false;
      throw e;
    }
    if (snap.metadata.index === 0) {
      this.log('warn', 'follower needs a snapshot but storage has none yet', { to });
      return false;
    }
    pr.becomeSnapshot(snap.metadata.index);
    this.send(newMessage({ type: MessageType.MsgSnap, to, snapshot: snap }));
    this.log('info', 'sent snapshot', { to, index: snap.metadata.index, snapTerm: snap.metadata.term });
    return true;
  }

  /** An empty MsgApp at pr.next-1, ignoring the in-flight window (loss detection while replicating). */
  sendEmptyAppend(to: NodeId): void {
    const pr = this.trk.progress.get(to);
    if (!pr) return;
    const prevTerm = this.raftLog.maybeTerm(pr.next - 1);
    if (prevTerm === undefined) {
      // The entries in flight are compacted meanwhile: start over by probing (which sends a snapshot).
      pr.becomeProbe();
      this.sendAppend(to);
      return;
    }
    this.send(newMessage({ type: MessageType.MsgApp, to, index: pr.next - 1, logTerm: prevTerm, commit: this.raftLog.committed }));
  }

  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Send everything sendable to every follower (pipelined up to the in-flight window). */
  flushAppends(): void {
    if (!this.needBcast) return;
    this.needBcast = false;
    if (this.state !== StateType.Leader) return;
    this.trk.visit((id) => {
      if (id === this.id) return;
      if (!this.maybeSendAppend(id, true)) return;
      while (this.maybeSendAppend(id, false));
    });
  }

  sendHeartbeat(to: NodeId, ctx: Uint8Array | undefined): void {
    // Never let a heartbeat advance a follower's commit past what it is known
    // to hold: it may not have the entries yet.
    const commit = Math.min(this.trk.progress.get(to)!.match, this.raftLog.committed);
    // With leases the heartbeat carries the leader's lease clock; the follower echoes it (lease.ts).
    const index = this.cfg.readOnlyOption === 'lease-based' ? this.lease.stamp() : 0;
    this.send(newMessage({ type: MessageType.MsgHeartbeat, to, commit, context: ctx, index }));
  }

  /**
   * The heartbeat round of the read requests queued since the last round
   * (§6.4 step 2): one round with the newest context confirms every request
   * queued before it (ReadOnly.advance), so reads stepped together, from
   * this node's clients or forwarded by followers, share it. One round is in
   * flight at a time: requests that arrive meanwhile go with the next one,
   * sent once it is confirmed, so the leader's work grows with its round
   * trips, not with the number of members asking (a lost round is made good
   * by the next regular heartbeat, which carries the newest context). Voters
   * only: a learner's acknowledgement does not count toward the quorum.
   */
  flushReadHeartbeats(): void {
    if (!this.needReadBcast) return;
    const ctx = this.readOnly.lastPendingRequestCtx();
    if (this.state !== StateType.Leader || !ctx) {
      this.needReadBcast = false;
      return;
    }
    if (this.readRoundCtx && this.readOnly.isPending(this.readRoundCtx)) return;
    this.needReadBcast = false;
    this.readRoundCtx = ctx;
    for (const id of this.trk.voterNodes()) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  /** Lease-based reads: this leader may answer a read now, without a heartbeat round (lease.ts). */
  inLease(): boolean {
    return this.cfg.readOnlyOption === 'lease-based' && this.state === StateType.Leader && this.leadTransferee === NONE
      && this.lease.valid(this.trk.config.voters, this.id, this.cfg.leaseTicks);
  }

  bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  bcastHeartbeatWithCtx(ctx: Uint8Array | undefined): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    });
  }

  sendTimeoutNow(to: NodeId): void {
    // The transferee's campaign is exempt from the followers' vote refusal: the lease ends here for this term.
    this.lease.revoked = true;
    this.send(newMessage({ type: MessageType.MsgTimeoutNow, to }));
  }

  // ---------------------------------------------------------------- log

  /** Leader: commit what a quorum holds, if it is of the current term. */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.trk.committed(), this.term);
  }

  /** Leader: append entries of the current term; false if the uncommitted-size limit refuses them. */
  appendEntry(es: Entry[], force = false): boolean {
    const li = this.raftLog.lastIndex();
    for (let i = 0; i < es.length; i++) {
      es[i].term = this.term;
      es[i].index = li + 1 + i;
    }
    if (!this.increaseUncommittedSize(es) && !force) return false;
    this.raftLog.append(es);
    // The leader's own copy does NOT count toward the quorum yet: it is only
    // in memory. The driver may send these entries to followers before its
    // own write is durable (thesis §10.2.1); the leader counts itself once the
    // driver reports the write durable (localAppendDurable, from
    // RawNode.advance), like etcd's self-addressed MsgAppResp after
    // MsgStorageAppend.
    this.needBcast = true;
    return true;
  }

  /**
   * The driver persisted (fsynced) this node's log through entry
   * (index, term). On a leader this is the moment its own copy starts to
   * count toward the commit quorum (thesis §10.2.1): an entry is committed
   * only when a quorum holds it durably, the leader included. Ignored when
   * this node is no longer leader or the entry was replaced meanwhile (the
   * report is about an older log).
   */
  localAppendDurable(index: number, term: number): void {
    if (this.state !== StateType.Leader || !this.raftLog.matchTerm(index, term)) return;
    const pr = this.trk.progress.get(this.id);
    if (!pr || !pr.maybeUpdate(index)) return;
    if (this.maybeCommit()) {
      releasePendingReadIndexMessages(this);
      // Followers learn the new commit index with the next append.
      this.needBcast = true;
    }
  }

  private increaseUncommittedSize(ents: Entry[]): boolean {
    const s = payloadsSize(ents);
    const max = this.cfg.maxUncommittedEntriesSize;
    if (max > 0 && this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > max) return false;
    this.uncommittedSize += s;
    return true;
  }

  reduceUncommittedSize(s: number): void {
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrZero(this.raftLog.committed) === this.term;
  }

  /** The application applied up to `index` (called from advance()). */
  appliedTo(index: number): void {
    const newApplied = Math.max(index, this.raftLog.applied);
    this.raftLog.appliedTo(newApplied);
    this.maybeAutoLeave();
    this.maybeResumeTransferCampaign();
  }

  /**
   * A transfer campaign held back by an unapplied conf change goes once it is
   * applied, if nothing happened in between (same term, still a follower);
   * hup checks again that the node is a voter with nothing left to apply.
   */
  private maybeResumeTransferCampaign(): void {
    if (this.transferCampaignTerm === 0) return;
    const resume = this.transferCampaignTerm === this.term && this.state === StateType.Follower;
    this.transferCampaignTerm = 0;
    if (resume) this.hup(CampaignType.Transfer);
  }

  /**
   * The joint config was entered with autoLeave: propose leaving it once the
   * entering change is applied (thesis §4.3 second phase). Not while a
   * leadership transfer is in progress: no entry may be appended then (the
   * transferee is caught up to our last index and about to campaign; an
   * entry it lacks would make it lose or leave the entry uncommitted under a
   * new leader). It is retried when the transfer ends (abortLeaderTransfer),
   * and a transferee that wins proposes it itself after its no-op.
   */
  maybeAutoLeave(): void {
    if (!this.trk.config.autoLeave || this.state !== StateType.Leader || this.leadTransferee !== NONE) return;
    if (this.raftLog.applied < this.pendingConfIndex) return;
    const data = encodeConfChange({ changes: [] });
    this.appendEntry([{ index: 0, term: 0, type: EntryType.ConfChange, data }], true);
    this.pendingConfIndex = this.raftLog.lastIndex();
    this.log('info', 'initiating automatic transition out of joint configuration', { index: this.pendingConfIndex });
  }

  // ---------------------------------------------------------------- roles

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    // Not abortLeaderTransfer(): a role change is no moment to append anything.
    this.leadTransferee = NONE;
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      const fresh = new Progress(last + 1, this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes, pr.isLearner);
      if (id === this.id) fresh.match = last;
      this.trk.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
    this.needReadBcast = false;
    this.readRoundCtx = undefined;
    this.lease = new ReadLease();
    this.needBcast = false;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTick + this.cfg.rng.int(this.cfg.electionTick);
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.stepFn = stepFollower;
    this.reset(term);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.state = StateType.Follower;
    this.log('info', 'became follower', { lead });
  }

  becomeCandidate(): void {
    invariant(this.state !== StateType.Leader, 'invalid transition [leader -> candidate]');
    this.stepFn = stepCandidate;
    this.reset(this.term + 1);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.state = StateType.Candidate;
    this.log('info', 'became candidate');
  }

  becomePreCandidate(): void {
    invariant(this.state !== StateType.Leader, 'invalid transition [leader -> pre-candidate]');
    // A pre-candidate changes neither term nor vote (thesis §9.6): it only asks whether it could win.
    this.stepFn = stepCandidate;
    this.trk.resetVotes();
    this.tickFn = () => this.tickElection();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
    this.log('info', 'became pre-candidate');
  }

  becomeLeader(): void {
    invariant(this.state !== StateType.Follower, 'invalid transition [follower -> leader]');
    this.stepFn = stepLeader;
    this.reset(this.term);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // A no-op of the new term (§5.4.2, §8): committing it commits everything
    // before it, and is what ReadIndex and conf changes wait for.
    const ok = this.appendEntry([{ index: 0, term: 0, type: EntryType.Normal, data: new Uint8Array(0) }], true);
    invariant(ok, 'empty entry was dropped');
    // Conf changes wait until the no-op (an entry of this term) is applied (Ongaro's fix).
    this.pendingConfIndex = this.raftLog.lastIndex();
    this.log('info', 'became leader', { lastIndex: this.raftLog.lastIndex() });
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    this.tickFn();
  }

  /** Followers and candidates: campaign after a randomized election timeout without a leader. */
  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(newMessage({ type: MessageType.MsgHup, from: this.id }));
    }
  }

  /** Leader: heartbeats every heartbeatTick; CheckQuorum and transfer abort every electionTick. */
  private tickHeartbeat(): void {
    this.lease.clock++;
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step(newMessage({ type: MessageType.MsgCheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned (§3.10).
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) {
        this.log('info', 'leadership transfer timed out', { transferee: this.leadTransferee });
        this.abortLeaderTransfer();
      }
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.step(newMessage({ type: MessageType.MsgBeat, from: this.id }));
    }
  }

  // ---------------------------------------------------------------- elections

  hup(t: CampaignType): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) {
      this.log('warn', 'is unpromotable and can not campaign');
      return;
    }
    // A node must not campaign while it has committed but unapplied conf
    // changes: it could be campaigning under a stale configuration.
    if (this.raftLog.committed > this.raftLog.applied) {
      const ents = this.raftLog.slice(this.raftLog.applied + 1, this.raftLog.committed + 1, NO_LIMIT);
      if (ents.some((e) => e.type === EntryType.ConfChange)) {
        // A leader that removes itself commits the change and sends
        // MsgTimeoutNow right after: a follower often steps the commit and the
        // TimeoutNow before it applies the change. Dropping the TimeoutNow
        // would leave the cluster leaderless for an election timeout, so the
        // transfer campaign waits for the apply instead (appliedTo).
        if (t === CampaignType.Transfer) this.transferCampaignTerm = this.term;
        this.log(t === CampaignType.Transfer ? 'info' : 'warn', t === CampaignType.Transfer ? 'transfer campaign waits for pending configuration changes to be applied' : 'cannot campaign: pending configuration changes to apply');
        return;
      }
    }
    this.campaign(t);
  }

  campaign(t: CampaignType): void {
    if (!this.promotable()) return;
    let voteMsg: MessageType;
    let term: number;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // Pre-votes ask for the next term without incrementing ours.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    if (this.poll(this.id, voteRespMsgType(voteMsg), true) === VoteResult.Won) {
      // Single-voter cluster: we won by our own vote.
      if (t === CampaignType.PreElection) this.campaign(CampaignType.Election);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.trk.voterNodes()) {
      if (id === this.id) continue;
      this.send(
        newMessage({
          type: voteMsg,
          to: id,
          term,
          index: lastIndex,
          logTerm: lastTerm,
          context: t === CampaignType.Transfer ? CAMPAIGN_TRANSFER_CONTEXT : undefined,
        }),
      );
    }
  }

  poll(id: NodeId, t: MessageType, granted: boolean): VoteResult {
    this.log('debug', granted ? 'received vote' : 'received rejection', { from: id, type: MessageType[t] });
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes().result;
  }

  // ---------------------------------------------------------------- step

  /** Term handling (Figure 2 "All Servers"), then role dispatch. Throws ErrProposalDropped for refused proposals. */
  step(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER_CONTEXT);
        const inLease = this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.cfg.electionTick;
        if (!force && inLease) {
          // We heard from a leader within the minimum election timeout: do
          // not let a disruptive (e.g. partitioned, rejoining) node depose it
          // (thesis §4.2.3). Neither term nor vote changes.
          this.log('debug', 'ignored vote request: leader lease', { from: m.from, msgTerm: m.term });
          return;
        }
      }
      if (m.type === MessageType.MsgPreVote) {
        // Never change our term in response to a pre-vote.
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; we move there once we
        // have a quorum of them, not now.
      } else {
        const fromLeader = m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap;
        this.becomeFollower(m.term, fromLeader ? m.from : NONE);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)) {
        // A stale leader (or one cut off, with CheckQuorum/PreVote the rest of
        // the cluster never bumped its term to reach it): answer so it learns
        // the new term and steps down, instead of ignoring it forever.
        this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from }));
      } else if (m.type === MessageType.MsgPreVote) {
        // Reject with our term so a pre-candidate stuck in a lower term catches up.
        this.send(newMessage({ type: MessageType.MsgPreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.cfg.preVote ? CampaignType.PreElection : CampaignType.Election);
        return;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote: {
        // Grant if we voted for it already, or have no vote and no leader in
        // this term, or it is a pre-vote for a later term; and its log is at
        // least as up-to-date as ours (§5.4.1).
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.MsgPreVote && m.term > this.term);
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          // The vote is persisted (hardState in the same Ready) before this response is sent.
          this.send(newMessage({ type: voteRespMsgType(m.type), to: m.from, term: m.term }));
          if (m.type === MessageType.MsgVote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(newMessage({ type: voteRespMsgType(m.type), to: m.from, term: this.term, reject: true }));
        }
        return;
      }
      default:
        this.stepFn(this, m);
    }
  }

  // ---------------------------------------------------------------- misc

  abortLeaderTransfer(): void {
    if (this.leadTransferee === NONE) return;
    this.leadTransferee = NONE;
    // An automatic leave-joint held back by the transfer goes now.
    this.maybeAutoLeave();
  }
}
