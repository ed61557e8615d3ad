// Sign-in attempts per client, a token bucket per address: guessing tokens
// through the sign-in form costs time, and one client cannot lock out others.
// Behind a proxy (Caddy) every request comes from the proxy, so the client is
// the last X-Forwarded-For entry, the one the proxy itself appended; that
// header is only believed from a loopback or private peer (a proxy next to us).
import { isIP } from 'node:net';

/** Most addresses tracked at once; beyond it the least recently refilled bucket is forgotten. */
export const MAX_RATE_LIMIT_KEYS = 10_000;

export interface RateLimit {
  /** Attempts allowed per minute (the refill rate); 0 = no limit. */
  perMinute: number;
  /** Attempts allowed at once (bucket size). */
  burst: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly maxKeys = MAX_RATE_LIMIT_KEYS,
  ) {}

  /** Takes one attempt for `key`; returns 0 if allowed, else the seconds until the next one is. */
  take(key: string, now = Date.now()): number {
    if (this.limit.perMinute <= 0) return 0;
    const perMs = this.limit.perMinute / 60_000;
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-insert: the Map's order is least recently used first
      b.tokens = Math.min(this.limit.burst, b.tokens + (now - b.at) * perMs);
      b.at = now;
    } else {
      b = { tokens: this.limit.burst, at: now };
      while (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    }
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
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
