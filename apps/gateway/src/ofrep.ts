// OpenFeature Remote Evaluation Protocol (OFREP) endpoints, served by plain
// node:http handlers in front of Express: evaluation is the hot path (every
// feature check of every service), and Express's router and req/res wrappers
// cost more than the evaluation itself. These handlers read only the replica.
//
//   POST /ofrep/v1/evaluate/flags/{key}   one flag
//   POST /ofrep/v1/evaluate/flags         all flags (ETag / If-None-Match -> 304)
//   GET  /ofrep/v1/events                 SSE: {"type":"refetchEvaluation"} on every change
//
// Browsers: EventSource cannot send Authorization, so the bulk answer of a
// token-authenticated caller advertises the events URL with a stream ticket
// (see stream-auth.ts) and the revision it answered at (`since`, so the
// stream starts exactly where the answer left off). A refetch triggered by an
// event carries `flagConfigEtag=<revision>` (OFREP ADR-0008): a gateway whose
// replica is behind that revision waits for it (bounded) before answering, so
// the client never re-reads the configuration it was just told is outdated.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EvaluationContext, EvaluationResult } from '@flagraft/flag-model';
import type { TokenStore } from '@flagraft/auth';
import { checkAuth, type AuthOutcome } from './authz.js';
import type { GatewayConfig } from './config.js';
import { ANY_ORIGIN, BodyTooLargeError, corsHeaders, preflightHeaders, readBodyThen, shortHash, type RequestRecorder } from './http-util.js';
import { contextEtagHash, contextOf, OfrepError, type ParsedContext } from './ofrep-context.js';
import type { GatewayMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import { HttpProblem } from './problem.js';
import { ofrepSuccessBody, type Replica, type ReplicaFlag } from './replica.js';
import { evaluationEnvironment } from './env-scope.js';

const NO_FLAGS: ReadonlyMap<string, ReplicaFlag> = new Map();
import { openOfrepStream, type StreamDeps } from './streams.js';
import { authenticateStreamTicket, cachedTicketIssuer, type StreamAuthConfig } from './stream-auth.js';

// Everything under /ofrep/ answers in OFREP shapes, unknown paths included.
const PREFIX = '/ofrep/';
const SINGLE = '/ofrep/v1/evaluate/flags/';
const BULK = '/ofrep/v1/evaluate/flags';
const EVENTS = '/ofrep/v1/events';

export interface OfrepDeps {
  config: Pick<GatewayConfig, 'maxEvaluationBodyBytes' | 'corsOrigins' | 'anonymousEvaluation' | 'publicBaseUrl' | 'ofrepInactivityDelaySec' | 'retryAfterSeconds' | 'freshnessWaitMs'> & StreamAuthConfig;
  tokens: TokenStore;
  replica: Replica;
  metrics: GatewayMetrics;
  streams: StreamDeps;
  /** Metrics and access log per request (the handlers run before, and without, Express). */
  recorder: RequestRecorder;
  /** Per-token limit on evaluation requests; undefined = none. */
  limiter?: RateLimiter;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Writes a JSON answer. Headers go in one writeHead object (X-Request-Id
 * included): a setHeader() before writeHead would send Node down its slower
 * header-merging path on every answer.
 */
function send(res: ServerResponse, status: number, body: string, requestId: string, cors: Record<string, string>, extra?: Record<string, string>): void {
  if (cors === ANY_ORIGIN && extra === undefined) {
    // The common answer (default CORS, no extra header): one literal of a fixed shape, no copying loops.
    res.writeHead(status, {
      'content-type': JSON_TYPE,
      'content-length': Buffer.byteLength(body),
      'x-request-id': requestId,
      'access-control-allow-origin': '*',
      'access-control-expose-headers': ANY_ORIGIN['access-control-expose-headers'],
    });
    res.end(body);
    return;
  }
  const headers: Record<string, string | number> = { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), 'x-request-id': requestId };
  for (const k in cors) headers[k] = cors[k];
  if (extra !== undefined) for (const k in extra) headers[k] = extra[k];
  res.writeHead(status, headers);
  res.end(body);
}

/** Returns a handler that answers /ofrep/* requests and returns false for anything else. */
export function createOfrepHandler(deps: OfrepDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { config, replica, metrics, recorder } = deps;
  const ticketFor = cachedTicketIssuer(config);

  /** The cached success answer (body + counter child) of a flag for this result. */
  const answerFor = (entry: ReplicaFlag, result: EvaluationResult): { body: string; counter: { value: number } } => {
    const answers = (entry.answers ??= new Map());
    let byVariant = answers.get(result.reason);
    if (byVariant === undefined) answers.set(result.reason, (byVariant = new Map()));
    let a = byVariant.get(result.variant);
    if (a === undefined) {
      a = { body: JSON.stringify(ofrepSuccessBody(result)), counter: metrics.evaluations.child(entry.flag.key, result.reason) };
      byVariant.set(result.variant, a);
    }
    return a;
  };

  /** A success answer as its JSON body (counted), or an error result (counted unless FLAG_NOT_FOUND). */
  const evaluateOne = (flags: ReadonlyMap<string, ReplicaFlag>, key: string, context: EvaluationContext): EvaluationResult | string => {
    const entry = flags.get(key);
    if (!entry) return { key, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag ${key} does not exist`, metadata: {} };
    const result = entry.fixed ? entry.fixed.result : entry.compiled.evaluate(context, replica.segmentLookup, key);
    if (result.errorCode !== undefined) {
      metrics.evaluations.child(key, result.reason).value++;
      return result;
    }
    const a = answerFor(entry, result);
    a.counter.value++;
    return a.body;
  };

  return (req, res) => {
    const url = req.url ?? '';
    if (!url.startsWith(PREFIX)) return false;
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const info = recorder.begin(req, res);
    const requestId = info.requestId;
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
      res.writeHead(204, { ...preflightHeaders(req, config.corsOrigins), 'x-request-id': requestId });
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
      if (e.status === 500) deps.streams.log.log('error', 'evaluation failed', { route, error: (err as Error)?.stack ?? String(err) });
      const body: Record<string, string> = { errorCode: e.errorCode, errorDetails: e.message };
      if (key !== undefined) body.key = key;
      send(res, e.status, JSON.stringify(body), requestId, cors, e.headers);
    };

    try {
      if (route === undefined) throw new OfrepError(404, 'GENERAL', `no OFREP endpoint at ${path}`);
      const wanted = route === 'events' ? 'GET' : 'POST';
      if (req.method !== wanted) throw new OfrepError(405, 'GENERAL', `use ${wanted}`, { allow: `${wanted}, OPTIONS` });
      if (route === 'single') {
        try {
          const raw = path.slice(SINGLE.length);
          key = raw.includes('%') ? decodeURIComponent(raw) : raw;
        } catch {
          throw new OfrepError(400, 'PARSE_ERROR', 'the flag key in the path is not valid percent-encoding');
        }
      }
      const query = q >= 0 ? new URLSearchParams(url.slice(q + 1)) : undefined;
      let auth: AuthOutcome = checkAuth(req, deps.tokens, 'evaluate', config.anonymousEvaluation);
      if (route === 'events' && query?.has('ticket')) auth = authenticateStreamTicket(req, query, deps.tokens, 'ofrep-events', config, auth);
      if (!auth.ok) {
        throw new OfrepError(auth.status, 'GENERAL', auth.detail, auth.status === 401 ? { 'www-authenticate': 'Bearer realm="flagraft"' } : {});
      }
      info.principal = auth.principal;
      if (deps.limiter !== undefined && route !== 'events') {
        const wait = deps.limiter.take(auth.principal.name);
        if (wait > 0) {
          metrics.rateLimited.inc({ kind: 'evaluation' });
          const { perSecond } = deps.limiter.limit;
          throw new OfrepError(429, 'GENERAL', `token ${auth.principal.name} is over its limit of ${perSecond} evaluation requests per second`, { 'retry-after': String(wait) });
        }
      }
      if (!replica.loaded) {
        throw new OfrepError(503, 'GENERAL', 'the gateway has not loaded the flag configuration yet', { 'retry-after': String(config.retryAfterSeconds) });
      }
      // The token's environment (env-scope.ts): no parameter, so official providers work unchanged.
      const env = evaluationEnvironment(replica, auth.principal);
      if (route === 'events') {
        try {
          res.setHeader('x-request-id', requestId);
          openOfrepStream(deps.streams, req, res, cors, query?.get('since') ?? undefined, env === replica.resolveEnvironment(undefined) ? undefined : env);
        } catch (err) {
          if (err instanceof HttpProblem) throw new OfrepError(err.status, 'GENERAL', err.message, err.headers);
          throw err;
        }
        return true;
      }
      const minRevision = query ? freshnessRevision(query) : undefined;
      const encoding = req.headers['content-encoding'];
      if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
        // A context is small (maxEvaluationBodyBytes): no decompression on the hot path, and no gzip bombs.
        throw new OfrepError(415, 'GENERAL', 'send the evaluation context uncompressed (no Content-Encoding)');
      }
      readBodyThen(req, config.maxEvaluationBodyBytes, (err, buf) => {
        if (err) return fail(err);
        let context: ParsedContext;
        try {
          context = contextOf(buf, req.socket);
        } catch (e) {
          return fail(e);
        }
        const answer = () => {
          try {
            if (route === 'single') answerSingle(res, requestId, key!, context.context, cors, env);
            else answerBulk(req, res, requestId, context, cors, env);
          } catch (e) {
            fail(e);
          }
        };
        // Triggered by an event at a revision this replica has not applied yet: wait for it (bounded).
        if (minRevision !== undefined && minRevision > replica.revision) void replica.waitFor(minRevision, config.freshnessWaitMs).then(answer);
        else answer();
      });
    } catch (err) {
      fail(err);
    }
    return true;
  };

  /** The flags OFREP evaluates for an environment: none for one this gateway does not know (FLAG_NOT_FOUND, never another's). */
  function flagsOf(env: string): ReadonlyMap<string, ReplicaFlag> {
    return replica.flagsIn(env) ?? NO_FLAGS;
  }

  function answerSingle(res: ServerResponse, requestId: string, key: string, context: EvaluationContext, cors: Record<string, string>, env: string): void {
    const out = evaluateOne(flagsOf(env), key, context);
    if (typeof out === 'string') return send(res, 200, out, requestId, cors);
    if (out.errorCode !== undefined) {
      const status = out.errorCode === 'FLAG_NOT_FOUND' ? 404 : 400;
      const body: Record<string, unknown> = { key, errorCode: out.errorCode };
      if (out.errorDetails) body.errorDetails = out.errorDetails;
      return send(res, status, JSON.stringify(body), requestId, cors);
    }
    send(res, 200, JSON.stringify(ofrepSuccessBody(out)), requestId, cors);
  }

  function answerBulk(req: IncomingMessage, res: ServerResponse, requestId: string, parsed: ParsedContext, cors: Record<string, string>, env: string): void {
    const context = parsed.context;
    // The ETag covers the configuration (revision) and the context, so a
    // client keeping its ETag across a context change still gets fresh values.
    // A token caller's answer advertises a ticketed stream URL; the ticket's
    // window is part of the ETag, so a client never keeps (through 304s) a URL
    // whose ticket has expired.
    const ticket = ticketFor(req);
    // Another environment's answer differs at the same revision and context: its name is in the ETag.
    const envTag = env === replica.resolveEnvironment(undefined) ? '' : `-${shortHash(env)}`;
    const etag = `"${replica.revision}-${contextEtagHash(parsed)}${envTag}${ticket ? `-w${ticket.window}` : ''}"`;
    const inm = req.headers['if-none-match'];
    if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === etag || t.trim() === 'W/' + etag)) {
      res.writeHead(304, { etag, ...cors, 'x-request-id': requestId });
      res.end();
      return;
    }
    let items = '';
    const flags = flagsOf(env);
    for (const key of flags.keys()) {
      const out = evaluateOne(flags, key, context);
      let item: string;
      if (typeof out === 'string') item = out;
      else if (out.errorCode !== undefined) {
        const body: Record<string, unknown> = { key, errorCode: out.errorCode };
        if (out.errorDetails) body.errorDetails = out.errorDetails;
        item = JSON.stringify(body);
      } else item = JSON.stringify(ofrepSuccessBody(out));
      items += (items ? ',' : '') + item;
    }
    const streamUrl = baseUrl(req) + EVENTS + (ticket ? `?ticket=${ticket.ticket}&since=${replica.revision}` : '');
    const eventStreams = [{ type: 'sse', url: streamUrl, inactivityDelaySec: config.ofrepInactivityDelaySec }];
    const body = `{"flags":[${items}],"metadata":{"revision":${replica.revision}},"eventStreams":${JSON.stringify(eventStreams)}}`;
    send(res, 200, body, requestId, cors, { etag, 'cache-control': 'no-cache' });
  }

  function baseUrl(req: IncomingMessage): string {
    if (config.publicBaseUrl) return config.publicBaseUrl;
    const fwdProto = req.headers['x-forwarded-proto'];
    const proto = typeof fwdProto === 'string' && /^https?$/.test(fwdProto) ? fwdProto : 'http';
    const host = req.headers.host && /^[\w.:[\]-]{1,255}$/.test(req.headers.host) ? req.headers.host : 'localhost';
    return `${proto}://${host}`;
  }
}

/** The revision named by `flagConfigEtag` (OFREP ADR-0008: sent with refetches an event triggered), if it is one. */
function freshnessRevision(query: URLSearchParams): number | undefined {
  const raw = query.get('flagConfigEtag');
  if (raw === null) return undefined;
  const m = /^"?(\d{1,15})"?$/.exec(raw);
  return m ? Number(m[1]) : undefined;
}
