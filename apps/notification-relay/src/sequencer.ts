import { isResetMarker, type ChangeEvent, type RelayEvent, type ResetMarker } from './event.js';

/**
 * Puts change events back into revision order and drops duplicates.
 *
 * SQS standard queues reorder and redeliver, and several pollers receive in
 * parallel, so events arrive in any order, some twice. Events carrying the
 * outbox chain (`prevRevision`, `part`, `parts`) are held until their
 * predecessor has been released, so clients see one gap-free, revision-ordered
 * stream; a hole that does not fill within `gapTimeoutMs` (its message went
 * to the DLQ, or a previous relay incarnation deleted it) is declared a gap,
 * and the relay tells clients to resync instead of pretending nothing was
 * missed. Events without chain fields are only de-duplicated per key: an
 * event whose revision is not above the last one released for its key is a
 * duplicate (equal) or stale (lower) and is dropped.
 *
 * A reset marker (the cluster was restored from a backup) is chained like a
 * change and released through `sink.reset` instead of `release`. It does not
 * wait behind a hole: everything before a restore is void for clients (they
 * resync on the marker), so a complete marker releases at once, and events
 * held before it are dropped as stale (their late copies as duplicates).
 *
 * A marker at or below the frontier is normally a copy of one already
 * released. But a cluster rebuilt from a backup (every node wiped, a new
 * cluster restored) starts its revisions again at the backup's revision,
 * which may be below what this relay already released from the old cluster:
 * every change of the new cluster up to the old frontier would then be
 * dropped as a "duplicate". So a marker below the frontier that this relay
 * has not released (by revision) and that is newer in time than everything
 * released rewinds the chain to it: clients resync, the frontier moves back
 * to the marker, and per-key memory is cleared.
 */

export interface SequencerOptions {
  /** Most events held while waiting for a missing predecessor; beyond it the hole is declared a gap. */
  maxPendingEvents: number;
  /** How long a hole may stay open before it is declared a gap, in ms. */
  gapTimeoutMs: number;
  /** Most keys whose last revision is remembered for per-key de-duplication (oldest forgotten first). */
  maxTrackedKeys: number;
  now?: () => number;
}

/** Reset markers remembered by revision to tell a copy from a rewind (count). */
const REMEMBERED_RESETS = 64;

/** A received copy of an event, with what to do once it has been fanned out (delete it from SQS). */
export interface Delivery {
  event: RelayEvent;
  ack: () => void;
}

export interface Gap {
  /** Last revision released before the hole. */
  afterRevision: number | undefined;
  /** The stream resumes after this revision: everything in (afterRevision, resumeAfter] may be missing. */
  resumeAfter: number;
  reason: 'timeout' | 'pending-limit';
}

export interface SequencerSink {
  /** Events to fan out, in order. Called synchronously; ack the deliveries afterwards. */
  release(events: ChangeEvent[]): void;
  /** The stream has a hole: clients must resync. Called before the events after the hole are released. */
  gap(gap: Gap): void;
  /** Chain start: the first chained events after startup follow `floor`. */
  established(floor: number): void;
  dropped(reason: 'duplicate' | 'stale', event: RelayEvent): void;
  /**
   * A reset marker was reached: clients must resync now; events released
   * before were handed to `release` first. `skipped` = events held before it
   * that were dropped instead of waiting for a hole to fill.
   */
  reset(marker: ResetMarker, skipped: number): void;
}

interface PendingRevision {
  revision: number;
  prevRevision: number;
  parts: number;
  got: Map<number, Delivery[]>;
  firstSeenMs: number;
  /** The revision is a reset marker (always one part). */
  reset: boolean;
}

export class Sequencer {
  private frontier: number | undefined;
  private readonly pending = new Map<number, PendingRevision>();
  private readonly byPrev = new Map<number, number>();
  private pendingEvents = 0;
  private pendingResets = 0;
  private readonly releasedResets = new Set<number>();
  /** Newest `time` (ms) among released events, for telling a rewinding marker from an old copy. */
  private newestReleasedMs = -Infinity;
  private readonly keyRevision = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly opts: SequencerOptions, private readonly sink: SequencerSink) {
    this.now = opts.now ?? Date.now;
  }

  /** Last revision released in chain order (undefined until the first chained event). */
  get frontierRevision(): number | undefined { return this.frontier; }
  get pendingCount(): number { return this.pendingEvents; }

  /** Offers one receive batch. Deliveries that are duplicates are acked at once. */
  offer(batch: Delivery[]): void {
    const chained = batch.filter((d) => d.event.prevRevision !== undefined);
    if (this.frontier === undefined && chained.length > 0) {
      // Start of coverage: everything at or below the lowest predecessor in
      // the first batch is treated as before our time (clients asking for it
      // get a resync). Picking the lowest reduces needless resyncs when the
      // first batch arrived reordered.
      const floor = Math.min(...chained.map((d) => d.event.prevRevision as number));
      this.frontier = floor;
      this.sink.established(floor);
    }
    for (const d of batch) {
      if (d.event.prevRevision === undefined) this.offerUnchained(d as Delivery & { event: ChangeEvent });
      else this.offerChained(d);
    }
    this.releaseReady();
    this.jumpToReset();
    if (this.pendingEvents > this.opts.maxPendingEvents) this.declareGap('pending-limit');
  }

  /** Every delivery held waiting for a predecessor (for giving them back to SQS at shutdown). */
  heldDeliveries(): Delivery[] {
    const out: Delivery[] = [];
    for (const p of this.pending.values()) for (const copies of p.got.values()) out.push(...copies);
    return out;
  }

  /** Declares a gap when the oldest hole has been open longer than gapTimeoutMs. Call periodically. */
  checkGaps(): void {
    if (this.pending.size === 0) return;
    const oldest = Math.min(...[...this.pending.values()].map((p) => p.firstSeenMs));
    if (this.now() - oldest >= this.opts.gapTimeoutMs) this.declareGap('timeout');
  }

  private offerUnchained(d: Delivery & { event: ChangeEvent }): void {
    const k = `${d.event.kind}:${d.event.key}`;
    const last = this.keyRevision.get(k);
    if (last !== undefined && d.event.revision <= last) {
      this.sink.dropped(d.event.revision === last ? 'duplicate' : 'stale', d.event);
      d.ack();
      return;
    }
    this.rememberKey(k, d.event.revision);
    this.sink.release([d.event]);
    d.ack();
  }

  private offerChained(d: Delivery): void {
    const ev = d.event;
    if (this.frontier !== undefined && ev.revision <= this.frontier) {
      if (isResetMarker(ev) && this.isRewind(ev)) {
        this.rewind(d as Delivery & { event: ResetMarker });
        return;
      }
      this.sink.dropped('duplicate', ev);
      d.ack();
      return;
    }
    let p = this.pending.get(ev.revision);
    if (!p) {
      p = { revision: ev.revision, prevRevision: ev.prevRevision as number, parts: ev.parts as number, got: new Map(), firstSeenMs: this.now(), reset: isResetMarker(ev) };
      if (p.reset) this.pendingResets++;
      this.pending.set(ev.revision, p);
      this.byPrev.set(p.prevRevision, p.revision);
    }
    const copies = p.got.get(ev.part as number);
    if (copies) {
      // A redelivered copy: keep its receipt so it is deleted with the first one.
      this.sink.dropped('duplicate', ev);
      copies.push(d);
      return;
    }
    p.got.set(ev.part as number, [d]);
    this.pendingEvents++;
  }

  private releaseReady(): void {
    for (;;) {
      if (this.frontier === undefined) return;
      const next = this.byPrev.get(this.frontier);
      if (next === undefined) return;
      const p = this.pending.get(next)!;
      if (p.got.size < p.parts) return;
      this.releaseRevision(p);
    }
  }

  /**
   * A complete reset marker held behind a hole is released now: what is
   * missing before it is void anyway (clients reload the restored state), so
   * waiting gapTimeoutMs would only keep clients stale for longer.
   */
  private jumpToReset(): void {
    if (this.pendingResets === 0 || this.frontier === undefined) return;
    let marker: PendingRevision | undefined;
    for (const p of this.pending.values()) if (p.reset && (!marker || p.revision > marker.revision)) marker = p;
    if (!marker) return;
    let skipped = 0;
    for (const p of [...this.pending.values()]) {
      if (p.revision >= marker.revision) continue;
      this.forget(p);
      for (const copies of p.got.values()) {
        skipped++;
        for (const c of copies) { this.sink.dropped('stale', c.event); c.ack(); }
      }
    }
    this.frontier = marker.prevRevision;
    this.releaseRevision(marker, skipped);
    this.releaseReady();
  }

  /** See the class comment: an unknown marker, newer than everything released, at or below the frontier. */
  private isRewind(m: ResetMarker): boolean {
    if (this.releasedResets.has(m.revision)) return false;
    const t = Date.parse(m.time);
    return Number.isFinite(t) && t > this.newestReleasedMs;
  }

  private rewind(d: Delivery & { event: ResetMarker }): void {
    const m = d.event;
    let skipped = 0;
    // Held events at or below the marker belong to the old revision line.
    for (const p of [...this.pending.values()]) {
      if (p.revision > m.revision) continue;
      this.forget(p);
      for (const copies of p.got.values()) {
        skipped++;
        for (const c of copies) { this.sink.dropped('stale', c.event); c.ack(); }
      }
    }
    this.keyRevision.clear();
    this.frontier = m.revision;
    this.noteReleased(m);
    this.sink.reset(m, skipped);
    d.ack();
    this.releaseReady();
  }

  private noteReleased(ev: RelayEvent): void {
    const t = Date.parse(ev.time);
    if (Number.isFinite(t) && t > this.newestReleasedMs) this.newestReleasedMs = t;
    if (!isResetMarker(ev)) return;
    this.releasedResets.add(ev.revision);
    if (this.releasedResets.size > REMEMBERED_RESETS) this.releasedResets.delete(this.releasedResets.values().next().value as number);
  }

  private forget(p: PendingRevision): void {
    this.pending.delete(p.revision);
    if (this.byPrev.get(p.prevRevision) === p.revision) this.byPrev.delete(p.prevRevision);
    this.pendingEvents -= p.got.size;
    if (p.reset) this.pendingResets--;
  }

  private releaseRevision(p: PendingRevision, skipped = 0): void {
    this.forget(p);
    const parts = [...p.got.entries()].sort((a, b) => a[0] - b[0]);
    if (p.reset) {
      this.frontier = p.revision;
      const copies = parts[0]![1];
      this.noteReleased(copies[0]!.event);
      this.sink.reset(copies[0]!.event as ResetMarker, skipped);
      for (const c of copies) c.ack();
      return;
    }
    const events: ChangeEvent[] = [];
    for (const [, copies] of parts) {
      const ev = copies[0]!.event as ChangeEvent;
      const k = `${ev.kind}:${ev.key}`;
      const last = this.keyRevision.get(k);
      if (last !== undefined && ev.revision < last) {
        // Cannot happen for one producer's chain; guards against a second producer.
        this.sink.dropped('stale', ev);
        continue;
      }
      this.rememberKey(k, ev.revision);
      this.noteReleased(ev);
      events.push(ev);
    }
    this.frontier = p.revision;
    if (events.length > 0) this.sink.release(events);
    for (const [, copies] of parts) for (const c of copies) c.ack();
  }

  /** Skips the hole before the lowest pending revision and releases what follows it. */
  private declareGap(reason: Gap['reason']): void {
    if (this.pending.size === 0) return;
    const lowest = this.pending.get(Math.min(...this.pending.keys()))!;
    const gap: Gap = { afterRevision: this.frontier, resumeAfter: lowest.prevRevision, reason };
    this.sink.gap(gap);
    // An incomplete lowest revision is released with the parts that arrived;
    // the gap already told clients that something may be missing.
    this.frontier = lowest.prevRevision;
    this.releaseRevision(lowest);
    this.releaseReady();
  }

  private rememberKey(k: string, revision: number): void {
    this.keyRevision.delete(k);
    this.keyRevision.set(k, revision);
    if (this.keyRevision.size > this.opts.maxTrackedKeys) {
      const oldest = this.keyRevision.keys().next().value as string;
      this.keyRevision.delete(oldest);
    }
  }
}
