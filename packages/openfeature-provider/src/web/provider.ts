// FlagraftWebProvider: an OpenFeature web provider (static-context paradigm).
//
// - initialize / onContextChange: one OFREP bulk evaluation for the user's context;
// - the bulk answer advertises the gateway's event stream with a short-lived
//   stream ticket in its URL (EventSource cannot send the token), which we open;
// - each event names the revision and the flags whose answers may have changed:
//   only those are re-evaluated (single-flag OFREP, `flagConfigEtag` = the
//   revision, so a gateway that has not applied it yet waits for it), then
//   PROVIDER_CONFIGURATION_CHANGED {flagsChanged} lists the flags whose answer
//   for this user actually changed. An event without a list (a reload, too many
//   keys) or more than maxSingleRefetches keys refetches the bulk answer instead;
// - no polling: a broken stream is reopened by EventSource (Last-Event-ID
//   resume); one that cannot be reopened (expired ticket, gateway restarted
//   elsewhere) is replaced after a backoff by the URL of a fresh bulk answer.
//   After every reconnect the bulk answer is revalidated (If-None-Match: a 304
//   when nothing changed), as OFREP ADR-0008 asks.
import { OpenFeatureEventEmitter, ProviderEvents, type EvaluationContext, type JsonValue, type Provider, type ResolutionDetails } from '@openfeature/web-sdk';
import { toResolution, type Answer } from '../shared/details.js';

export interface FlagraftWebProviderOptions {
  /** Gateway or Caddy base URL (the part before /ofrep). */
  url: string;
  /** A token for evaluation (the evaluator role is enough; it is visible to users of the page). */
  token: string;
  /** Changed flags re-evaluated one by one at most; more refetch the bulk answer (default 20). */
  maxSingleRefetches?: number;
  /** Backoff before replacing a stream that cannot be reopened, ms (defaults 500 .. 30 000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** PROVIDER_STALE after the stream has been broken this long, ms (default 5 000). */
  staleAfterMs?: number;
  fetch?: typeof fetch;
  /** EventSource implementation (default: the browser's). */
  EventSource?: typeof EventSource;
}

interface BulkAnswer {
  flags: Answer[];
  metadata?: { revision?: number };
  eventStreams?: { type: string; url?: string }[];
}

export class FlagraftWebProvider implements Provider {
  readonly metadata = { name: 'flagraft-web' } as const;
  readonly runsOn = 'client' as const;
  readonly events = new OpenFeatureEventEmitter();
  private answers = new Map<string, Answer>();
  private context: EvaluationContext = {};
  /** Bumped on every context change: answers for an older context are dropped. */
  private generation = 0;
  private etag: string | undefined;
  private streamUrl: string | undefined;
  private source: EventSource | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private staleTimer: ReturnType<typeof setTimeout> | undefined;
  private stale = false;
  private backoffMs: number;
  private closed = false;
  /** Serialises refreshes so answers are applied in the order events came. */
  private queue: Promise<void> = Promise.resolve();
  private readonly fetchImpl: typeof fetch;
  private readonly base: string;
  /** Requests made, by kind (tests and diagnostics: no polling means these stay flat while nothing changes). */
  readonly requests = { bulk: 0, single: 0, streams: 0 };

  constructor(private readonly opts: FlagraftWebProviderOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.backoffMs = opts.minBackoffMs ?? 500;
  }

  async initialize(context?: EvaluationContext): Promise<void> {
    this.context = context ?? {};
    await this.refetchAll(undefined, false);
    this.openStream();
  }

  async onContextChange(_old: EvaluationContext, next: EvaluationContext): Promise<void> {
    this.context = next;
    this.generation++;
    this.etag = undefined; // the ETag covers the context
    await this.enqueue(() => this.refetchAll(undefined, false));
  }

  onClose(): Promise<void> {
    this.closed = true;
    this.source?.close();
    clearTimeout(this.retryTimer);
    clearTimeout(this.staleTimer);
    return Promise.resolve();
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean): ResolutionDetails<boolean> {
    return this.resolve(flagKey, defaultValue);
  }
  resolveStringEvaluation(flagKey: string, defaultValue: string): ResolutionDetails<string> {
    return this.resolve(flagKey, defaultValue);
  }
  resolveNumberEvaluation(flagKey: string, defaultValue: number): ResolutionDetails<number> {
    return this.resolve(flagKey, defaultValue);
  }
  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T): ResolutionDetails<T> {
    return this.resolve(flagKey, defaultValue);
  }

  private resolve<T>(flagKey: string, defaultValue: T): ResolutionDetails<T> {
    const a = this.answers.get(flagKey);
    if (!a) return { value: defaultValue, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' as never, errorMessage: `flag ${flagKey} not found` };
    return toResolution(a, defaultValue) as ResolutionDetails<T>;
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(job, job);
    return this.queue;
  }

  private headers(): Record<string, string> {
    return { 'content-type': 'application/json', authorization: `Bearer ${this.opts.token}` };
  }

  /** The bulk answer; emits CONFIGURATION_CHANGED for the flags whose answer changed (when `emit`). */
  private async refetchAll(revision: number | undefined, emit: boolean): Promise<void> {
    const gen = this.generation;
    const q = revision !== undefined ? `?flagConfigEtag=${revision}` : '';
    const headers = this.headers();
    if (this.etag) headers['if-none-match'] = this.etag;
    this.requests.bulk++;
    const res = await this.fetchImpl(`${this.base}/ofrep/v1/evaluate/flags${q}`, { method: 'POST', headers, body: JSON.stringify({ context: this.context }) });
    if (res.status === 304) return;
    if (!res.ok) throw new Error(`bulk evaluation: HTTP ${res.status}`);
    const body = (await res.json()) as BulkAnswer;
    if (gen !== this.generation) return;
    this.etag = res.headers.get('etag') ?? undefined;
    const next = new Map(body.flags.map((f) => [f.key, f]));
    const changed = diffKeys(this.answers, next);
    this.answers = next;
    this.streamUrl = body.eventStreams?.find((s) => s.type === 'sse' && s.url)?.url ?? this.streamUrl;
    if (emit && changed.length > 0) this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changed, metadata: revision !== undefined ? { revision } : undefined });
  }

  /** Re-evaluates the listed flags only. */
  private async refetchSome(keys: string[], revision: number): Promise<void> {
    const gen = this.generation;
    const body = JSON.stringify({ context: this.context });
    const got = await Promise.all(keys.map(async (key) => {
      this.requests.single++;
      const res = await this.fetchImpl(`${this.base}/ofrep/v1/evaluate/flags/${encodeURIComponent(key)}?flagConfigEtag=${revision}`, { method: 'POST', headers: this.headers(), body });
      if (res.status === 404) return [key, undefined] as const; // deleted
      const a = (await res.json()) as Answer;
      if (!res.ok && a?.errorCode === undefined) throw new Error(`evaluation of ${key}: HTTP ${res.status}`);
      return [key, { ...a, key }] as const;
    }));
    if (gen !== this.generation) return;
    const changed: string[] = [];
    for (const [key, a] of got) {
      const before = this.answers.get(key);
      if (a === undefined) {
        if (this.answers.delete(key)) changed.push(key);
      } else {
        if (!before || JSON.stringify(before) !== JSON.stringify(a)) changed.push(key);
        this.answers.set(key, a);
      }
    }
    this.etag = undefined; // the bulk ETag no longer describes what we hold
    if (changed.length > 0) this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changed, metadata: { revision } });
  }

  private openStream(): void {
    if (this.closed || !this.streamUrl) return;
    const ES = this.opts.EventSource ?? globalThis.EventSource;
    if (!ES) return;
    this.source?.close();
    this.requests.streams++;
    const es = new ES(this.streamUrl);
    this.source = es;
    let opened = false;
    es.onopen = () => {
      this.backoffMs = this.opts.minBackoffMs ?? 500;
      clearTimeout(this.staleTimer);
      this.staleTimer = undefined;
      if (opened || this.stale) {
        // A reconnect: revalidate what we hold (304 when nothing changed).
        void this.enqueue(() => this.refetchAll(undefined, true)).catch(() => {});
      }
      opened = true;
      if (this.stale) {
        this.stale = false;
        this.events.emit(ProviderEvents.Ready, { message: 'event stream reconnected' });
      }
    };
    es.onmessage = (m: MessageEvent) => {
      let data: { type?: string; etag?: string; flags?: unknown };
      try {
        data = JSON.parse(String(m.data));
      } catch {
        return;
      }
      if (data.type !== 'refetchEvaluation') return;
      const revision = Number(data.etag);
      const keys = Array.isArray(data.flags) && data.flags.every((k) => typeof k === 'string') ? (data.flags as string[]) : undefined;
      const max = this.opts.maxSingleRefetches ?? 20;
      void this.enqueue(() =>
        keys !== undefined && keys.length <= max && Number.isFinite(revision)
          ? this.refetchSome(keys, revision)
          : this.refetchAll(Number.isFinite(revision) ? revision : undefined, true),
      ).catch((err: Error) => this.events.emit(ProviderEvents.Stale, { message: `refresh failed: ${err.message}` }));
    };
    es.onerror = () => {
      this.markBroken();
      // CONNECTING: the browser retries by itself (with Last-Event-ID). CLOSED: it gave up
      // (e.g. 401 for an expired ticket): get a fresh URL from a new bulk answer after a backoff.
      if (es.readyState !== 2) return;
      clearTimeout(this.retryTimer);
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 30_000);
      this.retryTimer = setTimeout(() => {
        this.etag = undefined; // a 200 carries the current stream URL
        void this.enqueue(() => this.refetchAll(undefined, true)).then(() => this.openStream(), () => es.onerror?.(new Event('error')));
      }, delay);
    };
  }

  private markBroken(): void {
    if (this.stale || this.staleTimer) return;
    this.staleTimer = setTimeout(() => {
      this.staleTimer = undefined;
      this.stale = true;
      this.events.emit(ProviderEvents.Stale, { message: 'the event stream is down; answers may be outdated' });
    }, this.opts.staleAfterMs ?? 5_000);
  }
}

function diffKeys(before: Map<string, Answer>, after: Map<string, Answer>): string[] {
  const out: string[] = [];
  for (const [k, a] of after) {
    const b = before.get(k);
    if (!b || JSON.stringify(a) !== JSON.stringify(b)) out.push(k);
  }
  for (const k of before.keys()) if (!after.has(k)) out.push(k);
  return out;
}
