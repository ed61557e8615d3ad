// scripts/start.mjs refuses bad input with a clear message before it starts anything.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventKeySet } from '@flagraft/auth';
import { repoRoot, startStack } from '../src/stack.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'flagraft-launcher-')); dirs.push(d); return d; };
const launch = (args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'scripts', 'start.mjs'), ...args],
  { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });

describe('the local stack launcher', () => {
  it('explains its options with --help', () => {
    const r = launch(['--help']);
    expect(r.status).toBe(0);
    for (const o of ['--fresh', '--demo', '--ports free', '--https-port', '--data-dir', '--no-caddy']) expect(r.stdout).toContain(o);
  });

  it('names an unknown option or a bad value', () => {
    let r = launch(['--colour']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Unknown option '--colour'");
    r = launch(['--ports', 'some', '--data-dir', tmp()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--ports must be "free" or "default"');
  });

  it('refuses a port that is in use, naming it, and starts nothing', async () => {
    const blocker = net.createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', () => res()));
    const busy = (blocker.address() as net.AddressInfo).port;
    try {
      const dir = tmp();
      // Ports are kept per data folder (the nodes remember their peers' addresses).
      const keys = ['node1', 'node2', 'node3', 'peer1', 'peer2', 'peer3', 'gateway1', 'gateway2', 'relay', 'dashboard', 'sqs', 'https', 'http'];
      writeFileSync(join(dir, 'ports.json'), JSON.stringify(Object.fromEntries(keys.map((k) => [k, busy]))));
      const r = launch(['--data-dir', dir]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`port ${busy} (node1) is in use`);
      expect(existsSync(join(dir, 'stack.json'))).toBe(false);
      expect(existsSync(join(dir, 'node-1'))).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it('runs without Caddy, saying so, with the gateways as the entry point', async () => {
    const dir = tmp();
    const token = 'fr_no_caddy_test_token_0123456789';
    const stack = await startStack({ dataDir: dir, adminToken: token, args: ['--no-caddy'] });
    try {
      expect(stack.output()).toContain('Caddy disabled (--no-caddy)');
      // The change event signing key, made on the first start, readable by its owner only.
      const keys = join(dir, 'event-keys.json');
      expect(statSync(keys).mode & 0o777).toBe(0o600);
      expect(EventKeySet.load(keys, { requireActive: true }).keyIds).toHaveLength(1);
      expect(stack.info.caFile).toBeUndefined();
      expect(stack.info.url).toBe(stack.info.gateways[0]);
      const res = await fetch(`${stack.info.url}/api/v1/flags`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const dash = await fetch(`${stack.info.dashboard}/login`);
      expect(dash.status).toBe(200);
    } finally {
      await stack.stop();
    }
  });
});
