// A gateway whose cluster cannot be reached: nothing listens on its one
// endpoint (a port that was free a moment ago), and the cluster client gives
// up within 300 ms, so every route that needs the cluster answers 503 fast.
import { createServer } from 'node:net';
import { createGateway, type Gateway } from '../../src/index.js';
import { tokenStore } from './harness.js';

export function freePort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Started, not ready (it never will be); the caller closes it. */
export async function startGatewayWithoutCluster(): Promise<Gateway> {
  const gw = createGateway({
    port: 0,
    clusterEndpoints: [`127.0.0.1:${await freePort()}`],
    // Nothing listens there, so plain text is as good as TLS for what this tests.
    clusterInsecure: true,
    clusterId: 'nowhere',
    clusterRetryDeadlineMs: 300,
    clusterRequestTimeoutMs: 200,
    tokens: tokenStore(),
    logWrite: () => {},
  });
  await gw.start();
  return gw;
}
