// The replica's memory of recent events, for streams that resume (SSE
// Last-Event-ID). One ring per feed: the legacy feed (the default
// environment's flags and segments: exactly what every stream carried before
// environments) and the feed of every environment (also other environments'
// flags and environment / change request / schedule records). Each numbers
// the events of one revision among its own events only, so a legacy stream's
// ids are the same as before environments existed and as a cluster replay of
// the legacy Watch gives them.
import type { AnyChangeEvent, ChangeEvent } from './types.js';

/** One applied change with its stream position: (revision, index within the revision, in its feed). */
export class ReplicaEvent<E extends AnyChangeEvent = ChangeEvent> {
  private text: string | undefined;
  constructor(
    readonly event: E,
    readonly index: number,
    /** SSE `id:` — `R` when it is the last event of revision R in its feed, else `R:index`. */
    readonly id: string,
  ) {}

  /** The event as JSON, serialised once, when a stream first needs it (not at all without streams). */
  get json(): string {
    return (this.text ??= JSON.stringify(this.event));
  }
}

export class EventRing<E extends AnyChangeEvent> {
  /**
   * The events kept for resume are ring[start..]: dropping the oldest
   * advances start, and the array is compacted only once half of it is
   * dropped, so a write does not move the whole window in memory.
   */
  private readonly ring: ReplicaEvent<E>[] = [];
  private start = 0;
  /** Every event of this feed with revision > floor is in the ring. */
  private floor = 0;

  constructor(private readonly capacity: number) {}

  /** Forgets everything: events after `revision` will be pushed. */
  reset(revision: number): void {
    this.ring.length = 0;
    this.start = 0;
    this.floor = revision;
  }

  /** Appends a batch (whole revisions, in order) and returns it as positioned events. */
  push(batch: readonly E[]): ReplicaEvent<E>[] {
    const out: ReplicaEvent<E>[] = [];
    for (let i = 0; i < batch.length; i++) {
      const event = batch[i];
      const prev = out.length > 0 ? out[out.length - 1] : this.ring.length > this.start ? this.ring[this.ring.length - 1] : undefined;
      const index = prev && prev.event.revision === event.revision ? prev.index + 1 : 0;
      const last = i + 1 === batch.length || batch[i + 1].revision !== event.revision;
      const re = new ReplicaEvent(event, index, last ? String(event.revision) : `${event.revision}:${index}`);
      out.push(re);
      this.ring.push(re);
    }
    const excess = this.ring.length - this.start - this.capacity;
    if (excess > 0) {
      this.start += excess;
      this.floor = this.ring[this.start - 1].event.revision;
      if (this.start * 2 >= this.ring.length) {
        this.ring.splice(0, this.start);
        this.start = 0;
      }
    }
    return out;
  }

  /**
   * Events after a stream position, from memory. `index` undefined means all of
   * `revision` was seen. Undefined when the position is older than what we keep.
   */
  after(revision: number, index?: number): ReplicaEvent<E>[] | undefined {
    if (index === undefined ? revision < this.floor : revision <= this.floor) return undefined;
    const out: ReplicaEvent<E>[] = [];
    // The ring is in stream order; scan back to the first event past the position.
    let i = this.ring.length;
    while (i > this.start) {
      const e = this.ring[i - 1];
      const after = e.event.revision > revision || (index !== undefined && e.event.revision === revision && e.index > index);
      if (!after) break;
      i--;
    }
    for (; i < this.ring.length; i++) out.push(this.ring[i]);
    return out;
  }
}
