// Keeps a FlagStore current: one bulk snapshot (GET /api/v1/snapshot), then
// the gateway's change stream (GET /api/v1/stream?since=<revision>, SSE) with
// resume by event id after any failure. No gap: the stream starts right after
// the snapshot's revision, every reconnect sends the last event id it applied
// (Last-Event-ID), and the gateway replays exactly what came after it, or
// answers `event: reset` (history no longer kept), which makes us reload the
// snapshot. Events of one revision (an atomic batch) are applied together.
//
// The transport is pluggable (transport.ts): SSE to the gateway by default, or
// the notification relay's WebSocket.
import type { ChangeEvent } from '@flagraft/flag-model';
import type { FlagStore, Snapshot } from './store.js';

export interface SyncOptions {
  /** Gateway or Caddy base URL (https://flags.example.com), without /api. */
  url: string;
  token: string;
  /** Only flags whose key starts with this (segments are always all). */
  prefix?: string;
  /** Whose flags (absent: the default environment). */
  environment?: string;
  /** One snapshot request, ms. */
  requestTimeoutMs: number;
  /** Reconnect backoff, ms: doubles from min to max, with jitter. */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** A stream that sends nothing (not even a heartbeat) this long is considered dead, ms. */
  idleTimeoutMs: number;
  /** Largest snapshot accepted, bytes (the memory bound). */
  maxSnapshotBytes: number;
  fetch: typeof fetch;
}

export interface SyncEvents {
  /** A snapshot was installed; `keys` are the flags that differ from before. */
  onSnapshot(keys: string[], revision: number): void;
  /** One revision's changes were applied. */
  onChanges(keys: string[], revision: number): void;
  /** The stream is connected and current. */
  onConnected(): void;
  /** The stream broke; we are reconnecting. */
  onDisconnected(reason: string): void;
  /** A refusal that retrying will not fix by itself (401/403, snapshot too large). */
  onFatal(err: Error): void;
}

/** A transport delivers changes after a position and tells when it must reload. */
export interface ChangeTransport {
  /**
   * Follows changes after `position` (a revision, or an event id `R:i` mid-batch).
   * Resolves when the connection ends: with 'reset' when the client must reload
   * the snapshot, else with a reason to reconnect from the last position.
   */
  follow(position: string, sink: TransportSink, signal: AbortSignal): Promise<{ reset: boolean; reason: string }>;
}

export interface TransportSink {
  connected(): void;
  /** A change; `id` is its stream position (the position to resume after). `last` marks the end of its revision. */
  change(event: ChangeEvent, id: string, last: boolean): void;
  /**
   * The transport has delivered everything it has for now (end of a network
   * read): a revision still open is reported as it is. (A catch-up replay names
   * every event `R:i`, so its last event of a revision is not marked.)
   */
  flush(): void;
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class SnapshotTooLargeError extends Error {}

/** Reads a response body as text, refusing more than maxBytes. */
export async function readLimited(res: Response, maxBytes: number): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel();
      throw new SnapshotTooLargeError(`the snapshot is larger than maxSnapshotBytes (${maxBytes} bytes)`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function fetchSnapshot(opts: SyncOptions, signal: AbortSignal): Promise<Snapshot> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`snapshot request timed out after ${opts.requestTimeoutMs} ms`)), opts.requestTimeoutMs);
  const onAbort = () => ac.abort(signal.reason);
  signal.addEventListener('abort', onAbort);
  try {
    const res = await opts.fetch(`${opts.url}/api/v1/snapshot${scopeQuery(opts)}`, { headers: { authorization: `Bearer ${opts.token}`, accept: 'application/json' }, signal: ac.signal });
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new HttpError(res.status, `snapshot: HTTP ${res.status} ${text.slice(0, 200)}`);
    }
    const body = JSON.parse(await readLimited(res, opts.maxSnapshotBytes)) as Snapshot;
    if (!Number.isSafeInteger(body?.revision) || !Array.isArray(body.flags) || !Array.isArray(body.segments)) {
      throw new Error('snapshot: the answer is not {revision, flags, segments}');
    }
    return body;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * True for errors retrying cannot fix by itself (bad token, role too weak or
 * another environment's token, an environment that does not exist, a snapshot
 * over the memory bound): initialize() rejects with it at once. Retries go on,
 * so an operator's fix (a new token, the environment created) is picked up.
 */
export function isFatal(err: unknown): boolean {
  return (err instanceof HttpError && (err.status === 401 || err.status === 403 || err.status === 404)) || err instanceof SnapshotTooLargeError;
}

export class SyncEngine {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private position: string | undefined;
  /** Keys changed in the revision being received (its events arrive together), and that revision. */
  private batchKeys = new Set<string>();
  private batchRevision: number | undefined;
  private backoffMs: number;
  private firstLoad: { resolve: () => void; reject: (e: Error) => void } | undefined;
  /** Changes applied out of order (never expected; counted for diagnostics). */
  outOfOrder = 0;
  reloads = 0;
  reconnects = 0;

  constructor(
    private readonly opts: SyncOptions,
    private readonly store: FlagStore,
    private readonly transport: ChangeTransport,
    private readonly events: SyncEvents,
  ) {
    this.backoffMs = opts.minBackoffMs;
  }

  /** Starts; resolves once the first snapshot is installed, rejects on a fatal refusal of it. */
  start(): Promise<void> {
    const first = new Promise<void>((resolve, reject) => (this.firstLoad = { resolve, reject }));
    this.running ??= this.run();
    return first;
  }

  /** Continues from a snapshot already installed (the cache file): resolves at once, syncs in the background. */
  resumeFrom(revision: number): void {
    this.position = String(revision);
    this.running ??= this.run();
  }

  async close(): Promise<void> {
    this.abort.abort(new Error('closed'));
    await this.running?.catch(() => {});
  }

  private get closed(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    let needSnapshot = this.position === undefined;
    while (!this.closed) {
      try {
        if (needSnapshot) {
          await this.loadSnapshot();
          needSnapshot = false;
        }
        const out = await this.transport.follow(this.position!, this.sink(), this.abort.signal);
        if (this.closed) return;
        this.events.onDisconnected(out.reason);
        if (out.reset) {
          needSnapshot = true;
          continue; // reload at once: the stream was up, this is not a failure
        }
      } catch (err) {
        if (this.closed) return;
        const e = err instanceof Error ? err : new Error(String(err));
        if (this.firstLoad && isFatal(e)) {
          this.firstLoad.reject(e);
          this.firstLoad = undefined;
        }
        if (isFatal(e)) this.events.onFatal(e);
        this.events.onDisconnected(e.message);
      }
      this.reconnects++;
      await this.sleep(this.nextBackoff());
    }
  }

  private async loadSnapshot(): Promise<void> {
    const snap = await fetchSnapshot(this.opts, this.abort.signal);
    if (this.closed) return;
    const keys = this.store.install(snap);
    this.position = String(snap.revision);
    this.batchKeys.clear();
    this.batchRevision = undefined;
    this.reloads++;
    this.events.onSnapshot(keys, snap.revision);
    this.firstLoad?.resolve();
    this.firstLoad = undefined;
  }

  private sink(): TransportSink {
    return {
      connected: () => {
        this.backoffMs = this.opts.minBackoffMs;
        this.events.onConnected();
      },
      change: (event, id, last) => {
        if (this.batchRevision !== undefined && event.revision !== this.batchRevision) this.flushBatch();
        if (event.revision < this.store.revision) this.outOfOrder++;
        else for (const k of this.store.apply(event)) this.batchKeys.add(k);
        this.batchRevision = event.revision;
        this.position = id;
        if (last) this.flushBatch();
      },
      flush: () => this.flushBatch(),
    };
  }

  private flushBatch(): void {
    if (this.batchRevision === undefined) return;
    const keys = [...this.batchKeys];
    const revision = this.batchRevision;
    this.batchKeys.clear();
    this.batchRevision = undefined;
    this.events.onChanges(keys, revision);
  }

  private nextBackoff(): number {
    const d = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
    return d / 2 + Math.random() * (d / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const signal = this.abort.signal;
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }
}

/** `?prefix=&environment=` of the snapshot and of the gateway's stream (one environment's stream keeps its own ids: always the same query). */
export function scopeQuery(opts: Pick<SyncOptions, 'prefix' | 'environment'>): string {
  const q = new URLSearchParams();
  if (opts.prefix) q.set('prefix', opts.prefix);
  if (opts.environment !== undefined) q.set('environment', opts.environment);
  const s = q.toString();
  return s ? `?${s}` : '';
}
