// The built server as a process, without the rest of the stack: config
// errors, /health, the sign-in redirect, and /live refusing strangers.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { launchBrowser } from './browser';
import { APP_DIR, startDashboard, TOKENS } from './stack';

const ENTRY = fileURLToPath(new URL('../server/entry.node-server.js', import.meta.url));
let dash: Awaited<ReturnType<typeof startDashboard>>;

beforeAll(async () => {
  // Nothing listens on port 9 of loopback: the gateway and relay are "down".
  dash = await startDashboard({ gatewayUrl: 'http://127.0.0.1:9', relayUrl: 'http://127.0.0.1:9' });
}, 60_000);
afterAll(async () => {
  await dash?.stop();
});

function run(env: Record<string, string>) {
  return spawnSync(process.execPath, [ENTRY], { cwd: APP_DIR, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
}

describe('dashboard server process', () => {
  it('refuses to start with a short cookie secret or a bad URL, naming the variable', () => {
    const a = run({ FLAGRAFT_DASHBOARD_COOKIE_SECRET: 'short' });
    expect(a.status).toBe(2);
    expect(a.stdout).toContain('FLAGRAFT_DASHBOARD_COOKIE_SECRET');
    const b = run({ FLAGRAFT_DASHBOARD_COOKIE_SECRET: 'x'.repeat(40), FLAGRAFT_GATEWAY_URL: 'not a url' });
    expect(b.status).toBe(2);
    expect(b.stdout).toContain('FLAGRAFT_GATEWAY_URL');
    const c = run({ FLAGRAFT_DASHBOARD_COOKIE_SECRET: 'x'.repeat(40), FLAGRAFT_TOKENS: '[{"name":"a"}]' });
    expect(c.status).toBe(2);
    expect(c.stdout).toContain('FLAGRAFT_TOKENS');
  });

  it('answers /health, binds loopback, and sends pages without a session to /login', async () => {
    expect(dash.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const h = await fetch(`${dash.url}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: 'ok', app: 'dashboard' });
    const r = await fetch(`${dash.url}/flags?q=x`, { redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe('/login?next=%2Fflags%3Fq%3Dx');
    const login = await fetch(`${dash.url}/login`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('Gateway token');
  });

  it('ignores a forged session cookie', async () => {
    const r = await fetch(`${dash.url}/flags`, { redirect: 'manual', headers: { cookie: 'flagraft_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    expect(r.status).toBe(302);
  });

  it('refuses /live without a session (HTTP 401 before the upgrade)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${dash.url.replace('http', 'ws')}/live`, { headers: { origin: dash.url } });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => {
        ws.terminate();
        resolve(101);
      });
      ws.on('error', reject);
    });
    expect(status).toBe(401);
  });

  it('shows a clear error, not a crash, when the gateway is down at sign-in', async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${dash.url}/login`);
      await page.getByLabel('Gateway token').fill('no-such-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('This token is not recognised.').waitFor();
      await page.getByLabel('Gateway token').fill(TOKENS.reader);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText(/The gateway is not available right now/).waitFor();
      expect(await page.context().cookies()).toEqual([]);
    } finally {
      await browser.close();
    }
    expect((await fetch(`${dash.url}/health`)).status).toBe(200);
  });
});
