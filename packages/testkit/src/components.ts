// The stack's other components as the launchers start them: the SNS/SQS
// emulator (in this process, loopback only) and gateway processes (waited
// for until they answer /ready). Programs are found by their path in this
// repository, so that the apps' own tests can use this package without a
// dependency cycle; a `mainJs` option picks another build.
import { fileURLToPath } from 'node:url';
import { buildApp } from 'fauxqs';
import { GiveUp, spawnProcess, waitFor, type Proc } from './process.js';

/** The gateway's entry point in this repository (pnpm --filter @flagraft/gateway build). */
export const GATEWAY_MAIN_JS = fileURLToPath(new URL('../../../apps/gateway/dist/main.js', import.meta.url));

/** How long a gateway may take from spawn to answering /ready 200 (ms). */
export const GATEWAY_READY_TIMEOUT_MS = 20_000;

export interface Emulator {
  /** http://127.0.0.1:<port>: the endpoint for the AWS SDK clients. */
  endpoint: string;
  port: number;
  /** Creates (or finds) an SNS topic over the wire protocol; returns its ARN. */
  createTopic(name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The SNS/SQS emulator (npm fauxqs) in this process on 127.0.0.1. fauxqs's
 * own startFauxqs() listens on every interface whatever its `host` option
 * says; its app is listened on loopback here instead. `port` 0 (default) = a free one.
 */
export async function startEmulator(o: { port?: number } = {}): Promise<Emulator> {
  const app = buildApp({ logger: false });
  const address = await app.listen({ port: o.port ?? 0, host: '127.0.0.1' });
  const port = Number(new URL(address).port);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    createTopic: (name) => createTopic(endpoint, name),
    stop: async () => { await app.close(); },
  };
}

/** CreateTopic over SNS's query protocol (the emulator accepts any signature). */
export async function createTopic(endpoint: string, name: string): Promise<string> {
  const body = new URLSearchParams({ Action: 'CreateTopic', Name: name, Version: '2010-03-31' });
  const res = await fetch(endpoint, {
    method: 'POST', body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0' },
  });
  const text = await res.text();
  const arn = /<TopicArn>([^<]+)<\/TopicArn>/.exec(text)?.[1];
  if (!res.ok || !arn) throw new Error(`CreateTopic ${name} failed: ${res.status} ${text.slice(0, 200)}`);
  return arn;
}

export interface GatewayProcess { url: string; port: number; proc: Proc }

/**
 * Starts a gateway process (`node <mainJs>`) with exactly `env` (set
 * FLAGRAFT_GATEWAY_PORT=0 for a free port: it is read from the gateway's
 * "gateway listening" log line, so FLAGRAFT_LOG_LEVEL must let info through)
 * and waits until /ready answers 200. On failure it is stopped and the error
 * carries the end of its output.
 */
export async function startGatewayProcess(o: {
  name: string; env: NodeJS.ProcessEnv; mainJs?: string; readyTimeoutMs?: number;
  /** Also called with every output line (e.g. to keep the gateway's log in a file). */
  onLine?: (line: string) => void;
}): Promise<GatewayProcess> {
  const timeoutMs = o.readyTimeoutMs ?? GATEWAY_READY_TIMEOUT_MS;
  let port = 0;
  const proc = spawnProcess({
    name: o.name, command: process.execPath, args: [o.mainJs ?? GATEWAY_MAIN_JS], env: o.env,
    onLine: (line) => {
      o.onLine?.(line);
      const m = /"msg":"gateway listening".*?"port":(\d+)/.exec(line);
      if (m) port = Number(m[1]);
    },
  });
  const exitedEarly = () => {
    if (!proc.alive()) throw new GiveUp(new Error(`${o.name} exited: ${proc.tail(10).join('\n')}`));
  };
  try {
    await waitFor(`${o.name} to listen`, { timeoutMs, everyMs: 20 }, () => { exitedEarly(); return port > 0; });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`${o.name} to be ready`, { timeoutMs, everyMs: 100 }, async () => {
      exitedEarly();
      return (await fetch(`${url}/ready`).then((r) => r.status, () => 0)) === 200;
    });
    return { url, port, proc };
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n${proc.tail(10).join('\n')}`);
  }
}
