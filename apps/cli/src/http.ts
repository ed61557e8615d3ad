// A small HTTP(S) client for the gateway API. node:http/https rather than
// fetch so that a CA file (Caddy's internal CA) can be given per request
// without a global agent, and so that timeouts and size limits are explicit.
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FlagraftClient, type ApiProblem, type Transport } from '@flagraft/api';
import { CliError, ExitCode, exitCodeForStatus } from './errors.js';

/** Largest response body the CLI reads into memory, in bytes (a backup of a big cluster fits). */
export const MAX_RESPONSE_BYTES = 512 * 1024 * 1024;
/** Default per-request timeout, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface ApiClientOptions {
  /** Base URL of the gateway (or of Caddy in front of it), e.g. https://localhost:8443 */
  baseUrl: string;
  token?: string;
  /** PEM file with an extra CA to trust (e.g. Caddy's internal root). */
  caFile?: string;
  timeoutMs?: number;
}

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  text: string;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Statuses that are not errors for this call (e.g. 404 for "does it exist?"). */
  okStatuses?: number[];
  /** This call's timeout, in milliseconds (default: the client's). */
  timeoutMs?: number;
  /**
   * A write the gateway applies once per Idempotency-Key (flag, segment,
   * batch and /set writes): sent with a fresh key, and repeated with the same
   * key when a proxy could not get it an answer (see PROXY_502_ATTEMPTS).
   */
  idempotent?: boolean;
}

/** Attempts of a request that is safe to repeat (a read, or a keyed write) when Caddy answers its own 502. */
export const PROXY_502_ATTEMPTS = 3;

/** A fresh Idempotency-Key: one per logical write, reused by that write's retries. */
export function newIdempotencyKey(): string {
  return randomUUID();
}

/**
 * Caddy's own 502 (the Caddyfile's handle_errors): the request met a broken
 * connection to a gateway, for instance a keep-alive connection to one that
 * just died; Caddy 2.6 cannot re-send a body to the other gateway itself.
 */
function isProxy502(res: ApiResponse): boolean {
  const detail = (res.body as { detail?: unknown } | null)?.detail;
  return res.status === 502 && typeof detail === 'string' && detail.startsWith('proxy: 502');
}

export interface ApiClient {
  readonly baseUrl: string;
  request(method: string, path: string, opts?: RequestOptions): Promise<ApiResponse>;
  /** The typed @flagraft/api client over this one's transport (its CA, token and limits). */
  readonly gateway: FlagraftClient;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  let base: URL;
  try {
    base = new URL(options.baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw new CliError(`--url / FLAGRAFT_URL must be an http(s) URL, got ${JSON.stringify(options.baseUrl)}`, ExitCode.USAGE);
  }
  let ca: Buffer | undefined;
  if (options.caFile) {
    try {
      ca = readFileSync(options.caFile);
    } catch (err) {
      throw new CliError(`cannot read CA file ${options.caFile}: ${(err as Error).message}`, ExitCode.USAGE);
    }
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const basePath = base.pathname.replace(/\/+$/, '');

  async function request(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
    const url = new URL(base.href);
    url.pathname = basePath + path;
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...opts.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (opts.idempotent) headers['idempotency-key'] = newIdempotencyKey();
    const attempts = opts.idempotent || method === 'GET' || method === 'HEAD' ? PROXY_502_ATTEMPTS : 1;
    let res = await send(url, method, headers, payload, ca, opts.timeoutMs ?? timeoutMs);
    for (let attempt = 2; attempt <= attempts && isProxy502(res); attempt++) {
      res = await send(url, method, headers, payload, ca, opts.timeoutMs ?? timeoutMs);
    }
    const ok = (res.status >= 200 && res.status < 300) || (opts.okStatuses ?? []).includes(res.status);
    if (!ok) throw errorFromResponse(method, url, res);
    return res;
  }

  // The typed client sends through the same node:http(s) requests: errors of
  // the connection stay CliErrors (exit code UNAVAILABLE, the CA hint).
  const transport: Transport = async (req) => {
    const headers = { ...req.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const payload = req.body === undefined ? undefined : Buffer.from(req.body);
    if (payload) headers['content-length'] = String(payload.length);
    const res = await send(req.url, req.method, headers, payload, ca, req.timeoutMs);
    const h = new Headers();
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
    return { status: res.status, headers: h, text: res.text };
  };
  const baseUrl = base.href.replace(/\/+$/, '');
  return { baseUrl, request, gateway: new FlagraftClient({ baseUrl, transport, timeoutMs }) };
}

/** A refusal of the typed client as the CliError the CLI reports (same words and exit code as errorFromResponse). */
export function cliErrorOf(p: ApiProblem, baseUrl: string): CliError {
  const headers: http.IncomingHttpHeaders = {};
  p.headers.forEach((v, k) => { headers[k] = v; });
  const body = p.body;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return errorFromResponse(p.method ?? 'GET', new URL(baseUrl + (p.path ?? '')), { status: p.status, headers, body, text });
}

function send(url: URL, method: string, headers: Record<string, string>, payload: Buffer | undefined,
  ca: Buffer | undefined, timeoutMs: number): Promise<ApiResponse> {
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, ...(ca ? { ca } : {}), timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy();
          reject(new CliError(`response from ${url.pathname} exceeds MAX_RESPONSE_BYTES (${MAX_RESPONSE_BYTES} bytes)`, ExitCode.ERROR));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        if (text && /json/.test(String(res.headers['content-type'] ?? ''))) {
          try { body = JSON.parse(text); } catch { /* keep the text: reported below if it matters */ }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => {
      req.destroy(new CliError(`${method} ${url.pathname}: no answer within ${timeoutMs} ms`, ExitCode.UNAVAILABLE));
    });
    req.on('error', (err) => {
      if (err instanceof CliError) return reject(err);
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const hint = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)
        ? ' (is the server using Caddy\'s internal CA? pass --ca <root.crt> or set NODE_EXTRA_CA_CERTS)'
        : '';
      reject(new CliError(`cannot reach ${url.origin}: ${err.message}${hint}`, ExitCode.UNAVAILABLE));
    });
    if (payload) req.write(payload);
    req.end();
  });
}

/** Turns an error answer (RFC 9457 problem document or anything else) into one clear CliError. */
export function errorFromResponse(method: string, url: URL, res: ApiResponse): CliError {
  const p = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as Record<string, unknown>;
  const title = typeof p.title === 'string' ? p.title : `HTTP ${res.status}`;
  const detail = typeof p.detail === 'string' ? p.detail : typeof p.message === 'string' ? p.message : '';
  const details: string[] = [];
  const issues = Array.isArray(p.issues) ? p.issues : Array.isArray(p.errors) ? p.errors : [];
  for (const i of issues as Array<Record<string, unknown>>) {
    const path = Array.isArray(i.path) ? i.path.join('.') : String(i.path ?? i.pointer ?? '');
    details.push(`${path || '(body)'}: ${String(i.message ?? i.detail ?? JSON.stringify(i))}`);
  }
  if (p.currentRevision !== undefined) details.push(`current revision: ${String(p.currentRevision)}`);
  if (res.status === 503 && res.headers['retry-after']) details.push(`retry after ${String(res.headers['retry-after'])} s`);
  if (!detail && !issues.length && typeof res.body === 'string' && res.body.trim()) details.push(res.body.trim().slice(0, 500));
  const environment = typeof p.environment === 'string' ? p.environment : undefined;
  if (res.status === 409 && p.reason === 'PROTECTED') {
    // The way in is a change request: say so in the CLI's own words.
    const env = environment ?? 'this environment';
    const how = url.pathname.startsWith('/api/v1/environments')
      ? `--file ops.json holding [{"op": "putEnvironment", "environment": {...the whole new definition...}}]`
      : '--flag-file <flag.json> (or --file ops.json, --promote-from <env>)';
    return new CliError(`environment ${env} is protected: its policy requires approvals, so direct writes are refused`, ExitCode.CONFLICT, [
      `propose the change instead: flagraft cr create --env ${env} --title "<what and why>" ${how}`,
      'a reviewer approves it (flagraft cr approve <id>), then flagraft cr apply <id>',
      ...(url.pathname.startsWith('/api/v1/schedules') ? [`to make it happen at a given time, schedule the approved request: flagraft schedule create --env ${env} --cr <id> --at <time>`] : []),
      ...(detail ? [`(${method} ${url.pathname}: ${detail})`] : []),
    ], res.body);
  }
  if (res.status === 403 && environment && !detail.includes(environment)) details.push(`environment: ${environment}`);
  const msg = `${method} ${url.pathname} failed: ${res.status} ${title}${detail ? ` — ${detail}` : ''}`;
  return new CliError(msg, exitCodeForStatus(res.status), details, res.body);
}
