// Small helpers the stack tests share: JSON over HTTPS through Caddy (trust
// comes from NODE_EXTRA_CA_CERTS, as for any Node client), the CLI as a
// child process, and a WebSocket that collects messages.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import WebSocket from 'ws';
import { repoRoot, waitFor } from './stack.js';

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Requests sent for this call: more than 1 when a proxy 502 was retried. */
  attempts: number;
}

/** A fresh Idempotency-Key: one per logical write, reused by that write's retries. */
export function newIdempotencyKey(): string {
  return randomUUID();
}

/** Writes the gateway applies once per Idempotency-Key (apps/gateway README, "Safe retries"). */
const KEYED_WRITE = /^\/(?:set|api\/v1\/flags\/set|api\/v1\/batch|api\/v1\/(?:flags|segments)\/[^/?]+)(?:\?|$)/;
/** Attempts of one call that is safe to repeat, when Caddy answers 502 (it could not get an answer from a gateway). */
export const PROXY_502_ATTEMPTS = 3;

/**
 * Whether repeating the request is harmless: reads, OFREP evaluations, and
 * writes that carry an Idempotency-Key (applied once, however often sent).
 */
function safeToRepeat(method: string, path: string, headers: Record<string, string>): boolean {
  if (method === 'GET' || method === 'HEAD') return true;
  if (method === 'POST' && path.startsWith('/ofrep/')) return true;
  return Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key');
}

/** Caddy's own 502 (handle_errors in the Caddyfile): the request met a broken connection to a gateway. */
const isProxy502 = (status: number, body: unknown) =>
  status === 502 && typeof (body as { detail?: unknown })?.detail === 'string' && (body as { detail: string }).detail.startsWith('proxy: 502');

/**
 * One JSON call through Caddy. Keyed writes get a fresh Idempotency-Key
 * unless the caller names one; a call that is safe to repeat is repeated
 * (same key) when Caddy answers its own 502, which Caddy 2.6 does when a
 * write with a body met a broken keep-alive connection to a gateway that
 * just died (see the Caddyfile). Nothing else is retried.
 */
export async function call(baseUrl: string, token: string | undefined, method: string, path: string,
  body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const all: Record<string, string> = {
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(method !== 'GET' && method !== 'HEAD' && KEYED_WRITE.test(path) ? { 'idempotency-key': newIdempotencyKey() } : {}),
    ...headers,
  };
  const attempts = safeToRepeat(method, path, all) ? PROXY_502_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(baseUrl + path, {
      method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
    if (attempt < attempts && isProxy502(res.status, parsed)) continue;
    return { status: res.status, headers: res.headers, body: parsed, attempts: attempt };
  }
}

export interface CliResult { code: number; stdout: string; stderr: string }

/** Largest output kept from one CLI run, in characters. */
const MAX_CLI_OUTPUT_CHARS = 1_000_000;
/** One CLI run may take this long, in milliseconds. */
export const CLI_TIMEOUT_MS = 60_000;

/** Runs `flagraft <args>` (apps/cli/dist/main.js) the way a user's shell would. */
export function runCli(args: string[], env: Record<string, string>, stdin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'apps', 'cli', 'dist', 'main.js'), ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout = (stdout + b.toString()).slice(0, MAX_CLI_OUTPUT_CHARS); });
    child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(0, MAX_CLI_OUTPUT_CHARS); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`flagraft ${args.join(' ')}: no exit within ${CLI_TIMEOUT_MS} ms`)); }, CLI_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
    child.stdin.end(stdin ?? '');
  });
}

export interface CollectingSocket {
  ws: WebSocket;
  messages: any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  waitForMessage(what: string, pred: (m: any) => boolean, timeoutMs?: number): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): void;
}

export async function openSocket(url: string, token: string): Promise<CollectingSocket> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  const messages: unknown[] = [];
  ws.on('message', (data) => {
    try { messages.push(JSON.parse(data.toString())); } catch { messages.push({ unparsable: data.toString() }); }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket upgrade answered ${res.statusCode}`)));
  });
  return {
    ws,
    messages,
    waitForMessage: (what, pred, timeoutMs = 15_000) => waitFor(what, timeoutMs, () => messages.find(pred)),
    close: () => ws.close(),
  };
}
