// Small HTTP helpers shared by the Express routes and the raw OFREP handlers.
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '@flagraft/auth';
import type { GatewayConfig } from './config.js';
import type { Logger } from './log.js';
import type { GatewayMetrics } from './metrics.js';

export class BodyTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`request body larger than ${limitBytes} bytes`);
  }
}

/**
 * Callback form of readBody for the evaluation hot path: the answer is then
 * written inside the request's 'end' event, not a promise continuation later.
 */
export function readBodyThen(req: IncomingMessage, limitBytes: number, done: (err: Error | undefined, body: Buffer) => void): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    done(new BodyTooLargeError(limitBytes), EMPTY);
    return;
  }
  let first: Buffer | undefined;
  let rest: Buffer[] | undefined;
  let size = 0;
  let failed = false;
  req.on('data', (chunk: Buffer) => {
    if (failed) return;
    size += chunk.length;
    if (size > limitBytes) {
      failed = true;
      first = undefined;
      rest = undefined;
      done(new BodyTooLargeError(limitBytes), EMPTY);
      return;
    }
    if (first === undefined) first = chunk;
    else (rest ??= [first]).push(chunk);
  });
  req.on('end', () => {
    if (!failed) done(undefined, rest ? Buffer.concat(rest) : (first ?? EMPTY));
  });
  req.on('error', (err) => {
    if (!failed) {
      failed = true;
      done(err, EMPTY);
    }
  });
}
const EMPTY = Buffer.alloc(0);

/** Reads the whole body, refusing (without buffering) anything over limitBytes. */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    return Promise.reject(new BodyTooLargeError(limitBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limitBytes) {
        failed = true;
        chunks.length = 0;
        reject(new BodyTooLargeError(limitBytes));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        reject(err);
      }
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: string, headers?: Record<string, string>): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/** JSON with object keys sorted at every level, so equal values serialise equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  const keys = Object.keys(value as object).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson((value as Record<string, unknown>)[k])).join(',') + '}';
}

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** Per-request bookkeeping the access log and metrics read when the response closes. */
export interface RequestInfo {
  route: string;
  principal?: Principal;
  requestId: string;
  /** An OFREP evaluation: its successful answers are logged only with accessLogEvaluations. */
  evaluation?: boolean;
}

const infoKey = Symbol('flagraft.request');
/** Distinct (method, route, status) label sets whose metric children are cached. */
const MAX_LABEL_SETS = 1000;

export function requestInfo(req: IncomingMessage): RequestInfo {
  return (req as unknown as Record<symbol, RequestInfo>)[infoKey];
}

type Children = { count: { inc(): void }; duration: { observe(v: number): void } };
const caches = new WeakMap<GatewayMetrics, Map<string, Children>>();
function cacheFor(metrics: GatewayMetrics): Map<string, Children> {
  let c = caches.get(metrics);
  if (!c) {
    c = new Map();
    caches.set(metrics, c);
  }
  return c;
}

/**
 * Starts timing a request: when the response closes, records the metrics and
 * one access-log line (never headers or bodies, so never a token).
 */
export function instrument(
  req: IncomingMessage,
  res: ServerResponse,
  deps: { metrics: GatewayMetrics; log: Logger; config: Pick<GatewayConfig, 'accessLog' | 'accessLogEvaluations'> },
): RequestInfo {
  const childCache = cacheFor(deps.metrics);
  const start = process.hrtime.bigint();
  const incomingId = req.headers['x-request-id'];
  const requestId = typeof incomingId === 'string' && /^[\w.:-]{1,128}$/.test(incomingId) ? incomingId : randomUUID();
  const info: RequestInfo = { route: 'unmatched', requestId };
  (req as unknown as Record<symbol, RequestInfo>)[infoKey] = info;
  res.setHeader('x-request-id', requestId);
  res.once('close', () => {
    const status = res.writableFinished || res.headersSent ? res.statusCode : 499;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const method = req.method ?? 'GET';
    const id = `${method} ${info.route} ${status}`;
    let children = childCache.get(id);
    if (!children) {
      // prom-client hashes the label object on every call; cache the children per label set.
      const labels = { method, route: info.route, status: String(status) };
      children = { count: deps.metrics.httpRequests.labels(labels), duration: deps.metrics.httpDuration.labels(labels) };
      if (childCache.size < MAX_LABEL_SETS) childCache.set(id, children);
    }
    children.count.inc();
    children.duration.observe(seconds);
    const mode = deps.config.accessLog;
    const wanted = status >= 400 ? mode !== 'off' : mode === 'all' && (!info.evaluation || deps.config.accessLogEvaluations);
    if (wanted) {
      const q = req.url?.indexOf('?') ?? -1;
      deps.log.log(status >= 500 ? 'error' : 'info', 'request', {
        method: req.method,
        path: q >= 0 ? req.url!.slice(0, q) : req.url,
        route: info.route,
        status,
        ms: Math.round(seconds * 1e4) / 10,
        actor: info.principal?.name,
        requestId,
      });
    }
  });
  return info;
}

/** CORS headers for OFREP answers; empty when the origin is not allowed. */
const ANY_ORIGIN: Record<string, string> = Object.freeze({ 'access-control-allow-origin': '*', 'access-control-expose-headers': 'ETag, Retry-After' }) as Record<string, string>;

export function corsHeaders(req: IncomingMessage, origins: string[]): Record<string, string> {
  const origin = req.headers.origin;
  if (origins.includes('*')) return ANY_ORIGIN; // shared and frozen: callers spread it, never mutate
  if (typeof origin === 'string' && origins.includes(origin)) {
    return { 'access-control-allow-origin': origin, 'access-control-expose-headers': 'ETag, Retry-After', vary: 'Origin' };
  }
  return {};
}

export function preflightHeaders(req: IncomingMessage, origins: string[]): Record<string, string> {
  const base = corsHeaders(req, origins);
  if (!base['access-control-allow-origin']) return base;
  return {
    ...base,
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': 'Content-Type, Authorization, X-API-Key, If-None-Match, Last-Event-ID',
    'access-control-max-age': '600',
  };
}
