// A TCP relay on a free loopback port in front of one peer address, which a
// test can cut (connections are dropped and new ones are held open without
// forwarding: a black hole, like a silent network partition) and heal.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface Relay {
  /** Where to dial instead of the target (127.0.0.1:port). */
  address: string;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

/** `target()` is read per connection: the address may be known only after the relay started. */
export async function startRelay(target: () => string | undefined): Promise<Relay> {
  const open = new Set<Socket>();
  let isCut = false;
  const server: Server = createServer((inbound) => {
    open.add(inbound);
    inbound.on('close', () => open.delete(inbound));
    inbound.on('error', () => inbound.destroy());
    // Cut: accept and say nothing (the dialer sees a connection that never answers).
    const t = target();
    if (isCut || !t) return;
    const outbound = createConnection({ host: t.slice(0, t.lastIndexOf(':')), port: Number(t.slice(t.lastIndexOf(':') + 1)) });
    open.add(outbound);
    outbound.on('close', () => { open.delete(outbound); inbound.destroy(); });
    outbound.on('error', () => outbound.destroy());
    inbound.on('close', () => outbound.destroy());
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('relay has no TCP address');
  return {
    address: `127.0.0.1:${addr.port}`,
    cut() {
      isCut = true;
      for (const s of open) s.destroy();
      open.clear();
    },
    heal() {
      // Held connections are dropped so the dialers reconnect at once.
      isCut = false;
      for (const s of open) s.destroy();
      open.clear();
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
