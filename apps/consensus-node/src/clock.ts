// Time, as this node reads it. Two clocks with different jobs:
//
//  - monotonic(): durations, deadlines, timeouts, rate limits, "how long ago
//    did I last ...". It never jumps: an operator's `date -s`, an NTP step or
//    a VM restored from a snapshot moves the wall clock, not this one (Linux
//    CLOCK_MONOTONIC; libuv's timers, so setTimeout/setInterval, run on it
//    too). A wall jump measured as a duration would fire a timeout at once
//    (forward) or stall it for the size of the jump (backward).
//  - now(): wall time, ms since the Unix epoch, for what means a date: audit
//    timestamps on changes, retention by age, ticket expiry shown to people.
//    Never for a duration measured on this node.
//
// And one derived clock for what the whole cluster must agree on:
//
//  - ClusterClock.now(): the leader's estimate of the *voters'* wall clock,
//    the lower median of its own and every voter's last reported clock
//    (each peer stamps its wall time on every Send batch, raft.proto
//    MessageBatch.wall_ms; the estimate advances by this node's monotonic
//    time since). Only readings of the last PEER_CLOCK_MAX_AGE_MS count: a
//    leader hears every voter each heartbeat, but what a new leader heard as
//    a follower (followers do not hear each other) may be old and from a
//    clock corrected since; readings of a voter that went silent a moment
//    ago still count (dropping them, e.g. everything before this term, left
//    a new leader with two readings, its own and one days behind: torture
//    seed 5013). One node whose clock jumped (days ahead or behind, or
//    running fast) is outvoted as long as a majority of voters agree. The
//    leader stamps it on every command (`time`), which is the replicated
//    clock retention ages are measured on (retention.ts): a single leader's
//    jump must never make the cluster prune history or de-duplication rows
//    that are young on the majority's clocks.
//
// Leader-proposed scheduled work (a change due at a time) should read
// ClusterClock.now() on the leader and put the time it acted on into the
// entry, never read a clock while applying.
//
// Fault injection (FLAGRAFT_CLOCK_CONTROL, apps/torture scenario clock-jump;
// never on by default): installClockFault() shifts and skews this process's
// Date.now from a small JSON control file the harness rewrites, without
// touching the machine's clock. performance.now (monotonic) is left alone,
// as a real wall-clock step leaves CLOCK_MONOTONIC alone.
import { readFileSync, statSync } from 'node:fs';
import type { NodeId } from '@flagraft/raft-core';

export interface Clock {
  /** Wall time, ms since the Unix epoch (may jump; may run fast or slow). */
  now(): number;
  /** Monotonic ms from an arbitrary origin (never jumps, never goes back). */
  monotonic(): number;
}

/** The process's clocks: Date.now (wall) and performance.now (monotonic). */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/**
 * A peer's last reported wall clock older than this is not used (ms): many
 * heartbeat intervals, idle ones included (idle mode: every 500 ms by
 * default), yet short enough that a clock corrected since is soon forgotten.
 */
export const PEER_CLOCK_MAX_AGE_MS = 30_000;

/**
 * The leader's estimate of the voters' wall clock (see the top of this file).
 * Samples come from every peer batch; `voters` says whose count.
 */
export class ClusterClock {
  private readonly samples = new Map<NodeId, { wallMs: number; at: number }>();

  constructor(private readonly clock: Clock, private readonly self: NodeId, private readonly voters: () => readonly NodeId[]) {}

  /** Node `from` said its wall clock read `wallMs` (0 = an older node that does not say). */
  observe(from: NodeId, wallMs: number): void {
    if (wallMs > 0) this.samples.set(from, { wallMs, at: this.clock.monotonic() });
  }

  /**
   * The lower median of this node's wall clock and each voter's estimated
   * one. Lower, not upper: with two readings (a voter silent) the one behind
   * wins, and a clock behind only makes retention keep more.
   */
  now(): number {
    const mono = this.clock.monotonic();
    const readings = [this.clock.now()];
    for (const id of this.voters()) {
      if (id === this.self) continue;
      const s = this.samples.get(id);
      if (s && mono - s.at <= PEER_CLOCK_MAX_AGE_MS) readings.push(s.wallMs + (mono - s.at));
    }
    readings.sort((a, b) => a - b);
    return Math.round(readings[Math.floor((readings.length - 1) / 2)]);
  }
}

// ---- fault injection ---------------------------------------------------------------

/** A wall-clock fault: `offsetMs` added at once (a jump), `rate` the wall clock's speed from now on (1 = real time). */
export interface ClockFault { offsetMs: number; rate: number }

/** Limits of an injected fault: a jump within ±100 days, a rate within 0.1x..10x. */
export const MAX_CLOCK_OFFSET_MS = 100 * 24 * 3600_000;
export const MIN_CLOCK_RATE = 0.1;
export const MAX_CLOCK_RATE = 10;

/** The fault in a control file's text (`{"offsetMs": N, "rate": R}`, both optional), or what is wrong with it. */
export function parseClockFault(text: string): ClockFault | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `not JSON: ${(e as Error).message}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'must be an object {"offsetMs": N, "rate": R}' };
  const { offsetMs = 0, rate = 1 } = v as Record<string, unknown>;
  if (typeof offsetMs !== 'number' || !Number.isFinite(offsetMs) || Math.abs(offsetMs) > MAX_CLOCK_OFFSET_MS) return { error: `offsetMs must be a number within ±${MAX_CLOCK_OFFSET_MS}` };
  if (typeof rate !== 'number' || !(rate >= MIN_CLOCK_RATE && rate <= MAX_CLOCK_RATE)) return { error: `rate must be a number in ${MIN_CLOCK_RATE}..${MAX_CLOCK_RATE}` };
  return { offsetMs, rate };
}

/**
 * A wall clock that reads `base` shifted by the fault's offset at the moment
 * the fault is set, and from then on runs at the fault's rate; its monotonic
 * clock is the base's. Each fault replaces the last: {offsetMs: 0, rate: 1}
 * is the real time again.
 */
export class FaultyWallClock implements Clock {
  private offsetMs = 0;
  private rate = 1;
  /** Base monotonic time when the fault was set. */
  private since: number;

  constructor(private readonly base: Clock) {
    this.since = base.monotonic();
  }

  set(f: ClockFault): void {
    this.since = this.base.monotonic();
    this.rate = f.rate;
    this.offsetMs = f.offsetMs;
  }

  now(): number {
    return Math.round(this.base.now() + this.offsetMs + (this.base.monotonic() - this.since) * (this.rate - 1));
  }

  monotonic(): number {
    return this.base.monotonic();
  }
}

/** How often the control file is checked (ms). */
export const CLOCK_CONTROL_POLL_MS = 50;

/**
 * Testing only (FLAGRAFT_CLOCK_CONTROL): replaces this process's Date.now
 * with a FaultyWallClock driven by `path` (re-read when its mtime or size
 * changes; a missing file = no fault; a bad one is reported and ignored).
 * `new Date()` without arguments keeps the real time, so log lines stay
 * comparable across nodes. Returns a function that restores Date.now.
 */
export function installClockFault(path: string, report: (msg: string, fields: Record<string, unknown>) => void): () => void {
  const realNow = Date.now.bind(Date);
  const wall = new FaultyWallClock({ now: realNow, monotonic: () => performance.now() });
  let seen = '';
  const poll = () => {
    let text: string;
    let stamp: string;
    try {
      const st = statSync(path);
      stamp = `${st.mtimeMs}:${st.size}`;
      if (stamp === seen) return;
      text = readFileSync(path, 'utf8');
    } catch {
      stamp = 'missing';
      if (stamp === seen) return;
      text = '{}';
    }
    seen = stamp;
    const f = parseClockFault(text);
    if ('error' in f) { report('clock control file ignored', { file: path, error: f.error }); return; }
    wall.set(f);
    report('clock fault set', { file: path, offsetMs: f.offsetMs, rate: f.rate, wall: new Date(wall.now()).toISOString() });
  };
  poll();
  Date.now = () => wall.now();
  const timer = setInterval(poll, CLOCK_CONTROL_POLL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    Date.now = realNow;
  };
}
