// Opening a stream without an Authorization header: browsers' EventSource
// cannot send one. A token holder obtains a short-lived, single-purpose stream
// ticket (@flagraft/auth tickets.ts) and puts it in the stream URL:
//
// - OFREP: the bulk evaluation answer to a token caller advertises
//   `/ofrep/v1/events?ticket=...&since=<revision>`, so the official OFREP web
//   provider opens a live stream with no code of its own;
// - POST /api/v1/stream-tickets?stream=changes|ofrep-events hands a ticket out
//   explicitly (for /api/v1/stream from a browser).
//
// The token itself never goes into a URL. The gateway's access log writes the
// path without the query string, so tickets are not logged either.
import type { IncomingMessage } from 'node:http';
import { issueTicket, roleAllows, tokenFromHeaders, verifyTicket, type TicketPurpose, type TokenStore } from '@flagraft/auth';
import type { AuthOutcome } from './authz.js';

export interface StreamAuthConfig {
  /** Stream ticket validity window, seconds: a ticket opens a stream for one to two windows after issue. */
  streamTicketWindowSec: number;
  /** Optional secret the gateways share, mixed into ticket keys (FLAGRAFT_STREAM_TICKET_SECRET). */
  streamTicketSecret?: string;
}

const NEEDS: Record<TicketPurpose, 'evaluate' | 'read'> = { 'ofrep-events': 'evaluate', changes: 'read' };

const REASONS: Record<string, string> = {
  malformed: 'the stream ticket is malformed',
  expired: 'the stream ticket has expired; fetch a new one with your token',
  'unknown-token': 'the token this stream ticket was issued for is no longer valid',
  'bad-signature': 'the stream ticket is not valid',
  'wrong-purpose': 'this stream ticket is for another stream',
};

/**
 * The caller of a stream request that may carry `?ticket=`. A token in the
 * headers wins (its outcome is `headerOutcome`); otherwise the ticket decides.
 */
export function authenticateStreamTicket(
  req: IncomingMessage,
  query: URLSearchParams,
  tokens: TokenStore,
  purpose: TicketPurpose,
  config: StreamAuthConfig,
  headerOutcome: AuthOutcome,
): AuthOutcome {
  if (tokenFromHeaders(req.headers) !== undefined) return headerOutcome;
  const check = verifyTicket(tokens, query.get('ticket'), purpose, { secret: config.streamTicketSecret });
  if (!check.ok) return { ok: false, status: 401, detail: REASONS[check.reason] ?? 'the stream ticket is not valid' };
  if (!roleAllows(check.principal.role, NEEDS[purpose])) {
    return { ok: false, status: 403, detail: `role ${check.principal.role} may not open this stream` };
  }
  return { ok: true, principal: check.principal };
}

/** A ticket for the token in this request's headers (undefined without one), and its window number. */
export function ticketForRequest(
  req: IncomingMessage,
  config: StreamAuthConfig,
  purpose: TicketPurpose = 'ofrep-events',
): { ticket: string; expiresAt: number; window: number } | undefined {
  const token = tokenFromHeaders(req.headers);
  if (token === undefined) return undefined;
  const now = Date.now();
  const { ticket, expiresAt } = issueTicket(token, purpose, { windowSec: config.streamTicketWindowSec, secret: config.streamTicketSecret, nowMs: now });
  return { ticket, expiresAt, window: Math.floor(now / (config.streamTicketWindowSec * 1000)) };
}

/** Tokens whose current stream ticket is remembered (entries); beyond it the oldest is forgotten. */
export const MAX_CACHED_TICKETS = 1_000;

/**
 * ticketForRequest for the bulk evaluation hot path: a ticket depends only on
 * the token, purpose, window and secret, so it is issued (two hashes and an
 * HMAC) once per token and window instead of once per request. Only callers
 * that have already authenticated reach it; a revoked token is refused before
 * (and a ticket it got earlier fails verifyTicket, which checks the current tokens).
 */
export function cachedTicketIssuer(
  config: StreamAuthConfig,
  maxEntries: number = MAX_CACHED_TICKETS,
  clock: () => number = Date.now,
): (req: IncomingMessage) => { ticket: string; expiresAt: number; window: number } | undefined {
  const cache = new Map<string, { ticket: string; expiresAt: number; window: number }>();
  const windowMs = config.streamTicketWindowSec * 1000;
  return (req) => {
    const token = tokenFromHeaders(req.headers);
    if (token === undefined) return undefined;
    const now = clock();
    const window = Math.floor(now / windowMs);
    const hit = cache.get(token);
    if (hit !== undefined && hit.window === window) return hit;
    const { ticket, expiresAt } = issueTicket(token, 'ofrep-events', { windowSec: config.streamTicketWindowSec, secret: config.streamTicketSecret, nowMs: now });
    const entry = { ticket, expiresAt, window };
    if (hit === undefined && cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(token, entry);
    return entry;
  };
}
