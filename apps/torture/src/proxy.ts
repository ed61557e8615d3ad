// A TCP fault proxy on every directed peer link: node i reaches node j only
// through link (i -> j) (FLAGRAFT_PEER_ROUTES), so the harness decides what
// each node can send to each other node. Bytes pass through untouched (the
// mutual TLS of the peer port is end to end); faults act on connections and
// on the timing of chunks:
//   blocked  a partition of this direction: live connections are cut (as a
//            reset after a timeout would), new ones are accepted and held
//            silent (a black hole) until the link heals, then closed;
//   delay    every chunk waits delayMs + [0, jitterMs) ms, order kept (slow
//            links; a slow disk looks the same from the other nodes);
//   drop     each chunk is lost with this probability: inside TLS a lost byte
//            is a broken connection, so a drop closes the connection at that
//            chunk boundary (the sender reconnects and resends).
// A link carries both directions of the TCP connection node i opened; Raft
// sends each node's own messages on its own connections, so blocking (i -> j)
// only is a one-way partition.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Rng } from './rng.js';

export interface LinkFaults {
  blocked: boolean;
  delayMs: number;
  jitterMs: number;
  dropProbability: number;
}

export const NO_FAULTS: LinkFaults = { blocked: false, delayMs: 0, jitterMs: 0, dropProbability: 0 };

/** Bytes buffered per connection and direction while delaying (a bound: beyond it the connection is cut). */
export const MAX_DELAYED_BYTES = 64 * 1024 * 1024;

interface Pair { down: Socket; up?: Socket }

export class Link {
  private server?: Server;
  port = 0;
  faults: LinkFaults = { ...NO_FAULTS };
  private readonly pairs = new Set<Pair>();
  private readonly held = new Set<Socket>();
  /** Bytes forwarded (both directions) and connections cut, for the run report. */
  readonly stats = { bytes: 0, cut: 0, dropped: 0 };

  constructor(
    readonly from: number,
    readonly to: number,
    private readonly target: () => string | undefined,
    private readonly rng: Rng,
  ) {}

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const s = createServer((c) => this.accept(c));
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        this.server = s;
        this.port = (s.address() as { port: number }).port;
        resolve(this.port);
      });
    });
  }

  set(f: Partial<LinkFaults>): void {
    const wasBlocked = this.faults.blocked;
    this.faults = { ...this.faults, ...f };
    if (this.faults.blocked && !wasBlocked) for (const p of [...this.pairs]) this.cut(p);
    if (!this.faults.blocked && wasBlocked) {
      for (const s of this.held) s.destroy();
      this.held.clear();
    }
  }

  private accept(down: Socket): void {
    down.on('error', () => {});
    if (this.faults.blocked) {
      // A black hole: the connection stays open and silent.
      this.held.add(down);
      down.pause();
      down.once('close', () => this.held.delete(down));
      return;
    }
    const addr = this.target();
    if (!addr) return void down.destroy();
    const i = addr.lastIndexOf(':');
    const up = connect(Number(addr.slice(i + 1)), addr.slice(0, i));
    up.on('error', () => {});
    const pair: Pair = { down, up };
    this.pairs.add(pair);
    const close = () => this.cut(pair, false);
    down.once('close', close);
    up.once('close', close);
    this.pipe(pair, down, up);
    this.pipe(pair, up, down);
  }

  /** Forwards src -> dst through the current faults, keeping chunk order. */
  private pipe(pair: Pair, src: Socket, dst: Socket): void {
    let lastAt = 0;
    let buffered = 0;
    src.on('data', (chunk: Buffer) => {
      const f = this.faults;
      if (f.blocked) return;
      if (f.dropProbability > 0 && this.rng.next() < f.dropProbability) {
        this.stats.dropped++;
        return this.cut(pair);
      }
      this.stats.bytes += chunk.length;
      if (f.delayMs <= 0 && f.jitterMs <= 0 && buffered === 0) {
        dst.write(chunk);
        return;
      }
      const at = Math.max(lastAt, Date.now() + f.delayMs + Math.floor(this.rng.next() * f.jitterMs));
      lastAt = at;
      buffered += chunk.length;
      if (buffered > MAX_DELAYED_BYTES) return this.cut(pair);
      setTimeout(() => {
        buffered -= chunk.length;
        if (!dst.destroyed) dst.write(chunk);
      }, at - Date.now());
    });
  }

  private cut(p: Pair, count = true): void {
    if (!this.pairs.delete(p)) return;
    if (count) this.stats.cut++;
    p.down.destroy();
    p.up?.destroy();
  }

  async close(): Promise<void> {
    for (const p of [...this.pairs]) this.cut(p, false);
    for (const s of this.held) s.destroy();
    this.held.clear();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** Every directed link among node ids 1..maxId. */
export class LinkMesh {
  private readonly links = new Map<string, Link>();

  constructor(readonly maxId: number, target: (id: number) => string | undefined, rng: Rng) {
    for (let i = 1; i <= maxId; i++) {
      for (let j = 1; j <= maxId; j++) if (i !== j) this.links.set(`${i}>${j}`, new Link(i, j, () => target(j), rng));
    }
  }

  async listen(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.listen()));
  }

  link(from: number, to: number): Link {
    const l = this.links.get(`${from}>${to}`);
    if (!l) throw new Error(`no link ${from} -> ${to} (ids 1..${this.maxId})`);
    return l;
  }

  /** FLAGRAFT_PEER_ROUTES for node `id`: every other id through its link. */
  routesFor(id: number): string {
    const out: string[] = [];
    for (let j = 1; j <= this.maxId; j++) if (j !== id) out.push(`${j}=127.0.0.1:${this.link(id, j).port}`);
    return out.join(',');
  }

  /** True when neither direction between a and b is blocked (partitions; delay and drop still deliver, late or resent). */
  connected(a: number, b: number): boolean {
    return !this.link(a, b).faults.blocked && !this.link(b, a).faults.blocked;
  }

  all(): Link[] {
    return [...this.links.values()];
  }

  /** Cuts every link between different groups (both directions); links inside a group are healed. Ids in no group keep their links. */
  partition(groups: number[][]): void {
    const groupOf = new Map<number, number>();
    groups.forEach((g, gi) => g.forEach((id) => groupOf.set(id, gi)));
    for (const l of this.links.values()) {
      const a = groupOf.get(l.from);
      const b = groupOf.get(l.to);
      if (a === undefined || b === undefined) continue;
      l.set({ blocked: a !== b });
    }
  }

  setAll(f: Partial<LinkFaults>): void {
    for (const l of this.links.values()) l.set(f);
  }

  heal(): void {
    this.setAll(NO_FAULTS);
  }

  stats(): { bytes: number; cut: number; dropped: number } {
    const s = { bytes: 0, cut: 0, dropped: 0 };
    for (const l of this.links.values()) {
      s.bytes += l.stats.bytes;
      s.cut += l.stats.cut;
      s.dropped += l.stats.dropped;
    }
    return s;
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close()));
  }
}
