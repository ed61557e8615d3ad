// The built entry point as a real process: configuration from the
// environment, a clear exit on bad configuration, graceful shutdown on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { hashToken } from '@flagraft/auth';
import { rotateLeaves } from '@flagraft/identity';
import { eventually } from './support/harness.js';
import { openSse } from './support/sse.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let cluster: LocalCluster;
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run pnpm --filter @flagraft/gateway build first`);
  cluster = await startLocalCluster({ size: 3 });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await cluster?.stop();
});

function start(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe('dist/main.js', () => {
  it('exits with code 2 and a message naming the variable on bad configuration', async () => {
    const p = start({ ...(await cluster.clientEnv('gateway', 'process-test')), FLAGRAFT_GATEWAY_PORT: 'eighty' });
    expect(await p.exited).toBe(2);
    const line = JSON.parse(p.output().trim().split('\n').pop()!);
    expect(line).toMatchObject({ level: 'error', app: 'gateway' });
    expect(line.error).toMatch(/FLAGRAFT_GATEWAY_PORT/);
  });

  it('will not start without a certificate towards the nodes unless plain text is asked for', async () => {
    const p = start({ FLAGRAFT_GATEWAY_PORT: '0', FLAGRAFT_CLUSTER_ENDPOINTS: cluster.endpoints.join(',') });
    expect(await p.exited).toBe(2);
    expect(JSON.parse(p.output().trim().split('\n').pop()!).error).toMatch(/mutual TLS is required: FLAGRAFT_TLS_CA, FLAGRAFT_TLS_CERT, FLAGRAFT_TLS_KEY not set/);
    const env = await cluster.clientEnv('admin', 'test');
    const wrongRole = start({ FLAGRAFT_GATEWAY_PORT: '0', ...env, FLAGRAFT_TLS_CERT: env.FLAGRAFT_TLS_CERT.replace('admin-test', 'node-1'), FLAGRAFT_TLS_KEY: env.FLAGRAFT_TLS_KEY.replace('admin-test', 'node-1') });
    expect(await wrongRole.exited).toBe(2);
    expect(JSON.parse(wrongRole.output().trim().split('\n').pop()!).error).toMatch(/clients need a service certificate/);
  });

  it('serves with env configuration and drains on SIGTERM (streams end, exit code 0)', async () => {
    const token = 'process-test-token';
    const env = await cluster.clientEnv('gateway', 'process-test');
    const p = start({
      FLAGRAFT_GATEWAY_PORT: '0',
      ...env,
      // Only SIGHUP reloads the certificates here (no file check racing it).
      FLAGRAFT_TLS_RELOAD_INTERVAL_MS: '0',
      FLAGRAFT_TOKENS: JSON.stringify([{ name: 'ops', role: 'admin', sha256: hashToken(token) }]),
    });
    const port = await eventually(() => /"msg":"gateway listening".*?"port":(\d+)/.exec(p.output())?.[1], 20_000, 'listening line');
    const url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/health`)).status).toBe(200);
    await eventually(async () => (await fetch(`${url}/ready`)).status === 200, 20_000, 'ready');
    const put = await fetch(`${url}/api/v1/flags/proc`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [] }),
    });
    expect(put.status).toBe(201);
    // The gateway's own certificate vouches for the token's user.
    const hist = await (await fetch(`${url}/api/v1/flags/proc/history`, { headers: { authorization: `Bearer ${token}` } })).json() as any;
    expect(hist.changes[0].actor).toBe('ops');
    // SIGHUP with a rotated certificate: reloaded, and new connections to the nodes use it.
    await rotateLeaves(cluster.pkiDir!, { only: ['gateway-process-test'] });
    p.child.kill('SIGHUP');
    await eventually(() => p.output().includes('"msg":"certificates reloaded"'), 10_000, 'reload log line');
    const again = await fetch(`${url}/api/v1/flags/proc2`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [] }),
    });
    expect(again.status).toBe(201);
    const stream = await openSse(`${url}/api/v1/stream`, { authorization: `Bearer ${token}` });
    expect(stream.status).toBe(200);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    await stream.closed; // the server ended the stream
    const lines = p.output().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['gateway listening', 'replica loaded', 'gateway shutting down', 'gateway stopped']));
    expect(p.output()).not.toContain(token);
  });
});
