// The fault proxy on real loopback sockets: bytes pass through both ways; a
// block cuts live connections and holds new ones silent (a black hole) until
// the heal, which closes them; after the heal a new connection works; delay
// holds bytes back at least delayMs and keeps their order; a mesh partition
// blocks exactly the links between groups; routes name every other node.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Link, LinkMesh } from './proxy.js';
import { Rng } from './rng.js';

/** An echo server on a free loopback port. */
async function echoServer(): Promise<{ server: Server; address: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}`, sockets };
}

/** A client socket through the link that collects what comes back. */
async function dial(port: number): Promise<{ s: Socket; got: () => string; closed: () => boolean }> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  let data = '';
  let closed = false;
  s.on('data', (b) => { data += b.toString(); });
  s.once('close', () => { closed = true; });
  await new Promise<void>((r) => s.once('connect', () => r()));
  return { s, got: () => data, closed: () => closed };
}

async function until(what: string, fn: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Link (TCP fault proxy)', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let link: Link;
  const clients: Socket[] = [];

  beforeEach(async () => {
    echo = await echoServer();
    link = new Link(1, 2, () => echo.address, new Rng(7));
    await link.listen();
  });
  afterEach(async () => {
    for (const c of clients) c.destroy();
    await link.close();
    for (const s of echo.sockets) s.destroy();
    await new Promise<void>((r) => echo.server.close(() => r()));
  });

  it('forwards bytes both ways', async () => {
    const c = await dial(link.port);
    clients.push(c.s);
    c.s.write('hello');
    await until('echo', () => c.got() === 'hello');
    expect(link.stats.bytes).toBeGreaterThanOrEqual(10);
  });

  it('a block cuts live connections, holds new ones silent; the heal closes those and new connections work again', async () => {
    const live = await dial(link.port);
    clients.push(live.s);
    live.s.write('a');
    await until('echo before the block', () => live.got() === 'a');
    link.set({ blocked: true });
    await until('live connection cut', live.closed);
    expect(link.stats.cut).toBe(1);

    const held = await dial(link.port);
    clients.push(held.s);
    held.s.write('lost');
    await new Promise((r) => setTimeout(r, 100));
    expect(held.got()).toBe('');
    expect(held.closed()).toBe(false);
    expect(echo.sockets.size).toBe(0); // nothing reached the target

    link.set({ blocked: false });
    await until('held connection closed by the heal', held.closed);
    const after = await dial(link.port);
    clients.push(after.s);
    after.s.write('back');
    await until('echo after the heal', () => after.got() === 'back');
  });

  it('delay holds every chunk back at least delayMs and keeps the order', async () => {
    link.set({ delayMs: 80, jitterMs: 40 });
    const c = await dial(link.port);
    clients.push(c.s);
    const t0 = Date.now();
    for (const part of ['1', '2', '3', '4']) c.s.write(part);
    await until('all four echoed', () => c.got().length === 4);
    // Two proxied hops (there and back), each delayed by at least delayMs.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(160);
    expect(c.got()).toBe('1234');
  });

  it('drop probability 1 cuts the connection at the first chunk', async () => {
    link.set({ dropProbability: 1 });
    const c = await dial(link.port);
    clients.push(c.s);
    c.s.write('x');
    await until('cut', c.closed);
    expect(link.stats.dropped).toBe(1);
    expect(c.got()).toBe('');
  });
});

describe('LinkMesh', () => {
  it('partitions block exactly the links between groups, in both directions; heal clears every fault', async () => {
    const mesh = new LinkMesh(4, () => undefined, new Rng(1));
    mesh.partition([[1], [2, 3]]);
    const blocked = mesh.all().filter((l) => l.faults.blocked).map((l) => `${l.from}>${l.to}`).sort();
    expect(blocked).toEqual(['1>2', '1>3', '2>1', '3>1']);
    // Node 4 is in no group: its links keep what they had.
    expect(mesh.link(4, 1).faults.blocked).toBe(false);
    mesh.setAll({ delayMs: 5 });
    mesh.heal();
    expect(mesh.all().every((l) => !l.faults.blocked && l.faults.delayMs === 0)).toBe(true);
    expect(() => mesh.link(1, 9)).toThrow(/no link 1 -> 9/);
    await mesh.close();
  });

  it('routes every other node of a node through its own outgoing links', async () => {
    const mesh = new LinkMesh(3, () => undefined, new Rng(1));
    await mesh.listen();
    try {
      const routes = mesh.routesFor(2).split(',');
      expect(routes).toEqual([`1=127.0.0.1:${mesh.link(2, 1).port}`, `3=127.0.0.1:${mesh.link(2, 3).port}`]);
      expect(new Set(mesh.all().map((l) => l.port)).size).toBe(6);
    } finally {
      await mesh.close();
    }
  });
});
