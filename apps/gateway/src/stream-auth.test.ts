import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createTokenStore, hashToken, verifyTicket } from '@flagraft/auth';
import { cachedTicketIssuer, ticketForRequest } from './stream-auth.js';

const reqWith = (token: string | undefined) => ({ headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }) as unknown as IncomingMessage;

describe('cachedTicketIssuer', () => {
  const config = { streamTicketWindowSec: 60, streamTicketSecret: 's3cret' };

  it('answers what ticketForRequest issues, once per token and window, and a new ticket in the next window', () => {
    let now = 1_000_000 * 60_000 + 5_000;
    const issue = cachedTicketIssuer(config, 10, () => now);
    const a1 = issue(reqWith('token-a'))!;
    const realNow = Date.now;
    Date.now = () => now;
    try {
      expect(a1).toEqual(ticketForRequest(reqWith('token-a'), config));
    } finally {
      Date.now = realNow;
    }
    now += 30_000;
    expect(issue(reqWith('token-a'))).toBe(a1); // same window: the cached entry itself
    const b = issue(reqWith('token-b'))!;
    expect(b.ticket).not.toBe(a1.ticket);
    now += 30_000; // next window
    const a2 = issue(reqWith('token-a'))!;
    expect(a2.window).toBe(a1.window + 1);
    expect(a2.ticket).not.toBe(a1.ticket);
    expect(a2.expiresAt).toBe(a1.expiresAt + 60_000);
    expect(issue(reqWith(undefined))).toBeUndefined();
  });

  it('its tickets verify against the current tokens only: a removed token makes them fail', () => {
    const issue = cachedTicketIssuer(config);
    const t = issue(reqWith('token-a'))!;
    const with_ = createTokenStore([{ name: 'svc', role: 'evaluator', sha256: hashToken('token-a') }]);
    const without = createTokenStore([{ name: 'other', role: 'evaluator', sha256: hashToken('token-z') }]);
    expect(verifyTicket(with_, t.ticket, 'ofrep-events', { secret: config.streamTicketSecret })).toMatchObject({ ok: true });
    expect(verifyTicket(without, t.ticket, 'ofrep-events', { secret: config.streamTicketSecret })).toEqual({ ok: false, reason: 'unknown-token' });
  });

  it('remembers at most maxEntries tokens, forgetting the oldest', () => {
    let issued = 0;
    const issue = cachedTicketIssuer(config, 2, () => 10_000 + issued);
    const first = issue(reqWith('t1'))!;
    issued++;
    issue(reqWith('t2'));
    issue(reqWith('t3')); // t1 forgotten
    const again = issue(reqWith('t1'))!;
    expect(again).not.toBe(first);
    expect(again.ticket).toBe(first.ticket); // the same deterministic ticket, issued anew
  });
});
