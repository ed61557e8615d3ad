import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { roleAllows, tokenFromHeaders, type Principal } from '@flagraft/auth';
import type { ChangeEvent } from './event.js';
import type { RelayConfig } from './config.js';
import type { RelayMetrics } from './metrics.js';
import type { LogFn } from './log.js';
import { parseClientMessage, type ClientMessage, type ClientMessageError } from './client-message.js';
import type { ReplayWindow } from './window.js';
import { BadSubscription, ForbiddenSubscription, parseEnvRequest, parseKinds, resolveScope, scopeMatches, type EnvRequest, type EnvScope, type EventKind } from './scope.js';

/**
 * The WebSocket side of the relay: authentication (header or first message),
 * `?since=` replay or resync, key-prefix filters, heartbeats, and the
 * slow-consumer rule (a client whose unsent bytes exceed
 * maxClientBufferBytes is disconnected instead of buffered without bound).
 * The protocol is documented in README.md.
 */

/** Close codes (4000-4999 are the application's). */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_AUTH_TIMEOUT = 4408;
export const CLOSE_SLOW_CONSUMER = 4008;
export const CLOSE_BAD_REQUEST = 4400;
export const CLOSE_GOING_AWAY = 1001;

/** Largest WebSocket frame header a server sends (no mask), bytes. */
const WS_FRAME_HEADER_MAX_BYTES = 10;
/** After a close frame, how long a slow client gets before its socket is destroyed, ms. */
const CLOSE_GRACE_MS = 1000;

interface Subscription {
  since?: number;
  prefixes: string[];
  kinds?: Set<EventKind>;
  /** What the client asked for (scope.ts); undefined = the old stream. */
  envs?: EnvRequest;
  /** What it gets, once authenticated (its token may narrow `all`). */
  scope?: EnvScope;
}

interface Client {
  ws: WebSocket;
  sub: Subscription;
  principal?: Principal;
  live: boolean;
  alive: boolean;
  authTimer?: NodeJS.Timeout;
  remote: string;
}

export class BadRequest extends BadSubscription {}

function parseSince(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new BadRequest(`${field}: must be a non-negative integer revision`);
  return n;
}

function parsePrefixes(v: unknown, max: number, field: string): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (list.length > max) throw new BadRequest(`${field}: at most ${max} prefixes`);
  for (const p of list) {
    if (typeof p !== 'string' || p.length > 256) throw new BadRequest(`${field}: each prefix must be a string of at most 256 characters`);
  }
  return (list as string[]).filter((p) => p !== '');
}

export class Hub {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly pinger: NodeJS.Timeout;
  private closing = false;
  private queued: ChangeEvent[] = [];
  private flushScheduled = false;
  /** Called with the events each flush sent (for the fan-out latency metric). */
  onFlushed?: (events: ChangeEvent[]) => void;
  /**
   * The cluster's default environment: flag events without `env` are its
   * (config defaultEnvironment, FLAGRAFT_DEFAULT_ENVIRONMENT, until an
   * environment event says otherwise; see relay.ts).
   */
  defaultEnvironment: string;

  constructor(
    private readonly cfg: RelayConfig,
    private readonly metrics: RelayMetrics,
    private readonly log: LogFn,
    private readonly window: ReplayWindow,
    private readonly frontier: () => number | undefined,
  ) {
    this.defaultEnvironment = cfg.defaultEnvironment;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: cfg.maxClientMessageBytes, perMessageDeflate: false, clientTracking: false, autoPong: false });
    this.pinger = setInterval(() => this.heartbeat(), cfg.pingIntervalMs);
    this.pinger.unref();
  }

  get clientCount(): number { return this.clients.size; }

  /** HTTP upgrade on /ws. Anything wrong is answered with an HTTP status before the upgrade. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const reject = (status: number, code: string, message: string) => {
      const body = JSON.stringify({ error: { code, message } });
      socket.end(`HTTP/1.1 ${status} ${code}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    const url = new URL(req.url ?? '/', 'http://relay');
    if (url.pathname !== '/ws') return reject(404, 'NOT_FOUND', 'WebSocket endpoint is /ws');
    if (this.closing) return reject(503, 'SHUTTING_DOWN', 'relay is shutting down');
    if (this.clients.size >= this.cfg.maxClients) return reject(503, 'TOO_MANY_CLIENTS', `relay has ${this.cfg.maxClients} clients (maxClients)`);
    let sub: Subscription;
    try {
      sub = {
        since: parseSince(url.searchParams.get('since') ?? undefined, 'since'),
        prefixes: parsePrefixes(url.searchParams.getAll('prefix'), this.cfg.maxPrefixesPerClient, 'prefix'),
        kinds: parseKinds(url.searchParams.get('kinds') ?? undefined, 'kinds'),
        envs: parseEnvRequest(url.searchParams.get('environments') ?? undefined, 'environments'),
      };
    } catch (err) {
      return reject(400, 'BAD_REQUEST', (err as Error).message);
    }
    let principal: Principal | undefined;
    const token = tokenFromHeaders(req.headers);
    if (this.cfg.auth === 'none') {
      principal = { name: 'anonymous', role: 'reader' };
    } else if (token !== undefined) {
      principal = this.cfg.auth.authenticate(token);
      if (!principal) {
        this.metrics.authFailures.inc();
        return reject(401, 'UNAUTHORIZED', 'unknown token');
      }
      if (!roleAllows(principal.role, 'read')) {
        this.metrics.authFailures.inc();
        return reject(403, 'FORBIDDEN', `role ${principal.role} may not subscribe (reader or above required)`);
      }
    }
    if (principal) {
      try {
        sub.scope = resolveScope(principal, sub.envs, sub.kinds, this.defaultEnvironment);
      } catch (err) {
        if (err instanceof ForbiddenSubscription) this.metrics.authFailures.inc();
        return err instanceof ForbiddenSubscription ? reject(403, 'FORBIDDEN', err.message) : reject(400, 'BAD_REQUEST', (err as Error).message);
      }
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, sub, principal, req.socket.remoteAddress ?? ''));
  }

  private accept(ws: WebSocket, sub: Subscription, principal: Principal | undefined, remote: string): void {
    const c: Client = { ws, sub, live: false, alive: true, remote };
    this.clients.add(c);
    ws.on('pong', () => { c.alive = true; });
    // WebSocket ping frames are answered only once authenticated (autoPong is off).
    ws.on('ping', (data) => { if (c.principal) ws.pong(data); });
    ws.on('message', (data, isBinary) => this.onMessage(c, data, isBinary));
    ws.on('error', (err) => this.log('debug', 'websocket error', { err, remote }));
    ws.on('close', () => {
      if (c.authTimer) clearTimeout(c.authTimer);
      this.clients.delete(c);
      if (c.live) this.metrics.connectedClients.dec();
    });
    if (principal) {
      c.principal = principal;
      this.goLive(c);
    } else {
      c.authTimer = setTimeout(() => {
        this.metrics.authFailures.inc();
        this.sendControl(c, { type: 'error', code: 'AUTH_TIMEOUT', message: `no auth message within ${this.cfg.authTimeoutMs} ms` });
        ws.close(CLOSE_AUTH_TIMEOUT, 'auth timeout');
      }, this.cfg.authTimeoutMs);
    }
  }

  private onMessage(c: Client, data: RawData, isBinary: boolean): void {
    let msg: ClientMessage;
    try {
      msg = parseClientMessage(data, isBinary);
    } catch (err) {
      const e = err as ClientMessageError;
      if (!c.principal) return this.refuseUnauthenticated(c, CLOSE_BAD_REQUEST, `bad message (${e.limit})`);
      this.metrics.badClientMessages.inc({ limit: e.limit });
      this.sendControl(c, { type: 'error', code: e.limit === 'binary' || e.limit === 'json' || e.limit === 'shape' ? 'BAD_MESSAGE' : 'LIMIT_EXCEEDED', limit: e.limit, message: e.message });
      return;
    }
    // Before authentication the relay answers nothing but the auth message:
    // no pong, no revision, no error that would tell a stranger what runs here.
    if (!c.principal && msg.type !== 'auth') return this.refuseUnauthenticated(c, CLOSE_UNAUTHORIZED, 'authenticate first');
    if (msg.type === 'auth') {
      if (c.principal) {
        this.sendControl(c, { type: 'error', code: 'ALREADY_AUTHENTICATED', message: 'auth was already done' });
        return;
      }
      if (c.authTimer) clearTimeout(c.authTimer);
      const p = this.cfg.auth === 'none' ? undefined : this.cfg.auth.authenticate(typeof msg.token === 'string' ? msg.token : undefined);
      if (!p || !roleAllows(p.role, 'read')) {
        this.metrics.authFailures.inc();
        const forbidden = p !== undefined;
        this.sendControl(c, { type: 'error', code: forbidden ? 'FORBIDDEN' : 'UNAUTHORIZED', message: forbidden ? `role ${p.role} may not subscribe` : 'unknown or missing token' });
        c.ws.close(forbidden ? CLOSE_FORBIDDEN : CLOSE_UNAUTHORIZED, forbidden ? 'forbidden' : 'unauthorized');
        return;
      }
      try {
        // The auth message may also carry the subscription (query parameters win when both are given).
        if (c.sub.since === undefined) c.sub.since = parseSince(msg.since, 'since');
        if (c.sub.prefixes.length === 0) c.sub.prefixes = parsePrefixes(msg.prefixes, this.cfg.maxPrefixesPerClient, 'prefixes');
        if (c.sub.kinds === undefined) c.sub.kinds = parseKinds(msg.kinds, 'kinds');
        if (c.sub.envs === undefined) c.sub.envs = parseEnvRequest(msg.environments, 'environments');
        c.sub.scope = resolveScope(p, c.sub.envs, c.sub.kinds, this.defaultEnvironment);
      } catch (err) {
        const forbidden = err instanceof ForbiddenSubscription;
        if (forbidden) this.metrics.authFailures.inc();
        this.sendControl(c, { type: 'error', code: forbidden ? 'FORBIDDEN' : 'BAD_REQUEST', message: (err as Error).message });
        c.ws.close(forbidden ? CLOSE_FORBIDDEN : CLOSE_BAD_REQUEST, forbidden ? 'forbidden' : 'bad request');
        return;
      }
      c.principal = p;
      this.goLive(c);
      return;
    }
    if (msg.type === 'ping') {
      this.sendControl(c, { type: 'pong', revision: this.frontier() ?? null });
      return;
    }
    // The type is not quoted back: a client's text (a pasted token...) is never echoed.
    this.sendControl(c, { type: 'error', code: 'BAD_MESSAGE', message: 'unknown message type (expected "auth" or "ping")' });
  }

  /** Closes a socket that has not authenticated: a close code and reason only, no message. */
  private refuseUnauthenticated(c: Client, code: number, reason: string): void {
    if (c.authTimer) clearTimeout(c.authTimer);
    this.metrics.authFailures.inc();
    c.ws.close(code, reason);
    const t = setTimeout(() => c.ws.terminate(), CLOSE_GRACE_MS);
    t.unref();
  }

  /** Hello, then replay from the window (or a resync instruction), then live events. */
  private goLive(c: Client): void {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    // Events queued before this client joined go to the others first; the
    // replay below (from the window) covers them for this client.
    this.flush();
    c.live = true;
    this.metrics.connectedClients.inc();
    const frontier = this.frontier();
    const hello: Record<string, unknown> = { type: 'hello', revision: frontier ?? null, replayFloor: this.window.floor ?? null, principal: c.principal?.name };
    // Only for clients that named environments: the old hello is unchanged.
    if (c.sub.scope !== undefined) {
      hello.environments = c.sub.scope === 'all' ? 'all' : [...c.sub.scope];
      hello.defaultEnvironment = this.defaultEnvironment;
    }
    this.sendControl(c, hello);
    if (c.sub.since === undefined) return;
    const missed = this.window.since(c.sub.since);
    if (!missed) {
      this.metrics.resyncsSent.inc({ reason: 'out-of-window' });
      this.sendControl(c, { type: 'resync', reason: 'out-of-window', since: c.sub.since, revision: frontier ?? null });
      // Live events from here on; the client reloads through the gateway.
      c.sub.since = undefined;
      return;
    }
    const frames = missed.filter((ev) => this.matches(c, ev)).map((ev) => JSON.stringify({ type: 'change', event: ev }));
    const bytes = frames.reduce((sum, f) => sum + Buffer.byteLength(f), 0);
    if (bytes > this.cfg.maxClientBufferBytes / 2) {
      // A replay this large would trip the slow-consumer limit on its own, and
      // reloading through the gateway is cheaper for a gap this big anyway.
      this.metrics.resyncsSent.inc({ reason: 'replay-too-large' });
      this.sendControl(c, { type: 'resync', reason: 'replay-too-large', since: c.sub.since, revision: frontier ?? null });
      c.sub.since = undefined;
      return;
    }
    let n = 0;
    for (const f of frames) {
      if (!this.send(c, f)) return;
      n++;
    }
    this.metrics.replayedEvents.inc(n);
    this.sendControl(c, { type: 'replayed', count: n, revision: frontier ?? null });
  }

  private matches(c: Client, ev: ChangeEvent): boolean {
    if (c.sub.since !== undefined && ev.revision <= c.sub.since) return false;
    if (!scopeMatches(c.sub.scope, c.sub.kinds, ev, this.defaultEnvironment)) return false;
    if (c.sub.prefixes.length === 0) return true;
    return c.sub.prefixes.some((p) => ev.key.startsWith(p));
  }

  /**
   * Queues the events, in order, for every live client whose filter matches.
   * They leave at the end of this turn of the event loop (setImmediate, which
   * runs before the SQS deletes the relay schedules afterwards), so events
   * released by several receives in one turn share one write per client.
   */
  broadcast(events: ChangeEvent[]): void {
    for (const ev of events) this.queued.push(ev);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends everything queued by broadcast(). Also called before anything that must come after it. */
  flush(): void {
    this.flushScheduled = false;
    if (this.queued.length === 0) return;
    const events = this.queued;
    this.queued = [];
    // Each frame is encoded once and sent as a text frame to every client (ws
    // would otherwise convert a string to bytes again for each of them).
    const frames = events.map((ev) => Buffer.from(JSON.stringify({ type: 'change', event: ev })));
    for (const c of this.clients) {
      if (!c.live) continue;
      // Several events for one client leave in one write: the socket is corked
      // around them (ws corks each frame itself; corks nest).
      const sock = events.length > 1 ? (c.ws as unknown as { _socket?: { cork?: () => void; uncork?: () => void } })._socket : undefined;
      const cork = typeof sock?.cork === 'function' && typeof sock.uncork === 'function';
      if (cork) sock!.cork!();
      // Bytes handed to this client in this flush: they show in bufferedAmount
      // until the socket's write callbacks run (next tick), so the slow-consumer
      // test looks at the backlog left from earlier turns only.
      let sent = 0;
      try {
        for (let i = 0; i < events.length; i++) {
          if (!this.matches(c, events[i]!)) continue;
          if (!this.send(c, frames[i]!, sent)) break;
          sent += frames[i]!.length + WS_FRAME_HEADER_MAX_BYTES;
        }
      } finally {
        if (cork) sock!.uncork!();
      }
    }
    this.onFlushed?.(events);
  }

  /** The stream has a hole: every client must reload through the gateway. */
  resyncAll(reason: string, revision: number | null): void {
    this.flush();
    for (const c of this.clients) {
      if (!c.live) continue;
      this.metrics.resyncsSent.inc({ reason });
      this.sendControl(c, { type: 'resync', reason, revision });
    }
  }

  private sendControl(c: Client, msg: Record<string, unknown>): void {
    this.send(c, JSON.stringify(msg));
  }

  /** Returns false when the client was dropped as a slow consumer. `sentThisTurn`: bytes already given to it in this synchronous flush. */
  private send(c: Client, frame: string | Buffer, sentThisTurn = 0): boolean {
    if (c.ws.readyState !== WebSocket.OPEN) return false;
    if (c.ws.bufferedAmount - sentThisTurn > this.cfg.maxClientBufferBytes) {
      this.dropSlow(c);
      return false;
    }
    c.ws.send(frame, { binary: false });
    return true;
  }

  private dropSlow(c: Client): void {
    this.metrics.slowClientsDisconnected.inc();
    this.log('warn', 'disconnecting slow client', { remote: c.remote, principal: c.principal?.name, bufferedBytes: c.ws.bufferedAmount, limitBytes: this.cfg.maxClientBufferBytes });
    // The close frame queues behind the unsent data; the socket is destroyed
    // shortly after so memory is released even if the peer never reads.
    c.ws.close(CLOSE_SLOW_CONSUMER, 'slow consumer');
    const t = setTimeout(() => c.ws.terminate(), CLOSE_GRACE_MS);
    t.unref();
  }

  private heartbeat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        this.log('info', 'client missed a heartbeat; terminating', { remote: c.remote });
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      try { c.ws.ping(); } catch { /* socket already closing */ }
    }
  }

  /** Closes every client with 1001 and waits for them (bounded by timeoutMs). */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    this.flush();
    clearInterval(this.pinger);
    const all = [...this.clients];
    const done = Promise.all(all.map((c) => new Promise<void>((res) => {
      if (c.ws.readyState === WebSocket.CLOSED) return res();
      c.ws.once('close', () => res());
      c.ws.close(CLOSE_GOING_AWAY, 'relay shutting down');
    })));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((res) => { timer = setTimeout(res, timeoutMs); })]);
    if (timer) clearTimeout(timer);
    for (const c of this.clients) c.ws.terminate();
    this.wss.close();
  }
}
