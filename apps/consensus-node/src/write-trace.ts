// Opt-in timing of the write path (FLAGRAFT_TRACE_WRITES=1, issue 15): where
// a write's time goes between its proposal and its answer on the leader, and
// between a MsgApp's arrival and its acknowledgement on a follower. Off by
// default: the driver, durability.ts and the proposer then hold `undefined`
// and every hook is one `trace?.` check.
//
// Leader, per log index (times from performance.now(), reported as the
// median and p90 of "ms since the proposal" over the entries answered in a
// window): ready (handed out in a Ready), sent (its MsgApps given to the
// transport), persistStart / persisted (the leader's own log transaction),
// ack (the first follower acknowledgement that covers it, stepped), commit
// (handed out as committed), applied, answered (the caller's promise
// continuation ran). Follower, per MsgApp (the last entry's index):
// ready, persisted, acked, in ms since the batch was stepped. The log line
// `write trace` comes every `everyMs` while there were samples.
import type { Logger } from './log.js';

/** Stages of a write on the leader, in the order they normally happen. */
const LEADER = ['ready', 'sent', 'persistStart', 'persisted', 'ack', 'commit', 'applied', 'answered'] as const;
type LeaderStage = (typeof LEADER)[number];
/** Stages of a MsgApp on a follower. */
const FOLLOWER = ['ready', 'persisted', 'acked'] as const;
type FollowerStage = (typeof FOLLOWER)[number];

/** Entries traced at once before the oldest are forgotten (a leader change leaves some unanswered). */
const MAX_OPEN = 20_000;

interface Open { t0: number; at: Map<string, number> }

export class WriteTrace {
  private readonly leader = new Map<number, Open>();
  private readonly follower = new Map<number, Open>();
  private readonly done: { leader: Map<string, number>[]; follower: Map<string, number>[] } = { leader: [], follower: [] };
  private readonly timer: NodeJS.Timeout;
  private readies = 0;
  private readyEntries = 0;

  constructor(private readonly log: Logger, everyMs = 5000) {
    this.timer = setInterval(() => this.report(), everyMs);
    this.timer.unref();
  }

  /** The trace when FLAGRAFT_TRACE_WRITES=1, else undefined. */
  static fromEnv(log: Logger, env: NodeJS.ProcessEnv = process.env): WriteTrace | undefined {
    return env.FLAGRAFT_TRACE_WRITES === '1' ? new WriteTrace(log) : undefined;
  }

  proposed(index: number): void {
    if (this.leader.size >= MAX_OPEN) this.leader.delete(this.leader.keys().next().value as number);
    this.leader.set(index, { t0: performance.now(), at: new Map() });
  }

  /** A leader stage reached by the entries `from..to`. */
  leaderStage(stage: LeaderStage, from: number, to: number): void {
    if (from > to || !this.leader.size) return;
    const now = performance.now();
    for (let i = from; i <= to; i++) {
      const o = this.leader.get(i);
      if (o && !o.at.has(stage)) o.at.set(stage, now - o.t0);
    }
    if (stage === 'ready') { this.readies++; this.readyEntries += to - from + 1; }
  }

  /** A follower's acknowledgement of everything through `index` was stepped (covers every open entry at or below). */
  acked(index: number): void {
    if (!this.leader.size) return;
    const now = performance.now();
    for (const [i, o] of this.leader) if (i <= index && !o.at.has('ack')) o.at.set('ack', now - o.t0);
  }

  answered(index: number): void {
    const o = this.leader.get(index);
    if (!o) return;
    o.at.set('answered', performance.now() - o.t0);
    this.leader.delete(index);
    this.done.leader.push(o.at);
  }

  /** A follower stepped a MsgApp whose last entry is `index`. */
  received(index: number): void {
    if (this.follower.size >= MAX_OPEN) this.follower.delete(this.follower.keys().next().value as number);
    this.follower.set(index, { t0: performance.now(), at: new Map() });
  }

  followerStage(stage: FollowerStage, from: number, to: number): void {
    if (!this.follower.size || from > to) return;
    const now = performance.now();
    for (const [i, o] of this.follower) {
      if (i < from || i > to || o.at.has(stage)) continue;
      o.at.set(stage, now - o.t0);
      if (stage === 'acked') { this.follower.delete(i); this.done.follower.push(o.at); }
    }
  }

  private report(): void {
    const { leader, follower } = this.done;
    if (!leader.length && !follower.length) return;
    const fields: Record<string, unknown> = {};
    if (leader.length) {
      fields.writes = leader.length;
      fields.entriesPerReady = this.readies ? +(this.readyEntries / this.readies).toFixed(2) : 0;
      fields.leaderMs = summary(leader, LEADER);
    }
    if (follower.length) {
      fields.msgApps = follower.length;
      fields.followerMs = summary(follower, FOLLOWER);
    }
    this.log.info('write trace', fields);
    this.done.leader = [];
    this.done.follower = [];
    this.readies = 0;
    this.readyEntries = 0;
  }

  stop(): void {
    this.report();
    clearInterval(this.timer);
  }
}

/** Median and p90 of each stage, ms since the start, over the samples that reached it. */
function summary(samples: Map<string, number>[], stages: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of stages) {
    const v = samples.map((m) => m.get(s)).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    if (v.length) out[s] = `${v[Math.floor(v.length / 2)].toFixed(2)}/${v[Math.floor(v.length * 0.9)].toFixed(2)}`;
  }
  return out;
}
