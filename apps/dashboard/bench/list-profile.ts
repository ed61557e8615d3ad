// Where the seconds of a flag-list load go, with N flags on the real stack:
// the gateway's stale list pages (time, bytes), JSON parsing on the dashboard
// side, and GET /flags on the dashboard (its Server-Timing header) right
// after a change and unchanged. Prints one JSON object.
// Run: node --import tsx bench/list-profile.ts   (PROFILE_FLAGS=10000)
import { launchBrowser, signIn } from '../test/browser';
import { startStack, TOKENS } from '../test/stack';

const N = Number(process.env.PROFILE_FLAGS ?? 10_000);
// Rate limits off (0), like every benchmark: the seed writes thousands of flags
// from one token, and a 429 must never be measured as a page load.
const stack = await startStack({
  log: (m) => (process.env.BENCH_VERBOSE ? process.stderr.write(m + '\n') : undefined),
  gateway: { rateLimitWritesPerSec: 0, rateLimitEvaluationsPerSec: 0 },
});
const out: Record<string, unknown> = { flags: N };
try {
  for (let i = 0; i < N; i += 100) {
    const ops = [];
    for (let j = i; j < Math.min(N, i + 100); j++) {
      ops.push({
        op: 'putFlag',
        flag: {
          key: `bench-${String(j).padStart(5, '0')}`, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: j % 2 === 0,
          rules: [{ id: 'r1', conditions: [{ attribute: 'country', op: 'in', value: ['DE', 'FR'] }], rollout: { weights: [{ variant: 'on', weight: 50 }, { variant: 'off', weight: 50 }] } }],
          tags: [`team-${j % 20}`, j % 3 ? 'web' : 'mobile'], description: `bench flag ${j}`,
        },
      });
    }
    const r = await stack.api('POST', '/api/v1/batch', { ops });
    if (r.status !== 200) throw new Error(`seed ${i}: ${r.status}`);
  }
  const get = async (path: string) => {
    const t0 = performance.now();
    const res = await fetch(stack.gatewayUrl + path, { headers: { authorization: `Bearer ${TOKENS.reader}` } });
    const text = await res.text();
    const t1 = performance.now();
    const body = JSON.parse(text);
    return { ms: t1 - t0, parseMs: performance.now() - t1, bytes: text.length, body };
  };
  for (const [name, q] of [['headStale', 'consistency=stale&limit=1'], ['headLinearizable', 'limit=1']] as const) {
    const xs = [];
    for (let i = 0; i < 5; i++) xs.push((await get(`/api/v1/flags?${q}`)).ms);
    out[name + 'Ms'] = xs.map((x) => Math.round(x * 10) / 10);
  }
  for (const consistency of ['stale', 'linearizable']) {
    const pages: { ms: number; parseMs: number; kB: number }[] = [];
    let token: string | undefined;
    const t0 = performance.now();
    do {
      const p = await get(`/api/v1/flags?limit=1000${consistency === 'stale' ? '&consistency=stale' : ''}${token ? `&pageToken=${token}` : ''}`);
      pages.push({ ms: Math.round(p.ms), parseMs: Math.round(p.parseMs * 10) / 10, kB: Math.round(p.bytes / 1024) });
      token = p.body.nextPageToken;
    } while (token);
    out[`walk_${consistency}`] = { totalMs: Math.round(performance.now() - t0), pages };
  }
  const browser = await launchBrowser();
  try {
    const p = await (await browser.newContext()).newPage();
    await signIn(p, stack.dashboardUrl, TOKENS.editor);
    const cookie = (await p.context().cookies()).find((c) => c.name === 'flagraft_session')!;
    const load = async () => {
      const t = performance.now();
      const r = await fetch(`${stack.dashboardUrl}/flags`, { headers: { cookie: `flagraft_session=${cookie.value}` } });
      const html = await r.text();
      return { ms: Math.round(performance.now() - t), kB: Math.round(html.length / 1024), serverTiming: r.headers.get('server-timing') };
    };
    const loads = [];
    for (let i = 0; i < 3; i++) {
      const w = await stack.api('PATCH', '/api/v1/flags/bench-00002', { enabled: i % 2 === 0 });
      if (w.status !== 200) throw new Error(`patch: ${w.status}`);
      loads.push({ afterChange: await load(), unchanged: await load() });
    }
    out.dashboardFlags = loads;
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
} finally {
  await stack.stop();
}
