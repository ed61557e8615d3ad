import { describe, expect, it } from 'vitest';
import { CachingTokenStore } from './cache.js';
import { issueTicket, verifyTicket } from './tickets.js';
import { createTokenStore, hashToken } from './tokens.js';

const store = () => createTokenStore([
  { name: 'svc', role: 'evaluator', sha256: hashToken('secret-evaluator') },
  { name: 'rita', role: 'reader', sha256: hashToken('secret-reader') },
]);
const T0 = 1_700_000_000_000;

describe('stream tickets', () => {
  it('a ticket names the token by key id only, verifies to its current principal, and is stable within a window', () => {
    const a = issueTicket('secret-reader', 'changes', { windowSec: 300, nowMs: T0 });
    expect(a.ticket).not.toContain('secret');
    expect(a.ticket.length).toBeLessThanOrEqual(128);
    expect(issueTicket('secret-reader', 'changes', { windowSec: 300, nowMs: T0 + 1000 }).ticket).toBe(a.ticket);
    expect(a.expiresAt - T0).toBeGreaterThanOrEqual(300_000);
    expect(a.expiresAt - T0).toBeLessThanOrEqual(600_000);
    const ok = verifyTicket(new CachingTokenStore(store()), a.ticket, 'changes', { nowMs: T0 + 299_000 });
    expect(ok).toEqual({ ok: true, principal: { name: 'rita', role: 'reader' }, expiresAt: a.expiresAt });
  });

  it('refuses expired, forged, other-purpose, revoked and malformed tickets', () => {
    const { ticket, expiresAt } = issueTicket('secret-evaluator', 'ofrep-events', { windowSec: 60, nowMs: T0 });
    const s = store();
    expect(verifyTicket(s, ticket, 'ofrep-events', { nowMs: expiresAt })).toEqual({ ok: false, reason: 'expired' });
    expect(verifyTicket(s, ticket, 'changes', { nowMs: T0 })).toEqual({ ok: false, reason: 'wrong-purpose' });
    const parts = ticket.split('.');
    const later = [...parts.slice(0, 3), (Number.parseInt(parts[3], 36) + 3600).toString(36), parts[4]].join('.');
    expect(verifyTicket(s, later, 'ofrep-events', { nowMs: T0 })).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyTicket(s, ticket, 'ofrep-events', { nowMs: T0, secret: 'other' })).toEqual({ ok: false, reason: 'bad-signature' });
    const revoked = createTokenStore([{ name: 'rita', role: 'reader', sha256: hashToken('secret-reader') }]);
    expect(verifyTicket(revoked, ticket, 'ofrep-events', { nowMs: T0 })).toEqual({ ok: false, reason: 'unknown-token' });
    for (const bad of ['', 'ft1', 'x'.repeat(200), 'ft2.a.o.1.b', 42, null]) {
      expect(verifyTicket(s, bad, 'ofrep-events', { nowMs: T0 })).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('a shared secret is part of the key: tickets issued with it verify only with it', () => {
    const { ticket } = issueTicket('secret-evaluator', 'ofrep-events', { windowSec: 60, nowMs: T0, secret: 's3' });
    expect(verifyTicket(store(), ticket, 'ofrep-events', { nowMs: T0, secret: 's3' }).ok).toBe(true);
    expect(verifyTicket(store(), ticket, 'ofrep-events', { nowMs: T0 }).ok).toBe(false);
  });
});
