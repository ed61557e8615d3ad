import { describe, expect, it } from 'vitest';
import { readCookie, sealSession, unsealSession, type SessionRef } from './session';
import { loadConfigFromEnv } from './config';

const secret = 'a'.repeat(40);
const s: SessionRef = { sid: 'sid-123', exp: Date.now() + 60_000 };

describe('session cookie', () => {
  it('round-trips and hides the session id', () => {
    const sealed = sealSession(s, secret);
    expect(sealed).not.toContain('sid-123');
    expect(Buffer.from(sealed, 'base64url').toString('latin1')).not.toContain('sid-123');
    expect(unsealSession(sealed, secret)).toEqual(s);
  });
  it('rejects tampering, another secret, expiry and junk', () => {
    const sealed = sealSession(s, secret);
    const raw = Buffer.from(sealed, 'base64url');
    raw[raw.length - 1] ^= 1;
    expect(unsealSession(raw.toString('base64url'), secret)).toBeUndefined();
    expect(unsealSession(sealed, 'b'.repeat(40))).toBeUndefined();
    expect(unsealSession(sealSession({ ...s, exp: 1 }, secret), secret)).toBeUndefined();
    expect(unsealSession('not-a-cookie', secret)).toBeUndefined();
    expect(unsealSession('x'.repeat(5000), secret)).toBeUndefined();
  });
  it('reads one cookie from a header', () => {
    expect(readCookie('a=1; flagraft_session=abc%3D; b=2', 'flagraft_session')).toBe('abc=');
    expect(readCookie(undefined, 'x')).toBeUndefined();
    expect(readCookie('flagraft_session=%E0%A4%A', 'flagraft_session')).toBeUndefined();
  });
});

describe('config', () => {
  it('defaults to loopback and names what is wrong', () => {
    const c = loadConfigFromEnv({ FLAGRAFT_DASHBOARD_COOKIE_SECRET: secret });
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(3000);
    expect(() => loadConfigFromEnv({})).toThrow(/FLAGRAFT_DASHBOARD_COOKIE_SECRET/);
    expect(() => loadConfigFromEnv({ FLAGRAFT_DASHBOARD_COOKIE_SECRET: secret, FLAGRAFT_GATEWAY_URL: 'ftp://x' })).toThrow(/FLAGRAFT_GATEWAY_URL/);
    expect(() => loadConfigFromEnv({ FLAGRAFT_DASHBOARD_COOKIE_SECRET: secret, PORT: '70000' })).toThrow(/PORT/);
  });
});
