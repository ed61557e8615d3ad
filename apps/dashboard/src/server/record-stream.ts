// /live/records: the browser's live feed of change request and schedule
// events, for the inbox, review and schedule pages. The relay's WebSocket
// (/live) carries flags and segments only, so this forwards the gateway's
// change stream (`/api/v1/stream?environments=all&kind=…`, SSE) opened
// through the typed client with the session's own token: the gateway filters
// it to the environments that token may see, and the token never reaches page
// scripts (EventSource cannot set headers either). Frames pass through
// unchanged; `Last-Event-ID` (sent by EventSource on reconnect) resumes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { FlagraftClient } from '@flagraft/api';
import type { DashboardConfig } from './config';
import { sessions } from './identity';
import { expectedOrigin } from './live-proxy';
import { log } from './log';
import { readCookie, SESSION_COOKIE, unsealSession } from './session';

export const RECORD_EVENTS_PATH = '/live/records';
/** Most simultaneous /live/records streams per dashboard process. */
export const MAX_RECORD_STREAMS = 2_000;
/** Unsent bytes towards one browser before the stream is closed as too slow (EventSource reconnects and resumes). */
export const MAX_RECORD_BUFFER_BYTES = 4 * 1024 * 1024;
const KINDS = new Set(['changeRequest', 'schedule']);

function refuse(res: ServerResponse, status: number, error: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ error }));
}

export function createRecordStreams(cfg: DashboardConfig): { handle(req: IncomingMessage, res: ServerResponse): void; close(): void } {
  const open = new Set<() => void>();
  const bySession = new Map<string, Set<() => void>>();
  const stopListening = sessions.onEnd((sid) => {
    for (const end of bySession.get(sid) ?? []) end();
  });
  return {
    handle(req, res) {
      // EventSource sends no Origin on same-origin GETs in every browser; when one is sent it must be ours.
      if (req.headers.origin !== undefined && req.headers.origin !== expectedOrigin(req)) return refuse(res, 403, 'Forbidden');
      const ref = unsealSession(readCookie(req.headers.cookie, SESSION_COOKIE), cfg.cookieSecret);
      const session = ref ? sessions.get(ref.sid) : undefined;
      if (!session) return refuse(res, 401, 'Unauthorized');
      const kind = new URL(req.url ?? '/', 'http://dashboard').searchParams.get('kind') ?? '';
      if (!KINDS.has(kind)) return refuse(res, 400, 'kind must be changeRequest or schedule');
      if (open.size >= MAX_RECORD_STREAMS) return refuse(res, 503, 'Too Many Connections');
      const lastId = req.headers['last-event-id'];
      const lastEventId = typeof lastId === 'string' && /^[0-9:]{1,40}$/.test(lastId) ? lastId : undefined;
      const api = new FlagraftClient({ baseUrl: cfg.gatewayUrl, token: session.token, timeoutMs: cfg.gatewayTimeoutMs });
      let ended = false;
      let body: Readable | undefined;
      const end = () => {
        if (ended) return;
        ended = true;
        open.delete(end);
        bySession.get(session.sid)?.delete(end);
        body?.destroy();
        if (!res.writableEnded) res.end();
      };
      open.add(end);
      const mine = bySession.get(session.sid) ?? new Set<() => void>();
      mine.add(end);
      bySession.set(session.sid, mine);
      req.on('close', end);
      api.streamChanges({ environments: 'all', kind: kind as 'changeRequest' | 'schedule', lastEventId }).then(
        (upstream) => {
          if (ended || !upstream.body) return end();
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
          body = Readable.fromWeb(upstream.body as import('node:stream/web').ReadableStream);
          body.on('data', (chunk: Buffer) => {
            if (res.writableLength > MAX_RECORD_BUFFER_BYTES) {
              log('warn', 'record stream client too slow, closed', { user: session.name });
              return end();
            }
            res.write(chunk);
          });
          body.on('end', end);
          body.on('error', end);
        },
        (err) => {
          const status = (err as { status?: number }).status ?? 502;
          log('warn', 'gateway refused record stream', { status, user: session.name });
          if (!ended && !res.headersSent) refuse(res, status === 401 || status === 403 ? status : 502, 'gateway stream unavailable');
          end();
        },
      );
    },
    close() {
      stopListening();
      for (const end of [...open]) end();
    },
  };
}
