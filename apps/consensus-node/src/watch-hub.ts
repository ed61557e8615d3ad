// The Watch streams of a node: each streams the changes after the revision
// its client gave (all changes of one revision in one message) from the
// changes table, then live ones as they apply, with a progress message when
// idle. The hub owns the set of streams: the node pumps them when entries
// apply and ends them on shutdown.
import type * as grpc from '@grpc/grpc-js';
import { ApiError } from './errors.js';
import type { AnyChangeEvent } from '@flagraft/flag-model';

/** Changes sent per Watch message while catching up (count). */
export const WATCH_PAGE_CHANGES = 500;
/** Idle progress message interval when the client asks for none (ms). */
export const DEFAULT_PROGRESS_MS = 1000;
/** Shortest progress interval a client may ask for (ms). */
export const MIN_PROGRESS_MS = 50;

/** What the Watch streams read: the changes table's window and the applied revision. */
export interface ChangeFeed {
  /** Change events with revision > afterRevision, whole revisions only; `all`: every environment's and the records' too (state-machine.ts). */
  changesAfter(afterRevision: number, limit: number, all: boolean): AnyChangeEvent[];
  /** Every change with revision >= this value is retained. */
  oldestRetainedRevision(): number;
  appliedRevision(): number;
}

interface Watcher { pump(): void; end(err?: ApiError): void }

export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  /** While set, every stream is ended and every new one refused with it (a node removed from the cluster). */
  private refusal?: ApiError;

  /** @param maxWatchers concurrent streams (count); more are refused RESOURCE_EXHAUSTED. */
  constructor(private readonly feed: ChangeFeed, private readonly maxWatchers: number) {}

  get size(): number {
    return this.watchers.size;
  }

  /** New changes applied: every stream sends what it has not sent yet. */
  pump(): void {
    for (const w of this.watchers) w.pump();
  }

  /** Ends every stream (shutdown): the clients resume on another node. */
  endAll(err: ApiError): void {
    for (const w of [...this.watchers]) w.end(err);
  }

  /** Ends every stream with `err` and refuses new ones with it until called with undefined. */
  refuse(err: ApiError | undefined): void {
    this.refusal = err;
    if (err) this.endAll(err);
  }

  /** Serves one Watch call (already authenticated and checked). */
  open(call: grpc.ServerWritableStream<any, any>): void {
    const feed = this.feed;
    if (this.refusal) {
      call.emit('error', this.refusal.toGrpc());
      return;
    }
    const from = Number(call.request.fromRevision) || 0;
    const progressMs = Math.max(MIN_PROGRESS_MS, Number(call.request.progressIntervalMs) || DEFAULT_PROGRESS_MS);
    // Streams from before environments get exactly what they always got (the default environment's flags, segments).
    const all = call.request.allEnvironments === true;
    if (this.watchers.size >= this.maxWatchers) {
      call.emit('error', ApiError.of('RESOURCE_EXHAUSTED', `too many watchers (maxWatchers ${this.maxWatchers})`).toGrpc());
      return;
    }
    // Changes with revision > from must all still be retained.
    if (from + 1 < feed.oldestRetainedRevision()) {
      call.emit('error', ApiError.of('COMPACTED', `revision ${from} is compacted; changes are kept from revision ${feed.oldestRetainedRevision()}; resync with SnapshotAll`, { oldestRetainedRevision: feed.oldestRetainedRevision() }).toGrpc());
      return;
    }
    let last = from;
    let blocked = false;
    let ended = false;
    // Monotonic (clock.ts): after a backward wall jump, progress messages must not stop (clients would call the stream dead).
    let lastSentAt = performance.now();
    const pump = () => {
      if (ended || blocked) return;
      for (;;) {
        if (last + 1 < feed.oldestRetainedRevision()) {
          // The watcher fell behind the retention window while blocked.
          end(ApiError.of('COMPACTED', `watcher fell behind: revision ${last} is compacted`));
          return;
        }
        const evs = feed.changesAfter(last, WATCH_PAGE_CHANGES, all);
        if (!evs.length) return;
        const byRev = new Map<number, AnyChangeEvent[]>();
        for (const e of evs) { const g = byRev.get(e.revision); if (g) g.push(e); else byRev.set(e.revision, [e]); }
        for (const [rev, group] of byRev) {
          last = rev;
          lastSentAt = performance.now();
          if (!call.write({ revision: rev, eventsJson: group.map((g) => JSON.stringify(g)), progress: false })) blocked = true;
        }
        if (blocked) return;
      }
    };
    const end = (err?: ApiError) => {
      if (ended) return;
      ended = true;
      clearInterval(timer);
      this.watchers.delete(w);
      if (err) call.emit('error', err.toGrpc()); else call.end();
    };
    const w: Watcher = { pump, end };
    this.watchers.add(w);
    call.on('drain', () => { blocked = false; pump(); });
    call.on('cancelled', () => end());
    call.on('error', () => end());
    const timer = setInterval(() => {
      if (ended || blocked || performance.now() - lastSentAt < progressMs) return;
      // Never report a revision past a restore this watcher has not been told about.
      if (last + 1 < feed.oldestRetainedRevision()) { end(ApiError.of('COMPACTED', `watcher fell behind: revision ${last} is compacted`)); return; }
      lastSentAt = performance.now();
      call.write({ revision: Math.max(last, feed.appliedRevision()), eventsJson: [], progress: true });
    }, Math.min(progressMs, 1000));
    // An immediate progress message tells the client the stream is established.
    call.write({ revision: from, eventsJson: [], progress: true });
    pump();
  }
}
