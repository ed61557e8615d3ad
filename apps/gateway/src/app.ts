// The Express application: REST API, original endpoints, change stream,
// operations endpoints, and the problem+json error handler. (OFREP is served
// in front of this app, see ofrep.ts.)
import express, { type NextFunction, type Request, type Response } from 'express';
import { checkAuth, principalOrThrow } from './authz.js';
import { requestInfo } from './http-util.js';
import type { RateLimiter } from './rate-limit.js';
import { registerFlagdRoutes } from './routes/flagd.js';
import { registerOpenFeatureRoutes } from './routes/openfeature.js';
import { authenticateStreamTicket } from './stream-auth.js';
import { openapiDocument } from './openapi.js';
import { HttpProblem, sendProblem, toProblem } from './problem.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerBackupRoutes } from './routes/backup.js';
import { registerChangeRoutes } from './routes/changes.js';
import { Routes, type RouteContext } from './routes/context.js';
import { registerFlagRoutes } from './routes/flags.js';
import { registerLegacyRoutes } from './routes/legacy.js';
import { registerSegmentRoutes } from './routes/segments.js';
import { registerEnvironmentRoutes } from './routes/environments.js';
import { registerChangeRequestRoutes } from './routes/change-requests.js';
import { registerScheduleRoutes } from './routes/schedules.js';
import { registerMeRoutes } from './routes/me.js';
import type { SseHub } from './sse.js';
import { environmentOf, openChangeStream, parseFilter, resumePosition } from './streams.js';
import { environmentParam, requireEnvironment } from './env-scope.js';

export interface AppDeps extends RouteContext {
  hub: SseHub;
  isReady(): { ready: boolean; checks: Record<string, boolean | number | string> };
  /** Per-token evaluation limit (OFREP and evaluation reports); undefined = none. */
  evaluationLimiter?: RateLimiter;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // ETags are revisions, set by the routes

  // No shared body parser: every route authenticates from the headers first,
  // then reads its body with its own limit (Routes.add, body.ts).
  const r = new Routes(app, deps);
  registerOpenFeatureRoutes(r, deps);
  registerFlagdRoutes(r, deps);
  registerLegacyRoutes(r, deps); // before /api/v1/flags/:key: "set" and "all" are routes there
  registerFlagRoutes(r, deps);
  registerSegmentRoutes(r, deps);
  registerChangeRoutes(r, deps);
  registerAdminRoutes(r, deps);
  registerBackupRoutes(r, deps);
  registerEnvironmentRoutes(r, deps);
  registerChangeRequestRoutes(r, deps);
  registerScheduleRoutes(r, deps);
  registerMeRoutes(r);

  r.add('get', '/api/v1/stream', 'public', (req, res) => {
    // A token in the headers, or a stream ticket in the URL (browsers' EventSource cannot send headers).
    const byHeader = checkAuth(req, deps.tokens, 'read', deps.config.anonymousEvaluation);
    const ticket = req.query.ticket;
    const outcome = typeof ticket === 'string'
      ? authenticateStreamTicket(req, new URLSearchParams({ ticket }), deps.tokens, 'changes', deps.config, byHeader)
      : byHeader;
    const principal = principalOrThrow(outcome);
    requestInfo(req).principal = principal;
    const pos = resumePosition(req, req.query);
    const filter = parseFilter(req.query);
    const defaultEnvironment = deps.replica.resolveEnvironment(undefined);
    const only = environmentParam(req);
    if (only !== undefined) {
      // One environment's flags and the shared segments (the in-process provider of that environment), from the feed of every environment.
      if (filter.visible) throw new HttpProblem('bad-request', 'environment and environments exclude each other: name one environment, or all');
      requireEnvironment(principal, only);
      if (deps.replica.loaded && !deps.replica.flagsIn(only)) throw new HttpProblem('not-found', `environment ${only} does not exist`, { environment: only });
      filter.visible = (e) => e.kind === 'segment' || (e.kind === 'flag' && (e.env ?? defaultEnvironment) === only);
    } else if (filter.visible) {
      // Every environment's events, those of a limited token's environments only (segments are shared: always).
      const allowed = principal.environments;
      if (allowed !== undefined) filter.visible = (e) => { const env = environmentOf(e, defaultEnvironment); return env === undefined || allowed.includes(env); };
    } else requireEnvironment(principal, defaultEnvironment);
    if (req.method === 'HEAD') {
      // A stream has no end: answer HEAD with the headers alone instead of holding the connection.
      res.status(200).type('text/event-stream').end();
      return;
    }
    openChangeStream({ hub: deps.hub, replica: deps.replica, cluster: deps.cluster, log: deps.log }, req, res, pos, filter);
  });

  const openapiJson = JSON.stringify(openapiDocument);
  r.add('get', '/api/v1/openapi.json', 'public', (_req, res) => {
    res.type('application/json').send(openapiJson);
  });
  r.add('get', '/health', 'public', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.add('get', '/ready', 'public', (_req, res) => {
    const { ready, checks } = deps.isReady();
    res.status(ready ? 200 : 503);
    if (!ready) res.set('retry-after', String(deps.config.retryAfterSeconds));
    res.json({ ready, ...checks });
  });
  r.add('get', '/metrics', 'public', async (_req, res) => {
    deps.metrics.logDropped.set(deps.log.dropped);
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  r.finish();

  app.use((req: Request) => {
    throw new HttpProblem('not-found', `no route for ${req.method} ${req.path.slice(0, 200)}`);
  });

  // Express 5 passes rejected promises here too.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const problem = toProblem(err, deps.config.retryAfterSeconds);
    if (problem.status >= 500) {
      deps.log.log('error', 'request failed', { route: requestInfo(req)?.route, error: (err as Error)?.stack ?? String(err) });
    }
    sendProblem(res, problem, req.originalUrl.split('?')[0].slice(0, 200));
  });
  return app;
}
