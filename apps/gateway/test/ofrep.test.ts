// OFREP against a real cluster, driven by the real OpenFeature server SDK and
// the official OFREP provider from npm (@openfeature/ofrep-provider 0.1.3 with
// @openfeature/ofrep-core 0.1.4: the only provider release on the registry).
import { OpenFeature, type Client } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { evaluate, type FlagDefinition } from '@flagraft/flag-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenStore, hashToken, type Role } from '@flagraft/auth';
import { boolFlag, NAMES, request, startMemoryStack, TOKENS, type MemoryStack } from './support/harness.js';
import { OpenApiChecker, record, type Recorded } from './support/openapi-check.js';
import { openSse } from './support/sse.js';

let stack: MemoryStack;
let client: Client;

const flags: FlagDefinition[] = [
  { key: 'bool-static', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [], metadata: { team: 'web', tier: 2 } },
  {
    key: 'banner',
    type: 'string',
    variants: { plain: 'hello', german: 'hallo', vip: 'welcome back' },
    defaultVariant: 'plain',
    enabled: true,
    rules: [
      { conditions: [{ attribute: 'country', op: 'equals', value: 'DE' }], variant: 'german' },
      { conditions: [{ attribute: 'plan', op: 'in', value: ['gold', 'platinum'] }], variant: 'vip' },
    ],
  },
  { key: 'max-items', type: 'number', variants: { small: 10, large: 250 }, defaultVariant: 'small', enabled: true, rules: [{ conditions: [{ attribute: 'age', op: 'gte', value: 18 }], variant: 'large' }] },
  { key: 'theme', type: 'object', variants: { light: { bg: '#fff', fg: '#000' }, dark: { bg: '#000', fg: '#fff' } }, defaultVariant: 'light', enabled: true, rules: [] },
  {
    key: 'new-checkout',
    type: 'boolean',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    enabled: true,
    rules: [{ conditions: [], rollout: { weights: [{ variant: 'on', weight: 30 }, { variant: 'off', weight: 70 }] } }],
  },
  { key: 'bool-disabled', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: false, rules: [] },
  { key: 'str-disabled-off', type: 'string', variants: { a: 'live', b: 'parked' }, defaultVariant: 'a', offVariant: 'b', enabled: false, rules: [] },
  { key: 'str-disabled', type: 'string', variants: { a: 'live' }, defaultVariant: 'a', enabled: false, rules: [] },
];

beforeAll(async () => {
  stack = await startMemoryStack();
  for (const f of flags) {
    const r = await stack.req('PUT', `/api/v1/flags/${f.key}`, { role: 'editor', body: f });
    expect(r.status, r.text).toBe(201);
  }
  await OpenFeature.setProviderAndWait('flagraft', new OFREPProvider({ baseUrl: stack.url, headers: [['Authorization', `Bearer ${TOKENS.evaluator}`]] }));
  client = OpenFeature.getClient('flagraft');
});
afterAll(async () => {
  await OpenFeature.close();
  await stack?.stop();
});

describe('OFREP through the OpenFeature SDK', () => {
  it('boolean, string, number and object flags, with metadata', async () => {
    const b = await client.getBooleanDetails('bool-static', false, { targetingKey: 'u1' });
    expect(b).toMatchObject({ value: true, variant: 'on', reason: 'STATIC', flagMetadata: { team: 'web', tier: 2 } });
    expect(b.errorCode).toBeUndefined();
    expect(await client.getStringValue('banner', 'x', { targetingKey: 'u1' })).toBe('hello');
    expect(await client.getNumberValue('max-items', 0, { targetingKey: 'u1' })).toBe(10);
    expect(await client.getObjectValue('theme', {}, { targetingKey: 'u1' })).toEqual({ bg: '#fff', fg: '#000' });
  });

  it('rules: targeting matches by attribute, list membership and number comparison', async () => {
    const de = await client.getStringDetails('banner', 'x', { targetingKey: 'u2', country: 'DE', plan: 'gold' });
    expect(de).toMatchObject({ value: 'hallo', variant: 'german', reason: 'TARGETING_MATCH' });
    const vip = await client.getStringDetails('banner', 'x', { targetingKey: 'u2', country: 'FR', plan: 'platinum' });
    expect(vip).toMatchObject({ value: 'welcome back', variant: 'vip', reason: 'TARGETING_MATCH' });
    const none = await client.getStringDetails('banner', 'x', { targetingKey: 'u2', country: 'FR', plan: 'free' });
    expect(none).toMatchObject({ value: 'hello', variant: 'plain', reason: 'DEFAULT' });
    expect(await client.getNumberDetails('max-items', 0, { targetingKey: 'u3', age: 30 })).toMatchObject({ value: 250, reason: 'TARGETING_MATCH' });
    expect(await client.getNumberDetails('max-items', 0, { targetingKey: 'u3', age: 12 })).toMatchObject({ value: 10, reason: 'DEFAULT' });
  });

  it('rollouts: every user gets flag-model\'s (flagd fractional) bucket, with the configured split', async () => {
    const def = flags.find((f) => f.key === 'new-checkout')!;
    let on = 0;
    const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    for (const u of users) {
      const d = await client.getBooleanDetails('new-checkout', false, { targetingKey: u });
      const expected = evaluate(def, def.key, { targetingKey: u });
      expect(d.reason).toBe('SPLIT');
      expect(d.value).toBe(expected.value);
      expect(d.variant).toBe(expected.variant);
      if (d.value) on++;
    }
    expect(on).toBeGreaterThan(200 * 0.3 - 25);
    expect(on).toBeLessThan(200 * 0.3 + 25);
    // Stable: the same user always gets the same answer.
    const again = await client.getBooleanValue('new-checkout', false, { targetingKey: 'user-7' });
    expect(again).toBe(evaluate(def, def.key, { targetingKey: 'user-7' }).value);
    const noKey = await client.getBooleanDetails('new-checkout', true, {});
    expect(noKey).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' });
  });

  it('disabled flags: booleans serve false, offVariant is served, otherwise the caller\'s default', async () => {
    expect(await client.getBooleanDetails('bool-disabled', true, { targetingKey: 'u' })).toMatchObject({ value: false, reason: 'DISABLED' });
    expect(await client.getStringDetails('str-disabled-off', 'dflt', { targetingKey: 'u' })).toMatchObject({ value: 'parked', variant: 'b', reason: 'DISABLED' });
    // No offVariant: the gateway omits `value` (OFREP: use the code default). Provider 0.1.3
    // treats a body without `value` as malformed, so the SDK reports an error, still with the default.
    const raw = await request(stack.url, 'POST', '/ofrep/v1/evaluate/flags/str-disabled', { role: 'evaluator', body: { context: {} } });
    expect(raw.status).toBe(200);
    expect(raw.json).toEqual({ key: 'str-disabled', reason: 'DISABLED' });
    expect((await client.getStringDetails('str-disabled', 'dflt', { targetingKey: 'u' })).value).toBe('dflt');
  });

  it('missing flags and type mismatches return the default with an error code', async () => {
    expect(await client.getBooleanDetails('no-such-flag', true, { targetingKey: 'u' })).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    expect(await client.getNumberDetails('bool-static', 5, { targetingKey: 'u' })).toMatchObject({ value: 5, reason: 'ERROR', errorCode: 'TYPE_MISMATCH' });
  });

  it('a bad token gets the default, not a value', async () => {
    await OpenFeature.setProviderAndWait('bad-token', new OFREPProvider({ baseUrl: stack.url, headers: [['Authorization', 'Bearer wrong']] }));
    const d = await OpenFeature.getClient('bad-token').getBooleanDetails('bool-static', false, { targetingKey: 'u' });
    expect(d.value).toBe(false);
    expect(d.reason).toBe('ERROR');
  });

  it('counts evaluations by flag and reason in /metrics', async () => {
    const metrics = (await request(stack.url, 'GET', '/metrics')).text;
    const count = (flag: string, reason: string) => Number(new RegExp(`flagraft_gateway_evaluations_total\\{flag="${flag}",reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    expect(count('new-checkout', 'SPLIT')).toBeGreaterThanOrEqual(200);
    expect(count('banner', 'TARGETING_MATCH')).toBeGreaterThanOrEqual(2);
    expect(count('bool-disabled', 'DISABLED')).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/flagraft_gateway_http_requests_total\{method="POST",route="\/ofrep\/v1\/evaluate\/flags\/:key",status="200"\} \d+/);
  });

  it('sees a change right after the write that made it (the write waits for this gateway\'s replica)', async () => {
    const w = await stack.req('PUT', '/api/v1/flags/bool-static', { role: 'editor', body: { ...flags[0], defaultVariant: 'off' } });
    expect(w.status).toBe(200);
    expect(await client.getBooleanValue('bool-static', true, { targetingKey: 'u' })).toBe(false);
  });
});

describe('OFREP wire format', () => {
  // Every answer of these tests is recorded and checked against the OpenAPI document (last test).
  const seen: Recorded[] = [];
  const post = async (path: string, opts: Parameters<typeof request>[3] = {}) =>
    record(seen, 'POST', path, await request(stack.url, 'POST', path, { role: 'evaluator', ...opts }));

  it('error shapes: PARSE_ERROR, INVALID_CONTEXT, FLAG_NOT_FOUND, 401', async () => {
    const parse = await post('/ofrep/v1/evaluate/flags/banner', { rawBody: '{"context":', headers: { 'content-type': 'application/json' } });
    expect(parse.status).toBe(400);
    expect(parse.json).toMatchObject({ key: 'banner', errorCode: 'PARSE_ERROR' });
    const ctx = await post('/ofrep/v1/evaluate/flags/banner', { body: { context: 'not-an-object' } });
    expect(ctx.status).toBe(400);
    expect(ctx.json).toMatchObject({ key: 'banner', errorCode: 'INVALID_CONTEXT' });
    const tk = await post('/ofrep/v1/evaluate/flags/banner', { body: { context: { targetingKey: 42 } } });
    expect(tk.json.errorCode).toBe('INVALID_CONTEXT');
    const missing = await post('/ofrep/v1/evaluate/flags/nope', { body: {} });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ key: 'nope', errorCode: 'FLAG_NOT_FOUND' });
    const anon = record(seen, 'POST', '/ofrep/v1/evaluate/flags/banner', await request(stack.url, 'POST', '/ofrep/v1/evaluate/flags/banner', { body: {} }));
    expect(anon.status).toBe(401);
    const empty = await post('/ofrep/v1/evaluate/flags/banner', { rawBody: '' });
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-type')).toMatch(/^application\/json/);
    const big = await post('/ofrep/v1/evaluate/flags/banner', { body: { context: { pad: 'x'.repeat(70_000) } } });
    expect(big.status).toBe(413);
    expect(big.json.errorCode).toBe('GENERAL');
  });

  it('bulk: ETag covers configuration and context; If-None-Match gives 304; a change gives a new ETag', async () => {
    const ctx = { context: { targetingKey: 'bulk-user', country: 'DE' } };
    const first = await post('/ofrep/v1/evaluate/flags', { body: ctx });
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"\d+-[\w-]+-w\d+"$/); // revision, context hash, stream-ticket window
    const keys = first.json.flags.map((f: any) => f.key).sort();
    expect(keys).toEqual(flags.map((f) => f.key).sort());
    expect(first.json.flags.find((f: any) => f.key === 'banner')).toMatchObject({ value: 'hallo', reason: 'TARGETING_MATCH' });
    expect(first.json.eventStreams[0]).toMatchObject({ type: 'sse' });
    expect(first.json.eventStreams[0].url).toMatch(new RegExp(`^${stack.url}/ofrep/v1/events\\?ticket=ft1\\.[^&]+&since=\\d+$`));

    const same = await post('/ofrep/v1/evaluate/flags', { body: ctx, headers: { 'if-none-match': etag } });
    expect(same.status).toBe(304);
    expect(same.text).toBe('');
    const otherCtx = await post('/ofrep/v1/evaluate/flags', { body: { context: { targetingKey: 'bulk-user', country: 'FR' } }, headers: { 'if-none-match': etag } });
    expect(otherCtx.status).toBe(200);
    expect(otherCtx.headers.get('etag')).not.toBe(etag);

    const events = await openSse(`${stack.url}/ofrep/v1/events`, { authorization: `Bearer ${TOKENS.evaluator}` });
    expect(events.status).toBe(200);
    const w = await stack.req('PUT', '/api/v1/flags/banner', { role: 'editor', body: { ...flags[1], defaultVariant: 'vip' } });
    expect(w.status).toBe(200);
    await events.waitFor((f) => f.some((x) => JSON.parse(x.data).type === 'refetchEvaluation' && x.id === String(w.json.modRevision)), 10_000, 'refetchEvaluation');
    events.close();
    const after = await post('/ofrep/v1/evaluate/flags', { body: ctx, headers: { 'if-none-match': etag } });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(etag);
  });

  it('CORS: preflight allows the OFREP headers, answers expose ETag', async () => {
    const res = await fetch(`${stack.url}/ofrep/v1/evaluate/flags`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization,if-none-match' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(res.headers.get('access-control-allow-headers')).toMatch(/If-None-Match/);
    const r = await post('/ofrep/v1/evaluate/flags', { body: {}, headers: { origin: 'https://app.example' } });
    expect(r.headers.get('access-control-expose-headers')).toMatch(/ETag/);
  });

  it('per environment (issue 16): the official provider with an evaluator token of staging evaluates in staging, with no code change', async () => {
    const token = 'tok-ofrep-staging-eval-81aa';
    const gw = await stack.newGateway({
      tokens: createTokenStore([
        ...(Object.keys(TOKENS) as Role[]).map((role) => ({ name: NAMES[role], role, sha256: hashToken(TOKENS[role]) })),
        { name: 'staging-eval', role: 'evaluator', sha256: hashToken(token), environments: ['ofrep-staging'] },
      ]),
    });
    expect((await stack.req('POST', '/api/v1/environments', { role: 'admin', body: { name: 'ofrep-staging' } })).status).toBe(201);
    const staged = await stack.req('PUT', '/api/v1/flags/banner?environment=ofrep-staging', { role: 'editor', body: { ...flags[1], defaultVariant: 'vip', rules: [] } });
    expect(staged.status, staged.text).toBe(200);
    await OpenFeature.setProviderAndWait('staging', new OFREPProvider({ baseUrl: gw.url(), headers: [['Authorization', `Bearer ${token}`]] }));
    await OpenFeature.setProviderAndWait('production', new OFREPProvider({ baseUrl: gw.url(), headers: [['Authorization', `Bearer ${TOKENS.evaluator}`]] }));
    const ctx = { targetingKey: 'u1', country: 'DE' };
    // Staging's configuration (no rules, default vip) on the staging token; production's rules on the other. Both wait for the replica's copy.
    await expect.poll(() => OpenFeature.getClient('staging').getStringValue('banner', 'x', ctx), { timeout: 10_000 }).toBe('welcome back');
    expect(await OpenFeature.getClient('production').getStringValue('banner', 'x', ctx)).toBe('hallo');
    // An ?environment= parameter does not let the staging token read production.
    const r = await request(gw.url(), 'POST', '/ofrep/v1/evaluate/flags/banner?environment=production', { token, body: { context: ctx } });
    expect(r.json).toMatchObject({ value: 'welcome back', variant: 'vip' });
  });

  it('development mode: anonymous evaluation only', async () => {
    const gw = await stack.newGateway({ anonymousEvaluation: true });
    const ev = await request(gw.url(), 'POST', '/ofrep/v1/evaluate/flags/theme', { body: {} });
    expect(ev.status).toBe(200);
    expect(ev.json.value).toEqual({ bg: '#fff', fg: '#000' });
    expect((await request(gw.url(), 'GET', '/api/v1/flags')).status).toBe(401);
    expect((await request(gw.url(), 'PUT', '/api/v1/flags/x', { body: boolFlag('x') })).status).toBe(401);
    await gw.close();
  });

  it('every OFREP answer seen in these tests conforms to the OpenAPI document', async () => {
    const checker = new OpenApiChecker((await request(stack.url, 'GET', '/api/v1/openapi.json')).json);
    expect(seen.map((r) => r.status).sort()).toEqual(expect.arrayContaining([200, 304, 400, 401, 404, 413]));
    expect(seen.flatMap((r) => checker.check(r))).toEqual([]);
  });
});
