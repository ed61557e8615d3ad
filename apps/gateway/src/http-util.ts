// Small HTTP helpers shared by the Express routes and the raw OFREP handlers.
import { createHash, randomBytes } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '@flagraft/auth';
import type { GatewayConfig } from './config.js';
import type { Logger } from './log.js';
import type { GatewayMetrics } from './metrics.js';
import { MAX_LABEL_SETS_PER_METRIC, type CounterChild, type HistogramChild } from './metric-families.js';

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
  // No 'error' listener on purpose: a request aborted mid-body then emits no
  // error at all (Node emits it only to listeners), 'end' never comes and the
  // response's 'close' records it as 499. A listener would cost every request
  // and could only answer a client that is gone.
}
const EMPTY = Buffer.alloc(0);

/**
 * Reads the whole body, refusing (without buffering) anything over
 * limitBytes: readBodyThen as a promise. Unlike the hot path it listens for
 * 'error', so a request that fails mid-body rejects instead of never settling.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | undefined, body: Buffer) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(body);
    };
    readBodyThen(req, limitBytes, settle);
    req.on('error', (err) => settle(err, EMPTY));
  });
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
  /** performance.now() when the request arrived, ms. */
  start: number;
  req: IncomingMessage;
}

const infoKey = Symbol('flagraft.request');

/**
 * node:http's request and response classes with the RequestInfo slot made in
 * the constructor (gateway.ts hands them to createServer): every request and
 * response then starts with the same hidden class, instead of V8 adding a
 * property to each one on the hot path (a shape transition per object).
 */
export class InstrumentedRequest extends IncomingMessage {
  [infoKey]: RequestInfo | undefined = undefined;
}
export class InstrumentedResponse<R extends IncomingMessage = IncomingMessage> extends ServerResponse<R> {
  [infoKey]: RequestInfo | undefined = undefined;
}

export function requestInfo(req: IncomingMessage): RequestInfo {
  return (req as unknown as Record<symbol, RequestInfo>)[infoKey];
}

/** Longest accepted incoming X-Request-Id, characters; others are replaced by a generated id. */
export const MAX_REQUEST_ID_CHARS = 128;
const REQUEST_ID_PATTERN = /^[\w.:-]{1,128}$/;
// Generated ids: a random per-process prefix and a counter. Unique across
// gateways (48 random bits per process) without a random UUID per request.
const ID_PREFIX = randomBytes(6).toString('base64url').replace(/[^\w]/g, 'x');
let idSeq = 0;

/** The client's X-Request-Id when it is sane, else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  if (incoming !== undefined && typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming)) return incoming;
  return `${ID_PREFIX}-${(++idSeq).toString(36)}`;
}

type Children = { count: CounterChild; duration: HistogramChild };

export interface RequestRecorder {
  /**
   * Starts timing a request. When the response closes, records the metrics and
   * one access-log line (never headers or bodies, so never a token). Does not
   * set X-Request-Id: instrument() does for Express, the OFREP handlers put it
   * in their writeHead (cheaper than setHeader, which forces Node's slow path).
   */
  begin(req: IncomingMessage, res: ServerResponse): RequestInfo;
}

export function createRequestRecorder(deps: {
  metrics: GatewayMetrics;
  log: Logger;
  config: Pick<GatewayConfig, 'accessLog' | 'accessLogEvaluations'>;
}): RequestRecorder {
  const { metrics, log, config } = deps;
  // route -> method -> status -> children. Route templates and method names are
  // constant strings, so no key is built per request.
  const cache = new Map<string, Map<string, Map<number, Children>>>();
  let cached = 0;
  const childrenFor = (method: string, route: string, status: number): Children => {
    let byMethod = cache.get(route);
    let byStatus = byMethod?.get(method);
    let c = byStatus?.get(status);
    if (!c) {
      const s = String(status);
      c = { count: metrics.httpRequests.child(method, route, s), duration: metrics.httpDuration.child(method, route, s) };
      if (cached < MAX_LABEL_SETS_PER_METRIC) {
        if (!byMethod) cache.set(route, (byMethod = new Map()));
        if (!byStatus) byMethod.set(method, (byStatus = new Map()));
        byStatus.set(status, c);
        cached++;
      }
    }
    return c;
  };
  // One listener function shared by all responses (no closure per request).
  function onClose(this: ServerResponse): void {
    const info = (this as unknown as Record<symbol, RequestInfo>)[infoKey];
    const status = this.writableFinished || this.headersSent ? this.statusCode : 499;
    const seconds = (performance.now() - info.start) / 1000;
    const req = info.req;
    const method = req.method ?? 'GET';
    const c = childrenFor(method, info.route, status);
    c.count.value++;
    c.duration.observe(seconds);
    const mode = config.accessLog;
    const wanted = status >= 400 ? mode !== 'off' : mode === 'all' && (!info.evaluation || config.accessLogEvaluations);
    if (!wanted) return;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    // Built by hand (the JSON of a plain object with known keys); strings from the client are JSON-encoded.
    let fields = `"method":${JSON.stringify(method)},"path":${JSON.stringify(path)},"route":${JSON.stringify(info.route)},"status":${status},"ms":${Math.round(seconds * 1e4) / 10}`;
    if (info.principal) fields += `,"actor":${JSON.stringify(info.principal.name)}`;
    fields += `,"requestId":${JSON.stringify(info.requestId)}`;
    log.logJson(status >= 500 ? 'error' : 'info', 'request', fields);
  }
  return {
    begin(req, res) {
      // Every field set here, in one order: later assignments change values, not the object's shape.
      const info: RequestInfo = { route: 'unmatched', principal: undefined, requestId: requestIdOf(req), evaluation: false, start: performance.now(), req };
      (req as unknown as Record<symbol, RequestInfo>)[infoKey] = info;
      (res as unknown as Record<symbol, RequestInfo>)[infoKey] = info;
      res.on('close', onClose);
      return info;
    },
  };
}

/** For the Express app: begin() plus the X-Request-Id response header. */
export function instrument(req: IncomingMessage, res: ServerResponse, recorder: RequestRecorder): RequestInfo {
  const info = recorder.begin(req, res);
  res.setHeader('x-request-id', info.requestId);
  return info;
}

/** CORS headers for OFREP answers; empty when the origin is not allowed. */
export const ANY_ORIGIN: Record<string, string> = Object.freeze({ 'access-control-allow-origin': '*', 'access-control-expose-headers': 'ETag, Retry-After' }) as Record<string, string>;

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
