// The simulated network: every message gets a delivery time (so delays
// reorder), and may be dropped or duplicated; links can be cut one way or
// both ways. Everything is drawn from the seed's Rng.
import type { Message, NodeId, Rng } from '../../src/index.js';

export interface NetworkFaults {
  /** Probability a message is lost. */
  dropRate: number;
  /** Probability a message is delivered twice. */
  dupRate: number;
  /** Delivery delay is uniform in [1, maxDelay]. Unit: simulator time units. */
  maxDelay: number;
}


export interface NetStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  cut: number;
}

/** Upper bound on messages in flight; beyond it new messages are dropped (a full socket buffer). */
export const MAX_IN_FLIGHT_MESSAGES = 200_000;

export class Network {
  /** Messages by delivery time. */
  private buckets = new Map<number, Message[]>();
  private count = 0;
  /** Directed cut links: `${from}>${to}`. */
  private cuts = new Set<string>();
  stats: NetStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, cut: 0 };

  constructor(
    private readonly rng: Rng,
    public faults: NetworkFaults,
  ) {}

  get inFlight(): number {
    return this.count;
  }

  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cuts.has(`${from}>${to}`);
  }

  healAll(): void {
    this.cuts.clear();
  }

  /** Isolate `group` from everyone else (both directions, or only outbound when oneWay). */
  partition(group: NodeId[], all: NodeId[], oneWay: boolean): void {
    const g = new Set(group);
    for (const a of group) {
      for (const b of all) {
        if (g.has(b)) continue;
        this.cut(a, b);
        if (!oneWay) this.cut(b, a);
      }
    }
  }

  /** Returns false if the message was lost at once (the sender's transport may notice). */
  send(m: Message, now: number): boolean {
    this.stats.sent++;
    if (this.isCut(m.from, m.to)) {
      this.stats.cut++;
      return false;
    }
    if (this.count >= MAX_IN_FLIGHT_MESSAGES || this.rng.next() < this.faults.dropRate) {
      this.stats.dropped++;
      return false;
    }
    this.enqueue(m, now);
    if (this.rng.next() < this.faults.dupRate) {
      this.stats.duplicated++;
      this.enqueue(m, now);
    }
    return true;
  }

  private enqueue(m: Message, now: number): void {
    const at = now + 1 + this.rng.int(Math.max(1, this.faults.maxDelay));
    const b = this.buckets.get(at);
    if (b) b.push(m);
    else this.buckets.set(at, [m]);
    this.count++;
  }

  /** Messages due at `now`, in random order (the caller drops those on links cut meanwhile). */
  due(now: number): Message[] {
    const out = this.buckets.get(now);
    if (!out) return [];
    this.buckets.delete(now);
    this.count -= out.length;
    // Fisher-Yates with the seed's rng: same-time deliveries in any order.
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      const t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    return out;
  }

  clear(): void {
    this.buckets.clear();
    this.count = 0;
  }
}
