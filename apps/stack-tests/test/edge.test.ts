// The edge of the stack as `npm start` runs it (issue 12): the launcher
// brings a crashed process back, Caddy's access log keeps no secret and is
// 0600, Caddy's own errors are problem documents, and the HTTP->HTTPS
// redirect keeps the port. Shares the stack of global-setup.
import { readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { isAlive, launcherLogTail, readStackInfo, waitFor, type StackInfo } from '../src/stack.js';

const { dataDir, adminToken } = inject('stack');
const info = (): StackInfo => readStackInfo(dataDir)!;
const pidOf = (name: string) => info().processes.find((p) => p.name === name)!.pid;
const accessLog = () => join(info().dataDir, 'caddy', 'access.log');

/** How long a killed process may take to answer through Caddy again (backoff + start + Caddy's 5 s health interval), ms. */
const COME_BACK_TIMEOUT_MS = 60_000;

/** GET through Caddy; status 0 when no answer came within `timeoutMs`. */
async function get(path: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<{ status: number; type: string; text: string }> {
  try {
    const r = await fetch(info().url + path, { headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text() };
  } catch {
    return { status: 0, type: '', text: '' };
  }
}

describe('the launcher', () => {
  it('restarts a dashboard killed by PID, and the page comes back through Caddy', async () => {
    expect((await get('/login')).status).toBe(200);
    const old = pidOf('dashboard');
    process.kill(old, 'SIGKILL');
    await waitFor('the killed dashboard to be gone', 10_000, () => !isAlive(old) || undefined);
    // stack.json names the new process, and the page answers again.
    const fresh = await waitFor('a new dashboard PID in stack.json', COME_BACK_TIMEOUT_MS, () => {
      const p = pidOf('dashboard');
      return p !== old && isAlive(p) ? p : undefined;
    });
    await waitFor('/login through Caddy again', COME_BACK_TIMEOUT_MS, async () => {
      const r = await get('/login', {}, 5_000);
      return r.status === 200 && r.text.includes('<html') ? true : undefined;
    });
    const log = launcherLogTail(dataDir, 200_000);
    expect(log).toContain(`dashboard (pid ${old}) exited SIGKILL; restarting in 500 ms`);
    expect(log).toContain(`dashboard restarted (pid ${fresh})`);
  });
});

describe('Caddy', () => {
  it('writes no token, cookie or ticket to its access log, which is 0600', async () => {
    const marker = `edge-${randomBytes(6).toString('hex')}`;
    const secrets = { auth: `fr_auth_${marker}`, cookie: `sess_${marker}`, ticket: `tk_${marker}`, query: `qt_${marker}` };
    const r = await get(`/api/v1/flags?marker=${marker}&ticket=${secrets.ticket}&token=${secrets.query}`, {
      'x-api-key': adminToken, 'proxy-authorization': `Basic ${secrets.auth}`, cookie: `flagraft_session=${secrets.cookie}`,
    });
    expect(r.status).toBe(200); // the X-Api-Key token is real: the request went through
    const line = await waitFor('the request in the access log', 20_000, () =>
      readFileSync(accessLog(), 'utf8').split('\n').find((l) => l.includes(marker)));
    const all = readFileSync(accessLog(), 'utf8');
    for (const s of [adminToken, ...Object.values(secrets)]) expect(all).not.toContain(s);
    const headers = JSON.parse(line).request.headers;
    for (const h of ['X-Api-Key', 'Proxy-Authorization', 'Cookie']) expect(JSON.stringify(headers[h]), h).toContain('REDACTED');
    expect(JSON.parse(line).request.uri).toContain('ticket=REDACTED');
    expect(statSync(accessLog()).mode & 0o777).toBe(0o600);
  });

  it('redirects plain HTTP to HTTPS on the configured port, keeping path and query', async () => {
    const { ports } = info();
    const r = await fetch(`http://localhost:${ports.http}/flags?q=1`, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    expect(r.status).toBe(308);
    expect(r.headers.get('location')).toBe(`https://localhost:${ports.https}/flags?q=1`);
  });

  it('answers its own errors (no healthy upstream) as problem+json', async () => {
    // A relay that is stopped (not dead: the launcher would restart it) fails
    // Caddy's health check, which then has no upstream for /ws.
    const relay = pidOf('relay');
    process.kill(relay, 'SIGSTOP');
    try {
      const r = await waitFor('Caddy to answer /ws itself', 40_000, async () => {
        // Longer than lb_try_duration (5 s): with no healthy upstream Caddy waits that long, then answers 503.
        const a = await get('/ws', {}, 8_000);
        return a.status >= 500 ? a : undefined;
      });
      expect([502, 503]).toContain(r.status);
      expect(r.type).toContain('application/problem+json');
      expect(JSON.parse(r.text)).toMatchObject({ status: r.status, detail: expect.stringMatching(/^proxy: 50[23]/) });
    } finally {
      process.kill(relay, 'SIGCONT');
    }
    await waitFor('the relay through Caddy again', 30_000, async () => ((await get('/ws', {}, 3_000)).status === 404 ? true : undefined));
  });

  it('refuses a request line with a bad percent-encoding before any handler (Go\'s HTTP server, plain 400)', async () => {
    // Caddy 2.6 cannot shape this answer: Go's net/http refuses the request
    // line itself and closes the connection, before Caddy's routes and
    // handle_errors exist for it (README, Security). What matters here: it is
    // a 400, nothing is proxied, and the connection is closed.
    const { ports, caFile } = info();
    const r = await new Promise<{ status: number; type: string; connection: string }>((res, rej) => {
      const req = https.request({ host: '127.0.0.1', servername: 'localhost', port: ports.https, path: '/api/v1/flags/%zz', ca: readFileSync(caFile!), headers: { host: `localhost:${ports.https}` } }, (resp) => {
        resp.resume();
        res({ status: resp.statusCode ?? 0, type: String(resp.headers['content-type']), connection: String(resp.headers.connection) });
      });
      req.on('error', rej);
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.end();
    });
    expect(r).toEqual({ status: 400, type: 'text/plain; charset=utf-8', connection: 'close' });
  });
});
