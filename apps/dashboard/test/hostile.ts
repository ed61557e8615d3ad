// Helpers for the hardening tests: raw requests to the dashboard the way a
// browser (or an attacker) sends them, and the Qwik City action ids scraped
// from the rendered pages (they are content hashes, different per build).
import { TOKENS } from './stack';

export interface Sent {
  status: number;
  headers: Headers;
  text: string;
}

/** Every configured secret; no response may contain one. */
export const SECRETS = Object.values(TOKENS);

export function echoesToken(r: Sent): string | undefined {
  const all = r.text + '\n' + [...r.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
  return SECRETS.find((t) => all.includes(t));
}

export async function send(base: string, path: string, init: RequestInit & { cookie?: string } = {}): Promise<Sent> {
  const headers = new Headers(init.headers);
  if (init.cookie) headers.set('cookie', init.cookie);
  const res = await fetch(base + path, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(20_000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Signs in through the login action (as the form does) and returns the session cookie (name=value). */
export async function signInCookie(base: string, token: string, next = '/flags', clientAddress?: string): Promise<{ cookie: string; location: string | null; status: number }> {
  const id = (await actionIds(base, '/login'))[0];
  const body = new URLSearchParams({ token, next });
  const headers: Record<string, string> = { origin: base, 'content-type': 'application/x-www-form-urlencoded' };
  if (clientAddress) headers['x-forwarded-for'] = clientAddress;
  const res = await fetch(`${base}/login?qaction=${id}`, { method: 'POST', body, headers, redirect: 'manual' });
  await res.text();
  const set = res.headers.get('set-cookie') ?? '';
  return { cookie: set.split(';')[0], location: res.headers.get('location'), status: res.status };
}

/** The qaction ids a page's HTML refers to. */
export async function actionIds(base: string, path: string, cookie?: string): Promise<string[]> {
  const r = await send(base, path, { cookie });
  return [...new Set([...r.text.matchAll(/qaction=([A-Za-z0-9_-]+)/g)].map((m) => m[1]))];
}
