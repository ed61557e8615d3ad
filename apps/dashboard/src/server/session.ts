// The session cookie: a reference to a server-side session (sessions.ts),
// sealed with AES-256-GCM under a key derived from the cookie secret. The
// token itself never leaves the server; the cookie carries only a random
// session id and its expiry, so signing out or revoking the token ends the
// session at once (the server forgets the id), and a tampered cookie fails
// authentication instead of decoding to garbage.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export const SESSION_COOKIE = 'flagraft_session';
/** Largest cookie value we accept, in characters (browsers cap a cookie near 4 KB). */
export const MAX_SESSION_COOKIE_CHARS = 3800;

export type Role = 'admin' | 'editor' | 'reader' | 'evaluator';

export interface Session {
  /** Random session id (256 bits, base64url): what the cookie refers to. */
  sid: string;
  /** The gateway bearer token (server-side only; never in the cookie, never rendered). */
  token: string;
  /** Token name: the actor in the audit trail. */
  name: string;
  role: Role;
  /** Expiry, ms since the epoch. */
  exp: number;
}

/** What the cookie holds: which session, until when. */
export interface SessionRef {
  sid: string;
  /** Expiry, ms since the epoch. */
  exp: number;
}

/** What pages may see of a session: everything but the token. */
export interface SessionView {
  name: string;
  role: Role;
  canEdit: boolean;
  isAdmin: boolean;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

const keyCache = new Map<string, Buffer>();
function keyFor(secret: string): Buffer {
  let key = keyCache.get(secret);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', secret, 'flagraft-dashboard', 'session-cookie-v1', 32));
    keyCache.set(secret, key);
  }
  return key;
}

export function sealSession(session: SessionRef, secret: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyFor(secret), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify({ sid: session.sid, exp: session.exp }), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** Returns the session reference, or undefined for a missing, tampered, foreign or expired cookie. */
export function unsealSession(value: string | undefined, secret: string, now = Date.now()): SessionRef | undefined {
  if (!value || value.length > MAX_SESSION_COOKIE_CHARS) return undefined;
  try {
    const raw = Buffer.from(value, 'base64url');
    if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', keyFor(secret), raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const text = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    const s = JSON.parse(text) as Partial<SessionRef>;
    if (typeof s.sid !== 'string' || typeof s.exp !== 'number') return undefined;
    if (s.exp <= now) return undefined;
    return { sid: s.sid, exp: s.exp };
  } catch {
    return undefined;
  }
}

export function viewOf(s: Session): SessionView {
  return { name: s.name, role: s.role, canEdit: s.role === 'admin' || s.role === 'editor', isAdmin: s.role === 'admin' };
}

/** Reads one cookie from a raw Cookie header (for the WebSocket upgrade, outside Qwik City). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined; // bad percent-encoding: no session, not a crash
    }
  }
  return undefined;
}
