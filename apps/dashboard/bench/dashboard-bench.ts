// Dashboard figures, measured in headless Chromium against the real stack:
//   - flags list first paint / DOMContentLoaded / load / first interaction,
//     with 1,000 and with 10,000 flags (median of RUNS cold page loads);
//   - JavaScript shipped on first load (and after the first interaction);
//   - latency from a save in one browser to the row update in another.
// Run: pnpm --filter @flagraft/dashboard build && pnpm --filter @flagraft/dashboard bench
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, signIn } from '../test/browser';
import { startStack, TOKENS, type Stack } from '../test/stack';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 20);
const CHANGE_RUNS = Number(process.env.BENCH_CHANGE_RUNS ?? 5);
const BATCH = 100;

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function seed(stack: Stack, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += BATCH) {
    const ops = [];
    for (let j = i; j < Math.min(to, i + BATCH); j++) {
      ops.push({
        op: 'putFlag',
        flag: {
          key: `bench-${String(j).padStart(5, '0')}`,
          type: 'boolean',
          variants: { on: true, off: false },
          defaultVariant: 'off',
          enabled: j % 2 === 0,
          rules: [{ id: 'r1', conditions: [{ attribute: 'country', op: 'in', value: ['DE', 'FR'] }], rollout: { weights: [{ variant: 'on', weight: 50 }, { variant: 'off', weight: 50 }] } }],
          tags: [`team-${j % 20}`, j % 3 ? 'web' : 'mobile'],
          description: `bench flag ${j}`,
        },
      });
    }
    const r = await stack.api('POST', '/api/v1/batch', { ops });
    if (r.status !== 200) throw new Error(`seed batch at ${i}: ${r.status} ${JSON.stringify(r.body)}`);
  }
}

interface LoadFigures {
  ttfbMs: number;
  fcpMs: number;
  dclMs: number;
  loadMs: number;
  firstInteractionMs: number;
  htmlKB: number;
  jsOnLoadKB: number;
  jsAfterInteractionKB: number;
}

async function measureLoad(browser: Browser, url: string, cookie: { name: string; value: string }): Promise<LoadFigures> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await ctx.addCookies([{ name: cookie.name, value: cookie.value, url }]);
  const page = await ctx.newPage();
  const scriptBytes: { url: string; bytes: number; afterLoad: boolean }[] = [];
  let loaded = false;
  page.on('response', async (res) => {
    const type = res.request().resourceType();
    if (type !== 'script') return;
    const body = await res.body().catch(() => Buffer.alloc(0));
    scriptBytes.push({ url: res.url(), bytes: body.length, afterLoad: loaded });
  });
  await page.goto(`${url}/flags`, { waitUntil: 'load' });
  // Qwik prefetches some code after load: count everything fetched before
  // the first interaction as "first load".
  await page.waitForLoadState('networkidle');
  loaded = true;
  const nav = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const fcp = performance.getEntriesByName('first-contentful-paint')[0] ?? performance.getEntriesByName('first-paint')[0];
    return {
      ttfb: n.responseStart,
      dcl: n.domContentLoadedEventEnd,
      load: n.loadEventEnd,
      fcp: fcp ? fcp.startTime : NaN,
      html: n.encodedBodySize || n.transferSize,
      inlineScript: [...document.querySelectorAll('script:not([src])')].reduce((a, s) => a + (s.textContent?.length ?? 0), 0),
    };
  });
  // First interaction: open the kill-switch dialog (its code is fetched on demand).
  const sw = page.locator('[role="switch"]').first();
  await sw.waitFor({ timeout: 10_000 }).catch(async () => {
    throw new Error(`no toggle on ${page.url()}: ${(await page.locator('main').textContent())?.slice(0, 500)}`);
  });
  const t0 = Date.now();
  await sw.click();
  await page.getByTestId('toggle-dialog').locator('h2').waitFor();
  const firstInteractionMs = Date.now() - t0;
  await page.waitForLoadState('networkidle');
  await ctx.close();
  const onLoad = scriptBytes.filter((s) => !s.afterLoad).reduce((a, s) => a + s.bytes, 0) + nav.inlineScript;
  const all = scriptBytes.reduce((a, s) => a + s.bytes, 0) + nav.inlineScript;
  return {
    ttfbMs: nav.ttfb,
    fcpMs: nav.fcp,
    dclMs: nav.dcl,
    loadMs: nav.load,
    firstInteractionMs,
    htmlKB: nav.html / 1024,
    jsOnLoadKB: onLoad / 1024,
    jsAfterInteractionKB: all / 1024,
  };
}

async function figuresFor(browser: Browser, url: string, cookie: { name: string; value: string }, n: number) {
  const runs: LoadFigures[] = [];
  // The first load after the seed walks the whole list from the gateway; the
  // next ones find the revision unchanged and reuse the dashboard's copy.
  const first = await measureLoad(browser, url, cookie);
  for (let i = 0; i < RUNS; i++) runs.push(await measureLoad(browser, url, cookie));
  // Loads right after a colleague's change (a PATCH through the API): the
  // case the dashboard's list index is for.
  const afterChange: LoadFigures[] = [];
  for (let i = 0; i < CHANGE_RUNS; i++) {
    const w = await stack.api('PATCH', '/api/v1/flags/bench-00002', { enabled: i % 2 === 0 });
    if (w.status !== 200) throw new Error(`PATCH before a load: ${w.status}`);
    afterChange.push(await measureLoad(browser, url, cookie));
  }
  const m = (k: keyof LoadFigures) => Math.round(median(runs.map((r) => r[k])) * 10) / 10;
  const ms = (k: keyof LoadFigures) => afterChange.map((r) => Math.round(r[k]));
  return {
    flags: n,
    firstLoadAfterChange: { ttfbMs: Math.round(first.ttfbMs), firstContentfulPaintMs: Math.round(first.fcpMs), loadMs: Math.round(first.loadMs) },
    loadsAfterAChange: { runs: CHANGE_RUNS, ttfbMs: ms('ttfbMs'), loadMs: ms('loadMs'), medianTtfbMs: Math.round(median(afterChange.map((r) => r.ttfbMs))) },
    runs: RUNS,
    ttfbMs: m('ttfbMs'),
    firstContentfulPaintMs: m('fcpMs'),
    domContentLoadedMs: m('dclMs'),
    loadMs: m('loadMs'),
    firstInteractionMs: m('firstInteractionMs'),
    htmlKB: m('htmlKB'),
    jsOnLoadKB: m('jsOnLoadKB'),
    jsAfterFirstInteractionKB: m('jsAfterInteractionKB'),
  };
}

async function latency(browser: Browser, stack: Stack): Promise<{ samples: number; p50Ms: number; p95Ms: number; maxMs: number }> {
  const key = 'bench-00001';
  const open = async (token: string): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await ctx.newPage();
    await signIn(p, stack.dashboardUrl, token);
    await p.goto(`${stack.dashboardUrl}/flags?q=${key}`);
    await p.locator('[data-testid="live-indicator"][data-state="live"]').waitFor({ timeout: 30_000 });
    return p;
  };
  const a = await open(TOKENS.editor);
  const b = await open(TOKENS.editor2);
  const out: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const sw = `[data-testid="toggle-${key}"]`;
    const before = await b.locator(sw).getAttribute('aria-checked');
    // B records, in page, the wall-clock moment its row flips.
    await b.evaluate(
      ({ sel, was }) => {
        const w = window as unknown as { __flipAt?: number };
        w.__flipAt = undefined;
        const obs = new MutationObserver(() => {
          if (document.querySelector(sel)?.getAttribute('aria-checked') !== was) {
            w.__flipAt = Date.now();
            obs.disconnect();
          }
        });
        obs.observe(document.body, { subtree: true, attributes: true, childList: true });
      },
      { sel: sw, was: before },
    );
    await a.locator(sw).click();
    await a.getByTestId('toggle-confirm').waitFor();
    const t0 = await a.evaluate(() => Date.now());
    await a.getByTestId('toggle-confirm').click();
    await b.waitForFunction(() => (window as unknown as { __flipAt?: number }).__flipAt !== undefined, undefined, { timeout: 30_000 });
    const t1 = await b.evaluate(() => (window as unknown as { __flipAt: number }).__flipAt);
    out.push(t1 - t0);
    // Let A's page settle (its list reloads after the action) before the next round.
    await a.waitForFunction((s) => !document.querySelector('[data-testid="toggle-dialog"]')?.hasAttribute('open'), sw);
    await a.waitForLoadState('networkidle');
  }
  await a.context().close();
  await b.context().close();
  return { samples: out.length, p50Ms: pct(out, 50), p95Ms: pct(out, 95), maxMs: Math.max(...out) };
}

// Rate limits off (0), like every benchmark: the seed writes thousands of flags
// from one token, and a 429 must never be measured as a page load.
const stack = await startStack({
  log: (m) => (process.env.BENCH_VERBOSE ? process.stderr.write(m + '\n') : undefined),
  gateway: { rateLimitWritesPerSec: 0, rateLimitEvaluationsPerSec: 0 },
});
const browser = await launchBrowser();
try {
  const login = await browser.newContext();
  const lp = await login.newPage();
  await signIn(lp, stack.dashboardUrl, TOKENS.editor);
  const cookie = (await login.cookies()).find((c) => c.name === 'flagraft_session')!;
  await login.close();

  const results: unknown[] = [];
  await seed(stack, 0, 1000);
  results.push(await figuresFor(browser, stack.dashboardUrl, cookie, 1000));
  const lat = await latency(browser, stack);
  await seed(stack, 1000, 10_000);
  results.push(await figuresFor(browser, stack.dashboardUrl, cookie, 10_000));
  process.stdout.write(JSON.stringify({ list: results, saveToOtherBrowser: lat }, null, 2) + '\n');
} finally {
  await browser.close();
  await stack.stop();
}
