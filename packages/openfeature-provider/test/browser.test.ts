// Real Chromium, a page on its own origin, the real gateway and cluster: the
// official @openfeature/web-sdk + @openfeature/ofrep-web-provider, and our web
// provider, receive live changes over the gateway's event stream (opened with a
// stream ticket: EventSource cannot send the token) with no polling at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createTokenStore, hashToken, type Role } from '@flagraft/auth';
import { boolFlag, NAMES, startStack, TOKENS, type Stack } from '../../../apps/gateway/test/support/harness.js';
import { servePage } from './browser/bundle.js';

let stack: Stack;
let browser: Browser;
let page: Awaited<ReturnType<typeof servePage>>;

beforeAll(async () => {
  stack = await startStack();
  page = await servePage();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  await page?.close();
  await stack?.stop();
});

const CHANGED = 'PROVIDER_CONFIGURATION_CHANGED';

async function put(key: string, on: boolean): Promise<void> {
  const r = await stack.req('PUT', `/api/v1/flags/${key}`, { role: 'editor', body: boolFlag(key, { defaultVariant: on ? 'on' : 'off' }) });
  expect(r.status, r.text).toBeLessThan(300);
}

interface Traffic { bulk: number; single: number; streams: number; urls: string[] }

async function openPage(kind: 'official' | 'ours', at: { url: string; token: string } = { url: stack.url, token: TOKENS.evaluator }): Promise<{ p: Page; traffic: Traffic }> {
  const traffic: Traffic = { bulk: 0, single: 0, streams: 0, urls: [] };
  const p = await browser.newPage();
  p.on('request', (r) => {
    const u = new URL(r.url());
    traffic.urls.push(r.url());
    if (u.pathname === '/ofrep/v1/evaluate/flags' && r.method() === 'POST') traffic.bulk++;
    else if (u.pathname.startsWith('/ofrep/v1/evaluate/flags/') && r.method() === 'POST') traffic.single++;
    else if (u.pathname === '/ofrep/v1/events') traffic.streams++;
  });
  const streamsBefore = await sseClients(at.url);
  await p.goto(`${page.url}#gateway=${encodeURIComponent(at.url)}&token=${at.token}&provider=${kind}`);
  await p.waitForFunction(() => (window as any).__ready === true, undefined, { timeout: 15_000 });
  // The stream is open once the gateway counts it.
  const deadline = Date.now() + 10_000;
  while ((await sseClients(at.url)) <= streamsBefore) {
    if (Date.now() > deadline) throw new Error('the page never opened the event stream');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { p, traffic };
}

async function sseClients(url = stack.url): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/flagraft_gateway_sse_clients\{stream="ofrep"\} (\d+)/.exec(text)?.[1] ?? 0);
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

for (const kind of ['official', 'ours'] as const) {
  describe(`${kind === 'official' ? 'the official OFREP web provider' : 'our web provider'} in Chromium`, () => {
    it('receives every change as PROVIDER_CONFIGURATION_CHANGED over the stream, with no polling while it is up', async () => {
      const key = `br-${kind}`;
      await put(key, false);
      const { p, traffic } = await openPage(kind);
      expect(await p.evaluate((k) => (window as any).__value(k), key)).toBe(false);

      // Quiet: no request at all for a while (a poller would have asked several times by now).
      const before = { ...traffic };
      await new Promise((r) => setTimeout(r, 2_500));
      expect({ bulk: traffic.bulk - before.bulk, single: traffic.single - before.single, streams: traffic.streams - before.streams }).toEqual({ bulk: 0, single: 0, streams: 0 });

      const latencies: number[] = [];
      for (let i = 1; i <= 15; i++) {
        const seen = await p.evaluate((t) => (window as any).__events.filter((e: any) => e.type === t).length, CHANGED);
        await put(key, i % 2 === 1);
        const acked = Date.now();
        await p.waitForFunction(([t, n]) => (window as any).__events.filter((e: any) => e.type === t).length > (n as number), [CHANGED, seen] as const, { timeout: 10_000 });
        const ev = await p.evaluate((t) => (window as any).__events.filter((e: any) => e.type === t).at(-1), CHANGED);
        latencies.push(ev.at - acked);
        expect(ev.flagsChanged).toContain(key);
        expect(await p.evaluate((k) => (window as any).__value(k), key)).toBe(i % 2 === 1);
      }
      const p50 = quantile(latencies, 0.5);
      const p99 = quantile(latencies, 0.99);
      console.log(`${kind}: write ack -> PROVIDER_CONFIGURATION_CHANGED in the page: p50 ${p50} ms, max ${p99} ms over ${latencies.length} changes`);
      expect(p50).toBeLessThan(150);
      // One stream the whole time, and per change exactly one refetch (ours: of the changed flag only).
      expect(traffic.streams).toBe(1);
      if (kind === 'ours') {
        expect(traffic.single).toBe(15);
        expect(traffic.bulk).toBe(1); // the initial one
      } else {
        expect(traffic.bulk).toBe(1 + 15);
      }
      // The token never went into a URL (the stream URL carries a ticket).
      expect(traffic.urls.some((u) => u.includes(TOKENS.evaluator))).toBe(false);
      expect(traffic.urls.some((u) => /\/ofrep\/v1\/events\?ticket=ft1\./.test(u))).toBe(true);
      await p.close();
    });
  });
}

describe('our web provider: only the flags an event names are re-evaluated', () => {
  it('a change to another flag updates that flag only; a segment change re-evaluates the flags using it', async () => {
    await put('br-x', false);
    await put('br-y', false);
    await stack.req('PUT', '/api/v1/segments/br-pros', { role: 'editor', body: { conditions: [{ attribute: 'plan', op: 'equals', value: 'enterprise' }] } });
    const r = await stack.req('PUT', '/api/v1/flags/br-seg', { role: 'editor', body: boolFlag('br-seg', { rules: [{ conditions: [], segments: ['br-pros'], variant: 'on' }] }) });
    expect(r.status).toBe(201);
    const { p, traffic } = await openPage('ours');
    expect(await p.evaluate(() => (window as any).__value('br-seg'))).toBe(false);
    const single = traffic.single;
    await put('br-y', true);
    await p.waitForFunction(() => (window as any).__value('br-y') === true, undefined, { timeout: 10_000 });
    expect(traffic.single - single).toBe(1);
    // The page's user is on plan "pro": widening the segment to "pro" turns br-seg on for them.
    await stack.req('PUT', '/api/v1/segments/br-pros', { role: 'editor', body: { conditions: [{ attribute: 'plan', op: 'in', value: ['pro', 'enterprise'] }] } });
    await p.waitForFunction(() => (window as any).__value('br-seg') === true, undefined, { timeout: 10_000 });
    const last = await p.evaluate((t) => (window as any).__events.filter((e: any) => e.type === t).at(-1), CHANGED);
    expect(last.flagsChanged).toEqual(['br-seg']);
    expect(traffic.bulk).toBe(1);
    await p.close();
  });
});

describe('the official OFREP web provider per environment (issue 16)', () => {
  it('an evaluator token of staging evaluates in staging with no code change, and receives staging\'s changes live', async () => {
    const staging = 'br-staging';
    const token = 'tok-br-staging-eval-3c9d';
    // A gateway whose tokens include an evaluator of staging (the harness's own four stay).
    const gw = await stack.newGateway({
      tokens: createTokenStore([
        ...(Object.keys(TOKENS) as Role[]).map((role) => ({ name: NAMES[role], role, sha256: hashToken(TOKENS[role]) })),
        { name: 'br-staging-eval', role: 'evaluator', sha256: hashToken(token), environments: [staging] },
      ]),
    });
    const created = await stack.req('POST', '/api/v1/environments', { role: 'admin', body: { name: staging } });
    expect(created.status, created.text).toBe(201);
    await put('br-env', true);
    const off = await stack.req('PUT', `/api/v1/flags/br-env?environment=${staging}`, { role: 'editor', body: boolFlag('br-env', { defaultVariant: 'on', enabled: false }) });
    expect(off.status, off.text).toBeLessThan(300);
    const prod = await openPage('official', { url: gw.url(), token: TOKENS.evaluator });
    const stage = await openPage('official', { url: gw.url(), token });
    try {
      await prod.p.waitForFunction(() => (window as any).__value('br-env') === true, undefined, { timeout: 15_000 });
      await stage.p.waitForFunction(() => (window as any).__value('br-env') === false, undefined, { timeout: 15_000 });
      // Production changes; staging's page keeps its value. Then staging changes, and its page follows.
      await put('br-env', false);
      await prod.p.waitForFunction(() => (window as any).__value('br-env') === false, undefined, { timeout: 15_000 });
      expect(await stage.p.evaluate(() => (window as any).__value('br-env'))).toBe(false);
      const on = await stack.req('PUT', `/api/v1/flags/br-env?environment=${staging}`, { role: 'editor', body: boolFlag('br-env', { defaultVariant: 'on', enabled: true }) });
      expect(on.status, on.text).toBeLessThan(300);
      await stage.p.waitForFunction(() => (window as any).__value('br-env') === true, undefined, { timeout: 15_000 });
      expect(await prod.p.evaluate(() => (window as any).__value('br-env'))).toBe(false);
      // The token never appeared in a URL.
      expect(stage.traffic.urls.some((u) => u.includes(token))).toBe(false);
    } finally {
      await prod.p.close();
      await stage.p.close();
    }
  });
});
