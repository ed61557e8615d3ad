// Server-side sessions. The cookie only names a session (session.ts); what it
// may do lives here, so a session can end at once:
// - sign-out deletes it (the old cookie is refused from the next request on);
// - a token removed from the tokens file ends every session signed in with it
//   (identity.ts re-reads the file on change and SIGHUP, then sweep() runs,
//   and every lookup checks the token against the current list anyway);
// - a role changed in the file applies from the next request on.
//
// Sessions live in this process's memory: restarting the dashboard signs
// everyone out, and several dashboard replicas need sticky routing (README).
// That is the price of revocation that works without a shared store.
import { randomBytes } from 'node:crypto';
import type { Role, Session } from './session';

/** Most sessions held at once; beyond it the oldest is dropped (its user signs in again). */
export const MAX_SESSIONS = 10_000;

/** Answers who a token belongs to now (the reloading token list), or undefined if it is not (any longer) valid. */
export type TokenCheck = (token: string) => { name: string; role: Role } | undefined;

export class SessionRegistry {
  private readonly byId = new Map<string, Session>();
  private readonly endListeners = new Set<(sid: string) => void>();

  constructor(
    private readonly checkToken: TokenCheck,
    private readonly maxSessions = MAX_SESSIONS,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  create(s: Omit<Session, 'sid'>, now = Date.now()): Session {
    this.dropExpired(now);
    while (this.byId.size >= this.maxSessions) this.end(this.byId.keys().next().value as string);
    const session: Session = { ...s, sid: randomBytes(32).toString('base64url') };
    this.byId.set(session.sid, session);
    return session;
  }

  /** The live session with this id, or undefined (unknown, expired, signed out, token revoked). */
  get(sid: string, now = Date.now()): Session | undefined {
    const s = this.byId.get(sid);
    if (!s) return undefined;
    if (s.exp <= now) {
      this.end(sid);
      return undefined;
    }
    const who = this.checkToken(s.token);
    if (!who || who.role === 'evaluator') {
      this.end(sid);
      return undefined;
    }
    if (who.role !== s.role || who.name !== s.name) {
      s.role = who.role;
      s.name = who.name;
    }
    return s;
  }

  /** Ends one session (sign-out). */
  end(sid: string): boolean {
    if (!this.byId.delete(sid)) return false;
    for (const l of this.endListeners) l(sid);
    return true;
  }

  /** Ends every session whose token is no longer valid (after the tokens file changed). Returns how many. */
  sweep(now = Date.now()): number {
    let ended = 0;
    for (const sid of [...this.byId.keys()]) if (!this.get(sid, now)) ended++;
    return ended;
  }

  /** Called with the id of every session that ends (the /live proxy closes its sockets). */
  onEnd(listener: (sid: string) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  private dropExpired(now: number): void {
    for (const [sid, s] of this.byId) if (s.exp <= now) this.end(sid);
  }
}
