// FlagraftProvider: an OpenFeature server provider that evaluates in-process.
//
//   initialize   -> one snapshot of the flags the token may see (or the cache file), then the change stream
//   evaluations  -> @flagraft/flag-model on the local copy: no network, microseconds
//   events       -> PROVIDER_CONFIGURATION_CHANGED {flagsChanged} per applied revision (or reload),
//                   PROVIDER_STALE when the stream has been down staleAfterMs, PROVIDER_READY when it is back,
//                   PROVIDER_ERROR on refusals retrying cannot fix (bad token, role, memory bound)
//
// Evaluation keeps working on the last copy whatever happens to the gateway,
// the cluster or the network; reconnects back off and resume from the last
// applied event, so every revision is applied in order, or a reload happens.
import type { EvaluationContext as OFContext, JsonValue, Logger, Provider, ResolutionDetails } from '@openfeature/server-sdk';
import { OpenFeatureEventEmitter, ProviderEvents } from '@openfeature/server-sdk';
import { KEY_PATTERN, LIMITS, type EvaluationContext } from '@flagraft/flag-model';
import { toResolution } from '../shared/details.js';
import { cacheSource, readCache, writeCache } from './cache-file.js';
import { FlagStore } from './store.js';
import { SyncEngine, type SyncOptions } from './sync.js';
import { RelayTransport, SseTransport, type RelayOptions } from './transport.js';

export interface FlagraftProviderOptions {
  /** Gateway or Caddy base URL (the part before /api), e.g. https://flags.example.com. */
  url: string;
  /** A token with the reader role (the provider holds the rules, so it must be allowed to read them). */
  token: string;
  /** Only flags whose key starts with this (memory for very large flag sets). */
  prefix?: string;
  /**
   * The environment whose flags are evaluated (absent: the default one). A
   * token limited to environments must name one of its own.
   */
  environment?: string;
  /** 'sse' (default): the gateway's change stream. 'relay': the notification relay's WebSocket (needs `relay`). */
  transport?: 'sse' | 'relay';
  relay?: RelayOptions;
  /** PROVIDER_STALE once the stream has been down this long, ms (default 5 000). */
  staleAfterMs?: number;
  /** initialize() rejects after this long without a snapshot (and without a cache), ms (default 30 000); syncing goes on. */
  initTimeoutMs?: number;
  /** Persistent cache: evaluate the last synced flags at start, before the gateway answers. */
  cacheFile?: string;
  /** Cache writes wait for changes to settle this long, ms (default 1 000). */
  cacheWriteDelayMs?: number;
  /** One snapshot request, ms (default 10 000). */
  requestTimeoutMs?: number;
  /** Reconnect backoff, ms (defaults 100 and 5 000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A stream silent this long is considered dead, ms (default 45 000: three gateway heartbeats). */
  idleTimeoutMs?: number;
  /** Largest snapshot (and cache file) accepted, bytes (default 256 MiB): the provider's memory bound. */
  maxSnapshotBytes?: number;
  fetch?: typeof fetch;
  logger?: Pick<Logger, 'warn' | 'error'>;
}

export const DEFAULT_MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024;

export class FlagraftProvider implements Provider {
  readonly metadata = { name: 'flagraft' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly store = new FlagStore();
  private readonly sync: SyncEngine;
  private readonly opts: FlagraftProviderOptions & { staleAfterMs: number };
  private readonly source: string;
  private staleTimer: ReturnType<typeof setTimeout> | undefined;
  private stale = false;
  private initialized = false;
  private cacheTimer: ReturnType<typeof setTimeout> | undefined;
  private cacheWrite: Promise<void> | undefined;

  constructor(options: FlagraftProviderOptions) {
    const url = options.url.replace(/\/+$/, '');
    if (!/^https?:\/\//.test(url)) throw new Error(`url: expected http(s)://..., got ${JSON.stringify(options.url)}`);
    if (!options.token) throw new Error('token: required (a reader token)');
    if (options.environment !== undefined && (!KEY_PATTERN.test(options.environment) || options.environment.length > LIMITS.maxKeyChars)) {
      throw new Error(`environment: expected an environment name matching ${KEY_PATTERN.source} (at most ${LIMITS.maxKeyChars} characters), got ${JSON.stringify(options.environment)}`);
    }
    this.opts = { ...options, url, staleAfterMs: options.staleAfterMs ?? 5_000 };
    const syncOpts: SyncOptions = {
      url,
      token: options.token,
      prefix: options.prefix,
      environment: options.environment,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      minBackoffMs: options.minBackoffMs ?? 100,
      maxBackoffMs: options.maxBackoffMs ?? 5_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 45_000,
      maxSnapshotBytes: options.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    };
    const transport = options.transport === 'relay'
      ? new RelayTransport(syncOpts, options.relay ?? (() => { throw new Error('transport relay: set relay.websocketUrl'); })())
      : new SseTransport(syncOpts);
    this.source = cacheSource(url, options.prefix, options.environment);
    this.sync = new SyncEngine(syncOpts, this.store, transport, {
      onSnapshot: (keys, revision) => this.changed(keys, revision, 'reloaded'),
      onChanges: (keys, revision) => this.changed(keys, revision, 'changed'),
      onConnected: () => this.connected(),
      onDisconnected: (reason) => this.disconnected(reason),
      onFatal: (err) => {
        this.opts.logger?.error(`flagraft provider: ${err.message}`);
        if (this.initialized) this.events.emit(ProviderEvents.Error, { message: err.message });
      },
    });
  }

  /** The revision of the configuration held. */
  get revision(): number {
    return this.store.revision;
  }

  /** Reconnects and reloads so far (diagnostics). */
  get stats(): { reconnects: number; reloads: number; outOfOrder: number; flags: number } {
    return { reconnects: this.sync.reconnects, reloads: this.sync.reloads, outOfOrder: this.sync.outOfOrder, flags: this.store.size };
  }

  async initialize(): Promise<void> {
    if (this.opts.cacheFile) {
      const { snapshot, problem } = await readCache(this.opts.cacheFile, this.source, this.opts.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES);
      if (problem) this.opts.logger?.warn(`flagraft provider: cache not used: ${problem}`);
      if (snapshot) {
        this.store.install(snapshot);
        this.sync.resumeFrom(snapshot.revision);
        this.initialized = true;
        // Until the stream connects, the cache may be old: STALE after staleAfterMs, like a broken stream.
        this.disconnected('started from the cache file');
        return;
      }
    }
    const timeoutMs = this.opts.initTimeoutMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.sync.start(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no snapshot from ${this.opts.url} within ${timeoutMs} ms; still trying`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.initialized = true;
    }
  }

  async onClose(): Promise<void> {
    clearTimeout(this.staleTimer);
    await this.sync.close();
    if (this.cacheTimer) {
      clearTimeout(this.cacheTimer);
      this.cacheTimer = undefined;
      await this.saveCache();
    }
    await this.cacheWrite;
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: OFContext): Promise<ResolutionDetails<boolean>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context));
  }
  resolveStringEvaluation(flagKey: string, defaultValue: string, context: OFContext): Promise<ResolutionDetails<string>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context));
  }
  resolveNumberEvaluation(flagKey: string, defaultValue: number, context: OFContext): Promise<ResolutionDetails<number>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context));
  }
  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: OFContext): Promise<ResolutionDetails<T>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context));
  }

  /** Synchronous evaluation (what the resolve* methods wrap). */
  resolve<T>(flagKey: string, defaultValue: T, context: OFContext): ResolutionDetails<T> {
    return toResolution(this.store.evaluate(flagKey, context as EvaluationContext), defaultValue) as ResolutionDetails<T>;
  }

  private changed(keys: string[], revision: number, what: string): void {
    this.scheduleCacheWrite();
    if (!this.initialized || keys.length === 0) return;
    this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: keys, message: `${what} at revision ${revision}`, metadata: { revision } });
  }

  private connected(): void {
    clearTimeout(this.staleTimer);
    this.staleTimer = undefined;
    if (this.stale) {
      this.stale = false;
      this.events.emit(ProviderEvents.Ready, { message: `stream reconnected at revision ${this.store.revision}` });
    }
  }

  private disconnected(reason: string): void {
    if (this.staleTimer || this.stale) return;
    this.staleTimer = setTimeout(() => {
      this.staleTimer = undefined;
      this.stale = true;
      this.events.emit(ProviderEvents.Stale, { message: `no change stream for ${this.opts.staleAfterMs} ms (${reason}); evaluating revision ${this.store.revision}` });
    }, this.opts.staleAfterMs);
    (this.staleTimer as { unref?: () => void }).unref?.();
  }

  private scheduleCacheWrite(): void {
    if (!this.opts.cacheFile || this.cacheTimer) return;
    this.cacheTimer = setTimeout(() => {
      this.cacheTimer = undefined;
      void this.saveCache();
    }, this.opts.cacheWriteDelayMs ?? 1_000);
    (this.cacheTimer as { unref?: () => void }).unref?.();
  }

  private saveCache(): Promise<void> {
    const file = this.opts.cacheFile!;
    const previous = this.cacheWrite ?? Promise.resolve();
    this.cacheWrite = previous.then(() => writeCache(file, this.source, this.store.snapshot())).catch((err: Error) => {
      this.opts.logger?.warn(`flagraft provider: cache not written: ${err.message}`);
    });
    return this.cacheWrite;
  }
}
