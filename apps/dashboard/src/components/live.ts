// Live change feed shared by every page: the layout keeps one WebSocket to
// the dashboard's /live endpoint (which forwards to the relay's /ws with the
// session's token), and pages react to `seq` to apply events in place.
import { createContextId } from '@builder.io/qwik';
import type { ChangeEvent } from '~/lib/types';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface LiveStore {
  state: LiveState;
  /** Highest revision seen (from the page's data or an event): resume point for ?since=. */
  since: number;
  /** Bumped once per delivered event. */
  seq: number;
  /** The most recent events, oldest first, each with its seq. */
  events: { seq: number; event: ChangeEvent }[];
  /** Bumped when the relay says our view may have gaps: pages reload their data. */
  resync: number;
  /**
   * Revision of the last `resync` (0 = none): data loaded after it must be at
   * least this new. A read answered by a replica that has not applied the
   * restore yet is older, and the page reloads again (flags list).
   */
  resyncRevision: number;
}

/** Events kept for pages that catch up after a burst. */
export const MAX_LIVE_EVENTS = 200;

export const LiveContext = createContextId<LiveStore>('flagraft.live');

/** Reconnect delay after the n-th failed attempt, in ms (capped exponential backoff with jitter). */
export function reconnectDelayMs(attempt: number, rand: number): number {
  const base = Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
  return Math.round(base / 2 + (base / 2) * rand);
}

/**
 * Applies one relay frame to the store. Returns 'resync' when the page must
 * reload from the gateway. Frames: {type:'hello'|'change'|'replayed'|'resync'|'error'|'pong'}.
 */
export function applyFrame(live: LiveStore, raw: string): 'event' | 'resync' | 'ignored' {
  let msg: { type?: string; event?: ChangeEvent; revision?: number | null };
  try {
    msg = JSON.parse(raw);
  } catch {
    return 'ignored';
  }
  if (msg.type === 'change' && msg.event && typeof msg.event.revision === 'number') {
    const ev = msg.event;
    // At-least-once delivery: drop anything at or below what we have seen.
    if (ev.revision <= live.since) return 'ignored';
    live.since = ev.revision;
    live.seq++;
    const next = [...live.events, { seq: live.seq, event: ev }];
    live.events = next.length > MAX_LIVE_EVENTS ? next.slice(next.length - MAX_LIVE_EVENTS) : next;
    return 'event';
  }
  if (msg.type === 'resync') {
    if (typeof msg.revision === 'number') {
      live.since = Math.max(live.since, msg.revision);
      live.resyncRevision = Math.max(live.resyncRevision, msg.revision);
    }
    live.resync++;
    return 'resync';
  }
  return 'ignored';
}

/**
 * Runs `reload` at most once per `minIntervalMs`, and never drops a request:
 * one asked for too soon after the last reload is deferred to the end of the
 * interval (several such requests share that one reload). Dropping it would
 * leave the page stale until the next resync, which after a restore may never
 * come (a `resync` with reason `restore` often follows a gap or out-of-window
 * resync within seconds).
 */
export function createReloadThrottle(
  minIntervalMs: number,
  reload: () => void,
  now: () => number = Date.now,
  timers: { set: (fn: () => void, ms: number) => unknown; clear: (t: unknown) => void } = {
    set: (fn, ms) => setTimeout(fn, ms),
    clear: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
  },
): { request(): void; cancel(): void } {
  let last = -Infinity;
  let pending: unknown;
  const run = () => {
    pending = undefined;
    last = now();
    reload();
  };
  return {
    request() {
      if (pending !== undefined) return;
      const wait = last + minIntervalMs - now();
      if (wait <= 0) run();
      else pending = timers.set(run, wait);
    },
    cancel() {
      if (pending !== undefined) timers.clear(pending);
      pending = undefined;
    },
  };
}
