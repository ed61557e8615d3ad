// Sign-in attempts per client, a token bucket per address: guessing tokens
// through the sign-in form costs time, and one client cannot lock out others.
// Behind a proxy (Caddy) every request comes from the proxy, so the client is
// the last X-Forwarded-For entry, the one the proxy itself appended; that
// header is only believed from a loopback or private peer (a proxy next to us).
import { isIP } from 'node:net';
import { TokenBuckets } from '@flagraft/auth';

/** Most addresses tracked at once; beyond it the least recently refilled bucket is forgotten. */
export const MAX_RATE_LIMIT_KEYS = 10_000;

export interface RateLimit {
  /** Attempts allowed per minute (the refill rate); 0 = no limit. */
  perMinute: number;
  /** Attempts allowed at once (bucket size). */
  burst: number;
}

export class RateLimiter {
  /** Undefined when perMinute is 0 (no limit). */
  private readonly buckets: TokenBuckets | undefined;

  constructor(limit: RateLimit, maxKeys = MAX_RATE_LIMIT_KEYS) {
    // Least recently used forgotten: an address that keeps trying keeps its (empty) bucket.
    this.buckets = limit.perMinute > 0 ? new TokenBuckets({ perSecond: limit.perMinute / 60, burst: limit.burst, maxKeys, forget: 'least-recently-used' }) : undefined;
  }

  /** Takes one attempt for `key`; returns 0 if allowed, else the seconds until the next one is. */
  take(key: string, now = Date.now()): number {
    return this.buckets ? this.buckets.take(key, now) : 0;
  }
}

function isPrivatePeer(ip: string): boolean {
  const v4 = ip.replace(/^::ffff:/, '');
  return (
    v4 === '::1' ||
    /^127\./.test(v4) ||
    /^10\./.test(v4) ||
    /^192\.168\./.test(v4) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(v4) ||
    /^f[cd][0-9a-f]{2}:/i.test(v4)
  );
}

/** The client's address: the socket peer, or the proxy's last X-Forwarded-For entry when the peer is a proxy next to us. */
export function clientAddress(peer: string | undefined, forwardedFor: string | null): string {
  const p = peer ?? 'unknown';
  if (forwardedFor && isPrivatePeer(p)) {
    const last = forwardedFor.split(',').pop()?.trim() ?? '';
    if (isIP(last)) return last;
  }
  return p;
}
