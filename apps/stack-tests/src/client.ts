// Small helpers the stack tests share: JSON over HTTPS through Caddy (trust
// comes from NODE_EXTRA_CA_CERTS, as for any Node client), the CLI as a
// child process, and a WebSocket that collects messages.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FlagraftClient } from '@flagraft/api';
import WebSocket from 'ws';
import { repoRoot, waitFor } from './stack.js';

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Requests sent for this call: more than 1 when Caddy's own 502 was repeated. */
  attempts: number;
}

/** One request may take this long, in milliseconds. */
export const CALL_TIMEOUT_MS = 15_000;

/** A fresh Idempotency-Key: one per logical write, reused by that write's retries. */
export function newIdempotencyKey(): string {
  return randomUUID();
}

/** The typed @flagraft/api client for the stack (through Caddy), as `token`. */
export function gatewayClient(baseUrl: string, token: string | undefined): FlagraftClient {
  return new FlagraftClient({ baseUrl, token, timeoutMs: CALL_TIMEOUT_MS });
}

/**
 * One JSON call through Caddy, answered whatever its status (the tests check
 * refusals, Caddy's included): the client's raw call. A keyed write (a route
 * that takes an Idempotency-Key) gets a fresh key unless the caller names
 * one, and a call that is safe to repeat is repeated (same key) when Caddy
 * answers its own 502 (see @flagraft/api's client). Nothing else is retried.
 */
export async function call(baseUrl: string, token: string | undefined, method: string, path: string,
  body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const url = new URL(path, baseUrl);
  const query = Object.fromEntries(url.searchParams);
  const res = await gatewayClient(baseUrl, token).raw(method, url.pathname, { body, headers, query });
  return { status: res.status, headers: res.headers, body: res.body, attempts: res.attempts };
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
