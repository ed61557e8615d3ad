// A loopback TCP proxy that a test can switch off: while down it refuses new
// connections and has cut every open one, which is how the tests make a
// dependency (the SNS emulator) "unreachable" without stopping it.
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

export interface TcpProxy {
  /** The proxy's own loopback port (a free one). */
  readonly port: number;
  /** Up: pass connections through. Down: cut every open connection and refuse new ones. */
  setUp(up: boolean): void;
  /** Cuts every connection and stops listening. */
  close(): Promise<void>;
}

/** A proxy on 127.0.0.1 (free port) to 127.0.0.1:targetPort, up at start. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let up = true;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (!up) { client.destroy(); return; }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client); sockets.add(upstream);
    const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', drop); upstream.on('error', drop); client.on('close', drop); upstream.on('close', drop);
    client.pipe(upstream); upstream.pipe(client);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return {
    port: (server.address() as AddressInfo).port,
    setUp(v: boolean) { up = v; if (!v) for (const s of sockets) s.destroy(); },
    close: () => new Promise<void>((res) => { for (const s of sockets) s.destroy(); server.close(() => res()); }),
  };
}
