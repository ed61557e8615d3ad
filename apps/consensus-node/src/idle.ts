// Idle mode: what an idle cluster spends CPU on is Raft's clock. At the
// default 20 ms tick and 40 ms heartbeat, three idle nodes step ~150 ticks and
// exchange ~100 heartbeat messages (gRPC over TLS) a second, ~18 % of a core
// together. Idle mode slows the clock of the whole cluster while nothing
// happens, and speeds it up again at the first sign of activity:
//
//  - The leader goes idle after `calmTicks` ticks in which nothing but
//    heartbeats happened, every member has every entry (match = last index =
//    commit = applied), nothing is being transferred or read, every peer is
//    reachable and speaks this protocol (a node of an older build never gets
//    the notice, so a rolling upgrade keeps the normal clock). It tells every
//    peer ("idle" notice on its Send stream) and ticks every `idleTickMs`.
//  - A follower that gets the "idle" notice from its current leader in the
//    current term ticks every `idleTickMs` too. Raft's ratios hold (heartbeat
//    every heartbeatTick ticks, election after electionTick..2x ticks), only
//    the tick is longer: an idle cluster still detects a silent leader loss
//    (a partition, a frozen host), in electionTick x idleTickMs.
//  - Anything else wakes a node at once: a proposal, a read, a membership
//    change or leadership transfer, any Raft message other than the idle
//    heartbeat traffic itself, a change of leader, and a lost peer stream.
//    A leader that wakes sends "wake" to every peer. A killed leader's TCP
//    connections close at once, so its followers wake and elect a new leader
//    as fast as in a busy cluster (the failover figure does not change).
//
// Raft's safety never depends on time; only how soon a failure is noticed
// does, and that is what the two paragraphs above bound.
import { MessageType, type Message } from '@flagraft/raft-core';

/** The notice a leader puts on a Send batch (raft.proto MessageBatch.idle: 1 = idle, 2 = wake). */
export type IdleNotice = 'idle' | 'wake';

export interface IdleClockOptions {
  tickMs: number;
  /** Tick while idle (ms); 0 = never idle. */
  idleTickMs: number;
  /** Quiet ticks before the leader goes idle (count). */
  calmTicks: number;
  /** The tick interval changed (restart the timer). */
  setTickMs(ms: number): void;
  /** Tell every peer (leader only). */
  notify(notice: IdleNotice): void;
}

/** What the leader must know to go idle. */
export interface IdleConditions {
  isLeader: boolean;
  /** Every member has every entry, all committed and applied; no transfer; every peer reachable and able to idle. */
  settled: boolean;
  /** Reads waiting for a ReadIndex. */
  readsPending: boolean;
}

export class IdleClock {
  private idle = false;
  private calm = 0;

  constructor(private readonly o: IdleClockOptions) {}

  isIdle(): boolean {
    return this.idle;
  }

  enabled(): boolean {
    return this.o.idleTickMs > 0;
  }

  /** Called on every tick of a leader: goes idle once the cluster has been calm long enough. */
  onLeaderTick(c: IdleConditions): void {
    if (!this.enabled() || this.idle || !c.isLeader) return;
    if (!c.settled || c.readsPending) { this.calm = 0; return; }
    if (++this.calm < this.o.calmTicks) return;
    this.idle = true;
    this.o.notify('idle');
    this.o.setTickMs(this.o.idleTickMs);
  }

  /** A Raft message arrived; `isLeader`: this node leads. Idle heartbeats do not wake anyone. */
  onMessage(m: Message, isLeader: boolean): void {
    if (isLeader ? m.type === MessageType.MsgHeartbeatResp : m.type === MessageType.MsgHeartbeat) return;
    this.wake(isLeader);
  }

  /** A notice from `from` in `term`; it counts only from the current leader in the current term. */
  onNotice(notice: IdleNotice, from: number, term: number, lead: number, currentTerm: number): void {
    if (!this.enabled() || from !== lead || term !== currentTerm) return;
    if (notice === 'idle' && !this.idle) {
      this.idle = true;
      this.o.setTickMs(this.o.idleTickMs);
    } else if (notice === 'wake') this.wake(false);
  }

  /** Activity: back to the normal clock; a leader tells its peers. */
  wake(isLeader: boolean): void {
    this.calm = 0;
    if (!this.idle) return;
    this.idle = false;
    this.o.setTickMs(this.o.tickMs);
    if (isLeader) this.o.notify('wake');
  }
}
