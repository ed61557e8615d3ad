// Issue 12, in Chromium against the real stack (test/stack.ts): each finding
// that once took the dashboard down or let something through, tried again.
// The dashboard runs as its own process; after every case it must still answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { closeAll, launchBrowser, signIn } from './browser';
import { actionIds, echoesToken, send, signInCookie } from './hostile';
import { APP_DIR, NAMES, startStack, tokenEntries, TOKENS, waitFor, writeTokens, type Stack } from './stack';

let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];

async function newPage(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(ctx);
  const page = await ctx.newPage();
  // Content-Security-Policy violations of the page, collected for the CSP test.
  await page.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return page;
}

async function alive(): Promise<void> {
  const h = await fetch(`${stack.dashboardUrl}/health`);
  expect(h.status).toBe(200);
  process.kill(stack.dashboardPid, 0); // throws if the process is gone
}

beforeAll(async () => {
  stack = await startStack({ log: (m) => process.stderr.write(m + '\n') });
  browser = await launchBrowser();
}, 240_000);

afterAll(() => closeAll(contexts, browser, stack), 60_000);

describe('hostile input does not take the dashboard down (issue 12)', () => {
  it('sign-in with next=/%0a/evil.example, and /login?next=/%0a/x with a session, land on our own pages; the process lives', async () => {
    const page = await newPage();
    await page.goto(`${stack.dashboardUrl}/login?next=${encodeURIComponent('/\n/evil.example')}`);
    await page.getByLabel('Gateway token').fill(TOKENS.editor);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Flags', exact: true }).waitFor();
    expect(new URL(page.url()).origin).toBe(stack.dashboardUrl);
    // Signed in: the login page redirects straight to `next` (a cross-site link can make a browser do this).
    const r = await page.goto(`${stack.dashboardUrl}/login?next=/%0a/x`);
    expect(r?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/flags');
    await alive();
  });

  it('open redirect: next=/%09/127.0.0.1:9999/pwned stays on the dashboard', async () => {
    const page = await newPage();
    await page.goto(`${stack.dashboardUrl}/login?next=/%09/127.0.0.1:9999/pwned`);
    await page.getByLabel('Gateway token').fill(TOKENS.reader);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Flags', exact: true }).waitFor();
    expect(new URL(page.url()).origin).toBe(stack.dashboardUrl);
    for (const next of ['/\t/127.0.0.1:9999/pwned', '//evil.example/', '/\\evil.example', 'https://evil.example/', '/\u0000x']) {
      const s = await signInCookie(stack.dashboardUrl, TOKENS.reader, next);
      expect(s.status).toBe(303);
      expect(s.location).toBe('/flags');
    }
    expect((await signInCookie(stack.dashboardUrl, TOKENS.reader, '/segments?x=1')).location).toBe('/segments?x=1');
    await alive();
  });

  it('flags named constructor, toString, hasOwnProperty and valueOf work (__proto__ is not a valid key: refused with a clear 400) in the list, the editor, history and live', async () => {
    const keys = ['constructor', 'toString', 'hasOwnProperty', 'valueOf'];
    const refused = await stack.api('PUT', '/api/v1/flags/__proto__', { key: '__proto__', type: 'boolean', variants: { on: true }, defaultVariant: 'on', enabled: true });
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toContain('key');
    for (const key of keys) {
      const put = await stack.api('PUT', `/api/v1/flags/${key}`, { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true });
      expect(put.status, JSON.stringify(put.body)).toBeLessThan(300);
    }
    const page = await newPage();
    await signIn(page, stack.dashboardUrl, TOKENS.editor);
    await page.locator('[data-testid="live-indicator"][data-state="live"]').waitFor({ timeout: 20_000 });
    for (const key of keys) await expect(page.locator(`tr[data-key="${key}"]`).count()).resolves.toBe(1);
    // A row override (toggle result) and a live event for such keys.
    await page.getByTestId('toggle-constructor').click();
    await page.getByTestId('toggle-confirm').click();
    await page.getByTestId('list-message').waitFor();
    await expect(page.getByTestId('toggle-constructor').getAttribute('aria-checked')).resolves.toBe('false');
    const patch = await stack.api('PATCH', '/api/v1/flags/toString', { enabled: false });
    expect(patch.status).toBe(200);
    await page.waitForFunction(() => document.querySelector('[data-testid="toggle-toString"]')?.getAttribute('aria-checked') === 'false', undefined, { timeout: 20_000 });
    const list = await page.goto(`${stack.dashboardUrl}/flags`);
    expect(list?.status()).toBe(200);
    await expect(page.locator('tr[data-key="valueOf"]').count()).resolves.toBe(1);
    for (const key of keys) {
      const editor = await page.goto(`${stack.dashboardUrl}/flags/${encodeURIComponent(key)}`);
      expect(editor?.status()).toBe(200);
      await page.locator('#flag-title').getByText(key).waitFor();
      const history = await page.goto(`${stack.dashboardUrl}/flags/${encodeURIComponent(key)}/history`);
      expect(history?.status()).toBe(200);
      await page.getByTestId('history-entry').first().waitFor();
    }
    await alive();
  });

  it('variants named constructor and toString save from the editor and evaluate; __proto__ is refused next to its field (Qwik list keys never name a prototype member)', async () => {
    const key = 'variant-names';
    const flag = {
      key,
      type: 'string',
      variants: { a: 'A', b: 'B' },
      defaultVariant: 'a',
      enabled: true,
      rules: [{ conditions: [{ attribute: 'plan', op: 'equals', value: 'pro' }], variant: 'b' }],
    };
    expect((await stack.api('PUT', `/api/v1/flags/${key}`, flag)).status).toBeLessThan(300);
    const page = await newPage();
    // Qwik's client render failing on a key was the cause (console "QWIK ERROR … reading '$type$'"): none may happen.
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
    });
    await signIn(page, stack.dashboardUrl, TOKENS.editor);
    await page.goto(`${stack.dashboardUrl}/flags/${key}`);
    // Renaming the default variant and the rule's variant carries both references along.
    await page.getByTestId('variant-name-0').fill('constructor');
    await page.getByTestId('variant-name-1').fill('toString');
    // Qwik loads and runs the rename handler asynchronously after the keystrokes: wait for its effect, never read once.
    await waitFor(async () => (await page.locator('#flag-default').inputValue()) === 'constructor', 'default variant follows the rename');
    await waitFor(async () => (await page.locator('#rule-0-variant').inputValue()) === 'toString', 'rule variant follows the rename');
    await page.getByTestId('save').click();
    await page.getByText(/Saved: revision \d+/).waitFor();
    const stored = (await stack.api('GET', `/api/v1/flags/${key}`)).body.flag;
    expect(stored.variants).toEqual({ constructor: 'A', toString: 'B' });
    expect(stored.defaultVariant).toBe('constructor');
    expect(stored.rules[0].variant).toBe('toString');
    const evaluate = async (context: Record<string, unknown>) => {
      const r = await fetch(`${stack.gatewayUrl}/ofrep/v1/evaluate/flags/${key}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.reader}`, 'content-type': 'application/json' },
        body: JSON.stringify({ context }),
      });
      expect(r.status).toBe(200);
      return (await r.json()) as { value: unknown; variant: string };
    };
    await expect(evaluate({ targetingKey: 'u1' })).resolves.toMatchObject({ value: 'A', variant: 'constructor' });
    await expect(evaluate({ targetingKey: 'u1', plan: 'pro' })).resolves.toMatchObject({ value: 'B', variant: 'toString' });
    // A fresh load shows the names, and __proto__ (not a valid name: must start with a letter or digit) is refused next to its field.
    await page.goto(`${stack.dashboardUrl}/flags/${key}`);
    await expect(page.getByTestId('variant-name-0').inputValue()).resolves.toBe('constructor');
    await page.getByTestId('variant-name-1').fill('__proto__');
    await page.getByTestId('save').click();
    await page.getByRole('group', { name: 'Variant 2' }).getByText('Variant “__proto__”: must match').waitFor();
    await waitFor(async () => (await page.getByTestId('editor-notice').textContent())?.includes('Fix the problems below'), 'editor notice');
    expect((await stack.api('GET', `/api/v1/flags/${key}`)).body.flag.variants).toEqual({ constructor: 'A', toString: 'B' });
    expect(errors).toEqual([]);
    await alive();
  });

  it('sign-out ends the session on the server: the old cookie is refused', async () => {
    const page = await newPage();
    await signIn(page, stack.dashboardUrl, TOKENS.editor);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'flagraft_session');
    expect(cookie).toBeDefined();
    const before = await send(stack.dashboardUrl, '/flags', { cookie: `flagraft_session=${cookie!.value}` });
    expect(before.status).toBe(200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    const after = await send(stack.dashboardUrl, '/flags', { cookie: `flagraft_session=${cookie!.value}` });
    expect(after.status).toBe(302);
    expect(after.headers.get('location')).toMatch(/^\/login\?next=/);
  });

  it('a token removed from the tokens file ends its sessions without a restart (and a new one can sign in)', async () => {
    const page = await newPage();
    await signIn(page, stack.dashboardUrl, TOKENS.editor2);
    await page.locator('[data-testid="live-indicator"][data-state="live"]').waitFor({ timeout: 20_000 });
    const cookie = `flagraft_session=${(await page.context().cookies()).find((c) => c.name === 'flagraft_session')!.value}`;
    writeTokens(stack.tokensFile, tokenEntries.filter((t) => t.name !== NAMES.editor2));
    // The open /live socket is closed as the session ends: the page shows Offline.
    await page.locator('[data-testid="live-indicator"][data-state="offline"]').waitFor({ timeout: 15_000 });
    const r = await send(stack.dashboardUrl, '/flags', { cookie });
    expect(r.status).toBe(302);
    expect((await signInCookie(stack.dashboardUrl, TOKENS.editor2)).status).toBe(401);
    // Put back: the token signs in again, still without a restart (this time on SIGHUP).
    writeTokens(stack.tokensFile, tokenEntries);
    process.kill(stack.dashboardPid, 'SIGHUP');
    await waitFor(async () => (await signInCookie(stack.dashboardUrl, TOKENS.editor2)).status === 303, 'token accepted again', 10_000, 100);
    await alive();
  });

  it('CSP: a strict policy with a nonce, and the app still works in Chromium (scripts, actions, the live socket)', async () => {
    const page = await newPage();
    await signIn(page, stack.dashboardUrl, TOKENS.admin);
    const res = await page.goto(`${stack.dashboardUrl}/flags?q=constructor`);
    const csp = res!.headers()['content-security-policy'];
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
    // Styles too: no 'unsafe-inline' anywhere; Qwik's own <style> carries the nonce and applies.
    expect(csp).toMatch(/style-src 'self' 'nonce-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain('unsafe-inline');
    await expect(page.evaluate(() => getComputedStyle(document.documentElement).viewTransitionName)).resolves.toBe('none');
    await page.locator('[data-testid="live-indicator"][data-state="live"]').waitFor({ timeout: 20_000 });
    await page.getByTestId('toggle-constructor').click();
    await page.getByTestId('toggle-confirm').click();
    await page.getByTestId('list-message').waitFor();
    await page.goto(`${stack.dashboardUrl}/flags/new`);
    await page.locator('#flag-key').fill('csp-check');
    await page.getByTestId('add-rule').click();
    await page.getByTestId('rule-0-rollout').check();
    await page.getByTestId('rule-0-weight-on').fill('30');
    await page.getByTestId('rule-0-weight-off').fill('60');
    // Errors for people, next to the field (debounced server validation ran through server$).
    await page.getByTestId('rule-0').getByText('Rule 1, weights: add up to 90%; they must add up to 100%').waitFor();
    // The rollout bar's widths come from classes now (no style attributes): 30 of 90 is a third of the bar.
    const [bar, first] = await Promise.all([page.locator('.bar').first().boundingBox(), page.locator('.bar span').first().boundingBox()]);
    expect(first!.width / (bar!.width - 2)).toBeCloseTo(0.33, 1);
    // A page with the utility classes that replaced style attributes: the history list has no bullets.
    await page.goto(`${stack.dashboardUrl}/flags/constructor/history`);
    await expect(page.getByTestId('history').evaluate((el) => getComputedStyle(el).listStyleType)).resolves.toBe('none');
    expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
    await alive();
  });

  it('state-changing requests need our Origin whatever the content type; /live too', async () => {
    const { cookie } = await signInCookie(stack.dashboardUrl, TOKENS.editor);
    const [toggle] = await actionIds(stack.dashboardUrl, '/flags', cookie);
    const body = JSON.stringify({ key: 'constructor', enabled: 'true', revision: '1' });
    for (const origin of ['https://evil.example', undefined]) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (origin) headers.origin = origin;
      const r = await send(stack.dashboardUrl, `/flags?qaction=${toggle}`, { method: 'POST', body, headers, cookie });
      expect(r.status).toBe(403);
      expect(r.text).toContain('Cross-origin request refused');
    }
    const wsStatus = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${stack.dashboardUrl.replace('http', 'ws')}/live`, { headers: { cookie, origin } });
        ws.on('unexpected-response', (_q, res) => (resolve(res.statusCode ?? 0), ws.terminate()));
        ws.on('open', () => (resolve(101), ws.terminate()));
        ws.on('error', reject);
      });
    await expect(wsStatus('https://evil.example')).resolves.toBe(403);
    await expect(wsStatus(stack.dashboardUrl)).resolves.toBe(101);
  });

  it('server$: a real call works; the same call naming client code (an event handler, a task) is refused, never run on the server', async () => {
    const page = await newPage();
    await signIn(page, stack.dashboardUrl, TOKENS.editor);
    const calls: { url: string; body: string }[] = [];
    page.on('request', (r) => {
      if (r.url().includes('qfunc=')) calls.push({ url: r.url(), body: r.postData() ?? '' });
    });
    await page.goto(`${stack.dashboardUrl}/flags/new`);
    await page.locator('#flag-key').fill('server-fn-check');
    await waitFor(() => calls.length > 0, 'the editor validating through server$');
    const { url, body } = calls[0];
    const fn = new URL(url).searchParams.get('qfunc')!;
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const call = (hash: string) =>
      send(stack.dashboardUrl, `/flags/new?qfunc=${hash}`, {
        method: 'POST',
        cookie,
        headers: { origin: stack.dashboardUrl, 'content-type': 'application/qwik-json', 'x-qrl': hash },
        body: body.split(fn).join(hash),
      });
    const real = await call(fn);
    expect(real.status).toBe(200);
    expect(real.headers.get('content-type')).toBe('application/qwik-json');
    // Symbols of the client build, by kind: each was run by Qwik City on the server before (answering 500).
    const manifest = JSON.parse(readFileSync(join(APP_DIR, 'dist/q-manifest.json'), 'utf8')) as { symbols: Record<string, { hash: string; ctxName: string }> };
    const byKind = new Map<string, string>();
    for (const s of Object.values(manifest.symbols)) if (!byKind.has(s.ctxName)) byKind.set(s.ctxName, s.hash);
    for (const kind of ['onClick$', 'onInput$', 'useTask$', 'useVisibleTask$', 'component$']) {
      const hash = byKind.get(kind)!;
      expect(hash, kind).toBeTruthy();
      const r = await call(hash);
      expect(r.status, `${kind}: ${r.text.slice(0, 200)}`).toBe(400);
      expect(JSON.parse(r.text).detail).toContain('names client code');
    }
    await alive();
  });

  it('an unknown static path is a 404 nobody caches', async () => {
    const r = await send(stack.dashboardUrl, '/build/q-does-not-exist.js');
    expect(r.status).toBe(404);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('x-request-id')).toBeTruthy();
  });

  it('body limits: over MAX_REQUEST_BODY_BYTES is 413, a JSON body nested too deep is 400 naming the limit', async () => {
    const { cookie } = await signInCookie(stack.dashboardUrl, TOKENS.editor);
    const [toggle] = await actionIds(stack.dashboardUrl, '/flags', cookie);
    const headers = { origin: stack.dashboardUrl, 'content-type': 'application/json' };
    const big = await send(stack.dashboardUrl, `/flags?qaction=${toggle}`, { method: 'POST', body: JSON.stringify({ key: 'x'.repeat(1_100_000) }), headers, cookie });
    expect(big.status).toBe(413);
    const deep = await send(stack.dashboardUrl, `/flags?qaction=${toggle}`, { method: 'POST', body: '['.repeat(5000) + ']'.repeat(5000), headers, cookie });
    expect(deep.status).toBe(400);
    expect(deep.text).toContain('MAX_JSON_DEPTH');
    const bad = await send(stack.dashboardUrl, `/flags?qaction=${toggle}`, { method: 'POST', body: '{', headers, cookie });
    expect(bad.status).toBe(400);
    expect(echoesToken(bad)).toBeUndefined();
    await alive();
  });
});
