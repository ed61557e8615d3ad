// Drives raft-core on the event loop: ticks it from a timer, steps peer
// messages into it, takes proposals and read requests, and hands every Ready
// to durability.ts, which persists, sends, applies and advances in the
// contract's order. It knows Raft, not flags: committed entries are applied
// by an Fsm (fsm.ts) and their results R go back to the node through
// DriverEvents.
import { randomBytes } from 'node:crypto';
import {
  ErrProposalDropped, MessageType, NotLeaderError, RawNode, SnapshotStatus, StateType, createRng,
  type ConfChange, type Message, type NodeId, type Ready, type Rng, type Status,
} from '@flagraft/raft-core';
import type { NodeConfig } from './config.js';
import { Durability, type AppliedReady, type ReadyMetrics } from './durability.js';
import { systemClock } from './clock.js';
import { IdleClock, type IdleNotice } from './idle.js';
import { ApiError } from './errors.js';
import type { Fsm } from './fsm.js';
import type { Logger } from './log.js';
import { ReadBarrier } from './read-barrier.js';
import type { LogStore } from './storage/log-store.js';
import { RaftStorage } from './storage/raft-storage.js';
import type { WriteTrace } from './write-trace.js';

/** Readies handled per event-loop turn before yielding to I/O (count). */
const MAX_READIES_PER_TURN = 8;

export interface DriverEvents<R> {
  /** This node's role or the known leader changed (in the Ready that says so, before its results are answered). */
  onLeadership(isLeader: boolean, term: number, lead: NodeId, wasLeader: boolean): void;
  /** What one Ready applied, before advance(): answer the callers waiting for it. */
  onResults(applied: AppliedReady<R>): void;
  /** After advance(), when the Ready applied anything. */
  onApplied(applied: AppliedReady<R>): void;
  /** Where clients reach node `id` (for NOT_LEADER hints); undefined if not known yet. */
  clientAddressOf(id: NodeId): string | undefined;
  /** Refused calls by reason, for the metrics log line. */
  securityCounters?(): Record<string, number>;
}

/**
 * Lease reads: how many ticks the tick count may lag the clock when a
 * message or read is handled (guardLease). Right after a tick (catchUpTicks)
 * it lags by less than one; the next tick is due one interval later, so 1.5
 * allows that tick half an interval of lateness.
 */
const LEASE_LAG_AT_STEP = 1.5;
/** Lease reads: ticks made up at once when the timer ran late; beyond, the lease ends (catchUpTicks). */
const LEASE_MAX_CATCH_UP_TICKS = 2;

export type DriverConfig = Pick<NodeConfig,
  'nodeId' | 'tickMs' | 'electionTimeoutMs' | 'heartbeatMs' | 'maxSizePerMsgBytes' | 'maxInflightMsgs' | 'maxUncommittedEntriesBytes'
  | 'maxCommittedSizePerReadyBytes' | 'snapshotEveryEntries' | 'snapshotCatchUpEntries' | 'snapshotEveryBytes' | 'snapshotCatchUpBytes' | 'maxPendingReads' | 'metricsLogMs' | 'idleTickMs' | 'injectBug' | 'readMode'>;

/** What the driver needs of the transport. */
export interface DriverTransport {
  send(messages: Message[]): void;
  /** An idle-mode notice to every peer (src/idle.ts). */
  notify(kind: IdleNotice, term: number): void;
  isReachable(id: NodeId): boolean;
  supportsIdle(id: NodeId): boolean;
}

export class RaftDriver<R> {
  readonly rng: Rng;
  /** Linearizable reads (ReadIndex batching). */
  readonly reads: ReadBarrier;
  /** Counters for logs and benchmarks. */
  readonly metrics: ReadyMetrics & { readBatches: number; reads: number } = { readies: 0, fsyncs: 0, txMs: 0, entriesPersisted: 0, entriesApplied: 0, messagesSent: 0, readBatches: 0, reads: 0 };
  private readonly node: RawNode;
  private readonly durability: Durability<R>;
  private transport?: DriverTransport;
  private send: (messages: Message[]) => void = () => { throw new Error('RaftDriver: no transport set'); };
  /** Slows the tick while the cluster is idle (src/idle.ts). */
  private readonly idle: IdleClock;
  private tickTimer?: NodeJS.Timeout;
  /**
   * Lease reads need ticks that keep pace with real time: the tick interval
   * now (ms), and since when (performance.now()) how many ticks ran (guardLease).
   */
  private tickEveryMs: number;
  private paceSince = performance.now();
  private ticksSince = 0;
  private metricsTimer?: NodeJS.Timeout;
  private scheduled = false;
  private stopped = false;
  private lead: NodeId = 0;
  private raftState: StateType = StateType.Follower;
  private term: number;
  /** Stage timings of writes (FLAGRAFT_TRACE_WRITES=1, write-trace.ts); undefined when off. */
  private readonly trace?: WriteTrace;

  /** `dataBytes`: the size of the data dir, for the compaction log line. `trace`: opt-in write timings. */
  constructor(
    private readonly cfg: DriverConfig,
    { log, fsm, dataBytes, trace }: { log: LogStore; fsm: Fsm<R>; dataBytes(): number; trace?: WriteTrace },
    private readonly logger: Logger,
    private readonly events: DriverEvents<R>,
  ) {
    this.rng = createRng(randomBytes(4).readUInt32LE(0));
    const storage = new RaftStorage(log, fsm);
    const applied = fsm.applied().index;
    this.node = new RawNode({
      id: cfg.nodeId,
      storage,
      electionTick: Math.max(2, Math.round(cfg.electionTimeoutMs / cfg.tickMs)),
      heartbeatTick: Math.max(1, Math.round(cfg.heartbeatMs / cfg.tickMs)),
      maxSizePerMsg: cfg.maxSizePerMsgBytes,
      maxInflightMsgs: cfg.maxInflightMsgs,
      maxUncommittedEntriesSize: cfg.maxUncommittedEntriesBytes,
      maxCommittedSizePerReady: cfg.maxCommittedSizePerReadyBytes,
      preVote: true,
      checkQuorum: true,
      readOnlyOption: cfg.readMode === 'lease' ? 'lease-based' : 'safe',
      applied,
      rng: this.rng,
      logger: (level, msg, fields) => logger.log(level === 'debug' ? 'debug' : level, `raft: ${msg}`, fields),
    });
    this.tickEveryMs = cfg.tickMs;
    this.term = log.hardState().term;
    this.trace = trace;
    this.durability = new Durability<R>({
      log, storage, fsm, node: this.node, logger, metrics: this.metrics,
      send: (m) => this.send(m),
      snapshotEveryEntries: cfg.snapshotEveryEntries,
      snapshotCatchUpEntries: cfg.snapshotCatchUpEntries,
      snapshotEveryBytes: cfg.snapshotEveryBytes,
      snapshotCatchUpBytes: cfg.snapshotCatchUpBytes,
      dataBytes,
      stopped: () => this.stopped,
      applyUncommitted: cfg.injectBug === 'apply-uncommitted',
      trace,
    });
    const readPrefix = `n${cfg.nodeId}-${randomBytes(6).toString('hex')}-r`;
    let readSeq = 0;
    this.reads = new ReadBarrier({
      readIndex: (ctx) => { this.guardLease(); this.wake(); this.node.readIndex(ctx); this.kick(); },
      leaderId: () => this.lead,
      nodeId: cfg.nodeId,
      maxPendingReads: cfg.maxPendingReads,
      timeoutMs: Math.max(2 * cfg.electionTimeoutMs, 500),
      newContext: () => `${readPrefix}${++readSeq}`,
      metrics: this.metrics,
    });
    const electionTick = Math.max(2, Math.round(cfg.electionTimeoutMs / cfg.tickMs));
    this.idle = new IdleClock({
      tickMs: cfg.tickMs,
      idleTickMs: cfg.idleTickMs,
      // Calm for a whole election timeout: followers have heard the last commit index by then.
      calmTicks: electionTick,
      setTickMs: (ms) => this.startTicking(ms),
      notify: (kind) => {
        this.logger.debug(kind === 'idle' ? 'idle: slower ticks' : 'idle: woken', { tickMs: kind === 'idle' ? cfg.idleTickMs : cfg.tickMs, term: this.term });
        this.transport?.notify(kind, this.term);
      },
    });
  }

  /** Where Ready messages go (the transport, which is built after the driver). */
  setTransport(t: DriverTransport): void {
    this.transport = t;
    this.send = (m) => t.send(m);
  }

  /** True while this node ticks at the idle rate. */
  isIdle(): boolean {
    return this.idle.isIdle();
  }

  start(): void {
    if (this.cfg.metricsLogMs > 0) {
      this.metricsTimer = setInterval(() => {
        this.logger.info('metrics', { ...this.metrics, txMs: Math.round(this.metrics.txMs), applied: this.appliedIndex(), term: this.term, lead: this.lead, refused: this.events.securityCounters?.() });
      }, this.cfg.metricsLogMs);
      this.metricsTimer.unref();
    }
    this.startTicking(this.cfg.tickMs);
    this.kick();
  }

  private startTicking(ms: number): void {
    if (this.stopped) return;
    clearInterval(this.tickTimer);
    // A new pace: a lease counted in ticks of the old one says nothing about real time.
    this.tickEveryMs = ms;
    this.restartPace();
    this.tickTimer = setInterval(() => {
      this.ticksSince++;
      this.catchUpTicks();
      this.node.tick();
      if (this.isLeader()) this.idle.onLeaderTick({ isLeader: true, settled: this.settled(), readsPending: this.reads.pending() });
      this.kick();
    }, ms);
  }

  /**
   * The leader's view that nothing is left to do: every member has every
   * entry, all committed and applied, no leadership transfer, every peer
   * reachable and able to idle.
   */
  private settled(): boolean {
    const t = this.transport;
    if (!t || this.cfg.idleTickMs <= 0) return false;
    const st = this.node.status();
    if (st.leadTransferee !== 0 || st.commit !== st.lastIndex || this.appliedIndex() !== st.commit) return false;
    for (const [id, p] of Object.entries(st.progress)) {
      const peer = Number(id);
      if (p.match !== st.lastIndex) return false;
      if (peer !== this.cfg.nodeId && (!t.isReachable(peer) || !t.supportsIdle(peer))) return false;
    }
    return true;
  }

  /**
   * Lease reads (FLAGRAFT_READ_MODE=lease) count real time in ticks, and
   * setInterval only ever runs late: a stalled process (GC pause, long fsync,
   * a loaded machine) counts fewer ticks than the time that passed. So the
   * driver compares the ticks run since `paceSince` with the ticks due by the
   * clock: when they lag by more than LEASE_LAG_AT_STEP ticks, or the node ticks at the
   * idle pace, the heartbeats acknowledged so far no longer vouch for the
   * lease (raft-core expireLease) and counting starts over; the next read
   * takes a heartbeat round, which starts a new lease (catchUpTicks makes up
   * a timer's small lateness at each tick). At any decision the tick count
   * lags real time by at most LEASE_LAG_AT_STEP ticks, which
   * raft-core's default leaseTicks (electionTick - 2 - 10 %) leaves room for:
   * (leaseTicks + 0.5) leader ticks <= (electionTick - 1) follower ticks
   * with the followers' ticks up to 10 % faster. Called at every message and
   * read (catchUpTicks at every tick).
   */
  private guardLease(): void {
    if (this.cfg.readMode !== 'lease') return;
    const due = (performance.now() - this.paceSince) / this.tickEveryMs;
    if (this.idle.isIdle() || due - this.ticksSince > LEASE_LAG_AT_STEP) this.restartPace();
  }

  /**
   * Lease reads: setInterval runs late, never early, and the lateness adds
   * up. A tick or two behind the clock is made up here (the Raft clock keeps
   * pace with real time); more than LEASE_MAX_CATCH_UP_TICKS behind is a
   * stall, which ends the lease instead.
   */
  private catchUpTicks(): void {
    if (this.cfg.readMode !== 'lease') return;
    const lag = (performance.now() - this.paceSince) / this.tickEveryMs - this.ticksSince;
    if (this.idle.isIdle() || lag > LEASE_MAX_CATCH_UP_TICKS) {
      this.restartPace();
      return;
    }
    for (let i = 0; i < Math.floor(lag); i++) {
      this.ticksSince++;
      this.node.tick();
    }
  }

  private restartPace(): void {
    this.paceSince = performance.now();
    this.ticksSince = 0;
    if (this.cfg.readMode === 'lease') this.node.expireLease();
  }

  /** Activity: back to the normal tick (a leader tells its peers). */
  private wake(): void {
    this.idle.wake(this.isLeader());
  }

  /** An idle-mode notice from a peer (transport). */
  onIdleNotice(from: NodeId, notice: IdleNotice, term: number): void {
    if (!this.stopped) this.idle.onNotice(notice, from, term, this.lead, this.term);
  }

  /** A peer's stream to this node ended: whoever idles on its word wakes (a dead leader is replaced at the normal pace). */
  onPeerStreamEnded(id: NodeId): void {
    if (this.stopped || !this.idle.isIdle()) return;
    if (this.isLeader() || id === this.lead) this.wake();
  }

  // ---- state ------------------------------------------------------------------------

  isLeader(): boolean { return this.raftState === StateType.Leader; }
  leaderId(): NodeId { return this.lead; }
  currentTerm(): number { return this.term; }
  appliedIndex(): number { return this.durability.appliedIndex(); }
  /** raft-core's view: role, commit index, followers' progress on a leader. */
  status(): Status { return this.node.status(); }

  /** NOT_LEADER with the leader's id and client address when known. */
  notLeader(hint: NodeId = this.lead): ApiError {
    return ApiError.of('NOT_LEADER', hint ? `node ${this.cfg.nodeId} is not the leader; the leader is node ${hint}` : `node ${this.cfg.nodeId} is not the leader and knows no leader`,
      { leaderId: hint, leaderAddress: hint ? this.events.clientAddressOf(hint) : undefined });
  }

  // ---- inputs -----------------------------------------------------------------------

  step(m: Message): void {
    if (this.stopped) return;
    this.idle.onMessage(m, this.isLeader());
    this.guardLease();
    if (this.trace) traceStep(this.trace, m);
    try {
      this.node.step(m);
    } catch (e) {
      this.logger.debug('step rejected a message', { from: m.from, type: m.type, error: (e as Error).message });
    }
    this.kick();
  }

  reportUnreachable(id: NodeId): void {
    if (this.stopped) return;
    if (this.idle.isIdle() && (this.isLeader() || id === this.lead)) this.wake();
    this.node.reportUnreachable(id);
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    if (this.stopped) return;
    this.node.reportSnapshot(id, ok ? SnapshotStatus.Finish : SnapshotStatus.Failure);
    this.kick();
  }

  /** Appends a Normal entry on the leader and returns its index; its outcome comes back through onResults once applied. */
  propose(data: Uint8Array): number {
    if (this.stopped) throw ApiError.of('UNAVAILABLE', 'node is shutting down');
    this.wake();
    let index: number;
    try {
      index = this.node.propose(data);
    } catch (e) {
      if (e instanceof NotLeaderError) throw this.notLeader(e.leaderHint);
      if (e === ErrProposalDropped) throw ApiError.of('UNAVAILABLE', 'proposal dropped (leadership transfer or overload); retry');
      throw e;
    }
    this.trace?.proposed(index);
    this.kick();
    return index;
  }

  /** Appends a ConfChange entry on the leader. */
  proposeConfChange(cc: ConfChange): void {
    this.wake();
    try {
      this.node.proposeConfChange(cc);
    } catch (e) {
      if (e instanceof NotLeaderError) throw this.notLeader(e.leaderHint);
      throw ApiError.of('FAILED_PRECONDITION', `membership change refused: ${(e as Error).message}`);
    }
    this.kick();
  }

  async transferLeader(to: NodeId, timeoutMs: number): Promise<void> {
    if (!this.isLeader()) throw this.notLeader();
    if (to === this.cfg.nodeId) return;
    this.wake();
    this.node.transferLeader(to);
    this.kick();
    // Monotonic: a backward wall jump must not keep the caller waiting for days (clock.ts).
    const deadline = systemClock.monotonic() + timeoutMs;
    while (systemClock.monotonic() < deadline) {
      if (this.lead === to) return;
      await new Promise((r) => setTimeout(r, this.cfg.tickMs));
    }
    throw ApiError.of('UNAVAILABLE', `leadership did not move to node ${to} within ${timeoutMs} ms`);
  }

  // ---- the Ready loop ---------------------------------------------------------------

  kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.runReady();
    });
  }

  private runReady(): void {
    for (let i = 0; i < MAX_READIES_PER_TURN && !this.stopped && this.node.hasReady(); i++) {
      this.handleReady(this.node.ready());
    }
    if (!this.stopped && this.node.hasReady()) this.kick();
  }

  private handleReady(rd: Ready): void {
    // A node that was leader and stays leader may replicate before its own fsync (durability.ts, step 1).
    const leaderThroughout = this.raftState === StateType.Leader && !rd.softState;
    if (this.trace) traceReady(this.trace, rd);
    this.durability.handle(rd, leaderThroughout, {
      answer: (applied) => {
        if (rd.hardState) this.term = rd.hardState.term;
        if (rd.softState) this.onSoftState(rd.softState.lead, rd.softState.raftState);
        this.events.onResults(applied);
        this.reads.onReadStates(rd.readStates, this.appliedIndex());
      },
      afterAdvance: (applied) => {
        if (applied.any) this.events.onApplied(applied);
        this.reads.maybeIssue();
        // A Ready finished on a later turn (durability.ts step 1) leaves its successor to a new turn.
        this.kick();
      },
    });
  }

  private onSoftState(lead: NodeId, raftState: StateType): void {
    const wasLeader = this.raftState === StateType.Leader;
    const leadChanged = lead !== this.lead;
    this.lead = lead;
    this.raftState = raftState;
    const isLeader = raftState === StateType.Leader;
    if (leadChanged || wasLeader !== isLeader) {
      this.logger.info(isLeader ? 'became leader' : 'leader changed', { term: this.term, lead, role: raftState });
    }
    if (leadChanged || wasLeader !== isLeader) this.idle.wake(wasLeader && isLeader);
    if (leadChanged) this.reads.onLeaderChange();
    if (leadChanged || wasLeader !== isLeader) this.events.onLeadership(isLeader, this.term, lead, wasLeader);
  }

  /** Stops timers and fails every read still waiting (proposals are the node's: proposer.ts). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearInterval(this.metricsTimer);
    this.reads.stop(ApiError.of('UNAVAILABLE', 'node is shutting down; retry on another node'));
  }
}

function traceStep(t: WriteTrace, m: Message): void {
  if (m.type === MessageType.MsgAppResp && !m.reject) t.acked(m.index);
  else if (m.type === MessageType.MsgApp && m.entries.length) t.received(m.entries[m.entries.length - 1].index);
}

function traceReady(t: WriteTrace, rd: Ready): void {
  if (rd.entries.length) {
    const from = rd.entries[0].index, to = rd.entries[rd.entries.length - 1].index;
    t.leaderStage('ready', from, to);
    t.followerStage('ready', from, to);
  }
  if (rd.committedEntries.length) t.leaderStage('commit', rd.committedEntries[0].index, rd.committedEntries[rd.committedEntries.length - 1].index);
}
