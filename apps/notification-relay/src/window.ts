import type { ChangeEvent } from './event.js';

/**
 * The bounded in-memory window of released events that reconnecting clients
 * replay from (`/ws?since=R`). `floor` is the revision after which the window
 * is known to be complete: a client at R >= floor gets the events above R; a
 * client below the floor (or any client before coverage is established, or
 * across a gap) is told to resync through the gateway.
 */
export class ReplayWindow {
  private events: ChangeEvent[] = [];
  private head = 0;
  private floorRevision: number | undefined;

  /** @param maxEvents most events kept (oldest evicted first). */
  constructor(private readonly maxEvents: number) {
    if (!Number.isInteger(maxEvents) || maxEvents < 1) throw new RangeError('replay window: maxEvents must be a positive integer');
  }

  get floor(): number | undefined { return this.floorRevision; }
  get size(): number { return this.events.length - this.head; }

  /** Coverage starts (again) after `floor`: drops everything held. */
  reset(floor: number): void {
    this.events = [];
    this.head = 0;
    this.floorRevision = floor;
  }

  /** Coverage can no longer be proven (e.g. events without chain fields): every `since` gets a resync. */
  invalidate(): void {
    this.events = [];
    this.head = 0;
    this.floorRevision = undefined;
  }

  push(ev: ChangeEvent): void {
    if (this.floorRevision === undefined) return; // no coverage: nothing to replay against
    this.events.push(ev);
    if (this.size > this.maxEvents) {
      this.floorRevision = this.events[this.head]!.revision;
      this.head++;
      // Compact now and then so the array does not grow without bound.
      if (this.head > this.maxEvents) {
        this.events = this.events.slice(this.head);
        this.head = 0;
      }
    }
  }

  /** Events with revision > since, or undefined when the window cannot prove it has them all. */
  since(since: number): ChangeEvent[] | undefined {
    if (this.floorRevision === undefined || since < this.floorRevision) return undefined;
    let lo = this.head;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.revision <= since) lo = mid + 1;
      else hi = mid;
    }
    return this.events.slice(lo);
  }
}
