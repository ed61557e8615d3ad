// The dashboard's Content-Security-Policy. Scripts run only with this
// response's nonce: Qwik City puts it on every script and modulepreload it
// renders (sharedMap "@nonce" -> serverData.nonce), and 'strict-dynamic'
// lets those scripts import Qwik's chunks. No inline event handlers exist
// (Qwik uses on:* attributes), no eval.
//
// Styles carry no 'unsafe-inline' either: our stylesheet is a file ('self'),
// the markup has no style="" attributes (utility classes in global.css, a
// unit test keeps it so), and the <style> elements Qwik renders itself
// (QwikCityProvider's useStyles$ `:root{view-transition-name:none}`; Qwik
// 1.20.1 gives them no nonce) get this response's nonce from
// nonceInlineStyles() in entry.ssr.tsx, which sees the whole page before it
// is sent (the render is buffered).
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
    `style-src 'self' 'nonce-${nonce}'`,
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

/**
 * Puts the nonce on every <style> element of the page's <head> that has none
 * (Qwik renders its own styles there, without one). Only the head: below it
 * is content built from user data, and nothing there may gain the nonce.
 * A page without a </head> is returned unchanged.
 */
export function nonceInlineStyles(html: string, nonce: string): string {
  const end = html.indexOf('</head>');
  if (end < 0 || !/^[A-Za-z0-9+/=]+$/.test(nonce)) return html;
  const head = html.slice(0, end).replace(/<style(?![^>]*\snonce=)(?=[\s>])/g, `<style nonce="${nonce}"`);
  return head + html.slice(end);
}
