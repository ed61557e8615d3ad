// The OFREP hot path (plain node:http, before Express): exact answers and
// headers, request ids, CORS, metrics and access-log lines, the per-revision
// answer cache, and the token cache with a reloaded tokens file. Against a
// real 3-node cluster.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashToken, loadTokens } from '@flagraft/auth';
import { evaluate, type FlagDefinition } from '@flagraft/flag-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, request, startMemoryStack, TOKENS, NAMES, type MemoryStack } from './support/harness.js';
import { OpenApiChecker, record, type Recorded } from './support/openapi-check.js';

let stack: MemoryStack;
const dir = mkdtempSync(join(tmpdir(), 'gw-fastpath-'));

const ruled: FlagDefinition = {
  key: 'fp-ruled',
  type: 'string',
  variants: { control: 'blue', treatment: 'green', internal: 'red' },
  defaultVariant: 'control',
  enabled: true,
  metadata: { team: 'growth' },
  rules: [
    { conditions: [{ attribute: 'email', op: 'endsWith', value: '@flagraft.dev' }], variant: 'internal' },
    { conditions: [{ attribute: 'plan', op: 'equals', value: 'pro' }], rollout: { weights: [{ variant: 'treatment', weight: 50 }, { variant: 'control', weight: 50 }] } },
  ],
};
const ctx = { targetingKey: 'user-1', email: 'a@example.com', plan: 'pro' };

beforeAll(async () => {
  stack = await startMemoryStack();
  const r = await stack.req('PUT', `/api/v1/flags/${ruled.key}`, { role: 'editor', body: ruled });
  expect(r.status, r.text).toBe(201);
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const post = (base: string, key: string, opts: Parameters<typeof request>[3] = {}) =>
  request(base, 'POST', `/ofrep/v1/evaluate/flags/${key}`, { role: 'evaluator', ...opts });

async function metricValue(base: string, pattern: RegExp): Promise<number> {
  const text = (await request(base, 'GET', '/metrics')).text;
  const m = pattern.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('OFREP single-flag answers', () => {
  it('success: the flag-model result in OFREP shape, byte for byte, with JSON headers and a request id', async () => {
    const r = await post(stack.url, ruled.key, { body: { context: ctx } });
    expect(r.status).toBe(200);
    const expected = evaluate(ruled, ruled.key, ctx);
    expect(r.text).toBe(JSON.stringify({ key: ruled.key, reason: expected.reason, variant: expected.variant, value: expected.value, metadata: { team: 'growth' } }));
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(Number(r.headers.get('content-length'))).toBe(Buffer.byteLength(r.text));
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.get('access-control-expose-headers')).toMatch(/ETag/);
    const id1 = r.headers.get('x-request-id');
    const id2 = (await post(stack.url, ruled.key, { body: { context: ctx } })).headers.get('x-request-id');
    expect(id1).toMatch(/^[\w.:-]{1,128}$/);
    expect(id2).not.toBe(id1);
    // A sane incoming id is kept; anything else is replaced.
    expect((await post(stack.url, ruled.key, { body: {}, headers: { 'x-request-id': 'trace-42.a:b' } })).headers.get('x-request-id')).toBe('trace-42.a:b');
    expect((await post(stack.url, ruled.key, { body: {}, headers: { 'x-request-id': 'has space' } })).headers.get('x-request-id')).not.toBe('has space');
  });

  it('every reason and variant answers as flag-model decides, for many contexts', async () => {
    for (let i = 0; i < 40; i++) {
      const c = { targetingKey: `u-${i}`, email: i % 5 === 0 ? `x${i}@flagraft.dev` : `x${i}@example.com`, plan: i % 3 === 0 ? 'free' : 'pro' };
      const r = await post(stack.url, ruled.key, { body: { context: c } });
      const e = evaluate(ruled, ruled.key, c);
      expect(r.json, JSON.stringify(c)).toEqual({ key: ruled.key, reason: e.reason, variant: e.variant, value: e.value, metadata: { team: 'growth' } });
    }
  });

  it('a changed flag answers with its new values at once (cached bodies are per revision)', async () => {
    const before = await post(stack.url, ruled.key, { body: { context: { ...ctx, plan: 'free' } } });
    expect(before.json).toMatchObject({ reason: 'DEFAULT', variant: 'control', value: 'blue' });
    const changed = { ...ruled, variants: { ...ruled.variants, control: 'navy' } };
    expect((await stack.req('PUT', `/api/v1/flags/${ruled.key}`, { role: 'editor', body: changed })).status).toBe(200);
    const after = await post(stack.url, ruled.key, { body: { context: { ...ctx, plan: 'free' } } });
    expect(after.json).toMatchObject({ reason: 'DEFAULT', variant: 'control', value: 'navy' });
    expect((await stack.req('PUT', `/api/v1/flags/${ruled.key}`, { role: 'editor', body: ruled })).status).toBe(200);
  });

  it('the same body again on a connection (its last context is remembered): same answers, same refusals, for single and bulk', async () => {
    const text = JSON.stringify({ context: { ...ctx, email: 'z@flagraft.dev' } });
    const raw = { rawBody: text, headers: { 'content-type': 'application/json' } };
    const first = await post(stack.url, ruled.key, raw);
    expect(first.json).toMatchObject({ reason: 'TARGETING_MATCH', variant: 'internal' });
    for (let i = 0; i < 3; i++) expect((await post(stack.url, ruled.key, raw)).text).toBe(first.text);
    expect((await post(stack.url, 'no-such', raw)).status).toBe(404);
    const bulk1 = await request(stack.url, 'POST', '/ofrep/v1/evaluate/flags', { role: 'evaluator', ...raw });
    const bulk2 = await request(stack.url, 'POST', '/ofrep/v1/evaluate/flags', { role: 'evaluator', ...raw });
    expect(bulk2.headers.get('etag')).toBe(bulk1.headers.get('etag'));
    expect(bulk2.json.flags).toEqual(bulk1.json.flags);
    const deep = '{"context":{"a":' + '['.repeat(80) + ']'.repeat(80) + '}}';
    const refusals = [];
    for (let i = 0; i < 2; i++) refusals.push(await post(stack.url, ruled.key, { rawBody: deep, headers: { 'content-type': 'application/json' } }));
    expect(refusals.map((r) => r.status)).toEqual([400, 400]);
    expect(refusals[1].json).toEqual(refusals[0].json);
    expect(refusals[0].json).toMatchObject({ key: ruled.key, errorCode: 'INVALID_CONTEXT' });
    expect((await post(stack.url, ruled.key, raw)).text).toBe(first.text);
  });

  it('errors: 404 FLAG_NOT_FOUND, 400 PARSE_ERROR / INVALID_CONTEXT, 401, 405, all in OFREP shape with CORS', async () => {
    const nf = await post(stack.url, 'no-such', { body: {} });
    expect(nf.status).toBe(404);
    expect(nf.json).toEqual({ key: 'no-such', errorCode: 'FLAG_NOT_FOUND', errorDetails: 'flag no-such does not exist' });
    expect(nf.headers.get('access-control-allow-origin')).toBe('*');
    const parse = await post(stack.url, ruled.key, { rawBody: '{"context":', headers: { 'content-type': 'application/json' } });
    expect(parse.status).toBe(400);
    expect(parse.json).toEqual({ key: ruled.key, errorCode: 'PARSE_ERROR', errorDetails: 'the request body is not valid JSON' });
    const arr = await post(stack.url, ruled.key, { body: [1] });
    expect(arr.json).toEqual({ key: ruled.key, errorCode: 'PARSE_ERROR', errorDetails: 'the request body must be a JSON object like {"context": {...}}' });
    const ictx = await post(stack.url, ruled.key, { body: { context: [] } });
    expect(ictx.status).toBe(400);
    expect(ictx.json).toEqual({ key: ruled.key, errorCode: 'INVALID_CONTEXT', errorDetails: 'context must be a JSON object' });
    const noTk = await post(stack.url, ruled.key, { body: { context: { plan: 'pro' } } });
    expect(noTk.status).toBe(400);
    expect(noTk.json).toMatchObject({ key: ruled.key, errorCode: 'TARGETING_KEY_MISSING' });
    const anon = await request(stack.url, 'POST', `/ofrep/v1/evaluate/flags/${ruled.key}`, { body: {} });
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Bearer realm="flagraft"');
    expect(anon.json).toMatchObject({ key: ruled.key, errorCode: 'GENERAL' });
    const bad = await post(stack.url, ruled.key, { token: 'not-a-token', body: {} });
    expect(bad.status).toBe(401);
    expect(bad.json.errorDetails).toBe('the token is not valid');
    const viaApiKey = await request(stack.url, 'POST', `/ofrep/v1/evaluate/flags/${ruled.key}`, { headers: { 'x-api-key': TOKENS.reader }, body: { context: ctx } });
    expect(viaApiKey.status).toBe(200);
    const get = await request(stack.url, 'GET', `/ofrep/v1/evaluate/flags/${ruled.key}`, { role: 'evaluator' });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, OPTIONS');
    for (const r of [nf, parse, ictx, anon, get]) expect(r.headers.get('x-request-id')).toBeTruthy();
  });

  it('CORS with a configured origin list: echoed with Vary for allowed origins, absent for others; preflight', async () => {
    const gw = await stack.newGateway({ corsOrigins: ['https://app.example'] });
    try {
      const ok = await post(gw.url(), ruled.key, { body: {}, headers: { origin: 'https://app.example' } });
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(ok.headers.get('vary')).toBe('Origin');
      const other = await post(gw.url(), ruled.key, { body: {}, headers: { origin: 'https://evil.example' } });
      expect(other.status).toBe(200);
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const pre = await fetch(`${gw.url()}/ofrep/v1/evaluate/flags/${ruled.key}`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(pre.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
      expect(pre.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
      expect(pre.headers.get('access-control-max-age')).toBe('600');
      expect(pre.headers.get('x-request-id')).toBeTruthy();
      const preOther = await fetch(`${gw.url()}/ofrep/v1/evaluate/flags/${ruled.key}`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
      expect(preOther.status).toBe(204);
      expect(preOther.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await gw.close();
    }
  });
});

describe('OFREP metrics and access log', () => {
  it('counts every request by route and status and every evaluation by flag and reason, exactly', async () => {
    const route = /flagraft_gateway_http_requests_total\{method="POST",route="\/ofrep\/v1\/evaluate\/flags\/:key",status="200"\} (\d+)/;
    const notFound = /flagraft_gateway_http_requests_total\{method="POST",route="\/ofrep\/v1\/evaluate\/flags\/:key",status="404"\} (\d+)/;
    const hist = /flagraft_gateway_http_request_duration_seconds_count\{method="POST",route="\/ofrep\/v1\/evaluate\/flags\/:key",status="200"\} (\d+)/;
    const evals = /flagraft_gateway_evaluations_total\{flag="fp-ruled",reason="TARGETING_MATCH"\} (\d+)/;
    const [r0, n0, h0, e0] = await Promise.all([route, notFound, hist, evals].map((p) => metricValue(stack.url, p)));
    for (let i = 0; i < 7; i++) expect((await post(stack.url, ruled.key, { body: { context: { ...ctx, email: 'me@flagraft.dev' } } })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await post(stack.url, 'nope-x', { body: {} })).status).toBe(404);
    // Metrics are recorded when the response closes: poll until all arrived.
    await eventually(async () => (await metricValue(stack.url, route)) === r0 + 7, 5_000, 'request count');
    expect(await metricValue(stack.url, notFound)).toBe(n0 + 3);
    expect(await metricValue(stack.url, hist)).toBe(h0 + 7);
    expect(await metricValue(stack.url, evals)).toBe(e0 + 7);
  });

  it('a client that disconnects mid-body is counted as 499 and the gateway keeps serving', async () => {
    const aborted = /flagraft_gateway_http_requests_total\{method="POST",route="\/ofrep\/v1\/evaluate\/flags\/:key",status="499"\} (\d+)/;
    const before = await metricValue(stack.url, aborted);
    const { port } = new URL(stack.url);
    await new Promise<void>((resolve, reject) => {
      const s = connect(Number(port), '127.0.0.1', () => {
        s.write(`POST /ofrep/v1/evaluate/flags/${ruled.key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.evaluator}\r\nContent-Length: 100\r\n\r\n{"context":`);
        // Gone before the rest of the body (FIN after the partial request, so the
        // bytes arrive first): the gateway must not answer, crash or count a 5xx.
        s.end();
        resolve();
      });
      s.on('error', reject);
    });
    await eventually(async () => (await metricValue(stack.url, aborted)) === before + 1, 5_000, '499 counted');
    expect((await post(stack.url, ruled.key, { body: {} })).status).toBe(200);
  });

  it('logs every failed evaluation with its request id and actor; successes only with accessLogEvaluations', async () => {
    const nf = await post(stack.url, 'missing-for-log', { body: {} });
    const id = nf.headers.get('x-request-id')!;
    const line = await eventually(() => stack.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === id), 5_000, 'the 404 log line');
    expect(line).toMatchObject({ level: 'info', msg: 'request', app: 'gateway', method: 'POST', path: '/ofrep/v1/evaluate/flags/missing-for-log', route: '/ofrep/v1/evaluate/flags/:key', status: 404, actor: NAMES.evaluator });
    expect(typeof line.ms).toBe('number');
    expect(typeof line.t).toBe('string');
    expect(JSON.stringify(line)).not.toContain(TOKENS.evaluator);

    const ok = await post(stack.url, ruled.key, { body: { context: ctx } });
    const okId = ok.headers.get('x-request-id')!;
    // The 404 above was logged by now; give the success the same chance, then check it is absent.
    const marker = await post(stack.url, 'marker-after-success', { body: {} });
    await eventually(() => stack.logs.some((l) => l.includes(marker.headers.get('x-request-id')!)), 5_000, 'marker line');
    expect(stack.logs.some((l) => l.includes(okId))).toBe(false);

    const gw = await stack.newGateway({ accessLogEvaluations: true });
    try {
      const r = await post(gw.url(), ruled.key, { body: { context: ctx }, headers: { 'x-request-id': 'logged-success-1' } });
      expect(r.status).toBe(200);
      const l = await eventually(() => stack.logs.map((x) => JSON.parse(x)).find((x) => x.requestId === 'logged-success-1'), 5_000, 'success line');
      expect(l).toMatchObject({ status: 200, route: '/ofrep/v1/evaluate/flags/:key', actor: NAMES.evaluator });
    } finally {
      await gw.close();
    }
  });
});

describe('token cache and tokens file reload', () => {
  it('a token removed from the tokens file stops working without a restart; a new one starts working', async () => {
    const file = join(dir, 'tokens.json');
    const write = (entries: { name: string; role: string; token: string }[]) =>
      writeFileSync(file, JSON.stringify(entries.map((e) => ({ name: e.name, role: e.role, sha256: hashToken(e.token) }))));
    write([{ name: 'svc-old', role: 'evaluator', token: 'rotating-old-1' }]);
    const gw = await stack.newGateway({ tokens: loadTokens({ FLAGRAFT_TOKENS_FILE: file }), tokensFile: file, tokensReloadIntervalMs: 20 });
    try {
      // Used several times: from the second request on, it is served from the cache.
      for (let i = 0; i < 3; i++) expect((await post(gw.url(), ruled.key, { token: 'rotating-old-1', body: {} })).status).toBe(200);
      write([{ name: 'svc-new', role: 'reader', token: 'rotating-new-22' }]);
      await eventually(async () => (await post(gw.url(), ruled.key, { token: 'rotating-old-1', body: {} })).status === 401, 5_000, 'old token revoked');
      expect((await post(gw.url(), ruled.key, { token: 'rotating-new-22', body: {} })).status).toBe(200);
      // Roles still apply to cached tokens on the REST API: a reader may read, not write.
      expect((await request(gw.url(), 'GET', `/api/v1/flags/${ruled.key}`, { token: 'rotating-new-22' })).status).toBe(200);
      expect((await request(gw.url(), 'GET', `/api/v1/flags/${ruled.key}`, { token: 'rotating-new-22' })).status).toBe(200);
      expect((await request(gw.url(), 'PUT', `/api/v1/flags/${ruled.key}`, { token: 'rotating-new-22', body: ruled })).status).toBe(403);
      // A broken file keeps the current tokens and is counted.
      writeFileSync(file, '{not json');
      await eventually(
        async () => (await metricValue(gw.url(), /flagraft_gateway_token_reloads_total\{result="error"\} (\d+)/)) >= 1,
        5_000,
        'rejected reload counted',
      );
      expect((await post(gw.url(), ruled.key, { token: 'rotating-new-22', body: {} })).status).toBe(200);
      expect(await metricValue(gw.url(), /flagraft_gateway_token_reloads_total\{result="ok"\} (\d+)/)).toBeGreaterThanOrEqual(1);
      // reloadTokens() (SIGHUP in main.ts) reports the broken file too.
      expect(gw.reloadTokens()).toBe(false);
    } finally {
      await gw.close();
    }
  });
});

describe('per-token rate limits', () => {
  it('evaluations: 429 in OFREP shape with Retry-After once a token has used its burst; other tokens unaffected', async () => {
    // 0.1/s: a refill takes 10 s, far longer than this test, so the counts are exact.
    const gw = await stack.newGateway({ rateLimitEvaluationsPerSec: 0.1, rateLimitEvaluationsBurst: 3 });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await post(gw.url(), ruled.key, { body: { context: ctx } })).status);
      expect(statuses).toEqual([200, 200, 200]);
      const limited = await post(gw.url(), ruled.key, { body: { context: ctx } });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('10');
      expect(limited.headers.get('access-control-allow-origin')).toBe('*');
      expect(limited.json).toEqual({ key: ruled.key, errorCode: 'GENERAL', errorDetails: `token ${NAMES.evaluator} is over its limit of 0.1 evaluation requests per second` });
      // The bulk endpoint draws from the same budget.
      expect((await request(gw.url(), 'POST', '/ofrep/v1/evaluate/flags', { role: 'evaluator', body: {} })).status).toBe(429);
      // Another token has its own budget.
      expect((await post(gw.url(), ruled.key, { role: 'reader', body: {} })).status).toBe(200);
      expect(await metricValue(gw.url(), /flagraft_gateway_rate_limited_total\{kind="evaluation"\} (\d+)/)).toBe(2);
    } finally {
      await gw.close();
    }
    // 0 turns the limit off (this file's first gateway, like the benchmarks).
    for (let i = 0; i < 5; i++) expect((await post(stack.url, ruled.key, { body: {} })).status).toBe(200);
  });

  // Budgets are time-based, so counts are bounded from both sides: at least
  // the burst, at most the burst plus what the elapsed time refilled.
  // The default budgets are checked on a clock the test holds still and then
  // moves, so the counts are exact whatever the machine's speed (outrunning a
  // refill of one evaluation per millisecond is not something a loaded CI
  // machine can promise).
  it('on by default: a token gets 100 writes at once then 50/s, refused with a 429 problem and Retry-After', async () => {
    let now = 0;
    const gw = await stack.newGateway({ rateLimitWritesPerSec: undefined, rateLimitWritesBurst: undefined, rateLimitEvaluationsPerSec: undefined, rateLimitClock: () => now });
    try {
      // Malformed bodies: the budget is taken before the body is read, so each
      // one counts without a cluster round trip (400 while within the budget).
      const write = (role: 'editor' | 'admin' = 'editor') => request(gw.url(), 'PUT', '/api/v1/flags/rl-default', { role, rawBody: '{', headers: { 'content-type': 'application/json' } });
      const spend = async (max: number) => {
        let n = 0;
        for (;;) {
          const r = await write();
          if (r.status === 429) return { n, refused: r };
          expect(r.status).toBe(400);
          if (++n > max) expect.fail(`no 429 after ${n} writes`);
        }
      };
      const first = await spend(1_000);
      expect(first.n).toBe(100);
      const refused = first.refused;
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.json).toMatchObject({ type: 'urn:flagraft:problem:too-many-requests', status: 429, retryAfterSeconds: 1 });
      expect(refused.json.detail).toMatch(/token ed is over its limit of 50 writes per second/);
      now += 1_000; // one second refills 50
      expect((await spend(1_000)).n).toBe(50);
      // Another token has its own budget; reads are never limited.
      expect((await write('admin')).status).toBe(400);
      expect((await request(gw.url(), 'GET', `/api/v1/flags/${ruled.key}`, { role: 'editor' })).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('on by default: a token gets 2,000 evaluations at once then 1,000/s, refused in OFREP shape with Retry-After', async () => {
    let now = 0;
    const gw = await stack.newGateway({ rateLimitEvaluationsPerSec: undefined, rateLimitEvaluationsBurst: undefined, rateLimitWritesPerSec: undefined, rateLimitClock: () => now });
    try {
      // Waves of concurrent requests only to make the test quick; the clock
      // does not move, so the count is exact.
      const spend = async () => {
        let accepted = 0;
        let refused: Awaited<ReturnType<typeof post>> | undefined;
        while (refused === undefined) {
          const wave = await Promise.all(Array.from({ length: 100 }, () => post(gw.url(), ruled.key, { body: { context: ctx } })));
          for (const r of wave) {
            if (r.status === 200) accepted++;
            else if (r.status === 429) refused ??= r;
            else expect.fail(`unexpected ${r.status}: ${r.text}`);
          }
          if (accepted > 10_000) expect.fail(`no 429 after ${accepted} evaluations`);
        }
        return { accepted, refused };
      };
      const first = await spend();
      expect(first.accepted).toBe(2_000);
      expect(first.refused.headers.get('retry-after')).toBe('1');
      expect(first.refused.json).toEqual({ key: ruled.key, errorCode: 'GENERAL', errorDetails: `token ${NAMES.evaluator} is over its limit of 1000 evaluation requests per second` });
      now += 500; // half a second refills 500
      expect((await spend()).accepted).toBe(500);
      // Writes have a budget of their own.
      expect((await request(gw.url(), 'PUT', '/api/v1/flags/rl-default', { role: 'evaluator', rawBody: '{', headers: { 'content-type': 'application/json' } })).status).toBe(403);
      expect((await post(gw.url(), ruled.key, { role: 'reader', body: {} })).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('writes: 429 problem document with Retry-After, reads unaffected, conforming to the OpenAPI document', async () => {
    const gw = await stack.newGateway({ rateLimitWritesPerSec: 0.1, rateLimitWritesBurst: 2 });
    const seen: Recorded[] = [];
    const call = async (method: string, path: string, opts: Parameters<typeof request>[3]) => record(seen, method, path, await request(gw.url(), method, path, opts));
    try {
      const flag = (v: string) => ({ ...ruled, key: 'fp-limited', defaultVariant: v });
      expect((await call('PUT', '/api/v1/flags/fp-limited', { role: 'editor', body: flag('control') })).status).toBe(201);
      expect((await call('PUT', '/api/v1/flags/fp-limited', { role: 'editor', body: flag('treatment') })).status).toBe(200);
      const limited = await call('PUT', '/api/v1/flags/fp-limited', { role: 'editor', body: flag('internal') });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('10');
      expect(limited.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(limited.json).toMatchObject({ type: 'urn:flagraft:problem:too-many-requests', status: 429, retryAfterSeconds: 10 });
      expect(limited.json.detail).toMatch(/token ed is over its limit of 0.1 writes per second/);
      // The refused write did not happen; reads are not limited.
      for (let i = 0; i < 3; i++) {
        const r = await call('GET', '/api/v1/flags/fp-limited', { role: 'editor' });
        expect(r.status).toBe(200);
        expect(r.json.flag.defaultVariant).toBe('treatment');
      }
      // The original write endpoint shares the budget; another token has its own.
      expect((await call('POST', '/set', { role: 'editor', body: { key: 'fp-legacy', value: true } })).status).toBe(429);
      expect((await call('PUT', '/api/v1/flags/fp-limited-admin', { role: 'admin', body: { ...flag('control'), key: 'fp-limited-admin' } })).status).toBe(201);
      expect(await metricValue(gw.url(), /flagraft_gateway_rate_limited_total\{kind="write"\} (\d+)/)).toBe(2);
      const checker = new OpenApiChecker((await request(gw.url(), 'GET', '/api/v1/openapi.json')).json);
      expect(seen.filter((r) => r.path.startsWith('/api/')).flatMap((r) => checker.check(r))).toEqual([]);
    } finally {
      await gw.close();
    }
  });
});
