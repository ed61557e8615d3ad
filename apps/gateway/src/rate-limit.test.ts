import { describe, expect, it } from 'vitest';
import { limiterFor, RateLimiter } from './rate-limit.js';

describe('RateLimiter', () => {
  it('allows a burst, then one request per 1/rate seconds, with Retry-After rounded up to whole seconds', () => {
    let now = 0;
    const l = new RateLimiter({ perSecond: 2, burst: 3 }, () => now);
    expect([l.take('a'), l.take('a'), l.take('a')]).toEqual([0, 0, 0]);
    expect(l.take('a')).toBe(1); // needs 0.5 s: Retry-After 1
    now += 499;
    expect(l.take('a')).toBe(1);
    now += 2; // 501 ms after the burst: one token refilled
    expect(l.take('a')).toBe(0);
    expect(l.take('a')).toBe(1);
    now += 10_000; // refills to the burst, not beyond
    expect([l.take('a'), l.take('a'), l.take('a'), l.take('a')]).toEqual([0, 0, 0, 1]);
  });

  it('keeps one budget per caller', () => {
    const l = new RateLimiter({ perSecond: 1, burst: 1 }, () => 0);
    expect(l.take('a')).toBe(0);
    expect(l.take('a')).toBe(1);
    expect(l.take('b')).toBe(0);
  });

  it('slow rates answer the full wait', () => {
    const l = new RateLimiter({ perSecond: 0.1, burst: 1 }, () => 0);
    expect(l.take('a')).toBe(0);
    expect(l.take('a')).toBe(10);
  });

  it('tracks a bounded number of callers', () => {
    const l = new RateLimiter({ perSecond: 1, burst: 1 }, () => 0, 3);
    for (const c of ['a', 'b', 'c', 'd', 'e']) l.take(c);
    expect(l.size).toBe(3);
  });

  it('limiterFor: 0 means no limit; burst defaults to two seconds of the rate', () => {
    expect(limiterFor(0, undefined)).toBeUndefined();
    expect(limiterFor(5, undefined)!.limit).toEqual({ perSecond: 5, burst: 10 });
    expect(limiterFor(0.25, undefined)!.limit).toEqual({ perSecond: 0.25, burst: 1 });
    expect(limiterFor(5, 20)!.limit).toEqual({ perSecond: 5, burst: 20 });
    expect(() => new RateLimiter({ perSecond: 1, burst: 0 })).toThrow(/burst >= 1/);
  });
});
