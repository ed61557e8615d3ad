// PUT /api/v1/flags/{key} on plain node:http, in front of Express: the write
// every tool and the dashboard make, and the one whose rate through the
// gateway is measured against the cluster client's (bench/gateway). Express's
// router, param decoding and res.json cost more CPU than the rest of the
// gateway's share of a write; the route's logic itself is flagPutter
// (routes/flags.ts), the same function the Express route runs.
//
// Only the plain form is taken here: a key that needs no decoding, no query
// string, no trailing slash. Everything else falls through to Express, which
// answers it exactly as before (including its 400s for bad keys).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KEY_PATTERN, LIMITS } from '@flagraft/flag-model';
import { authorize } from './authz.js';
import { readJsonBody } from './body.js';
import type { RequestRecorder } from './http-util.js';
import { sendProblem, toProblem } from './problem.js';
import { flagPutter } from './routes/flags.js';
import { takeWriteBudget, type RouteContext } from './routes/context.js';

const PREFIX = '/api/v1/flags/';
const ROUTE = '/api/v1/flags/:key';
/** flag-model's key pattern and length (pathKey checks the same for Express). */
const isKey = (key: string) => key.length <= LIMITS.maxKeyChars && KEY_PATTERN.test(key);
const JSON_TYPE = 'application/json; charset=utf-8';

/** Returns a handler that answers PUT /api/v1/flags/{key} and returns false for anything else. */
export function createFlagPutFastPath(ctx: RouteContext & { recorder: RequestRecorder }): (req: IncomingMessage, res: ServerResponse) => boolean {
  const put = flagPutter(ctx);
  const { config, recorder } = ctx;
  const bodyLimit = { name: 'maxBodyBytes', maxBytes: config.maxBodyBytes };

  const handle = async (req: IncomingMessage, res: ServerResponse, key: string): Promise<void> => {
    // Metrics and the access-log line when the response closes; the X-Request-Id (the client's when sane).
    const info = recorder.begin(req, res);
    const requestId = info.requestId;
    info.route = ROUTE;
    try {
      // The same order as every Express route (routes/context.ts): authenticate
      // from the headers, take the write budget, only then read the body.
      const principal = authorize(req, ctx.tokens, 'write', config.anonymousEvaluation);
      info.principal = principal;
      takeWriteBudget(ctx, principal);
      const body = await readJsonBody(req, bodyLimit);
      const out = await put(req, key, body, principal);
      const json = JSON.stringify(out.stored);
      // One writeHead with every header: setHeader() first would take Node's slower merging path.
      const headers: Record<string, string | number> = {
        'content-type': JSON_TYPE,
        'content-length': Buffer.byteLength(json),
        etag: `"${out.stored.modRevision}"`,
        'x-request-id': requestId,
      };
      if (out.status === 201) headers.location = out.location;
      res.writeHead(out.status, headers);
      res.end(json);
    } catch (err) {
      const problem = toProblem(err, config.retryAfterSeconds);
      if (problem.status >= 500) ctx.log.log('error', 'request failed', { route: ROUTE, error: (err as Error)?.stack ?? String(err) });
      if (!res.headersSent) res.setHeader('x-request-id', requestId);
      sendProblem(res, problem, PREFIX + key);
    }
  };

  return (req, res) => {
    if (req.method !== 'PUT') return false;
    const url = req.url ?? '';
    if (!url.startsWith(PREFIX)) return false;
    const key = url.slice(PREFIX.length);
    if (!isKey(key)) return false;
    void handle(req, res, key);
    return true;
  };
}
