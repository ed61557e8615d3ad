// The whole system as `npm start` runs it: 3 consensus nodes, 2 gateways,
// the relay, the dashboard, the SNS/SQS emulator and Caddy in front, reached
// only through https://localhost:<port> (Caddy's internal CA, trusted by
// NODE_EXTRA_CA_CERTS). The tests run in order and share the stack.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { chromium } from 'playwright-core';
import { createClusterClient } from '@flagraft/cluster-client';
import { pkiFiles } from '@flagraft/identity';
import { call, gatewayClient, newIdempotencyKey, openSocket, runCli } from '../src/client.js';
import { isAlive, launcherLogTail, readStackInfo, repoRoot, startStack, stopPid, waitFor, type StackInfo } from '../src/stack.js';

const { dataDir, adminToken } = inject('stack');
let info: StackInfo = readStackInfo(dataDir)!;
const work = mkdtempSync(join(tmpdir(), 'flagraft-stack-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  call(info.url, adminToken, method, path, body, headers);
const cliEnv = () => ({ FLAGRAFT_URL: info.url, FLAGRAFT_TOKEN: adminToken });

const checkout = {
  key: 'stack-checkout', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true,
  rules: [{ conditions: [{ attribute: 'plan', op: 'equals', value: 'pro' }], variant: 'on' }],
};

async function allFlags(): Promise<Map<string, { flag: unknown; modRevision: number }>> {
  const page = await gatewayClient(info.url, adminToken).listFlags({ limit: 1000 });
  return new Map(page.flags.map((f) => [f.flag.key, { flag: f.flag as unknown, modRevision: f.modRevision }]));
}

/** Stops the running launcher (and so every process it started) and starts a new one on the same data. */
async function restartStack(beforeStart?: () => void): Promise<void> {
  const old = info;
  await stopPid(old.pid);
  for (const p of old.processes) await waitFor(`${p.name} (pid ${p.pid}) to stop`, 30_000, () => !isAlive(p.pid) || undefined);
  beforeStart?.();
  info = (await startStack({ dataDir, adminToken })).info;
  expect(info.caFile).toBe(old.caFile); // same Caddy CA: the clients' trust stays valid
}

describe('the nodes', () => {
  it('speak mutual TLS with certificates the launcher made: plain text and certificate-less clients are refused, private keys are 0600', async () => {
    const pki = info.pkiDir;
    expect(statSync(join(pki, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(pki, 'node-1.key')).mode & 0o777).toBe(0o600);
    expect(info.clusterId).toMatch(/^fr-[a-z2-7]{12}$/);
    const admin = createClusterClient({ endpoints: info.nodes, tls: pkiFiles(pki, 'admin-local') });
    try {
      const st = await admin.status();
      expect(st).toMatchObject({ clusterId: info.clusterId, transportSecurity: 'mtls' });
      expect(st.members.map((m) => m.peerAddress).sort()).toEqual([...info.peers].sort());
    } finally {
      admin.close();
    }
    const plain = createClusterClient({ endpoints: info.nodes, insecure: true, clusterId: info.clusterId, retryDeadlineMs: 1000, requestTimeoutMs: 500 });
    await expect(plain.getFlag('x')).rejects.toMatchObject({ code: expect.stringMatching(/UNAVAILABLE|DEADLINE/) });
    plain.close();
  });
});

describe('the stack through Caddy', () => {
  it('serves the API over HTTPS with Caddy\'s internal CA, security headers and JSON errors', async () => {
    expect(info.url).toMatch(/^https:\/\/localhost:\d+$/);
    const r = await api('GET', '/api/v1/flags');
    expect(r.status).toBe(200);
    expect(Array.isArray(r.body.flags)).toBe(true);
    expect(r.headers.get('strict-transport-security')).toContain('max-age=');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('server')).toBeNull();
    const anon = await call(info.url, undefined, 'GET', '/api/v1/flags');
    expect(anon.status).toBe(401);
    expect(anon.headers.get('content-type')).toContain('application/problem+json');
    // Body limits: the gateway's own (1 MiB) answers with its problem
    // document; Caddy refuses 2 MB and more before proxying; the restore
    // endpoint takes a whole backup through to the gateway, which judges it.
    const overGateway = await api('PUT', '/api/v1/flags/too-big', { type: 'boolean', description: 'x'.repeat(1_500_000) });
    expect(overGateway.status).toBe(413);
    expect(overGateway.body.type).toContain('payload-too-large');
    const padding = 'x'.repeat(2_000_000);
    const overCaddy = await api('PUT', '/api/v1/flags/too-big', { type: 'boolean', description: padding });
    expect(overCaddy.status).toBe(413);
    expect(overCaddy.headers.get('content-type')).toContain('application/problem+json');
    expect(overCaddy.body.detail).toMatch(/^proxy: 413/);
    const restore = await api('POST', '/api/v1/admin/restore', { format: 'flagraft-backup', v: 1, padding });
    // Caddy let the 2 MB backup through; the gateway's JSON shape limits
    // judged it (a 2,000,000-character string is over maxJsonStringChars).
    expect(restore.status).toBe(422);
    expect(restore.body.type).toContain('json-limit');
    expect(restore.body.limit).toBe('maxJsonStringChars');
    // Refused bodies must not count as gateway failures (Caddy would take
    // gateways out of rotation and answer 503 for fail_duration).
    for (let i = 0; i < 4; i++) expect((await api('GET', '/api/v1/flags')).status).toBe(200);
  });

  it('creates a flag and evaluates it through OFREP', async () => {
    const put = await api('PUT', `/api/v1/flags/${checkout.key}`, checkout, { 'if-none-match': '*' });
    expect([200, 201]).toContain(put.status);
    expect(put.body.flag.key).toBe(checkout.key);
    const pro = await api('POST', `/ofrep/v1/evaluate/flags/${checkout.key}`, { context: { targetingKey: 'user-1', plan: 'pro' } });
    expect(pro.status).toBe(200);
    expect(pro.body).toMatchObject({ key: checkout.key, value: true, variant: 'on', reason: 'TARGETING_MATCH' });
    const free = await api('POST', `/ofrep/v1/evaluate/flags/${checkout.key}`, { context: { targetingKey: 'user-2', plan: 'free' } });
    expect(free.body).toMatchObject({ key: checkout.key, value: false, variant: 'off' });
    const missing = await api('POST', '/ofrep/v1/evaluate/flags/no-such-flag', { context: { targetingKey: 'u' } });
    expect(missing.status).toBe(404);
    expect(missing.body.errorCode).toBe('FLAG_NOT_FOUND');
  });

  it('evaluates with the OpenFeature SDK and its OFREP provider, as in the README', async () => {
    const { OpenFeature } = await import('@openfeature/server-sdk');
    const { OFREPProvider } = await import('@openfeature/ofrep-provider');
    await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: info.url, headers: [['Authorization', `Bearer ${adminToken}`]] }));
    try {
      const client = OpenFeature.getClient();
      expect(await client.getBooleanValue(checkout.key, false, { targetingKey: 'user-42', plan: 'pro' })).toBe(true);
      const details = await client.getBooleanDetails(checkout.key, true, { targetingKey: 'user-43', plan: 'free' });
      expect(details).toMatchObject({ value: false, variant: 'off' });
      const missing = await client.getBooleanDetails('no-such-flag', true, { targetingKey: 'u' });
      expect(missing).toMatchObject({ value: true, errorCode: 'FLAG_NOT_FOUND' });
    } finally {
      await OpenFeature.close();
    }
  });

  it('delivers the change on a wss:// WebSocket through Caddy', async () => {
    const sock = await openSocket(`${info.url.replace(/^https/, 'wss')}/ws`, adminToken);
    try {
      await sock.waitForMessage('hello', (m) => m.type === 'hello');
      const patch = await api('PATCH', `/api/v1/flags/${checkout.key}`, { enabled: false });
      expect(patch.status).toBe(200);
      const revision = patch.body.modRevision;
      expect(revision).toBeGreaterThan(0);
      const msg = await sock.waitForMessage(`change of ${checkout.key} at revision ${revision}`,
        (m) => m.type === 'change' && m.event?.key === checkout.key && m.event?.revision === revision);
      expect(msg.event.op).toBe('put');
      expect(msg.event.flag.flag.enabled).toBe(false);
    } finally {
      sock.close();
    }
  });

  it('streams the change as Server-Sent Events through Caddy, without buffering', async () => {
    const ac = new AbortController();
    const res = await fetch(`${info.url}/api/v1/stream`, { headers: { authorization: `Bearer ${adminToken}` }, signal: ac.signal });
    try {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const reader = res.body!.getReader();
      let text = '';
      const readUntil = async (what: string, pred: () => boolean) => waitFor(what, 15_000, async () => {
        if (pred()) return true;
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended while waiting for ${what}`);
        text += new TextDecoder().decode(value);
        return pred() || undefined;
      });
      await readUntil('the ready event', () => text.includes('event: ready'));
      const patch = await api('PATCH', `/api/v1/flags/${checkout.key}`, { enabled: true });
      expect(patch.status).toBe(200);
      const rev = patch.body.modRevision;
      // Arrives while the request is still open: Caddy flushes each event (flush_interval -1).
      await readUntil(`event id ${rev}`, () => text.includes(`id: ${rev}\n`));
      const line = text.split('\n').find((l) => l.startsWith('data: ') && l.includes(`"revision":${rev}`))!;
      expect(JSON.parse(line.slice(6))).toMatchObject({ key: checkout.key, op: 'put', revision: rev });
    } finally {
      ac.abort();
    }
  });

  it('opens the OFREP event stream from its ticketed URL through Caddy (as a browser must); the ticket is not in Caddy\'s access log', async () => {
    const bulk = await fetch(`${info.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: '{}' });
    const url = ((await bulk.json()) as { eventStreams: { url: string }[] }).eventStreams[0].url;
    const ticket = new URL(url).searchParams.get('ticket')!;
    expect(url.startsWith(`${info.url}/ofrep/v1/events?ticket=`)).toBe(true);
    const ac = new AbortController();
    const res = await fetch(url, { signal: ac.signal }); // no Authorization header
    expect(res.status).toBe(200);
    ac.abort();
    // A request with the ticket that completes at once (the wrong stream for it: 401), so its access-log
    // line is written now; the aborted stream's line comes whenever Caddy notices the client left.
    const wrong = await fetch(`${info.url}/api/v1/stream?ticket=${ticket}`);
    expect(wrong.status).toBe(401);
    const log = join(dataDir, 'caddy', 'access.log');
    const lines = await waitFor('the ticketed request in the access log', 10_000, () => {
      const text = readFileSync(log, 'utf8');
      return text.includes('/api/v1/stream?ticket=') ? text : undefined;
    });
    expect(lines).toContain('ticket=REDACTED');
    expect(lines).not.toContain(ticket);
    expect(lines).not.toContain(adminToken);
  });

  it('loads the dashboard through Caddy in headless Chromium, signs in and sees a change live', async () => {
    const shown = { ...checkout, key: 'dashboard-visible' };
    expect([200, 201]).toContain((await api('PUT', `/api/v1/flags/${shown.key}`, shown)).status);
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      // Chromium does not read NODE_EXTRA_CA_CERTS; the Node clients above verify the chain.
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const artifacts = join(repoRoot, 'test-artifacts', 'stack');
      mkdirSync(artifacts, { recursive: true });
      try {
        const res = await page.goto(`${info.url}/`, { waitUntil: 'networkidle' });
        expect(res?.status()).toBe(200);
        await page.getByRole('heading', { name: 'Sign in to flagraft' }).waitFor({ timeout: 15_000 });
        await page.getByLabel('Gateway token').fill(adminToken);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL(/\/flags/, { timeout: 15_000 });
        await page.getByText(shown.key, { exact: true }).first().waitFor({ timeout: 15_000 });
        await page.screenshot({ path: join(artifacts, 'dashboard-flags.png'), fullPage: true });
        // Live: a change made elsewhere shows up in the open page without a reload.
        await page.getByText('Live', { exact: true }).waitFor({ timeout: 15_000 });
        const row = page.getByRole('row').filter({ hasText: shown.key });
        await row.getByText('On', { exact: true }).waitFor({ timeout: 5_000 });
        expect((await api('PATCH', `/api/v1/flags/${shown.key}`, { enabled: false })).status).toBe(200);
        await row.getByText('Off', { exact: true }).waitFor({ timeout: 15_000 });
        await page.screenshot({ path: join(artifacts, 'dashboard-live-update.png'), fullPage: true });
      } catch (err) {
        await page.screenshot({ path: join(artifacts, 'dashboard-failure.png'), fullPage: true }).catch(() => {});
        const dash = launcherLogTail(dataDir, 200_000).split('\n').filter((l) => /dashboard|caddy/.test(l)).slice(-40).join('\n');
        throw new Error(`${(err as Error).message}\npage: ${page.url()}\n--- dashboard/caddy log ---\n${dash}`);
      }
    } finally {
      await browser.close();
    }
  });

  it('keeps answering through Caddy when one gateway is killed, and applies a retried write once', async () => {
    const g1 = info.processes.find((p) => p.name === 'gateway-1')!;
    const historyOf = async () => {
      const h = await api('GET', `/api/v1/flags/${checkout.key}/history?limit=1000`);
      expect(h.status).toBe(200);
      return (h.body.changes as { revision: number }[]).map((c) => c.revision);
    };
    const before = await historyOf();
    // Concurrent reads leave Caddy (least_conn) holding keep-alive
    // connections to both gateways: the first write after the kill may be
    // sent on one to the dead gateway, which Caddy 2.6 answers 502 without
    // trying the other gateway (it cannot send a body twice).
    const warm = await Promise.all(Array.from({ length: 8 }, () => api('GET', `/api/v1/flags/${checkout.key}`)));
    expect(warm.map((r) => r.status)).toEqual(Array(8).fill(200));
    process.kill(g1.pid, 'SIGKILL');
    await waitFor('gateway-1 to die', 10_000, () => !isAlive(g1.pid) || undefined);
    // Every request must succeed: Caddy retries dial failures and reads on
    // the other gateway and marks the dead one down; a write that met a
    // broken connection is repeated by the client with its Idempotency-Key,
    // and the cluster applies it once. Caddy itself must never answer 503
    // (no upstream) while gateway-2 is alive: the client does not repeat those.
    const attempts: number[] = [];
    try {
      const key = newIdempotencyKey();
      const first = await api('PATCH', `/api/v1/flags/${checkout.key}`, { enabled: true }, { 'idempotency-key': key });
      attempts.push(first.attempts);
      expect(first.status, 'first write after the kill').toBe(200);
      // The same write sent again (a client that missed the answer): the first outcome, not a second change.
      const again = await api('PATCH', `/api/v1/flags/${checkout.key}`, { enabled: true }, { 'idempotency-key': key });
      expect(again.status).toBe(200);
      expect(again.body.modRevision, 'the repeated write is answered with the first revision').toBe(first.body.modRevision);
      const revisions = [first.body.modRevision as number];
      for (let i = 0; i < 20; i++) {
        const ev = await api('POST', `/ofrep/v1/evaluate/flags/${checkout.key}`, { context: { targetingKey: `u${i}` } });
        attempts.push(ev.attempts);
        expect(ev.status, `evaluation ${i}`).toBe(200);
        const get = await api('GET', `/api/v1/flags/${checkout.key}`);
        expect(get.status, `read ${i}`).toBe(200);
      }
      for (let i = 0; i < 5; i++) {
        const w = await api('PATCH', `/api/v1/flags/${checkout.key}`, { enabled: i % 2 === 0 });
        attempts.push(w.attempts);
        expect(w.status, `write ${i}`).toBe(200);
        revisions.push(w.body.modRevision);
      }
      // Each write applied exactly once: one history entry per answered revision, nothing else.
      expect((await historyOf()).filter((r) => !before.includes(r)).sort((a, b) => a - b)).toEqual(revisions);
    } catch (err) {
      const tail = launcherLogTail(dataDir, 400_000).split('\n').filter((l) => /caddy|gateway-2/.test(l) && !/"msg":"request"/.test(l)).slice(-30).join('\n');
      throw new Error(`${(err as Error).message}\nattempts per request: ${attempts.join(',')}\n--- caddy / gateway-2 log ---\n${tail}`);
    }
    // How often the dead gateway's broken connection was met (a 502 repeated): for the record, not asserted.
    console.log(`gateway kill: requests repeated after a proxy 502: ${attempts.filter((a) => a > 1).length} of ${attempts.length}`);
  });
});

describe('the flagraft CLI against the running stack', () => {
  it('manages flags with tables, --json and distinct exit codes', async () => {
    const env = cliEnv();
    const def = join(work, 'cli-flag.json');
    writeFileSync(def, JSON.stringify({ type: 'string', variants: { a: 'alpha', b: 'beta' }, defaultVariant: 'a', enabled: true, rules: [] }));

    let r = await runCli(['flags', 'set', 'cli-flag', '--file', def, '--create'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^set cli-flag at revision \d+/);
    r = await runCli(['flags', 'set', 'cli-flag', '--file', def, '--create'], env);
    expect(r.code).toBe(5); // conflict: exists already
    r = await runCli(['flags', 'get', 'cli-flag', '--json'], env);
    expect(r.code).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.flag).toMatchObject({ key: 'cli-flag', type: 'string', defaultVariant: 'a' });
    const rev = got.modRevision as number;

    r = await runCli(['flags', 'set', 'cli-flag', '--default', 'b', '--if-revision', String(rev)], env);
    expect(r.code).toBe(0);
    r = await runCli(['flags', 'set', 'cli-flag', '--disable', '--if-revision', String(rev)], env);
    expect(r.code).toBe(5); // stale revision: compare-and-set refused
    r = await runCli(['flags', 'list', '--prefix', 'cli-'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^KEY\s+TYPE\s+ENABLED\s+DEFAULT\s+REVISION/);
    expect(r.stdout).toMatch(/cli-flag\s+string\s+on\s+b\s+\d+\s+admin/);
    r = await runCli(['flags', 'history', 'cli-flag', '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).changes.map((c: { actor: string }) => c.actor)).toEqual(['admin', 'admin']);

    writeFileSync(def, JSON.stringify({ type: 'boolean', variants: { on: 'yes' }, defaultVariant: 'missing', enabled: true, rules: [] }));
    r = await runCli(['flags', 'set', 'bad-flag', '--file', def], env);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('422');

    r = await runCli(['flags', 'set', 'from-stdin', '--file', '-', '--json'], env,
      JSON.stringify({ type: 'number', variants: { low: 1, high: 9 }, defaultVariant: 'high', enabled: true, rules: [] }));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).flag).toMatchObject({ key: 'from-stdin', type: 'number', defaultVariant: 'high' });

    r = await runCli(['flags', 'set', 'legacy-banner', '--value', 'hello'], env);
    expect(r.code).toBe(0);
    expect((await api('GET', '/get/legacy-banner')).body).toMatchObject({ key: 'legacy-banner', value: 'hello' });

    r = await runCli(['flags', 'delete', 'cli-flag', '--if-revision', '1'], env);
    expect(r.code).toBe(5);
    r = await runCli(['flags', 'delete', 'cli-flag'], env);
    expect(r.code).toBe(0);
    r = await runCli(['flags', 'get', 'cli-flag'], env);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('does not exist');

    r = await runCli(['flags', 'list'], { ...env, FLAGRAFT_TOKEN: 'not-a-token' });
    expect(r.code).toBe(3);
    r = await runCli(['flags', 'list'], { ...env, FLAGRAFT_URL: 'http://127.0.0.1:1' });
    expect(r.code).toBe(7);
  });

  it('shows the cluster and transfers leadership', async () => {
    const env = cliEnv();
    let r = await runCli(['cluster', 'status', '--json'], env);
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(status.members).toHaveLength(3);
    expect(status.members.every((m: { role: string }) => m.role === 'voter')).toBe(true);
    const follower = status.members.find((m: { id: number }) => m.id !== status.leaderId).id as number;
    r = await runCli(['cluster', 'status'], env);
    expect(r.stdout).toMatch(/ID\s+ADDRESS\s+ROLE\s+LEADER/);
    r = await runCli(['cluster', 'transfer-leader', String(follower)], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await waitFor(`node ${follower} to lead`, 10_000, async () => (await api('GET', '/api/v1/cluster')).body.leaderId === follower || undefined);
    r = await runCli(['cluster', 'promote', 'x'], env);
    expect(r.code).toBe(2);
  });
});

describe('persistence, backup and restore', () => {
  it('keeps every flag across a restart of the whole stack', async () => {
    const before = await allFlags();
    expect(before.size).toBeGreaterThanOrEqual(2);
    await restartStack();
    const after = await allFlags();
    expect(after).toEqual(before);
  });

  it('backs up, wipes every node, restores into a new cluster: every flag, segment and flag history is back', async () => {
    const seg = await api('PUT', '/api/v1/segments/beta-users', { name: 'beta-users', conditions: [{ attribute: 'beta', op: 'equals', value: true }] });
    expect([200, 201]).toContain(seg.status);
    const withSeg = { ...checkout, key: 'beta-feature', rules: [{ conditions: [], segments: ['beta-users'], variant: 'on' }] };
    expect([200, 201]).toContain((await api('PUT', '/api/v1/flags/beta-feature', withSeg)).status);

    const flagsBefore = await allFlags();
    const segmentsBefore = (await api('GET', '/api/v1/segments')).body.segments.map((s: { segment: unknown }) => s.segment);
    const historyBefore = (await api('GET', `/api/v1/flags/${checkout.key}/history`)).body.changes;
    expect(historyBefore.length).toBeGreaterThanOrEqual(3);

    const file = join(work, 'backup.json');
    let r = await runCli(['snapshot', 'save', file], cliEnv());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const backup = JSON.parse(readFileSync(file, 'utf8'));
    expect(backup.format).toBe('flagraft-backup');
    expect(backup.flags.map((f: { flag: { key: string } }) => f.flag.key).sort()).toEqual([...flagsBefore.keys()].sort());
    // The file holds the full audit trail of every flag at the backup's revision.
    const inFile = backup.changes.filter((c: { key: string; kind?: string }) => c.key === checkout.key && c.kind !== 'segment');
    expect(inFile.map((c: { revision: number }) => c.revision).sort((a: number, b: number) => a - b))
      .toEqual(historyBefore.map((c: { revision: number }) => c.revision).sort((a: number, b: number) => a - b));

    await restartStack(() => {
      for (const n of [1, 2, 3]) rmSync(join(dataDir, `node-${n}`), { recursive: true, force: true });
    });
    expect((await allFlags()).size).toBe(0); // a new, empty cluster

    r = await runCli(['snapshot', 'restore', file], cliEnv());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`historical change(s) from ${file}`);
    expect(r.stdout).toContain('flags keep their revisions and history');
    const flagsAfter = await allFlags();
    expect([...flagsAfter.keys()].sort()).toEqual([...flagsBefore.keys()].sort());
    // The same stored flags: definitions, revisions, versions, who changed them last.
    for (const [key, v] of flagsBefore) expect(flagsAfter.get(key), key).toEqual(v);
    // The audit trail is back: the pre-backup changes with their revisions and actors.
    r = await runCli(['flags', 'history', checkout.key, '--json'], cliEnv());
    expect(r.code).toBe(0);
    const historyAfter = JSON.parse(r.stdout).changes;
    expect(historyAfter).toEqual(historyBefore);
    r = await runCli(['flags', 'history', checkout.key], cliEnv());
    expect(r.code).toBe(0);
    for (const c of historyBefore as { revision: number; actor: string }[]) expect(r.stdout).toMatch(new RegExp(`^${c.revision}\\s+\\S+\\s+${c.actor}\\s`, 'm'));
    // A second restore into the now non-empty cluster is refused (409 -> exit code 5).
    r = await runCli(['snapshot', 'restore', file], cliEnv());
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('not empty');
    // New writes continue after the backup's revision.
    const next = await api('PUT', `/api/v1/flags/${checkout.key}`, { ...checkout, description: 'after the restore' });
    expect(next.status).toBe(200);
    expect(next.body.modRevision).toBeGreaterThan(backup.revision);
    const segmentsAfter = (await api('GET', '/api/v1/segments')).body.segments.map((s: { segment: unknown }) => s.segment);
    expect(segmentsAfter).toEqual(segmentsBefore);
    const ev = await api('POST', '/ofrep/v1/evaluate/flags/beta-feature', { context: { targetingKey: 'u', beta: true } });
    expect(ev.body).toMatchObject({ value: true, variant: 'on' });
  });
});
