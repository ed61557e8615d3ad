import { eventKeyOf, isResetMarker, type ChangeEvent, type RelayEvent, type ResetMarker } from './event.js';

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
 *
 * Implausible events (README "What the relay guarantees about forged,
 * replayed and implausible events"). Signatures keep forgers out before
 * anything reaches this class, but a signer can still be buggy, so no single
 * event may move the frontier somewhere it cannot prove:
 * - An event more than maxRevisionGap revisions above the frontier is never
 *   released (nor lets the frontier jump there) until another event chains to
 *   it. If the chain moves on without it, it is rejected (dead-letter queue);
 *   if the chain is stuck behind it, clients are told to resync once (a
 *   marker's at once, a change's after gapTimeoutMs) and it keeps waiting.
 * - A change whose predecessor is below the frontier while it is above it
 *   forks the one chain the outbox makes: rejected.
 * - New work below the head: a change at or below the frontier that this
 *   relay never released, signed more than signerClockSkewMs after the event
 *   at the head, can only mean the head came from a bad jump (a bogus event
 *   accepted at start, or a gap jump to one): the relay rewinds to it.
 *   Copies and replays of released events are never new work (their
 *   revision was released, or they were signed before the head).
 */

export interface SequencerOptions {
  /** Most events held while waiting for a missing predecessor; beyond it the hole is declared a gap. */
  maxPendingEvents: number;
  /** How long a hole may stay open before it is declared a gap, in ms. */
  gapTimeoutMs: number;
  /** Most keys whose last revision is remembered for per-key de-duplication (oldest forgotten first). */
  maxTrackedKeys: number;
  /** Revisions an event may lie above the frontier and still be released without another event chained to it. */
  maxRevisionGap: number;
  /** How far apart the signers' clocks may be, ms (new work below the head must be signed this much later). */
  signerClockSkewMs: number;
  /** Released revisions remembered to tell a copy from new work (count; oldest forgotten first). */
  rememberedRevisions?: number;
  /**
   * Clock for the gap timeout (ms; only durations are measured with it):
   * monotonic by default (performance.now), so a wall-clock jump neither
   * declares every hole a gap at once nor leaves one open for the jump's length.
   */
  now?: () => number;
}

/** Default of SequencerOptions.rememberedRevisions. */
export const DEFAULT_REMEMBERED_REVISIONS = 65_536;

/** Reset markers remembered by revision to tell a copy from a rewind (count). */
const REMEMBERED_RESETS = 64;

/** A received copy of an event, with what to do once it has been fanned out (delete it from SQS). */
export interface Delivery {
  event: RelayEvent;
  ack: () => void;
  /** When its producer signed it (ms epoch); unknown = never counts as newer work. */
  signedAtMs?: number;
  /** Moves the message to the dead-letter queue (an implausible event); without it the message is acked. */
  reject?: (reason: 'implausible-revision', detail: string) => void;
}

export interface Gap {
  /** Last revision released before the hole. */
  afterRevision: number | undefined;
  /** The stream resumes after this revision: everything in (afterRevision, resumeAfter] may be missing. */
  resumeAfter: number;
  /** rewind: new work arrived below the head (see the class comment); the frontier moved back. */
  reason: 'timeout' | 'pending-limit' | 'rewind';
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
  /**
   * An implausible event (far above the frontier, nothing chained to it) is
   * what the chain is stuck behind: clients must resync now, since it may be
   * genuine; it stays held until corroborated or orphaned. Once per event.
   */
  held(event: RelayEvent): void;
}

interface PendingRevision {
  revision: number;
  prevRevision: number;
  parts: number;
  got: Map<number, Delivery[]>;
  firstSeenMs: number;
  /** The revision is a reset marker (always one part). */
  reset: boolean;
  /** Latest signing time among its parts (ms epoch), -Infinity if unknown. */
  signedAtMs: number;
  /** The frontier when it arrived: if that moves on while it is implausible, it is an orphan. */
  frontierAtArrival: number | undefined;
  /** Implausible and reported through sink.held. */
  held: boolean;
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
  /** Signing time of the revision at the head (last released), -Infinity if unknown. */
  private headSignedAtMs = -Infinity;
  /** Recently released revisions (insertion order = age). */
  private readonly released = new Set<number>();
  /** Highest revision released by any path (reference for unchained events before a chain exists). */
  private highestReleased: number | undefined;

  constructor(private readonly opts: SequencerOptions, private readonly sink: SequencerSink) {
    this.now = opts.now ?? (() => performance.now());
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
    while (this.pendingEvents > this.opts.maxPendingEvents && this.declareGap('pending-limit')) { /* until under the limit */ }
  }

  /** Every delivery held waiting for a predecessor (for giving them back to SQS at shutdown). */
  heldDeliveries(): Delivery[] {
    const out: Delivery[] = [];
    for (const p of this.pending.values()) for (const copies of p.got.values()) out.push(...copies);
    return out;
  }

  /**
   * Rejects orphans (implausible events the chain moved on without) and
   * declares a gap when the oldest hole has been open longer than
   * gapTimeoutMs. Call periodically.
   */
  checkGaps(): void {
    for (const p of [...this.pending.values()]) {
      if (p.held && this.frontier !== p.frontierAtArrival) this.rejectPending(p, `the chain moved on from ${p.frontierAtArrival} to ${this.frontier} without it`);
      else if (!p.reset && this.frontier !== undefined && p.prevRevision < this.frontier) this.rejectPending(p, `its predecessor ${p.prevRevision} is below the released revision ${this.frontier} (a fork)`);
    }
    if (this.pending.size === 0) return;
    let oldest = Infinity;
    for (const p of this.pending.values()) if (!p.held && p.firstSeenMs < oldest) oldest = p.firstSeenMs;
    if (this.now() - oldest >= this.opts.gapTimeoutMs) this.declareGap('timeout');
  }

  private offerUnchained(d: Delivery & { event: ChangeEvent }): void {
    const ref = this.frontier ?? this.highestReleased;
    if (ref !== undefined && d.event.revision - ref > this.opts.maxRevisionGap) {
      this.rejectDeliveries([d], `revision ${d.event.revision} is more than ${this.opts.maxRevisionGap} above ${ref} (unchained)`);
      return;
    }
    const k = eventKeyOf(d.event);
    const last = this.keyRevision.get(k);
    if (last !== undefined && d.event.revision <= last) {
      this.sink.dropped(d.event.revision === last ? 'duplicate' : 'stale', d.event);
      d.ack();
      return;
    }
    this.rememberKey(k, d.event.revision);
    this.noteReleased(d.event, d.signedAtMs);
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
      if (isResetMarker(ev) || !this.isNewWork(d)) {
        this.sink.dropped('duplicate', ev);
        d.ack();
        return;
      }
      this.rewindBelowHead(ev.prevRevision as number);
    } else if (!isResetMarker(ev) && this.frontier !== undefined && (ev.prevRevision as number) < this.frontier) {
      // One outbox makes one chain: above the frontier, every predecessor is at or above it.
      this.rejectDeliveries([d], `predecessor ${ev.prevRevision} is below the released revision ${this.frontier} (a fork)`);
      return;
    }
    let p = this.pending.get(ev.revision);
    if (!p) {
      p = {
        revision: ev.revision, prevRevision: ev.prevRevision as number, parts: ev.parts as number, got: new Map(), firstSeenMs: this.now(),
        reset: isResetMarker(ev), signedAtMs: -Infinity, frontierAtArrival: this.frontier, held: false,
      };
      if (p.reset) this.pendingResets++;
      this.pending.set(ev.revision, p);
      // Two claimants of one predecessor (only a bad event makes that): the nearer one goes first.
      const other = this.byPrev.get(p.prevRevision);
      if (other === undefined || p.revision < other) this.byPrev.set(p.prevRevision, p.revision);
    }
    if (d.signedAtMs !== undefined && d.signedAtMs > p.signedAtMs) p.signedAtMs = d.signedAtMs;
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
      if (this.implausible(p)) {
        // A marker's resync is due now (a genuine restore must not wait); a change's after gapTimeoutMs.
        if (p.reset) this.hold(p);
        return;
      }
      this.releaseRevision(p);
    }
  }

  /** Far above the frontier with nothing chained to it (see the class comment). */
  private implausible(p: PendingRevision): boolean {
    return this.frontier !== undefined && p.revision - this.frontier > this.opts.maxRevisionGap && !this.byPrev.has(p.revision);
  }

  private hold(p: PendingRevision): void {
    if (p.held) return;
    p.held = true;
    this.sink.held(p.got.values().next().value![0]!.event);
  }

  /**
   * A complete reset marker held behind a hole is released now: what is
   * missing before it is void anyway (clients reload the restored state), so
   * waiting gapTimeoutMs would only keep clients stale for longer.
   */
  private jumpToReset(): void {
    if (this.pendingResets === 0 || this.frontier === undefined) return;
    let marker: PendingRevision | undefined;
    for (const p of this.pending.values()) {
      if (!p.reset) continue;
      if (this.implausible(p)) this.hold(p);
      else if (!marker || p.revision > marker.revision) marker = p;
    }
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
    this.noteReleased(m, d.signedAtMs);
    this.sink.reset(m, skipped);
    d.ack();
    this.releaseReady();
  }

  /**
   * New work below the head: never released here, and signed after the
   * event at the head (beyond clock skew). Unsigned deliveries never are.
   */
  private isNewWork(d: Delivery): boolean {
    return d.signedAtMs !== undefined && this.headSignedAtMs > -Infinity
      && d.signedAtMs > this.headSignedAtMs + this.opts.signerClockSkewMs && !this.released.has(d.event.revision);
  }

  /** The head came from a bad jump: move the frontier back so the change after `resumeAfter` is released next. */
  private rewindBelowHead(resumeAfter: number): void {
    const from = this.frontier;
    // Per-key memory holds the bad head's revision; it would drop the real changes as stale.
    this.keyRevision.clear();
    this.frontier = resumeAfter;
    this.headSignedAtMs = -Infinity;
    this.sink.gap({ afterRevision: from, resumeAfter, reason: 'rewind' });
  }

  /** Drops a pending revision into the dead-letter queue (every copy of every part). */
  private rejectPending(p: PendingRevision, detail: string): void {
    this.forget(p);
    for (const copies of p.got.values()) this.rejectDeliveries(copies, `revision ${p.revision}: ${detail}`);
  }

  private rejectDeliveries(copies: Delivery[], detail: string): void {
    for (const c of copies) {
      if (c.reject) c.reject('implausible-revision', detail);
      else c.ack();
    }
  }

  private noteReleased(ev: RelayEvent, signedAtMs: number | undefined): void {
    this.headSignedAtMs = signedAtMs ?? -Infinity;
    this.released.add(ev.revision);
    if (this.released.size > (this.opts.rememberedRevisions ?? DEFAULT_REMEMBERED_REVISIONS)) this.released.delete(this.released.values().next().value as number);
    if (this.highestReleased === undefined || ev.revision > this.highestReleased) this.highestReleased = ev.revision;
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
      this.noteReleased(copies[0]!.event, finite(p.signedAtMs));
      this.sink.reset(copies[0]!.event as ResetMarker, skipped);
      for (const c of copies) c.ack();
      return;
    }
    const events: ChangeEvent[] = [];
    for (const [, copies] of parts) {
      const ev = copies[0]!.event as ChangeEvent;
      const k = eventKeyOf(ev);
      const last = this.keyRevision.get(k);
      if (last !== undefined && ev.revision < last) {
        // Cannot happen for one producer's chain; guards against a second producer.
        this.sink.dropped('stale', ev);
        continue;
      }
      this.rememberKey(k, ev.revision);
      this.noteReleased(ev, finite(p.signedAtMs));
      events.push(ev);
    }
    this.frontier = p.revision;
    if (events.length > 0) this.sink.release(events);
    for (const [, copies] of parts) for (const c of copies) c.ack();
  }

  /**
   * Skips the hole before the lowest pending revision and releases what
   * follows it. An implausible lowest revision is not jumped to: it is
   * rejected if the chain moved on without it (or pending is over its limit),
   * else held (clients resync once). Returns false when nothing changed.
   */
  private declareGap(reason: Gap['reason']): boolean {
    if (this.pending.size === 0) return false;
    const lowest = this.pending.get(Math.min(...this.pending.keys()))!;
    if (this.implausible(lowest)) {
      if (reason === 'pending-limit' || this.frontier !== lowest.frontierAtArrival) {
        this.rejectPending(lowest, `more than ${this.opts.maxRevisionGap} revisions above ${this.frontier}, nothing chained to it`);
        return true;
      }
      this.hold(lowest);
      return false;
    }
    const gap: Gap = { afterRevision: this.frontier, resumeAfter: lowest.prevRevision, reason };
    this.sink.gap(gap);
    // An incomplete lowest revision is released with the parts that arrived;
    // the gap already told clients that something may be missing.
    this.frontier = lowest.prevRevision;
    this.releaseRevision(lowest);
    this.releaseReady();
    return true;
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

function finite(ms: number): number | undefined {
  return Number.isFinite(ms) ? ms : undefined;
}
