import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, newNonce, nonceInlineStyles } from './security-headers';

const SRC = fileURLToPath(new URL('..', import.meta.url));
function tsxFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsxFiles(join(dir, e.name)) : e.name.endsWith('.tsx') ? [join(dir, e.name)] : [],
  );
}

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

describe('styles under the CSP: no unsafe-inline', () => {
  it('style-src is our files and this response\'s nonce only', () => {
    const d = directives(contentSecurityPolicy('abc'));
    expect(d.get('style-src')).toEqual(["'self'", "'nonce-abc'"]);
    expect(d.has('style-src-attr')).toBe(false);
    expect(d.has('style-src-elem')).toBe(false);
  });

  it('no component or route renders a style="" attribute (it would be blocked)', () => {
    const found = tsxFiles(SRC).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\sstyle=[{"]/g)].map(() => f.slice(SRC.length)));
    expect(found).toEqual([]);
  });

  it('nonceInlineStyles: Qwik\'s <style> elements in the head get the nonce; nothing below the head does', () => {
    const page =
      '<!DOCTYPE html><html><head><title>&lt;style&gt;</title><style q:style="moi4n5-0" hidden>:root{view-transition-name:none}</style><style>x{}</style><style nonce="old">y{}</style><link rel="stylesheet" href="/a.css"></head>' +
      '<body><style>evil{}</style><script type="qwik/json">{"s":"<style q:style=\\"x\\">"}</script></body></html>';
    const out = nonceInlineStyles(page, 'N0nce+/=');
    expect(out).toContain('<style nonce="N0nce+/=" q:style="moi4n5-0" hidden>');
    expect(out).toContain('<style nonce="N0nce+/=">x{}</style>');
    expect(out).toContain('<style nonce="old">y{}</style>');
    expect(out.slice(out.indexOf('</head>'))).toBe(page.slice(page.indexOf('</head>')));
    expect(nonceInlineStyles(out, 'N0nce+/=')).toBe(out); // idempotent
    expect(nonceInlineStyles('<style>a{}</style>', 'n')).toBe('<style>a{}</style>'); // no head: unchanged
    expect(nonceInlineStyles(page, '" onload="x')).toBe(page); // never an attribute break-out
  });
});
