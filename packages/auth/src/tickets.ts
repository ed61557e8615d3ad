// Stream tickets: short-lived, single-purpose credentials that may travel in a
// URL, for clients that cannot send an Authorization header (the browser's
// EventSource and WebSocket). A ticket is obtained with a real token and names
// that token only by a one-way key id; the long-lived token never appears in a
// URL or a log.
//
//   ft1.<keyId>.<purpose>.<expires, unix seconds base36>.<mac>
//
// The MAC key is derived from the token's stored sha256 (and an optional
// shared secret), so every gateway that has the same tokens file verifies the
// tickets of every other one without shared state, and revoking the token (or
// changing the secret) voids its tickets at once: verification looks the key
// id up in the *current* token set and answers with that token's current
// principal.
//
// Tickets are deterministic within a validity window (no nonce): the same
// token asking twice in one window gets the same ticket, so a client that
// compares stream URLs (the OFREP web provider does) does not reconnect on
// every refresh. A ticket issued in window w (length windowSec) expires at the
// end of window w + 1: it stays valid between windowSec and 2 x windowSec.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { keyIdOfDigest, type Principal, type TokenStore } from './tokens.js';

/** What a ticket may open. Each is checked against the token's role by the caller. */
export const TICKET_PURPOSES = ['ofrep-events', 'changes'] as const;
export type TicketPurpose = (typeof TICKET_PURPOSES)[number];

const PURPOSE_CODES: Record<TicketPurpose, string> = { 'ofrep-events': 'o', changes: 'c' };
/** Longest ticket we parse (characters); anything longer is refused unread. */
export const MAX_TICKET_CHARS = 128;
const PREFIX = 'ft1';

export interface TicketOptions {
  /** Validity window, seconds (a ticket lives between one and two windows). */
  windowSec: number;
  /** Optional secret shared by the gateways, mixed into every ticket key. */
  secret?: string;
  /** Clock, ms since the epoch (tests). */
  nowMs?: number;
}

export interface IssuedTicket {
  ticket: string;
  /** ms since the epoch. */
  expiresAt: number;
}

export type TicketCheck =
  | { ok: true; principal: Principal; expiresAt: number }
  | { ok: false; reason: 'malformed' | 'expired' | 'unknown-token' | 'bad-signature' | 'wrong-purpose' };

function ticketKey(digest: Buffer, secret: string | undefined): Buffer {
  return createHmac('sha256', digest).update('flagraft stream ticket v1\0').update(secret ?? '').digest();
}

function mac(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body).digest('base64url').slice(0, 22);
}

/** Issues a ticket for a presented token (already authenticated by the caller). */
export function issueTicket(token: string, purpose: TicketPurpose, opts: TicketOptions): IssuedTicket {
  const windowMs = opts.windowSec * 1000;
  const now = opts.nowMs ?? Date.now();
  const expiresAt = (Math.floor(now / windowMs) + 2) * windowMs;
  const digest = createHash('sha256').update(token, 'utf8').digest();
  const body = `${PREFIX}.${keyIdOfDigest(digest)}.${PURPOSE_CODES[purpose]}.${Math.floor(expiresAt / 1000).toString(36)}`;
  return { ticket: `${body}.${mac(ticketKey(digest, opts.secret), body)}`, expiresAt };
}

/** Checks a ticket for a purpose against the current token set. Never throws. */
export function verifyTicket(tokens: TokenStore, ticket: unknown, purpose: TicketPurpose, opts: Omit<TicketOptions, 'windowSec'>): TicketCheck {
  if (typeof ticket !== 'string' || ticket.length > MAX_TICKET_CHARS) return { ok: false, reason: 'malformed' };
  const parts = ticket.split('.');
  if (parts.length !== 5 || parts[0] !== PREFIX || !/^[\w-]{22}$/.test(parts[1]) || !/^[a-z0-9]{1,10}$/.test(parts[3]) || !/^[\w-]{22}$/.test(parts[4])) {
    return { ok: false, reason: 'malformed' };
  }
  if (parts[2] !== PURPOSE_CODES[purpose]) return { ok: false, reason: 'wrong-purpose' };
  const expiresAt = parseInt(parts[3], 36) * 1000;
  if (!(expiresAt > (opts.nowMs ?? Date.now()))) return { ok: false, reason: 'expired' };
  const entry = tokens.byKeyId?.(parts[1]);
  if (!entry) return { ok: false, reason: 'unknown-token' };
  const expected = Buffer.from(mac(ticketKey(entry.digest, opts.secret), parts.slice(0, 4).join('.')));
  const given = Buffer.from(parts[4]);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'bad-signature' };
  return { ok: true, principal: entry.principal, expiresAt };
}
