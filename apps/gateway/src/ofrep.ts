// OpenFeature Remote Evaluation Protocol (OFREP) endpoints, served by plain
// node:http handlers in front of Express: evaluation is the hot path (every
// feature check of every service), and Express's router and req/res wrappers
// cost more than the evaluation itself. These handlers read only the replica.
//
//   POST /ofrep/v1/evaluate/flags/{key}   one flag
//   POST /ofrep/v1/evaluate/flags         all flags (ETag / If-None-Match -> 304)
//   GET  /ofrep/v1/events                 SSE: {"type":"refetchEvaluation"} on every change
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EvaluationContext, EvaluationResult } from '@flagraft/flag-model';
import type { TokenStore } from '@flagraft/auth';
import { checkAuth } from './authz.js';
import type { GatewayConfig } from './config.js';
import { BodyTooLargeError, canonicalJson, corsHeaders, preflightHeaders, readBodyThen, requestInfo, sendJson, shortHash } from './http-util.js';
import type { GatewayMetrics } from './metrics.js';
import { HttpProblem } from './problem.js';
import { ofrepSuccessBody, type Replica } from './replica.js';
import { openOfrepStream, type StreamDeps } from './streams.js';

// Everything under /ofrep/ answers in OFREP shapes, unknown paths included.
const PREFIX = '/ofrep/';
const SINGLE = '/ofrep/v1/evaluate/flags/';
const BULK = '/ofrep/v1/evaluate/flags';
const EVENTS = '/ofrep/v1/events';

export interface OfrepDeps {
  config: Pick<GatewayConfig, 'maxEvaluationBodyBytes' | 'corsOrigins' | 'anonymousEvaluation' | 'publicBaseUrl' | 'ofrepInactivityDelaySec' | 'retryAfterSeconds'>;
  tokens: TokenStore;
  replica: Replica;
  metrics: GatewayMetrics;
  streams: StreamDeps;
}

class OfrepError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

/** Returns a handler that answers /ofrep/* requests and returns false for anything else. */
export function createOfrepHandler(deps: OfrepDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { config, replica, metrics } = deps;
  // One child counter per (flag, reason), looked up without re-hashing labels on every evaluation.
  const evalCounters = new Map<string, { inc(): void }>();
  const countEvaluation = (key: string, reason: string) => {
    const id = key + '\u0000' + reason;
    let c = evalCounters.get(id);
    if (!c) {
      c = metrics.evaluations.labels(key, reason);
      evalCounters.set(id, c);
    }
    c.inc();
  };

  const evaluateOne = (key: string, context: EvaluationContext): EvaluationResult | string => {
    const entry = replica.flags.get(key);
    if (!entry) return { key, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag ${key} does not exist`, metadata: {} };
    if (entry.fixed) {
      countEvaluation(key, entry.fixed.result.reason);
      return entry.fixed.body;
    }
    const result = entry.compiled.evaluate(context, replica.segmentLookup, key);
    countEvaluation(key, result.reason);
    return result;
  };

  return (req, res) => {
    const url = req.url ?? '';
    if (!url.startsWith(PREFIX)) return false;
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const info = requestInfo(req);
    const cors = corsHeaders(req, config.corsOrigins);
    let key: string | undefined;
    let route: 'single' | 'bulk' | 'events' | undefined;
    if (path.startsWith(SINGLE) && path.length > SINGLE.length && path.indexOf('/', SINGLE.length) < 0) {
      route = 'single';
      info.route = '/ofrep/v1/evaluate/flags/:key';
      info.evaluation = true;
    } else if (path === BULK) {
      route = 'bulk';
      info.route = BULK;
      info.evaluation = true;
    } else if (path === EVENTS) {
      route = 'events';
      info.route = EVENTS;
    } else {
      info.route = '/ofrep/*';
    }

    if (req.method === 'OPTIONS') {
      res.writeHead(204, preflightHeaders(req, config.corsOrigins));
      res.end();
      return true;
    }

    const fail = (err: unknown) => {
      const e =
        err instanceof OfrepError
          ? err
          : err instanceof BodyTooLargeError
            ? new OfrepError(413, 'GENERAL', err.message)
            : new OfrepError(500, 'GENERAL', 'internal error');
      const body: Record<string, string> = { errorCode: e.errorCode, errorDetails: e.message };
      if (key !== undefined) body.key = key;
      sendJson(res, e.status, JSON.stringify(body), { ...cors, ...e.headers });
    };

    try {
      if (route === undefined) throw new OfrepError(404, 'GENERAL', `no OFREP endpoint at ${path}`);
      const wanted = route === 'events' ? 'GET' : 'POST';
      if (req.method !== wanted) throw new OfrepError(405, 'GENERAL', `use ${wanted}`, { allow: `${wanted}, OPTIONS` });
      if (route === 'single') {
        try {
          key = decodeURIComponent(path.slice(SINGLE.length));
        } catch {
          throw new OfrepError(400, 'PARSE_ERROR', 'the flag key in the path is not valid percent-encoding');
        }
      }
      const auth = checkAuth(req, deps.tokens, 'evaluate', config.anonymousEvaluation);
      if (!auth.ok) {
        throw new OfrepError(auth.status, 'GENERAL', auth.detail, auth.status === 401 ? { 'www-authenticate': 'Bearer realm="flagraft"' } : {});
      }
      info.principal = auth.principal;
      if (!replica.loaded) {
        throw new OfrepError(503, 'GENERAL', 'the gateway has not loaded the flag configuration yet', { 'retry-after': String(config.retryAfterSeconds) });
      }
      if (route === 'events') {
        try {
          openOfrepStream(deps.streams, req, res, cors);
        } catch (err) {
          if (err instanceof HttpProblem) throw new OfrepError(err.status, 'GENERAL', err.message, err.headers);
          throw err;
        }
        return true;
      }
      readBodyThen(req, config.maxEvaluationBodyBytes, (err, buf) => {
        if (err) return fail(err);
        try {
          const context = parseContext(buf);
          if (route === 'single') answerSingle(res, key!, context, cors);
          else answerBulk(req, res, context, cors);
        } catch (e) {
          fail(e);
        }
      });
    } catch (err) {
      fail(err);
    }
    return true;
  };

  function answerSingle(res: ServerResponse, key: string, context: EvaluationContext, cors: Record<string, string>): void {
    const out = evaluateOne(key, context);
    if (typeof out === 'string') return sendJson(res, 200, out, cors);
    if (out.errorCode !== undefined) {
      const status = out.errorCode === 'FLAG_NOT_FOUND' ? 404 : 400;
      const body: Record<string, unknown> = { key, errorCode: out.errorCode };
      if (out.errorDetails) body.errorDetails = out.errorDetails;
      return sendJson(res, status, JSON.stringify(body), cors);
    }
    sendJson(res, 200, JSON.stringify(ofrepSuccessBody(out)), cors);
  }

  function answerBulk(req: IncomingMessage, res: ServerResponse, context: EvaluationContext, cors: Record<string, string>): void {
    // The ETag covers the configuration (revision) and the context, so a
    // client keeping its ETag across a context change still gets fresh values.
    const etag = `"${replica.revision}-${shortHash(canonicalJson(context))}"`;
    const inm = req.headers['if-none-match'];
    if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === etag || t.trim() === 'W/' + etag)) {
      res.writeHead(304, { etag, ...cors });
      res.end();
      return;
    }
    let items = '';
    for (const key of replica.flags.keys()) {
      const out = evaluateOne(key, context);
      let item: string;
      if (typeof out === 'string') item = out;
      else if (out.errorCode !== undefined) {
        const body: Record<string, unknown> = { key, errorCode: out.errorCode };
        if (out.errorDetails) body.errorDetails = out.errorDetails;
        item = JSON.stringify(body);
      } else item = JSON.stringify(ofrepSuccessBody(out));
      items += (items ? ',' : '') + item;
    }
    const eventStreams = [{ type: 'sse', url: baseUrl(req) + EVENTS, inactivityDelaySec: config.ofrepInactivityDelaySec }];
    const body = `{"flags":[${items}],"metadata":{"revision":${replica.revision}},"eventStreams":${JSON.stringify(eventStreams)}}`;
    sendJson(res, 200, body, { etag, 'cache-control': 'no-cache', ...cors });
  }

  function baseUrl(req: IncomingMessage): string {
    if (config.publicBaseUrl) return config.publicBaseUrl;
    const fwdProto = req.headers['x-forwarded-proto'];
    const proto = typeof fwdProto === 'string' && /^https?$/.test(fwdProto) ? fwdProto : 'http';
    const host = req.headers.host && /^[\w.:[\]-]{1,255}$/.test(req.headers.host) ? req.headers.host : 'localhost';
    return `${proto}://${host}`;
  }
}

/** The request body: `{}` or empty, or `{"context": {...}}`. */
function parseContext(buf: Buffer): EvaluationContext {
  if (buf.length === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(buf.toString('utf8'));
  } catch {
    throw new OfrepError(400, 'PARSE_ERROR', 'the request body is not valid JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new OfrepError(400, 'PARSE_ERROR', 'the request body must be a JSON object like {"context": {...}}');
  }
  const context = (body as { context?: unknown }).context;
  if (context === undefined || context === null) return {};
  if (typeof context !== 'object' || Array.isArray(context)) throw new OfrepError(400, 'INVALID_CONTEXT', 'context must be a JSON object');
  const tk = (context as { targetingKey?: unknown }).targetingKey;
  if (tk !== undefined && typeof tk !== 'string') throw new OfrepError(400, 'INVALID_CONTEXT', 'context.targetingKey must be a string');
  return context as EvaluationContext;
}
