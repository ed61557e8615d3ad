// Change transports for SyncEngine.
//
// SseTransport (default): GET /api/v1/stream on the gateway with the token in
// Authorization and the position in Last-Event-ID. Event ids are `R` for the
// last event of revision R and `R:i` before it, so `last` is "the id has no
// colon". `event: reset` = reload. A stream that is silent longer than
// idleTimeoutMs (the gateway sends heartbeats) is treated as dead.
//
// RelayTransport: the notification relay's WebSocket (`/ws?since=R`), for
// deployments that fan out through SNS/SQS. Events carry `part`/`parts`;
// `resync` = reload; a truncated event (flag too large for SNS) also reloads.
import type { ChangeEvent } from '@flagraft/flag-model';
import { SseParser } from './sse.js';
import { HttpError, scopeQuery, type ChangeTransport, type SyncOptions, type TransportSink } from './sync.js';

export class SseTransport implements ChangeTransport {
  constructor(private readonly opts: SyncOptions) {}

  async follow(position: string, sink: TransportSink, signal: AbortSignal): Promise<{ reset: boolean; reason: string }> {
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal.reason);
    signal.addEventListener('abort', onAbort);
    let idle: ReturnType<typeof setTimeout> | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ac.abort(new Error(`no data for ${this.opts.idleTimeoutMs} ms`)), this.opts.idleTimeoutMs);
    };
    try {
      touch();
      const res = await this.opts.fetch(`${this.opts.url}/api/v1/stream${scopeQuery(this.opts)}`, {
        headers: { authorization: `Bearer ${this.opts.token}`, accept: 'text/event-stream', 'last-event-id': position },
        signal: ac.signal,
      });
      if (res.status !== 200 || !res.body) {
        const text = await res.text().catch(() => '');
        throw new HttpError(res.status, `stream: HTTP ${res.status} ${text.slice(0, 200)}`);
      }
      let reset = false;
      const parser = new SseParser((m) => {
        if (m.event === 'ready') return sink.connected();
        if (m.event === 'reset') {
          reset = true;
          ac.abort(new Error('reset'));
          return;
        }
        if (m.event !== 'message' || m.id === undefined) return;
        sink.change(JSON.parse(m.data) as ChangeEvent, m.id, !m.id.includes(':'));
      });
      const reader = res.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          touch();
          parser.push(value);
          sink.flush();
          if (reset) break;
        }
      } catch (err) {
        if (reset) return { reset: true, reason: 'the gateway no longer has the history after our position' };
        throw err;
      }
      return reset ? { reset: true, reason: 'the gateway no longer has the history after our position' } : { reset: false, reason: 'the stream ended' };
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', onAbort);
      ac.abort(new Error('done'));
    }
  }
}

/** The subset of a WebSocket (the `ws` package's) the relay transport uses. */
interface Socket {
  on(event: 'open' | 'close', cb: () => void): void;
  on(event: 'message', cb: (data: unknown) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  close(): void;
}

export interface RelayOptions {
  /** ws(s)://host/ws of the notification relay. */
  websocketUrl: string;
  /** Creates the socket; default: the `ws` package (an optional peer dependency). */
  connect?: (url: string, headers: Record<string, string>) => Promise<Socket>;
}

export class RelayTransport implements ChangeTransport {
  constructor(private readonly opts: SyncOptions, private readonly relay: RelayOptions) {}

  async follow(position: string, sink: TransportSink, signal: AbortSignal): Promise<{ reset: boolean; reason: string }> {
    // The relay resumes by revision only: a position inside a batch resumes from the batch's start,
    // and the parts we already applied come again (applying a put or delete twice is harmless).
    const since = position.includes(':') ? Number(position.split(':')[0]) - 1 : Number(position);
    const q = new URLSearchParams({ since: String(since) });
    if (this.opts.prefix) q.set('prefix', this.opts.prefix);
    // One environment: its flag events and the segments (the relay's environments subscription, kinds limited to those two).
    if (this.opts.environment !== undefined) { q.set('environments', this.opts.environment); q.set('kinds', 'flag,segment'); }
    const url = `${this.relay.websocketUrl}?${q}`;
    const connect = this.relay.connect ?? defaultConnect;
    const ws = await connect(url, { authorization: `Bearer ${this.opts.token}` });
    return new Promise((resolve, reject) => {
      let idle: ReturnType<typeof setTimeout> | undefined;
      const done = (v: { reset: boolean; reason: string } | Error) => {
        clearTimeout(idle);
        signal.removeEventListener('abort', onAbort);
        ws.close();
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      const touch = () => {
        clearTimeout(idle);
        idle = setTimeout(() => done(new Error(`no data for ${this.opts.idleTimeoutMs} ms`)), this.opts.idleTimeoutMs);
      };
      const onAbort = () => done({ reset: false, reason: 'closed' });
      signal.addEventListener('abort', onAbort);
      touch();
      ws.on('message', (data) => {
        touch();
        let m: { type?: string; event?: ChangeEvent & { part?: number; parts?: number; truncated?: boolean }; reason?: string };
        try {
          m = JSON.parse(String(data));
        } catch {
          return done(new Error('the relay sent a frame that is not JSON'));
        }
        if (m.type === 'hello') return sink.connected();
        if (m.type === 'resync') return done({ reset: true, reason: `relay resync (${m.reason})` });
        if (m.type === 'change' && m.event) {
          const e = m.event;
          if (e.truncated) return done({ reset: true, reason: `change ${e.revision} of ${e.key} was truncated by SNS` });
          const parts = e.parts ?? 1;
          const part = e.part ?? 0;
          const last = part + 1 >= parts;
          sink.change(e, last ? String(e.revision) : `${e.revision}:${part}`, last);
        }
      });
      ws.on('close', () => done({ reset: false, reason: 'the relay closed the connection' }));
      ws.on('error', (err) => done(err));
      // The relay answers pings itself; our idle timer sees its traffic only. Ask every third of the timeout.
      const ping = setInterval(() => (ws as unknown as { send?: (s: string) => void }).send?.('{"type":"ping"}'), Math.max(1000, this.opts.idleTimeoutMs / 3));
      signal.addEventListener('abort', () => clearInterval(ping));
      ws.on('close', () => clearInterval(ping));
    });
  }
}

async function defaultConnect(url: string, headers: Record<string, string>): Promise<Socket> {
  const { WebSocket } = (await import('ws')) as unknown as { WebSocket: new (url: string, opts: { headers: Record<string, string> }) => Socket };
  const ws = new WebSocket(url, { headers });
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', (err) => reject(err));
  });
  return ws;
}
