// The dashboard's Content-Security-Policy. Scripts run only with this
// response's nonce: Qwik City puts it on every script and modulepreload it
// renders (sharedMap "@nonce" -> serverData.nonce), and 'strict-dynamic'
// lets those scripts import Qwik's chunks. No inline event handlers exist
// (Qwik uses on:* attributes), no eval. Styles: 'unsafe-inline' because Qwik
// renders a <style> element without the nonce and the markup uses `style`
// attributes; styles cannot run code (the strictness is on scripts).
import { randomBytes } from 'node:crypto';

/** Qwik City's sharedMap key for the nonce (read by its SSR into serverData.nonce). */
export const NONCE_KEY = '@nonce';

export function newNonce(): string {
  return randomBytes(18).toString('base64');
}

export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'self'",
    `script-src 'nonce-${nonce}' 'strict-dynamic'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    // 'self' covers the /live WebSocket (same host, ws: or wss:) in CSP 3.
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}
