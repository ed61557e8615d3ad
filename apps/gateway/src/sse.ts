// Server-Sent Events plumbing shared by the change stream (/api/v1/stream) and
// the OFREP event stream. Each connection's unsent bytes are bounded: Node
// queues what the socket cannot take, and a client whose queue passes
// maxBufferedBytes is disconnected rather than allowed to grow memory.
import type { ServerResponse } from 'node:http';
import type { GatewayMetrics } from './metrics.js';

export type StreamName = 'changes' | 'ofrep';

export class SseConnection {
  closed = false;
  /** performance.now() of the last write: monotonic, so a backward wall-clock jump does not stop heartbeats (proxies would cut the idle stream). */
  lastWriteAt = performance.now();
  constructor(
    readonly res: ServerResponse,
    readonly stream: StreamName,
    private readonly hub: SseHub,
  ) {}

  /** Writes one or more complete frames. Returns false if the client was (or is now) dropped. */
  write(chunk: string): boolean {
    if (this.closed) return false;
    this.res.write(chunk);
    this.lastWriteAt = performance.now();
    if (this.res.writableLength > this.hub.maxBufferedBytes) {
      this.hub.drop(this, 'slow');
      return false;
    }
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.remove(this);
    this.res.end();
  }
}

export interface SseHubOptions {
  heartbeatMs: number;
  maxBufferedBytes: number;
  maxClients: number;
  metrics: GatewayMetrics;
  onDrop?(conn: SseConnection, reason: string): void;
}

export class SseHub {
  readonly maxBufferedBytes: number;
  private readonly conns = new Set<SseConnection>();
  private readonly timer: NodeJS.Timeout;
  private readonly onCloseHandlers = new WeakMap<SseConnection, () => void>();

  constructor(private readonly opts: SseHubOptions) {
    this.maxBufferedBytes = opts.maxBufferedBytes;
    // Heartbeats keep proxies (Caddy, load balancers) from closing idle streams
    // and let clients detect a dead connection.
    this.timer = setInterval(() => this.heartbeat(), Math.max(50, Math.floor(opts.heartbeatMs / 2)));
    this.timer.unref();
  }

  get size(): number {
    return this.conns.size;
  }

  full(): boolean {
    return this.conns.size >= this.opts.maxClients;
  }

  /** Starts an SSE response and registers it. `onClose` runs once when it ends for any reason. */
  open(res: ServerResponse, stream: StreamName, headers: Record<string, string>, onClose: () => void): SseConnection {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...headers,
    });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    res.socket?.setTimeout(0);
    const conn = new SseConnection(res, stream, this);
    this.conns.add(conn);
    this.onCloseHandlers.set(conn, onClose);
    this.opts.metrics.sseClients.inc({ stream });
    res.on('close', () => {
      conn.closed = true;
      this.remove(conn);
    });
    // Tell EventSource how long to wait before reconnecting (ms).
    conn.write('retry: 1000\n\n');
    return conn;
  }

  drop(conn: SseConnection, reason: string): void {
    if (conn.closed) return;
    this.opts.metrics.sseDropped.inc({ stream: conn.stream, reason });
    this.opts.onDrop?.(conn, reason);
    conn.closed = true;
    this.remove(conn);
    // destroy, not end: a slow client must not keep its queued bytes alive.
    conn.res.destroy();
  }

  remove(conn: SseConnection): void {
    if (!this.conns.delete(conn)) return;
    this.opts.metrics.sseClients.dec({ stream: conn.stream });
    const onClose = this.onCloseHandlers.get(conn);
    this.onCloseHandlers.delete(conn);
    onClose?.();
  }

  /** Ends every stream (shutdown). Clients reconnect elsewhere with Last-Event-ID. */
  closeAll(): void {
    clearInterval(this.timer);
    for (const conn of [...this.conns]) conn.close();
  }

  private heartbeat(): void {
    const idleSince = performance.now() - this.opts.heartbeatMs;
    for (const conn of this.conns) if (conn.lastWriteAt <= idleSince) conn.write(': heartbeat\n\n');
  }
}

/** One SSE frame. `data` must not contain newlines (JSON.stringify output never does). */
export function frame(data: string, id?: string, event?: string): string {
  let out = '';
  if (id !== undefined) out += `id: ${id}\n`;
  if (event !== undefined) out += `event: ${event}\n`;
  return out + `data: ${data}\n\n`;
}

/** Stream position: all of `revision` seen, or (with index) events up to `index` of it. */
export interface StreamPosition {
  revision: number;
  index?: number;
}

/** Parses `R` or `R:i` (our event ids); undefined when malformed. */
export function parsePosition(raw: string): StreamPosition | undefined {
  const m = /^(\d{1,15})(?::(\d{1,6}))?$/.exec(raw.trim());
  if (!m) return undefined;
  const revision = Number(m[1]);
  return m[2] === undefined ? { revision } : { revision, index: Number(m[2]) };
}
