// Token buckets per key, the one rate-limit mechanism of the gateway
// (per-token budgets for evaluations and writes) and the dashboard (sign-in
// attempts per client address): each take costs one unit, a bucket refills
// at `perSecond` up to `burst`, and at most `maxKeys` keys are tracked.

export interface TokenBucketOptions {
  /** Units refilled per second (> 0). */
  perSecond: number;
  /** Units a bucket holds at most: what a key may spend at once after being idle (>= 1). */
  burst: number;
  /** Keys tracked at once; a new key beyond it makes one forgotten (it restarts with a full bucket). */
  maxKeys: number;
  /**
   * Which key is forgotten: the least recently used (each take re-inserts
   * its key in the Map's order), or the longest tracked (insertion order,
   * no re-insert: the gateway's per-request hot path).
   */
  forget: 'least-recently-used' | 'longest-tracked';
}

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly o: TokenBucketOptions) {
    if (!(o.perSecond > 0) || !(o.burst >= 1)) throw new Error(`rate limit: perSecond must be > 0 and burst >= 1, got ${JSON.stringify({ perSecond: o.perSecond, burst: o.burst })}`);
    if (!(Number.isInteger(o.maxKeys) && o.maxKeys >= 1)) throw new Error(`rate limit: maxKeys must be a whole number >= 1, got ${o.maxKeys}`);
  }

  /**
   * Takes one unit from `key`'s bucket at `nowMs` (milliseconds on any
   * monotonic-enough clock). Returns 0 when allowed, else the whole seconds
   * (at least 1) until a unit would be there: the Retry-After.
   */
  take(key: string, nowMs: number): number {
    const { perSecond, burst, maxKeys, forget } = this.o;
    let b = this.buckets.get(key);
    if (b === undefined) {
      while (this.buckets.size >= maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
      b = { tokens: burst, at: nowMs };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((nowMs - b.at) / 1000) * perSecond);
      b.at = nowMs;
      if (forget === 'least-recently-used') {
        this.buckets.delete(key);
        this.buckets.set(key, b);
      }
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.buckets.size;
  }
}
