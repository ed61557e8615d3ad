// Test plumbing that the gateway harness does not have: a gateway as its own
// process (so it can be SIGKILLed), and a TCP proxy whose connections can be
// cut (a network failure between a service and the gateway). Everything is
// stopped by PID / handle in stop(), also when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { hashToken } from '@flagraft/auth';
import { NAMES, TOKENS } from '../../../../apps/gateway/test/support/harness.js';

const GATEWAY_MAIN = fileURLToPath(new URL('../../../../apps/gateway/dist/main.js', import.meta.url));

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface GatewayProcess {
  url: string;
  port: number;
  pid(): number | undefined;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const tokensJson = JSON.stringify((Object.keys(TOKENS) as (keyof typeof TOKENS)[]).map((role) => ({ name: NAMES[role], role, sha256: hashToken(TOKENS[role]) })));

/**
 * A gateway process talking to the nodes with `clusterEnv` (a LocalCluster's
 * clientEnv(): endpoints and its certificate); `env` adds or overrides
 * variables (the benchmark turns the rate limits off with it).
 */
export async function startGatewayProcess(clusterEnv: Record<string, string>, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(process.execPath, [GATEWAY_MAIN], {
      env: {
        PATH: process.env.PATH,
        FLAGRAFT_GATEWAY_PORT: String(port),
        ...clusterEnv,
        FLAGRAFT_TOKENS: tokensJson,
        FLAGRAFT_ACCESS_LOG: 'errors',
        FLAGRAFT_SSE_HEARTBEAT_MS: '1000',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/ready`);
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error('gateway process not ready after 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await launch();
  const exited = () => new Promise<void>((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(child.pid, signal);
    await exited();
  };
  return { url: `http://127.0.0.1:${port}`, port, pid: () => child?.pid, kill, restart: launch, stop: () => kill('SIGTERM') };
}

export interface CuttableProxy {
  url: string;
  /** Destroys every connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  stop(): Promise<void>;
}

/** A loopback TCP proxy to target (host:port). */
export async function startProxy(target: URL): Promise<CuttableProxy> {
  const sockets = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) return client.destroy();
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      down = false;
    },
    async stop() {
      down = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
