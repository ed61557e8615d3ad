import { describe, expect, it } from 'vitest';
import { clientAddress, RateLimiter } from './rate-limit';

describe('sign-in rate limit', () => {
  it('allows the burst, then one attempt per refill interval, and says how long to wait', () => {
    const rl = new RateLimiter({ perMinute: 6, burst: 3 });
    const t0 = 1_000_000;
    expect([rl.take('a', t0), rl.take('a', t0), rl.take('a', t0)]).toEqual([0, 0, 0]);
    expect(rl.take('a', t0)).toBe(10); // 6/min: the next attempt in 10 s
    expect(rl.take('b', t0)).toBe(0); // another address is not affected
    expect(rl.take('a', t0 + 10_000)).toBe(0);
    expect(rl.take('a', t0 + 10_000)).toBeGreaterThan(0);
  });

  it('0 per minute means no limit', () => {
    const rl = new RateLimiter({ perMinute: 0, burst: 0 });
    for (let i = 0; i < 100; i++) expect(rl.take('a')).toBe(0);
  });

  it('tracks at most maxKeys addresses (the least recently used one is forgotten)', () => {
    const rl = new RateLimiter({ perMinute: 1, burst: 1 }, 2);
    rl.take('a', 0);
    rl.take('b', 0);
    rl.take('c', 0); // forgets a
    expect(rl.take('a', 0)).toBe(0);
    expect(rl.take('c', 0)).toBeGreaterThan(0);
  });

  it('believes X-Forwarded-For only from a proxy next to us, and only its last (proxy-appended) entry', () => {
    expect(clientAddress('127.0.0.1', '1.2.3.4, 5.6.7.8')).toBe('5.6.7.8');
    expect(clientAddress('::ffff:10.0.0.2', '9.9.9.9')).toBe('9.9.9.9');
    expect(clientAddress('203.0.113.9', '5.6.7.8')).toBe('203.0.113.9');
    expect(clientAddress('127.0.0.1', 'not-an-ip')).toBe('127.0.0.1');
    expect(clientAddress(undefined, null)).toBe('unknown');
  });
});
