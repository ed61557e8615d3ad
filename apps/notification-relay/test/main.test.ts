// The real entry point as a process: env config, JSON logs, SIGTERM shutdown.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '@flagraft/auth';
import { EVENT_KEYS_FILE, TOKENS, connect, ev, publish, spawnJson, startEmulator, uniqueName, upgradeStatus, waitFor } from './helpers.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let emu: Awaited<ReturnType<typeof startEmulator>>;
const procs: ChildProcess[] = [];

beforeAll(async () => { emu = await startEmulator(); });
const dir = mkdtempSync(join(tmpdir(), 'relay-main-'));
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  for (const p of procs) if (p.exitCode === null && p.pid) process.kill(p.pid, 'SIGKILL');
  await emu?.stop();
});

function run(env: Record<string, string>) {
  const proc = spawnJson(MAIN, { FLAGRAFT_EVENT_KEYS_FILE: EVENT_KEYS_FILE, ...env });
  procs.push(proc.p);
  return proc;
}

describe('main.ts', () => {
  it('starts from environment variables, creates resources when asked, relays, and shuts down on SIGTERM', async () => {
    const topic = uniqueName('main-topic');
    const r = run({
      FLAGRAFT_RELAY_PORT: '0', FLAGRAFT_AWS_ENDPOINT: emu.endpoint, FLAGRAFT_RELAY_QUEUE_NAME: uniqueName('main-q'),
      FLAGRAFT_RELAY_CREATE_RESOURCES: 'true', FLAGRAFT_RELAY_TOPIC_NAME: topic, FLAGRAFT_RELAY_WAIT_TIME_SECONDS: '1',
      FLAGRAFT_TOKENS: JSON.stringify([{ name: 'rita', role: 'reader', sha256: hashToken(TOKENS.reader) }]),
    });
    await waitFor(() => r.lines.some((l) => l.msg === 'relay listening'), 'listening log', 15_000);
    const listening = r.lines.find((l) => l.msg === 'relay listening');
    expect(listening).toMatchObject({ level: 'info', app: 'notification-relay', host: '127.0.0.1' });
    expect(typeof listening.t).toBe('string');
    const base = `http://127.0.0.1:${listening.port}`;
    await waitFor(async () => (await fetch(`${base}/ready`)).status === 200, 'ready');
    const topicArn = r.lines.find((l) => l.msg.startsWith('provisioned')).topicArn;
    const c = connect(`ws://127.0.0.1:${listening.port}/ws`, { token: TOKENS.reader });
    await waitFor(() => c.messages.some((m) => m.type === 'hello'), 'hello');
    await publish(emu.sns, topicArn, [ev(3, 'from-main', 2)]);
    await waitFor(() => c.changes().length === 1, 'event via the process');
    r.p.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    await waitFor(() => c.closed !== undefined, 'client closed');
    expect(c.closed!.code).toBe(1001);
    expect(r.lines.some((l) => l.msg === 'relay stopped')).toBe(true);
  });

  it('re-reads FLAGRAFT_TOKENS_FILE on SIGHUP: a revoked token can no longer connect', async () => {
    const file = join(dir, 'tokens.json');
    const write = (entries: unknown[]) => { writeFileSync(`${file}.tmp`, JSON.stringify(entries)); renameSync(`${file}.tmp`, file); };
    write([{ name: 'rita', role: 'reader', sha256: hashToken(TOKENS.reader) }]);
    const r = run({
      FLAGRAFT_RELAY_PORT: '0', FLAGRAFT_AWS_ENDPOINT: emu.endpoint, FLAGRAFT_RELAY_QUEUE_NAME: uniqueName('hup-q'),
      FLAGRAFT_RELAY_CREATE_RESOURCES: 'true', FLAGRAFT_RELAY_TOPIC_NAME: uniqueName('hup-topic'), FLAGRAFT_RELAY_WAIT_TIME_SECONDS: '1',
      FLAGRAFT_TOKENS_FILE: file,
    });
    await waitFor(() => r.lines.some((l) => l.msg === 'relay listening'), 'listening log', 15_000);
    const wsUrl = `ws://127.0.0.1:${r.lines.find((l) => l.msg === 'relay listening').port}/ws`;
    expect(await upgradeStatus(wsUrl, { authorization: `Bearer ${TOKENS.reader}` })).toBe(101);
    write([{ name: 'ada', role: 'admin', sha256: hashToken(TOKENS.admin) }]);
    r.p.kill('SIGHUP');
    await waitFor(() => r.lines.some((l) => l.msg === 'tokens reloaded'), 'tokens reloaded log');
    expect(await upgradeStatus(wsUrl, { authorization: `Bearer ${TOKENS.reader}` })).toBe(401);
    expect(await upgradeStatus(wsUrl, { authorization: `Bearer ${TOKENS.admin}` })).toBe(101);
    r.p.kill('SIGTERM');
    expect(await r.exited).toBe(0);
  });

  it('exits 1 with a log line naming the bad setting', async () => {
    const r = run({ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_RELAY_POLLERS: '0' });
    expect(await r.exited).toBe(1);
    expect(r.lines.find((l) => l.level === 'error')).toMatchObject({ msg: 'relay failed to start', error: expect.stringMatching(/pollers/) });
  });

  it('refuses to start without event keys, or with a keys file it cannot use, naming it', async () => {
    const none = run({ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_EVENT_KEYS_FILE: '' });
    expect(await none.exited).toBe(1);
    expect(none.lines.find((l) => l.level === 'error')).toMatchObject({ error: expect.stringMatching(/FLAGRAFT_EVENT_KEYS_FILE: required/) });
    const bad = join(dir, 'bad-keys.json');
    writeFileSync(bad, JSON.stringify({ v: 1, keys: [{ id: 'short', secret: 'c2hvcnQ=' }] }));
    const broken = run({ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_EVENT_KEYS_FILE: bad });
    expect(await broken.exited).toBe(1);
    expect(broken.lines.find((l) => l.level === 'error')).toMatchObject({ error: expect.stringMatching(/keys\[0\]\.secret: must be base64 of 32-64/) });
  });
});
