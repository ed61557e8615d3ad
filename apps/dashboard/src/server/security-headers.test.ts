import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, newNonce } from './security-headers';

function directives(csp: string): Map<string, string[]> {
  return new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
}

describe('Content-Security-Policy', () => {
  it('a fresh, unguessable nonce per response (128+ bits, base64)', () => {
    const seen = new Set(Array.from({ length: 1000 }, newNonce));
    expect(seen.size).toBe(1000);
    for (const n of [...seen].slice(0, 20)) {
      expect(n).toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect(Buffer.from(n, 'base64').length).toBeGreaterThanOrEqual(16);
    }
  });

  it('scripts run only with the nonce (strict-dynamic for Qwik chunks), never inline or eval', () => {
    const d = directives(contentSecurityPolicy('abc123=='));
    expect(d.get('script-src')).toEqual(["'nonce-abc123=='", "'strict-dynamic'"]);
    const all = [...d.values()].flat();
    expect(all).not.toContain("'unsafe-eval'");
    expect(d.get('script-src')).not.toContain("'unsafe-inline'");
  });

  it('closes what a page never needs: plugins, base rewriting, framing; forms and connections stay on our origin', () => {
    const d = directives(contentSecurityPolicy('n'));
    expect(d.get('object-src')).toEqual(["'none'"]);
    expect(d.get('base-uri')).toEqual(["'none'"]);
    expect(d.get('frame-ancestors')).toEqual(["'none'"]);
    expect(d.get('form-action')).toEqual(["'self'"]);
    expect(d.get('connect-src')).toEqual(["'self'"]);
    expect(d.get('default-src')).toEqual(["'self'"]);
  });
});
