// Per-request helpers for route loaders and actions: the signed-in session
// (put in sharedMap by plugin@session.ts) and a gateway client acting as it.
import type { RequestEventBase } from '@builder.io/qwik-city';
import { getConfig } from './config';
import { GatewayClient, GatewayError } from './gateway';
import { SESSION_COOKIE, sealSession, viewOf, type Session, type SessionView } from './session';

export const SESSION_KEY = 'flagraft.session';

export function sessionOf(ev: RequestEventBase): Session | undefined {
  return ev.sharedMap.get(SESSION_KEY) as Session | undefined;
}

export function sessionView(ev: RequestEventBase): SessionView | null {
  const s = sessionOf(ev);
  return s ? viewOf(s) : null;
}

export function requireSession(ev: RequestEventBase): Session {
  const s = sessionOf(ev);
  if (!s) throw new GatewayError({ status: 401, title: 'Not signed in', detail: 'sign in again' });
  return s;
}

export function gatewayFor(ev: RequestEventBase): GatewayClient {
  const cfg = getConfig();
  return new GatewayClient(cfg.gatewayUrl, requireSession(ev).token, cfg.gatewayTimeoutMs);
}

export function canEdit(ev: RequestEventBase): boolean {
  const s = sessionOf(ev);
  return !!s && (s.role === 'admin' || s.role === 'editor');
}

export function setSessionCookie(ev: RequestEventBase, s: Session): void {
  const cfg = getConfig();
  ev.cookie.set(SESSION_COOKIE, sealSession(s, cfg.cookieSecret), {
    httpOnly: true,
    sameSite: 'lax',
    secure: cfg.cookieSecure,
    path: '/',
    maxAge: cfg.sessionTtlSec,
  });
}

export function clearSessionCookie(ev: RequestEventBase): void {
  ev.cookie.delete(SESSION_COOKIE, { path: '/' });
}

/** A plain-data view of an error for action results (serialisable to the browser). */
export interface ActionProblem {
  status: number;
  message: string;
  issues?: { path: string; message: string }[];
}

export function problemOf(err: unknown): ActionProblem {
  if (err instanceof GatewayError) {
    const issues = Array.isArray(err.problem.issues) ? err.problem.issues : undefined;
    const base = err.problem.detail || err.problem.title || `gateway answered ${err.status}`;
    const message =
      err.status === 403 ? `Your role does not allow this (${base})` : err.status === 401 ? 'Your session is no longer valid: sign in again' : base;
    return { status: err.status, message, issues };
  }
  return { status: 500, message: (err as Error)?.message ?? String(err) };
}

/** Only same-site relative paths are followed after sign-in (no open redirects). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/flags';
  return next;
}
