// Keeps a FlagIndex current from the gateway's change stream
// (GET /api/v1/stream, Server-Sent Events), so a list load after a change
// costs one small revision check instead of a walk of every flag.
//
// Lifecycle: walk the list once (stale pages, served from the gateway's
// replica), load the index at the lowest revision any page reported, then
// stream from that revision (Last-Event-ID): the gateway replays what came
// after it, from memory or from the cluster, without gaps, or answers
// `reset` when it cannot (then we walk again). A dropped stream resumes with
// the last event id, with exponential backoff.
//
// Token: the dashboard's own (FLAGRAFT_DASHBOARD_FEED_TOKEN, a reader is
// enough), never a signed-in user's: a user's token would keep reading after
// they signed out. If the gateway refuses it (revoked, misconfigured), the
// feed stops, list loads walk every page, and the next load tries again.
// Every list request still checks the user's own token (list-cache.ts).
import type { StoredFlag } from '@flagraft/flag-model';
import { GatewayClient, MAX_LIST_PAGES } from './gateway';
import { FlagIndex, type FeedEvent } from './flag-index';
import { log } from './log';

/** Largest SSE frame accepted from the gateway, in characters (a flag is at most 512 KiB). */
export const MAX_FEED_FRAME_CHARS = 2 * 1024 * 1024;
/** A stream silent this long (ms) is dead: the gateway sends a heartbeat every 15 s. */
export const FEED_IDLE_TIMEOUT_MS = 45_000;
/** Reconnect backoff bounds, in ms. */
export const FEED_MIN_BACKOFF_MS = 250;
export const FEED_MAX_BACKOFF_MS = 10_000;

export interface SseFrame {
  event: string;
  data: string;
  id?: string;
}

/** Incremental text/event-stream parser (the subset the gateway sends: id, event, data, comments). */
export class SseParser {
  private buf = '';
  private frame: { event: string; data: string[]; id?: string; chars: number } = { event: 'message', data: [], chars: 0 };
  constructor(private readonly onFrame: (f: SseFrame) => void) {}

  push(text: string): void {
    this.buf += text;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      this.line(line);
    }
    if (this.buf.length + this.frame.chars > MAX_FEED_FRAME_CHARS) throw new Error(`change stream frame over ${MAX_FEED_FRAME_CHARS} characters`);
  }

  private line(line: string): void {
    if (line === '') {
      const f = this.frame;
      this.frame = { event: 'message', data: [], chars: 0 };
      if (f.data.length) this.onFrame({ event: f.event, data: f.data.join('\n'), id: f.id });
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') {
      this.frame.data.push(value);
      this.frame.chars += value.length;
    } else if (field === 'event') this.frame.event = value;
    else if (field === 'id') this.frame.id = value;
  }
}

/** Checks the shape of a flag/segment change event from the stream; undefined if malformed. */
export function asFeedEvent(raw: unknown): FeedEvent | undefined {
  const e = raw as Record<string, unknown>;
  if (!e || typeof e !== 'object' || typeof e.key !== 'string' || !Number.isInteger(e.revision) || (e.revision as number) < 1) return undefined;
  if (e.kind === 'segment') return e.op === 'put' || e.op === 'delete' ? (e as unknown as FeedEvent) : undefined;
  if (e.kind !== 'flag') return undefined;
  if (e.op === 'delete') return e as unknown as FeedEvent;
  const f = e.flag as StoredFlag | undefined;
  if (e.op === 'put' && f && typeof f === 'object' && f.flag?.key === e.key && Number.isInteger(f.modRevision)) return e as unknown as FeedEvent;
  return undefined;
}

export type FeedState = 'idle' | 'loading' | 'streaming' | 'reconnecting';

export class ListFeed {
  readonly index = new FlagIndex();
  state: FeedState = 'idle';
  private token: string | undefined;
  private lastId = '';
  /** The current attempt got the stream open (200). */
  private opened = false;
  private abort: AbortController | undefined;
  private closed = false;
  private waiters = new Set<{ revision: number; done: (ok: boolean) => void }>();

  constructor(
    private readonly gatewayUrl: string,
    private readonly timeoutMs: number,
  ) {}

  /** Starts the feed with the dashboard's token if it is not running. */
  use(token: string): void {
    if (this.closed) return;
    if (!this.token) this.token = token;
    if (this.state === 'idle') void this.run();
  }

  /** Resolves true once the index holds every change up to `revision`, false after `ms`. */
  waitFor(revision: number, ms: number): Promise<boolean> {
    if (this.index.valid && this.index.revision >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        revision,
        done: (ok: boolean) => {
          clearTimeout(t);
          this.waiters.delete(w);
          resolve(ok);
        },
      };
      const t = setTimeout(() => w.done(false), ms);
      this.waiters.add(w);
    });
  }

  close(): void {
    this.closed = true;
    this.abort?.abort();
    for (const w of [...this.waiters]) w.done(false);
  }

  private wake(): void {
    if (!this.index.valid) return;
    for (const w of [...this.waiters]) if (this.index.revision >= w.revision) w.done(true);
  }

  private async run(): Promise<void> {
    let backoff = FEED_MIN_BACKOFF_MS;
    while (!this.closed && this.token) {
      const token = this.token;
      this.opened = false;
      try {
        if (!this.index.valid) {
          this.state = 'loading';
          await this.reload(token);
        }
        this.state = 'streaming';
        await this.stream(token);
      } catch (err) {
        if (this.closed) break;
        const status = (err as { status?: number }).status;
        if (status === 401 || status === 403) {
          // Revoked or wrong: list loads walk every page until the next one retries.
          log('error', 'the gateway refused FLAGRAFT_DASHBOARD_FEED_TOKEN; flag lists are read page by page', { status });
          this.token = undefined;
          break;
        }
        // A reset is the gateway's normal answer when it cannot replay (compaction, restore): not a warning.
        log(this.index.valid ? 'warn' : 'info', 'list feed interrupted', { err: (err as Error).message, revision: this.index.revision, reason: this.index.invalidReason || undefined });
      }
      if (this.closed) break;
      this.state = 'reconnecting';
      // A stream that was open counts as success: the next attempt starts from the shortest wait.
      if (this.opened) backoff = FEED_MIN_BACKOFF_MS;
      await new Promise((r) => setTimeout(r, backoff * (0.5 + Math.random() / 2)));
      backoff = Math.min(FEED_MAX_BACKOFF_MS, backoff * 2);
    }
    this.state = 'idle';
  }

  /** Walks every page and loads the index at the lowest page revision (later pages may be newer; events after it replay). */
  private async reload(token: string): Promise<void> {
    const gw = new GatewayClient(this.gatewayUrl, token, this.timeoutMs);
    const flags: StoredFlag[] = [];
    let low = Infinity;
    let pageToken: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const p = await gw.listFlagsPage({ pageToken, stale: true });
      if (p.revision === undefined) throw new Error('the gateway list did not report a revision');
      flags.push(...p.flags);
      low = Math.min(low, p.revision);
      if (!p.nextPageToken) break;
      pageToken = p.nextPageToken;
    }
    this.index.load(flags, low);
    this.lastId = String(low);
    log('info', 'list feed loaded', { flags: flags.length, revision: low });
    this.wake();
  }

  private async stream(token: string): Promise<void> {
    const ac = new AbortController();
    this.abort = ac;
    let idle: NodeJS.Timeout | undefined;
    const poke = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ac.abort(new Error(`change stream silent for ${FEED_IDLE_TIMEOUT_MS} ms`)), FEED_IDLE_TIMEOUT_MS);
    };
    try {
      poke();
      const res = await fetch(`${this.gatewayUrl}/api/v1/stream`, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'last-event-id': this.lastId },
        signal: ac.signal,
      });
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw Object.assign(new Error(`change stream answered ${res.status}`), { status: res.status });
      }
      this.opened = true;
      const parser = new SseParser((f) => this.onFrame(f, ac));
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        poke();
        parser.push(decoder.decode(chunk, { stream: true }));
        if (ac.signal.aborted) break;
      }
    } catch (err) {
      if (ac.signal.aborted && !this.closed && ac.signal.reason instanceof Error) throw ac.signal.reason;
      throw err;
    } finally {
      clearTimeout(idle);
      ac.abort();
    }
    throw new Error('change stream ended');
  }

  private onFrame(f: SseFrame, ac: AbortController): void {
    if (f.event === 'ready') return;
    if (f.event === 'reset') {
      // The gateway cannot replay from our position (compacted, or its replica
      // reloaded, or a restore): walk again.
      this.index.invalidate(`reset: ${f.data.slice(0, 200)}`);
      ac.abort(new Error('change stream reset; reloading the list'));
      return;
    }
    let e: FeedEvent | undefined;
    try {
      e = asFeedEvent(JSON.parse(f.data));
    } catch {
      e = undefined;
    }
    if (!e) {
      this.index.invalidate('malformed change event');
      ac.abort(new Error(`malformed change event: ${f.data.slice(0, 200)}`));
      return;
    }
    if (f.id) this.lastId = f.id;
    // "R" ends revision R; "R:i" is one of several events of revision R.
    this.index.apply(e, f.id !== undefined && !f.id.includes(':'));
    this.wake();
  }
}

const feeds = new Map<string, ListFeed>();

export function feedFor(gatewayUrl: string, timeoutMs: number): ListFeed {
  let f = feeds.get(gatewayUrl);
  if (!f) {
    f = new ListFeed(gatewayUrl, timeoutMs);
    feeds.set(gatewayUrl, f);
  }
  return f;
}

export function closeFeeds(): void {
  for (const f of feeds.values()) f.close();
  feeds.clear();
}
