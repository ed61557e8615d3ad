// The gateway's in-memory replica of every flag and segment. Evaluation reads
// only this, never the cluster: it is loaded with one consistent SnapshotAll
// and kept current by the cluster Watch (the client resumes by revision after
// failures; on COMPACTED we reload the whole snapshot). Subscribers (SSE
// streams) receive applied changes grouped by revision, with each event's
// JSON serialised once for all of them.
import type { EvaluationResult, FlagDefinition, SegmentDefinition, StoredEnvironment, StoredFlag, StoredSegment } from '@flagraft/flag-model';
import { compileFlag, type CompiledFlag } from '@flagraft/flag-model';
import { EventRing, ReplicaEvent } from './event-ring.js';
import type { Logger } from './log.js';
import type { GatewayMetrics } from './metrics.js';
import type { AnyChangeEvent, ChangeEvent, ClusterPort, WatchHandle } from './types.js';
import { isClusterError } from './problem.js';

export { ReplicaEvent };

/**
 * A flag prepared for the evaluation hot path. Its compiled form and, for a
 * flag without rules, its fixed result are made on first use, not when the
 * change arrives: under a burst of writes most revisions of a flag are
 * replaced before anyone evaluates them.
 */
export class ReplicaFlag {
  private compiledForm: CompiledFlag | undefined;
  private fixedResult: { result: EvaluationResult } | null | undefined;
  /**
   * OFREP success bodies by (reason, variant), filled by the evaluation path:
   * a success answer's JSON depends only on the flag (variant values and
   * metadata) and which variant was picked for what reason, never on the
   * context, so it is serialised once per revision. Keyed by reason, then
   * variant (no key string built per evaluation). Bounded by reasons x
   * variants of this flag; dropped with the entry when the flag changes.
   */
  answers?: Map<string, Map<string | undefined, { body: string; counter: { value: number } }>>;

  constructor(
    readonly stored: StoredFlag,
    private readonly segmentLookup: (name: string) => SegmentDefinition | undefined,
  ) {}

  get flag(): FlagDefinition {
    return this.stored.flag;
  }

  /** flag-model's compiled form: conditions and rollout hashing prepared once per revision. */
  get compiled(): CompiledFlag {
    return (this.compiledForm ??= compileFlag(this.stored.flag));
  }

  /** Flags without rules evaluate the same for every context: their result, computed once per revision. */
  get fixed(): { result: EvaluationResult } | undefined {
    if (this.fixedResult === undefined) {
      this.fixedResult = null;
      if (this.stored.flag.rules.length === 0) {
        const result = this.compiled.evaluate({}, this.segmentLookup, this.stored.flag.key);
        if (result.errorCode === undefined) this.fixedResult = { result };
      }
    }
    return this.fixedResult ?? undefined;
  }
}

export interface ReplicaSubscriber<E extends AnyChangeEvent = ChangeEvent> {
  onEvents(events: ReplicaEvent<E>[], revision: number): void;
  /** The replica reloaded a snapshot at `revision`: events between may be missing. */
  onReset(revision: number, reason: string): void;
}

export interface ReplicaOptions {
  cluster: ClusterPort;
  log: Logger;
  metrics: GatewayMetrics;
  /** Events kept for resume (events). */
  replayEvents: number;
  /** Backoff between failed snapshot loads, ms. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class Replica {
  revision = 0;
  loaded = false;
  /** The default environment's flags: what the legacy endpoints, OFREP without a scoped token, and old streams read. */
  readonly flags = new Map<string, ReplicaFlag>();
  readonly segments = new Map<string, StoredSegment>();
  readonly segmentLookup = (name: string): SegmentDefinition | undefined => this.segments.get(name)?.segment;
  /** Every environment (empty on a cluster from before environments: then there is only the default one). */
  readonly environments = new Map<string, StoredEnvironment>();
  /** The other environments' flags, by environment name. */
  private readonly envFlags = new Map<string, Map<string, ReplicaFlag>>();
  /** Name of the default environment (undefined until a cluster with environments answered). */
  defaultEnvironment: string | undefined;

  private readonly opts: Required<ReplicaOptions>;
  private readonly subscribers = new Set<ReplicaSubscriber>();
  private readonly allSubscribers = new Set<ReplicaSubscriber<AnyChangeEvent>>();
  /** The legacy feed (default environment's flags, segments): ids exactly as before environments. */
  private readonly legacyRing: EventRing<ChangeEvent>;
  /** The feed of every environment (allEnvironments watch). */
  private readonly allRing: EventRing<AnyChangeEvent>;
  /** Snapshot revisions: events at or below them are already in the state (legacy: below, as always). */
  private loadedAt = { legacy: 0, env: new Map<string, number>() };
  /** Whether the cluster has environments (propose/query): the watch then asks for every environment. */
  private multi = false;
  private pending: AnyChangeEvent[] = [];
  private flushScheduled = false;
  private waiters: { revision: number; resolve: (ok: boolean) => void; deadline: number }[] = [];
  /**
   * One timer for every waiter's timeout (armed for the earliest deadline),
   * not one per waiter: a write through the gateway waits here, so at
   * thousands of writes per second a timer each was measurable.
   */
  private waiterTimer: NodeJS.Timeout | undefined;
  private waiterTimerAt = Infinity;
  private watch: WatchHandle | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private runPromise: Promise<void> | undefined;
  /** Revision the watch last reported as applied cluster-wide (progress), for lag. */
  watchRevision = 0;

  constructor(opts: ReplicaOptions) {
    this.opts = { minBackoffMs: 100, maxBackoffMs: 5_000, ...opts };
    this.legacyRing = new EventRing(this.opts.replayEvents);
    this.allRing = new EventRing(this.opts.replayEvents);
    opts.metrics.followReplica(this);
  }

  start(): void {
    this.runPromise ??= this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watch?.close();
    this.watch = undefined;
    this.wake?.();
    const waiters = this.waiters;
    this.waiters = [];
    this.disarmWaiterTimer();
    for (const w of waiters) w.resolve(false);
    await this.runPromise;
  }

  /** The legacy feed (the default environment's flags and segments). */
  subscribe(sub: ReplicaSubscriber): () => void {
    this.subscribers.add(sub);
    return () => this.subscribers.delete(sub);
  }

  /** The feed of every environment: flags with `env`, and environment / change request / schedule records. */
  subscribeAll(sub: ReplicaSubscriber<AnyChangeEvent>): () => void {
    this.allSubscribers.add(sub);
    return () => this.allSubscribers.delete(sub);
  }

  /**
   * Events after a stream position, from memory. `index` undefined means all of
   * `revision` was seen. Undefined when the position is older than what we keep.
   */
  eventsAfter(revision: number, index?: number): ReplicaEvent[] | undefined {
    return this.legacyRing.after(revision, index);
  }

  /** eventsAfter on the feed of every environment. */
  allEventsAfter(revision: number, index?: number): ReplicaEvent<AnyChangeEvent>[] | undefined {
    return this.allRing.after(revision, index);
  }

  /** The name an absent environment means: the default one. */
  resolveEnvironment(env: string | undefined): string {
    return env ?? this.defaultEnvironment ?? 'production';
  }

  /** An environment's flags; undefined for an environment this replica does not know. */
  flagsIn(env: string | undefined): Map<string, ReplicaFlag> | undefined {
    if (env === undefined || env === this.resolveEnvironment(undefined)) return this.flags;
    if (!this.environments.has(env)) return undefined;
    let m = this.envFlags.get(env);
    if (!m) this.envFlags.set(env, (m = new Map()));
    return m;
  }

  /** Keys of the flags whose rules use a segment (a scan: segment changes are rare). */
  flagsUsingSegment(name: string, env?: string): string[] {
    const out: string[] = [];
    for (const [key, entry] of this.flagsIn(env) ?? this.flags) {
      if (entry.flag.rules.some((r) => r.segments?.includes(name) || r.excludeSegments?.includes(name))) out.push(key);
    }
    return out;
  }

  /** Resolves true once the replica has applied `revision`, false after timeoutMs or on close. */
  waitFor(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.revision >= revision) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const deadline = performance.now() + timeoutMs;
      this.waiters.push({ revision, resolve, deadline });
      if (deadline < this.waiterTimerAt) this.armWaiterTimer(deadline);
    });
  }

  private armWaiterTimer(at: number): void {
    clearTimeout(this.waiterTimer);
    this.waiterTimerAt = at;
    this.waiterTimer = setTimeout(() => this.expireWaiters(), Math.max(0, at - performance.now()) + 1);
  }

  private disarmWaiterTimer(): void {
    clearTimeout(this.waiterTimer);
    this.waiterTimer = undefined;
    this.waiterTimerAt = Infinity;
  }

  /** The waiter timer fired: time out every waiter past its deadline, re-arm for the next. */
  private expireWaiters(): void {
    this.waiterTimer = undefined;
    this.waiterTimerAt = Infinity;
    const now = performance.now();
    const still: typeof this.waiters = [];
    const expired: typeof this.waiters = [];
    let next = Infinity;
    for (const w of this.waiters) {
      if (w.deadline <= now) expired.push(w);
      else {
        still.push(w);
        if (w.deadline < next) next = w.deadline;
      }
    }
    this.waiters = still;
    if (next < Infinity) this.armWaiterTimer(next);
    for (const w of expired) w.resolve(false);
  }

  private async run(): Promise<void> {
    let backoff = this.opts.minBackoffMs;
    while (!this.closed) {
      try {
        const { cluster } = this.opts;
        const snap = await cluster.snapshotAll();
        // Then the environments and each other environment's flags, each at its
        // own (later) revision: events at or below it are skipped for that
        // environment, so the state converges to the watch's without a gap.
        const environments = cluster.query ? await cluster.query<StoredEnvironment[]>('environments') : [];
        const others: { name: string; revision: number; flags: StoredFlag[] }[] = [];
        for (const e of environments) {
          if (e.isDefault) continue;
          const s = await cluster.snapshotAll({ environment: e.environment.name });
          others.push({ name: e.environment.name, revision: s.revision, flags: s.flags });
        }
        if (this.closed) return;
        const wasLoaded = this.loaded;
        this.multi = cluster.query !== undefined && cluster.propose !== undefined;
        this.install(snap.revision, snap.flags, snap.segments, environments, others);
        this.opts.metrics.replicaReloads.inc();
        this.opts.log.log('info', 'replica loaded', { revision: snap.revision, flags: snap.flags.length, segments: snap.segments.length });
        if (wasLoaded) for (const s of [...this.subscribers, ...this.allSubscribers]) s.onReset(snap.revision, 'reloaded');
        backoff = this.opts.minBackoffMs;
        const reason = await this.follow(snap.revision);
        if (this.closed) return;
        this.opts.log.log('warn', 'replica reloading', { revision: this.revision, reason });
      } catch (err) {
        if (this.closed) return;
        this.opts.metrics.clusterErrors.inc({ code: isClusterError(err) ? err.code : 'OTHER' });
        this.opts.log.log('warn', 'replica snapshot failed', { error: (err as Error).message, retryInMs: backoff });
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs);
      }
    }
  }

  /** Follows the watch from `fromRevision`; resolves with a reason when a full reload is needed. */
  private follow(fromRevision: number): Promise<string> {
    return new Promise<string>((resolve) => {
      let done = false;
      const finish = (reason: string) => {
        if (done) return;
        done = true;
        this.watch?.close();
        this.watch = undefined;
        this.wake = undefined;
        resolve(reason);
      };
      this.wake = () => finish('closed');
      this.watch = this.opts.cluster.watch({
        fromRevision,
        ...(this.multi ? { allEnvironments: true } : {}),
        onChange: (raw) => {
          const event = toAnyChangeEvent(raw);
          if (!event) {
            this.opts.log.log('error', 'unreadable watch event; reloading', {});
            finish('bad event');
            return;
          }
          this.enqueue(event);
        },
        onProgress: (revision) => {
          this.watchRevision = Math.max(this.watchRevision, revision);
          this.resolveWaiters(revision);
        },
        onCompacted: () => finish('compacted'),
        onError: (err, willRetry) => {
          // The client resumes by itself when it can (willRetry); otherwise the
          // watch has stopped and we start over from a fresh snapshot.
          const message = (err as Error)?.message ?? String(err);
          if (isClusterError(err) && err.code === 'COMPACTED') finish('compacted');
          else if (willRetry === false) finish(`watch stopped: ${message}`);
          else {
            this.opts.metrics.watchReconnects.inc();
            this.opts.log.log('warn', 'watch error; resuming', { error: message });
          }
        },
      });
    });
  }

  private install(revision: number, flags: StoredFlag[], segments: StoredSegment[], environments: StoredEnvironment[], others: { name: string; revision: number; flags: StoredFlag[] }[]): void {
    this.flushPending();
    this.flags.clear();
    this.segments.clear();
    this.environments.clear();
    this.envFlags.clear();
    this.defaultEnvironment = undefined;
    for (const e of environments) {
      this.environments.set(e.environment.name, e);
      if (e.isDefault) this.defaultEnvironment = e.environment.name;
    }
    for (const s of segments) this.segments.set(s.segment.name, s);
    for (const f of flags) this.flags.set(f.flag.key, this.compile(f));
    this.loadedAt = { legacy: revision, env: new Map() };
    let top = revision;
    for (const o of others) {
      const m = new Map<string, ReplicaFlag>();
      for (const f of o.flags) m.set(f.flag.key, this.compile(f));
      this.envFlags.set(o.name, m);
      this.loadedAt.env.set(o.name, o.revision);
      top = Math.max(top, o.revision);
    }
    // The replica's revision is the default environment's snapshot, as before
    // environments: the watch starts there, and events of another environment
    // up to its own snapshot are skipped as held (but still advance it).
    this.revision = revision;
    this.legacyRing.reset(revision);
    this.allRing.reset(top);
    this.loaded = true;
    this.opts.metrics.replicaLoaded.set(1);
    this.resolveWaiters(revision);
  }

  private compile(stored: StoredFlag): ReplicaFlag {
    return new ReplicaFlag(stored, this.segmentLookup);
  }

  /** Whether the state loaded already holds this event (it was part of a snapshot). */
  private alreadyHeld(event: AnyChangeEvent): boolean {
    if (event.kind === 'segment' || (event.kind === 'flag' && event.env === undefined)) return event.revision < this.loadedAt.legacy;
    if (event.kind === 'flag') return event.revision <= (this.loadedAt.env.get(event.env!) ?? 0);
    if (event.kind === 'environment') return event.revision <= (this.environments.get(event.key)?.modRevision ?? 0);
    return false;
  }

  // Events of one revision arrive back to back (one WatchResponse); grouping
  // them per microtask lets us mark the last one of each revision in its id.
  private enqueue(event: AnyChangeEvent): void {
    if (this.alreadyHeld(event)) {
      this.revision = Math.max(this.revision, event.revision);
      return;
    }
    this.apply(event);
    this.pending.push(event);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flushPending());
    }
  }

  private apply(event: AnyChangeEvent): void {
    if (event.kind === 'flag') {
      const map = event.env === undefined ? this.flags : this.envFlagsFor(event.env);
      if (event.op === 'delete' || !event.flag) map.delete(event.key);
      else map.set(event.key, this.compile(event.flag));
    } else if (event.kind === 'segment') {
      if (event.op === 'delete' || !event.segment) this.segments.delete(event.key);
      else this.segments.set(event.key, event.segment);
    } else if (event.kind === 'environment') {
      if (event.op === 'delete' || !event.environment) {
        this.environments.delete(event.key);
        this.envFlags.delete(event.key);
      } else {
        this.environments.set(event.key, event.environment);
        if (event.environment.isDefault) this.defaultEnvironment = event.key;
      }
    }
    this.revision = Math.max(this.revision, event.revision);
  }

  private envFlagsFor(env: string): Map<string, ReplicaFlag> {
    let m = this.envFlags.get(env);
    if (!m) this.envFlags.set(env, (m = new Map()));
    return m;
  }

  private flushPending(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const legacy = batch.filter(isLegacyEvent);
    const out = legacy.length > 0 ? this.legacyRing.push(legacy) : [];
    const all = this.allSubscribers.size > 0 || this.multi ? this.allRing.push(batch) : [];
    this.resolveWaiters(this.revision);
    if (out.length > 0) this.notify(this.subscribers, out);
    if (all.length > 0) this.notify(this.allSubscribers, all);
  }

  private notify<E extends AnyChangeEvent>(subs: Set<ReplicaSubscriber<E>>, events: ReplicaEvent<E>[]): void {
    for (const s of subs) {
      try {
        s.onEvents(events, this.revision);
      } catch (err) {
        this.opts.log.log('error', 'stream subscriber failed', { error: (err as Error).message });
      }
    }
  }

  private resolveWaiters(revision: number): void {
    if (this.waiters.length === 0) return;
    const upTo = Math.min(revision, this.revision);
    const still: typeof this.waiters = [];
    const done: typeof this.waiters = [];
    for (const w of this.waiters) (w.revision <= upTo ? done : still).push(w);
    if (done.length === 0) return;
    this.waiters = still;
    if (still.length === 0) this.disarmWaiterTimer();
    for (const w of done) w.resolve(true);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** OFREP 200 body for a successful evaluation. */
export function ofrepSuccessBody(result: EvaluationResult): Record<string, unknown> {
  const body: Record<string, unknown> = { key: result.key, reason: result.reason };
  if (result.variant !== undefined) body.variant = result.variant;
  if (result.value !== undefined) body.value = result.value;
  if (result.metadata && Object.keys(result.metadata).length > 0) body.metadata = result.metadata;
  return body;
}

/**
 * Accepts either the contract's ChangeEvent or flag-model's Change (before /
 * after, numeric time) and returns a ChangeEvent; undefined if it is neither,
 * or if a put carries no item (the replica then reloads instead of guessing).
 */
export function toChangeEvent(raw: unknown): ChangeEvent | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const c = raw as Record<string, unknown>;
  if ((c.kind !== 'flag' && c.kind !== 'segment') || typeof c.key !== 'string' || (c.op !== 'put' && c.op !== 'delete')) return undefined;
  if (typeof c.revision !== 'number' || !Number.isFinite(c.revision)) return undefined;
  if (isContractEvent(c)) return c as unknown as ChangeEvent;
  const time = typeof c.time === 'number' ? new Date(c.time).toISOString() : typeof c.time === 'string' ? c.time : new Date(0).toISOString();
  const value = 'after' in c ? c.after : c.kind === 'flag' ? c.flag : c.segment;
  const head = { v: 1 as const, revision: c.revision, key: c.key, actor: typeof c.actor === 'string' ? c.actor : '', time };
  if (c.op === 'delete') {
    return c.kind === 'flag' ? { ...head, kind: 'flag', op: 'delete', flag: null } : { ...head, kind: 'segment', op: 'delete', segment: null };
  }
  if (!value || typeof value !== 'object') return undefined;
  return c.kind === 'flag'
    ? { ...head, kind: 'flag', op: 'put', flag: value as StoredFlag }
    : { ...head, kind: 'segment', op: 'put', segment: value as StoredSegment };
}

const RECORD_KINDS = new Set(['environment', 'changeRequest', 'schedule']);

/** Whether an event belongs to the legacy feed: a flag of the default environment, or a segment. */
export function isLegacyEvent(e: AnyChangeEvent): e is ChangeEvent {
  return e.kind === 'segment' || (e.kind === 'flag' && e.env === undefined);
}

/**
 * An event of a watch of every environment: a flag or segment event as
 * toChangeEvent reads it (keeping a flag's `env`), or an environment / change
 * request / schedule record as the node sends it; undefined for anything else.
 */
export function toAnyChangeEvent(raw: unknown): AnyChangeEvent | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const c = raw as Record<string, unknown>;
  if (typeof c.kind === 'string' && RECORD_KINDS.has(c.kind)) {
    const ok = c.v === 1 && typeof c.key === 'string' && (c.op === 'put' || c.op === 'delete') && typeof c.revision === 'number' && typeof c.time === 'string'
      && typeof c.actor === 'string' && (c.op === 'delete' ? c[c.kind] === null : c[c.kind] !== null && typeof c[c.kind] === 'object');
    return ok ? (c as unknown as AnyChangeEvent) : undefined;
  }
  if (c.kind === 'flag' && typeof c.env === 'string') {
    const { env, ...rest } = c;
    const e = toChangeEvent(rest);
    return e ? { ...e, env } as AnyChangeEvent : undefined;
  }
  return toChangeEvent(raw);
}

/**
 * Already the contract's ChangeEvent, field for field (what the Watch sends):
 * used as it is instead of rebuilt, one object less per change. Anything more
 * or less (another producer's extra fields) goes through the rebuild, which
 * keeps only the contract's fields. kind, key, op and revision are checked by the caller.
 */
function isContractEvent(c: Record<string, unknown>): boolean {
  if (c.v !== 1 || typeof c.time !== 'string' || typeof c.actor !== 'string') return false;
  const item = c.kind === 'flag' ? c.flag : c.segment;
  if (c.op === 'delete' ? item !== null : !item || typeof item !== 'object') return false;
  let n = 0;
  for (const _ in c) n++;
  return n === 8;
}
