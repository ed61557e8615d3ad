// Per-request helpers for route loaders and actions: the signed-in session
// (put in sharedMap by plugin@session.ts) and a gateway client acting as it.
import type { RequestEventBase } from '@builder.io/qwik-city';
import { getConfig } from './config';
import { normalisePath } from '~/lib/human-path';
import { log } from './log';
import { GatewayClient, GatewayError } from './gateway';
import { SESSION_COOKIE, sealSession, viewOf, type Session, type SessionRef, type SessionView } from './session';

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

export function setSessionCookie(ev: RequestEventBase, s: SessionRef): void {
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

/**
 * The problems of a gateway answer: `errors` (issue 12: every problem at
 * once, `[{path, message}]`) or the older `issues`. Entries that are not
 * {path, message} strings are skipped, at most MAX_PROBLEM_ISSUES kept.
 */
export function issuesOf(problem: Record<string, unknown>): { path: string; message: string }[] | undefined {
  const list = Array.isArray(problem.errors) ? problem.errors : Array.isArray(problem.issues) ? problem.issues : undefined;
  if (!list) return undefined;
  const out: { path: string; message: string }[] = [];
  for (const e of list as unknown[]) {
    if (out.length >= MAX_PROBLEM_ISSUES) break;
    const r = e as { path?: unknown; message?: unknown; pointer?: unknown; detail?: unknown };
    const path = typeof r?.path === 'string' ? r.path : typeof r?.pointer === 'string' ? r.pointer : '';
    const message = typeof r?.message === 'string' ? r.message : typeof r?.detail === 'string' ? r.detail : undefined;
    if (message !== undefined) out.push({ path: normalisePath(path.slice(0, 500)), message: message.slice(0, 1000) });
  }
  return out;
}

/** Problems shown at most from one gateway answer. */
export const MAX_PROBLEM_ISSUES = 200;

export function problemOf(err: unknown): ActionProblem {
  if (err instanceof GatewayError) {
    const issues = issuesOf(err.problem);
    const base = err.problem.detail || err.problem.title || `gateway answered ${err.status}`;
    const message =
      err.status === 403 ? `Your role does not allow this (${base})` : err.status === 401 ? 'Your session is no longer valid: sign in again' : base;
    return { status: err.status, message, issues };
  }
  // Not the gateway: a bug of ours. The message is logged, the user gets a sentence.
  log('error', 'action failed', { err: err as Error });
  return { status: 500, message: 'Something went wrong on the dashboard server; it was logged.' };
}

/** Where to go after sign-in when `next` is missing or refused. */
export const DEFAULT_NEXT = '/flags';
/** Longest `next` followed, in characters. */
export const MAX_NEXT_CHARS = 2048;

/**
 * Only same-origin paths are followed after sign-in (no open redirects), and
 * the check is made by parsing, the way a browser will: `next` is resolved
 * against our own origin and must stay on it. Control characters (a tab or a
 * newline the browser would strip, or that cannot go into a Location header)
 * and backslashes are refused outright. Returns a path+query+hash that is safe
 * to put into a Location header.
 */
export function safeNext(next: string | null | undefined, origin = 'http://dashboard.invalid'): string {
  if (!next || next.length > MAX_NEXT_CHARS || !next.startsWith('/')) return DEFAULT_NEXT;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(next)) return DEFAULT_NEXT;
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return DEFAULT_NEXT;
  }
  if (url.origin !== new URL(origin).origin) return DEFAULT_NEXT;
  // The serialised URL is percent-encoded: no raw spaces or non-ASCII in the header.
  const path = url.pathname + url.search + url.hash;
  return path.startsWith('//') ? DEFAULT_NEXT : path;
}
