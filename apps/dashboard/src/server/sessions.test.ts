import { describe, expect, it } from 'vitest';
import type { Role } from './session';
import { SessionRegistry } from './sessions';

/** A token list the test edits, standing in for the reloading tokens file. */
function tokenList(): { check: (t: string) => { name: string; role: Role } | undefined; set: Map<string, { name: string; role: Role }> } {
  const set = new Map<string, { name: string; role: Role }>([
    ['tok-ada', { name: 'ada', role: 'admin' }],
    ['tok-eve', { name: 'eve', role: 'editor' }],
  ]);
  return { check: (t) => set.get(t), set };
}

const HOUR = 3_600_000;

describe('SessionRegistry (server-side sessions)', () => {
  it('creates sessions with unguessable distinct ids and finds them by id', () => {
    const t = tokenList();
    const reg = new SessionRegistry(t.check);
    const a = reg.create({ token: 'tok-ada', name: 'ada', role: 'admin', exp: Date.now() + HOUR });
    const b = reg.create({ token: 'tok-ada', name: 'ada', role: 'admin', exp: Date.now() + HOUR });
    expect(a.sid).not.toBe(b.sid);
    expect(Buffer.from(a.sid, 'base64url')).toHaveLength(32);
    expect(reg.get(a.sid)?.name).toBe('ada');
    expect(reg.get('no-such-id')).toBeUndefined();
    expect(reg.get('__proto__')).toBeUndefined();
    expect(reg.size).toBe(2);
  });

  it('sign-out ends one session at once and tells the listeners (the /live proxy)', () => {
    const reg = new SessionRegistry(tokenList().check);
    const ended: string[] = [];
    reg.onEnd((sid) => ended.push(sid));
    const a = reg.create({ token: 'tok-ada', name: 'ada', role: 'admin', exp: Date.now() + HOUR });
    const b = reg.create({ token: 'tok-eve', name: 'eve', role: 'editor', exp: Date.now() + HOUR });
    expect(reg.end(a.sid)).toBe(true);
    expect(reg.end(a.sid)).toBe(false);
    expect(reg.get(a.sid)).toBeUndefined();
    expect(reg.get(b.sid)).toBeDefined();
    expect(ended).toEqual([a.sid]);
  });

  it('an expired session is gone on lookup', () => {
    const reg = new SessionRegistry(tokenList().check);
    const now = 1_000_000;
    const s = reg.create({ token: 'tok-ada', name: 'ada', role: 'admin', exp: now + 1000 }, now);
    expect(reg.get(s.sid, now + 999)).toBeDefined();
    expect(reg.get(s.sid, now + 1000)).toBeUndefined();
    expect(reg.size).toBe(0);
  });

  it('a token revoked in the list ends its sessions (sweep counts them), others stay', () => {
    const t = tokenList();
    const reg = new SessionRegistry(t.check);
    const ended: string[] = [];
    reg.onEnd((sid) => ended.push(sid));
    const eve1 = reg.create({ token: 'tok-eve', name: 'eve', role: 'editor', exp: Date.now() + HOUR });
    const eve2 = reg.create({ token: 'tok-eve', name: 'eve', role: 'editor', exp: Date.now() + HOUR });
    const ada = reg.create({ token: 'tok-ada', name: 'ada', role: 'admin', exp: Date.now() + HOUR });
    t.set.delete('tok-eve');
    expect(reg.sweep()).toBe(2);
    expect(ended.sort()).toEqual([eve1.sid, eve2.sid].sort());
    expect(reg.get(ada.sid)).toBeDefined();
  });

  it('a role changed in the list applies from the next lookup; a token turned evaluator ends the session', () => {
    const t = tokenList();
    const reg = new SessionRegistry(t.check);
    const s = reg.create({ token: 'tok-eve', name: 'eve', role: 'editor', exp: Date.now() + HOUR });
    t.set.set('tok-eve', { name: 'eve2', role: 'reader' });
    expect(reg.get(s.sid)).toMatchObject({ name: 'eve2', role: 'reader' });
    t.set.set('tok-eve', { name: 'eve2', role: 'evaluator' });
    expect(reg.get(s.sid)).toBeUndefined();
  });

  it('holds at most maxSessions: the oldest is dropped first', () => {
    const reg = new SessionRegistry(tokenList().check, 3);
    const ids = Array.from({ length: 5 }, () => reg.create({ token: 'tok-ada', name: 'ada', role: 'admin', exp: Date.now() + HOUR }).sid);
    expect(reg.size).toBe(3);
    expect(ids.map((id) => reg.get(id) !== undefined)).toEqual([false, false, true, true, true]);
  });
});
