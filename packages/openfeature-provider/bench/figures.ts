// Figures for the OpenFeature providers (a script, not a test):
//   1. memory of the in-process provider holding F flags (default 10,000),
//      before and after every flag was evaluated once (compiled);
//   2. change committed -> PROVIDER_CONFIGURATION_CHANGED in the provider (this
//      process), p50 / p99 over N sequential changes: from the cluster client's
//      acknowledgement of the write (committed and applied on the leader) to
//      the event, i.e. leader -> gateway replica (Watch) -> SSE -> provider;
//   3. the same to PROVIDER_CONFIGURATION_CHANGED in a Chromium page,
//      for our web provider and the official OFREP web provider.
// A real 3-node cluster and a gateway process (so the gateway does not share
// this process's event loop). Build first: pnpm exec turbo run build --filter=@flagraft/openfeature-provider...
//
//   pnpm --filter @flagraft/openfeature-provider bench -- [--flags 10000] [--changes 200] [--browser-changes 100]
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { ProviderEvents } from '@openfeature/server-sdk';
import { createClusterClient } from '@flagraft/cluster-client';
import { FlagraftProvider } from '../src/index.js';
import { startStack, TOKENS } from '../../../apps/gateway/test/support/harness.js';
import { startGatewayProcess } from '../test/support/processes.js';
import { servePage } from '../test/browser/bundle.js';

const { values } = parseArgs({ options: { flags: { type: 'string' }, changes: { type: 'string' }, 'browser-changes': { type: 'string' } } });
const FLAGS = Number(values.flags ?? 10_000);
const CHANGES = Number(values.changes ?? 200);
const BROWSER_CHANGES = Number(values['browser-changes'] ?? 100);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (the memory figure needs it)');

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const ms = (x: number) => Math.round(x * 10) / 10;
const heap = () => {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
};

const stack = await startStack();
// Rate limits off (0), like every benchmark: the figures measure latency, and
// a refusal (429) of a browser provider's refetch would be measured as one.
const gw = await startGatewayProcess(await stack.cluster.clientEnv(), { FLAGRAFT_RATE_LIMIT_WRITES_PER_SEC: '0', FLAGRAFT_RATE_LIMIT_EVALUATIONS_PER_SEC: '0' });
const results: Record<string, unknown> = { flags: FLAGS, changes: CHANGES, browserChanges: BROWSER_CHANGES };
try {
  // ---- 1. memory with F flags: typical definitions, a few rules each.
  const flag = (i: number) => ({
    key: `mem-${i}`, type: 'string', variants: { red: 'r', green: 'g', blue: 'b' }, defaultVariant: 'red', enabled: true,
    rules: [
      { conditions: [{ attribute: 'country', op: 'in', value: ['US', 'CA', 'MX'] }, { attribute: 'plan', op: 'equals', value: 'enterprise' }], variant: 'blue' },
      { conditions: [{ attribute: 'appVersion', op: 'semverGte', value: '2.6.0' }], rollout: { weights: [{ variant: 'red', weight: 50 }, { variant: 'green', weight: 50 }] } },
    ],
    metadata: { team: `t${i % 20}` },
  });
  for (let i = 0; i < FLAGS; i += 100) {
    const ops = Array.from({ length: Math.min(100, FLAGS - i) }, (_, j) => ({ op: 'putFlag', flag: flag(i + j) }));
    const r = await stack.req('POST', '/api/v1/batch', { role: 'editor', body: { ops } });
    if (r.status !== 200) throw new Error(`batch: ${r.status} ${r.text}`);
  }
  const before = heap();
  const t0 = performance.now();
  const p = new FlagraftProvider({ url: gw.url, token: TOKENS.reader, prefix: 'mem-' });
  await p.initialize();
  const loadMs = performance.now() - t0;
  const held = heap() - before;
  for (let i = 0; i < FLAGS; i++) p.resolve(`mem-${i}`, 'x', { targetingKey: 'u', country: 'US', plan: 'pro', appVersion: '2.7.0' });
  const compiled = heap() - before;
  const snap = await fetch(`${gw.url}/api/v1/snapshot?prefix=mem-`, { headers: { authorization: `Bearer ${TOKENS.reader}` } });
  results.memory = {
    snapshotBytes: (await snap.text()).length,
    loadMs: Math.round(loadMs),
    heapHeldMiB: ms(held / 2 ** 20),
    heapBytesPerFlag: Math.round(held / FLAGS),
    heapAfterEvaluatingAllMiB: ms(compiled / 2 ** 20),
    heapBytesPerCompiledFlag: Math.round(compiled / FLAGS),
  };
  console.log('memory', results.memory);

  // ---- 2. change -> provider event.
  const cluster = createClusterClient({ ...stack.cluster.clientOptions() });
  const def = (key: string, on: boolean) => ({ key, type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: on ? 'on' : 'off', enabled: true, rules: [] });
  /** Writes straight to the cluster; resolves (acknowledged) once committed and applied on the leader. */
  const put = async (key: string, on: boolean) => (await cluster.putFlag(def(key, on), { actor: 'bench' })).revision;
  await put('mem-lat', false);
  const seen = new Map<number, number>();
  p.events.addHandler(ProviderEvents.ConfigurationChanged, (d) => seen.set((d as unknown as { metadata: { revision: number } }).metadata.revision, performance.now()));
  const lat: number[] = [];
  for (let i = 0; i < CHANGES + 20; i++) {
    const rev = await put('mem-lat', i % 2 === 1);
    const acked = performance.now();
    const deadline = acked + 5_000;
    while (!seen.has(rev)) {
      if (performance.now() > deadline) throw new Error(`no event for revision ${rev}`);
      await new Promise((res) => setImmediate(res));
    }
    if (i >= 20) lat.push(seen.get(rev)! - acked); // 20 warm-up changes
  }
  results.provider = { p50Ms: ms(q(lat, 0.5)), p99Ms: ms(q(lat, 0.99)), maxMs: ms(Math.max(...lat)) };
  console.log('commit ack -> provider event', results.provider);
  await p.onClose();

  // ---- 3. change -> browser page.
  const page = await servePage();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    for (const kind of ['ours', 'official'] as const) {
      const key = `lat-${kind}`;
      await put(key, false);
      const tab = await browser.newPage();
      await tab.goto(`${page.url}#gateway=${encodeURIComponent(gw.url)}&token=${TOKENS.evaluator}&provider=${kind}`);
      await tab.waitForFunction(() => (window as any).__ready === true, undefined, { timeout: 15_000 });
      await new Promise((r) => setTimeout(r, 500)); // the stream opens after the first answer
      const lats: number[] = [];
      for (let i = 1; i <= BROWSER_CHANGES + 10; i++) {
        const n = await tab.evaluate(() => (window as any).__events.filter((e: any) => e.type === 'PROVIDER_CONFIGURATION_CHANGED').length);
        await put(key, i % 2 === 1);
        const acked = Date.now();
        await tab.waitForFunction((c) => (window as any).__events.filter((e: any) => e.type === 'PROVIDER_CONFIGURATION_CHANGED').length > c, n, { timeout: 10_000, polling: 'raf' });
        const at = await tab.evaluate(() => (window as any).__events.filter((e: any) => e.type === 'PROVIDER_CONFIGURATION_CHANGED').at(-1).at);
        if (i > 10) lats.push(at - acked);
      }
      results[`browser-${kind}`] = { p50Ms: q(lats, 0.5), p99Ms: q(lats, 0.99), maxMs: Math.max(...lats) };
      console.log(`commit ack -> page event (${kind})`, results[`browser-${kind}`]);
      await tab.close();
    }
  } finally {
    await browser.close();
    await page.close();
  }
  await cluster.close();
  console.log(JSON.stringify(results));
} finally {
  await gw.stop();
  await stack.stop();
}
