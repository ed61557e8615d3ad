// /live: the browser's WebSocket for change events. It is forwarded to the
// relay's /ws with the session's token in an Authorization header, so the
// token never reaches page scripts (browsers cannot set WebSocket headers,
// and the relay's alternative — the token in a first message — would need
// script access to it). `?since=` passes through for resume; frames pass
// through unchanged (the relay's documented protocol).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { DashboardConfig } from './config';
import { log } from './log';
import { sessions } from './identity';
import { readCookie, SESSION_COOKIE, unsealSession } from './session';

/** Unsent bytes towards one browser before it counts as too slow and is disconnected. */
export const MAX_BROWSER_BUFFER_BYTES = 4 * 1024 * 1024;
/** Largest frame accepted from a browser, in bytes (browsers only send pings here). */
export const MAX_BROWSER_FRAME_BYTES = 4 * 1024;
/** Browser heartbeat interval, in ms. */
export const BROWSER_PING_INTERVAL_MS = 25_000;
/** Most simultaneous /live connections per dashboard process. */
export const MAX_LIVE_CONNECTIONS = 2_000;

export const LIVE_PATH = '/live';

export interface LiveProxy {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  readonly connections: number;
  close(): void;
}

function reject(socket: Duplex, status: number, text: string): void {
  const body = JSON.stringify({ error: text });
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/**
 * The origin a browser on this dashboard sends: ORIGIN if set (behind a
 * proxy), else built like Qwik City does (PROTOCOL_HEADER or the socket, and
 * the Host header). A WebSocket is not covered by CORS, so without this check
 * any site could open /live with the user's cookie (cross-site WebSocket hijacking).
 */
export function expectedOrigin(req: IncomingMessage, env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.ORIGIN) return env.ORIGIN.replace(/\/+$/, '');
  const protoHeader = env.PROTOCOL_HEADER ? req.headers[env.PROTOCOL_HEADER.toLowerCase()] : undefined;
  const proto = typeof protoHeader === 'string' ? protoHeader : (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const host = req.headers.host;
  return host ? `${proto}://${host}` : undefined;
}

export function createLiveProxy(cfg: DashboardConfig): LiveProxy {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BROWSER_FRAME_BYTES, perMessageDeflate: false });
  const alive = new WeakMap<WebSocket, boolean>();
  const open = new Set<WebSocket>();
  // Sockets by session: a session that ends (sign-out, revoked token) closes them at once.
  const bySession = new Map<string, Set<() => void>>();
  const stopListening = sessions.onEnd((sid) => {
    for (const close of bySession.get(sid) ?? []) close();
    bySession.delete(sid);
  });
  const pinger = setInterval(() => {
    for (const ws of open) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, BROWSER_PING_INTERVAL_MS);
  pinger.unref();

  return {
    get connections() {
      return open.size;
    },
    handleUpgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://dashboard');
      if (url.pathname !== LIVE_PATH) return reject(socket, 404, 'Not Found');
      if (open.size >= MAX_LIVE_CONNECTIONS) return reject(socket, 503, 'Too Many Connections');
      const want = expectedOrigin(req);
      if (!want || req.headers.origin !== want) return reject(socket, 403, 'Forbidden');
      const ref = unsealSession(readCookie(req.headers.cookie, SESSION_COOKIE), cfg.cookieSecret);
      const session = ref ? sessions.get(ref.sid) : undefined;
      if (!session) return reject(socket, 401, 'Unauthorized');
      const since = url.searchParams.get('since');
      const upstreamUrl = new URL('/ws', cfg.relayUrl.replace(/^http/, 'ws'));
      if (since !== null) {
        if (!/^\d{1,16}$/.test(since)) return reject(socket, 400, 'Bad Request');
        upstreamUrl.searchParams.set('since', since);
      }
      upstreamUrl.searchParams.set('kinds', 'flag,segment');
      wss.handleUpgrade(req, socket, head, (browser) => {
        open.add(browser);
        alive.set(browser, true);
        browser.on('pong', () => alive.set(browser, true));
        const upstream = new WebSocket(upstreamUrl, {
          headers: { authorization: `Bearer ${session.token}` },
          perMessageDeflate: false,
          handshakeTimeout: 10_000,
        });
        let closed = false;
        const closeBoth = (code: number, reason: string) => {
          if (closed) return;
          closed = true;
          open.delete(browser);
          const mine = bySession.get(session.sid);
          mine?.delete(onSessionEnd);
          if (mine?.size === 0) bySession.delete(session.sid);
          // 1005/1006 cannot be sent in a close frame.
          const c = code === 1005 || code === 1006 || code < 1000 ? 1011 : code;
          if (browser.readyState === WebSocket.OPEN) browser.close(c, reason.slice(0, 120));
          else browser.terminate();
          if (upstream.readyState === WebSocket.OPEN) upstream.close(1000);
          else if (upstream.readyState === WebSocket.CONNECTING) upstream.terminate();
        };
        // 4401: the page shows Offline and does not reconnect (README "Live updates").
        const onSessionEnd = () => closeBoth(4401, 'session ended');
        const mine = bySession.get(session.sid) ?? new Set<() => void>();
        mine.add(onSessionEnd);
        bySession.set(session.sid, mine);
        upstream.on('message', (data, isBinary) => {
          if (browser.readyState !== WebSocket.OPEN) return;
          if (browser.bufferedAmount > MAX_BROWSER_BUFFER_BYTES) {
            log('warn', 'live client too slow, disconnected', { user: session.name, bufferedBytes: browser.bufferedAmount });
            return closeBoth(4008, 'too slow');
          }
          browser.send(data, { binary: isBinary });
        });
        upstream.on('unexpected-response', (_req, res) => {
          log('warn', 'relay refused live connection', { status: res.statusCode, user: session.name });
          closeBoth(res.statusCode === 401 ? 4401 : res.statusCode === 403 ? 4403 : 1013, `relay answered ${res.statusCode}`);
        });
        upstream.on('error', (err) => {
          log('warn', 'relay connection error', { err: (err as Error).message });
          closeBoth(1011, 'relay unavailable');
        });
        upstream.on('close', (code, reason) => closeBoth(code, reason.toString() || 'relay closed'));
        browser.on('close', () => closeBoth(1000, 'browser closed'));
        browser.on('error', () => closeBoth(1011, 'browser error'));
        // Browsers may send {"type":"ping"}: forward only that, nothing else.
        browser.on('message', (data) => {
          if (upstream.readyState === WebSocket.OPEN && data.toString() === '{"type":"ping"}') upstream.send('{"type":"ping"}');
        });
      });
    },
    close() {
      clearInterval(pinger);
      stopListening();
      for (const ws of open) ws.close(1001, 'dashboard shutting down');
      wss.close();
    },
  };
}
