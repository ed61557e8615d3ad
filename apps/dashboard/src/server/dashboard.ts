// createDashboard(config, qwik): the HTTP server around Qwik City's Node
// middleware. Static assets first, then pages; WebSocket upgrades on /live.
//
// Each request runs inside a last-resort error boundary (boundary.ts): an
// error anywhere (a render, a header Node refuses, a stream written after its
// end) is logged with the request's id and answered with an error page if
// nothing was sent yet; the process keeps serving.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { guardRequest, refuseOversizedBody, refuseUndecodablePath, requestIdOf } from './boundary';
import { setConfig, type DashboardConfig } from './config';
import { closeFeeds } from './flag-feed';
import { createLiveProxy, LIVE_PATH } from './live-proxy';
import { log } from './log';
import { createRecordStreams, RECORD_EVENTS_PATH } from './record-stream';

type Next = (err?: unknown) => void;

/**
 * File-system errors that mean "no file at this address" for a static path:
 * missing, a directory, a name too long for the file system (a 10 KB path
 * segment), a NUL byte (`%00`, which Node refuses in file names).
 */
const STATIC_NOT_FOUND = new Set(['ENOENT', 'EISDIR', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE']);
type Handler = (req: IncomingMessage, res: ServerResponse, next: Next) => void;
export interface QwikHandlers {
  router: Handler;
  notFound: Handler;
  staticFile: Handler;
}

export interface Dashboard {
  start(): Promise<void>;
  close(): Promise<void>;
  /** Bound address once started. */
  address(): { host: string; port: number };
  readonly server: Server;
}

export function createDashboard(config: DashboardConfig, qwik: QwikHandlers): Dashboard {
  setConfig(config);
  const live = createLiveProxy(config);
  const records = createRecordStreams(config);
  const server = createServer((req, res) => {
    const requestId = requestIdOf(req);
    const fail = guardRequest(req, res, requestId);
    if (refuseUndecodablePath(req, res) || refuseOversizedBody(req, res)) return;
    try {
      // Only GET: any other method goes through Qwik City's Origin and session checks (and is a 404 there).
      if (req.method === 'GET' && (req.url ?? '').split('?')[0] === RECORD_EVENTS_PATH) return records.handle(req, res);
      qwik.staticFile(req, res, (e1) => {
        // A static path with no file: a plain 404 that nobody caches (Qwik City set `immutable` before it knew).
        if (e1 && STATIC_NOT_FOUND.has((e1 as NodeJS.ErrnoException).code ?? '')) return fail(e1, 404);
        if (e1) return fail(e1);
        qwik.router(req, res, (e2) => {
          if (e2) return fail(e2);
          qwik.notFound(req, res, (e3) => fail(e3));
        });
      });
    } catch (err) {
      fail(err);
    }
  });
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === LIVE_PATH) live.handleUpgrade(req, socket, head);
    else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  let bound = { host: config.host, port: config.port };
  return {
    server,
    address: () => bound,
    start: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          const a = server.address() as AddressInfo;
          bound = { host: a.address, port: a.port };
          log('info', 'listening', { host: a.address, port: a.port, gateway: config.gatewayUrl, relay: config.relayUrl });
          resolve();
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        live.close();
        records.close();
        closeFeeds();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
