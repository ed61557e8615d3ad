// Per-token rate limits (token buckets) for evaluations and writes. On by
// default with budgets far above honest use (config.ts: 1,000 evaluations and
// 50 writes per second, bursts of two seconds' worth), so a runaway client or
// a leaked token cannot saturate a gateway or the Raft log for everyone else,
// while a feature-flag service never refuses normal traffic by surprise. A
// caller over its budget gets 429 with Retry-After (OFREP's documented answer,
// and a problem document on the REST API). 0 turns a limit off.
//
// Buckets are keyed by the token's name (the audit identity): tokens sharing a
// name share a budget, and anonymous evaluation (development mode) is one
// caller. One request is one unit, so a bulk evaluation of every flag costs
// the same as a single flag.

import { TokenBuckets } from '@flagraft/auth';

/** Callers tracked at once (entries); beyond it the longest-tracked one is forgotten (it restarts with a full bucket). */
export const MAX_RATE_LIMITED_CALLERS = 10_000;

export interface RateLimit {
  /** Sustained requests per second per caller. */
  perSecond: number;
  /** Requests a caller may make at once after being idle (bucket size). */
  burst: number;
}

export class RateLimiter {
  private readonly buckets: TokenBuckets;

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
    maxCallers: number = MAX_RATE_LIMITED_CALLERS,
  ) {
    // Longest-tracked forgotten: no Map re-insert on the per-request path.
    this.buckets = new TokenBuckets({ ...limit, maxKeys: maxCallers, forget: 'longest-tracked' });
  }

  /**
   * Takes one request from `caller`'s budget. Returns 0 when allowed, else the
   * whole seconds (at least 1) until a request would be allowed: the Retry-After.
   */
  take(caller: string): number {
    return this.buckets.take(caller, this.now());
  }

  /** Callers currently tracked. */
  get size(): number {
    return this.buckets.size;
  }
}

/**
 * Seconds' worth of the rate a bucket holds when no burst is configured: two,
 * so a client that was idle may catch up on a second of backlog without a
 * refusal while its sustained rate is still held to the limit.
 */
export const DEFAULT_BURST_SECONDS = 2;

/** A limiter when the rate is set (> 0), else undefined (no limit). */
export function limiterFor(perSecond: number, burst: number | undefined, now?: () => number): RateLimiter | undefined {
  if (perSecond <= 0) return undefined;
  return new RateLimiter({ perSecond, burst: burst ?? Math.max(1, Math.ceil(perSecond * DEFAULT_BURST_SECONDS)) }, now);
}
