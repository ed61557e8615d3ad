// The REST resources of issue 16 on a real gateway in front of testkit's
// in-memory cluster (the same answers as a real one: testkit's conformance
// suite runs environments, promotion, change requests, schedules and the
// audit log against both): environments (list, get, create, update, delete), flags per
// environment (?environment=), environment-scoped tokens (a staging
// evaluator never sees production; an editor limited to staging is refused
// in production, approvals included), promotion (plan, then one atomic
// change), the whole change request lifecycle with two people (the author
// cannot approve), a conflicted apply answering base/current/proposed, and a
// schedule made through REST and fired by the leader's scheduler
// (runSchedules, on this file's clock; environments.test.ts has a real
// leader fire one on its own).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenStore, hashToken, type Role, type TokenEntry } from '@flagraft/auth';
import { boolFlag, NAMES, request, startMemoryStack, TOKENS, type MemoryStack, type Reply } from './support/harness.js';
import { openSse, type SseFrame, type SseReader } from './support/sse.js';

/** Tokens beyond the harness's four: a second editor (the reviewer) and tokens limited to staging. */
const EXTRA = {
  reviewer: { name: 'rev', role: 'editor', token: 'tok-reviewer-31d0aa' },
  stagingEditor: { name: 'st-ed', role: 'editor', token: 'tok-st-editor-8c11e2', environments: ['staging'] },
  stagingEvaluator: { name: 'st-eval', role: 'evaluator', token: 'tok-st-eval-40f9b7', environments: ['staging'] },
  stagingReader: { name: 'st-read', role: 'reader', token: 'tok-st-reader-77e0c1', environments: ['staging'] },
} as const;

const tokens = () => createTokenStore([
  ...(Object.keys(TOKENS) as Role[]).map((role): TokenEntry => ({ name: NAMES[role], role, sha256: hashToken(TOKENS[role]) })),
  ...Object.values(EXTRA).map((t): TokenEntry => ({ name: t.name, role: t.role, sha256: hashToken(t.token), ...('environments' in t ? { environments: [...t.environments] } : {}) })),
]);

let stack: MemoryStack;
/** The cluster's clock: real time plus what the schedule tests moved it on by (ms). */
let skew = 0;
const clock = () => Date.now() + skew;
type Who = Role | keyof typeof EXTRA;
const req = (method: string, path: string, who: Who | undefined, body?: unknown): Promise<Reply> => {
  const token = who === undefined ? undefined : who in EXTRA ? EXTRA[who as keyof typeof EXTRA].token : TOKENS[who as Role];
  return request(stack.url, method, path, { token, body });
};
const ok = (r: Reply, status = 200) => {
  expect(r.status, r.text).toBe(status);
  return r.json;
};
const problem = (r: Reply, status: number, match: Record<string, unknown> = {}) => {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.json).toMatchObject(match);
  return r.json;
};

beforeAll(async () => {
  stack = await startMemoryStack({ gateway: { tokens: tokens() }, cluster: { now: clock } });
});
afterAll(async () => {
  await stack?.stop();
});

describe('environments over REST', () => {
  it('creates, lists, reads, renames and refuses as documented', async () => {
    ok(await req('PUT', '/api/v1/flags/checkout', 'admin', boolFlag('checkout', { enabled: false })), 201);
    problem(await req('POST', '/api/v1/environments', 'editor', { name: 'staging' }), 403);
    problem(await req('POST', '/api/v1/environments', undefined, { name: 'staging' }), 401);
    const bad = problem(await req('POST', '/api/v1/environments', 'admin', { name: 'no spaces', policy: { approvalsRequired: -1 } }), 422);
    expect(bad.issues.map((i: { path: string }) => i.path)).toEqual(expect.arrayContaining(['environment.name']));
    const created = ok(await req('POST', '/api/v1/environments', 'admin', { name: 'staging', displayName: 'Staging' }), 201);
    expect(created).toMatchObject({ environment: { name: 'staging', displayName: 'Staging' }, isDefault: false });
    problem(await req('POST', '/api/v1/environments', 'admin', { name: 'staging' }), 409, { currentRevision: created.modRevision });
    const list = ok(await req('GET', '/api/v1/environments', 'reader'));
    expect(list.defaultEnvironment).toBe('production');
    expect(list.environments.map((e: { environment: { name: string } }) => e.environment.name).sort()).toEqual(['production', 'staging']);
    // A token limited to staging lists only staging.
    expect(ok(await req('GET', '/api/v1/environments', 'stagingReader')).environments.map((e: { environment: { name: string } }) => e.environment.name)).toEqual(['staging']);
    problem(await req('GET', '/api/v1/environments/production', 'stagingReader'), 403, { environment: 'production' });
    problem(await req('GET', '/api/v1/environments/nowhere', 'reader'), 404);
    const renamed = ok(await req('PATCH', '/api/v1/environments/staging', 'admin', { displayName: 'Pre-production' }));
    expect(renamed.environment.displayName).toBe('Pre-production');
    problem(await req('PATCH', '/api/v1/environments/staging', 'admin', { name: 'other' }), 422, { issues: [{ path: 'name' }] });
    // The new environment got the flag's configuration.
    expect(ok(await req('GET', '/api/v1/flags/checkout?environment=staging', 'reader')).flag.key).toBe('checkout');
    problem(await req('GET', '/api/v1/flags/checkout?environment=no%20way', 'reader'), 400, { issues: [{ path: 'environment' }] });
  });

  it('deletes an environment only with force while flags are configured in it', async () => {
    ok(await req('POST', '/api/v1/environments', 'admin', { name: 'scratch' }), 201);
    problem(await req('DELETE', '/api/v1/environments/scratch', 'admin'), 409, { reason: 'ENVIRONMENT_IN_USE' });
    problem(await req('DELETE', '/api/v1/environments/scratch?force=maybe', 'admin'), 400, { issues: [{ path: 'force' }] });
    const gone = ok(await req('DELETE', '/api/v1/environments/scratch?force=true', 'admin'));
    expect(gone).toMatchObject({ name: 'scratch', deleted: true, flagConfigurations: 1 });
    problem(await req('GET', '/api/v1/environments/scratch', 'admin'), 404);
    problem(await req('DELETE', '/api/v1/environments/production?force=true', 'admin'), 409, { reason: 'ENVIRONMENT_IN_USE' });
  });
});

describe('environment-scoped tokens', () => {
  it('writes a flag per environment; a staging editor is refused in production', async () => {
    const staged = ok(await req('PUT', '/api/v1/flags/checkout?environment=staging', 'stagingEditor', boolFlag('checkout', { enabled: true, defaultVariant: 'on' })));
    expect(staged.flag.enabled).toBe(true);
    expect(ok(await req('GET', '/api/v1/flags/checkout', 'reader')).flag.enabled).toBe(false);
    for (const [method, path, body] of [
      ['PUT', '/api/v1/flags/checkout', boolFlag('checkout')],
      ['PUT', '/api/v1/flags/checkout?environment=production', boolFlag('checkout')],
      ['PATCH', '/api/v1/flags/checkout', { enabled: true }],
      ['DELETE', '/api/v1/flags/checkout', undefined],
      ['POST', '/set', { key: 'checkout', value: 'true' }],
      ['POST', '/api/v1/flags/set', { key: 'checkout', value: 'true' }],
      ['POST', '/api/v1/batch', { ops: [{ op: 'putFlag', flag: boolFlag('checkout') }] }],
      ['GET', '/api/v1/flags', undefined],
      ['GET', '/get/checkout', undefined],
    ] as const) {
      const p = problem(await req(method, path, 'stagingEditor', body), 403);
      expect(p.detail).toContain('environment production');
    }
    // Segments are shared by every environment: a limited token may read them, not write them.
    problem(await req('PUT', '/api/v1/segments/beta', 'stagingEditor', { name: 'beta', conditions: [] }), 403);
    ok(await req('POST', '/api/v1/batch', 'stagingEditor', { ops: [{ op: 'putFlag', env: 'staging', flag: boolFlag('checkout', { enabled: true, defaultVariant: 'on' }) }] }));
  });

  it('an evaluator of staging evaluates staging through plain OFREP and never sees production', async () => {
    ok(await req('PUT', '/api/v1/flags/prod-only', 'admin', boolFlag('prod-only', { enabled: true, defaultVariant: 'on' })), 201);
    // prod-only arrives in staging too (one definition); make it differ: staging serves off.
    ok(await req('PUT', '/api/v1/flags/prod-only?environment=staging', 'admin', boolFlag('prod-only', { enabled: true, defaultVariant: 'off' })));
    const staging = ok(await req('POST', '/ofrep/v1/evaluate/flags/checkout', 'stagingEvaluator', { context: { targetingKey: 'u1' } }));
    expect(staging).toMatchObject({ key: 'checkout', value: true });
    const production = ok(await req('POST', '/ofrep/v1/evaluate/flags/checkout', 'evaluator', { context: { targetingKey: 'u1' } }));
    expect(production.value).toBe(false);
    const bulk = ok(await req('POST', '/ofrep/v1/evaluate/flags', 'stagingEvaluator', { context: { targetingKey: 'u1' } }));
    const values = new Map(bulk.flags.map((f: { key: string; value: unknown }) => [f.key, f.value]));
    expect(values.get('checkout')).toBe(true);
    expect(values.get('prod-only')).toBe(false);
    const prodBulk = ok(await req('POST', '/ofrep/v1/evaluate/flags', 'evaluator', { context: { targetingKey: 'u1' } }));
    expect(new Map(prodBulk.flags.map((f: { key: string; value: unknown }) => [f.key, f.value])).get('prod-only')).toBe(true);
    // Same revision and context, another environment: another ETag.
    const etag = (r: Reply) => r.headers.get('etag');
    const a = await req('POST', '/ofrep/v1/evaluate/flags', 'stagingEvaluator', {});
    const b = await req('POST', '/ofrep/v1/evaluate/flags', 'evaluator', {});
    expect(etag(a)).not.toBe(etag(b));
    // No parameter reaches production for it: OFREP takes the environment from the token alone.
    const sneaky = ok(await req('POST', '/ofrep/v1/evaluate/flags/prod-only?environment=production', 'stagingEvaluator', {}));
    expect(sneaky.value).toBe(false);
  });
});

describe('the audit log (GET /api/v1/changes) with environments', () => {
  it('names each flag change\'s environment; a token limited to staging reads staging\'s flag changes only', async () => {
    type Entry = { kind: string; key: string; environment?: string; actor: string };
    const all = ok(await req('GET', '/api/v1/changes?limit=1000', 'reader')).changes as Entry[];
    expect(all.some((c) => c.kind === 'environment' && c.key === 'staging')).toBe(true);
    expect(all.filter((c) => c.kind === 'flag').every((c) => c.environment === 'production' || c.environment === 'staging' || c.environment === 'scratch')).toBe(true);
    expect(all.filter((c) => c.kind !== 'flag').every((c) => c.environment === undefined)).toBe(true);
    const staging = ok(await req('GET', '/api/v1/changes?limit=1000&environment=staging', 'reader')).changes as Entry[];
    expect(staging.length).toBeGreaterThan(0);
    expect(staging).toEqual(all.filter((c) => c.kind === 'flag' && c.environment === 'staging'));
    // Limited to staging: staging's changes, nothing of production, and not the whole log.
    expect(ok(await req('GET', '/api/v1/changes?limit=1000&environment=staging', 'stagingReader')).changes).toEqual(staging);
    problem(await req('GET', '/api/v1/changes?environment=production', 'stagingReader'), 403, { environment: 'production' });
    problem(await req('GET', '/api/v1/changes', 'stagingReader'), 403);
  });
});

describe('OFREP per environment costs what it did', () => {
  it('evaluates as fast for a staging evaluator as for the default environment (printed, not asserted: a shared machine)', async () => {
    const timeOne = async (who: Who) => {
      const ms: number[] = [];
      for (let i = 0; i < 300; i++) {
        const t0 = performance.now();
        const r = await req('POST', '/ofrep/v1/evaluate/flags/checkout', who, { context: { targetingKey: `u${i}` } });
        ms.push(performance.now() - t0);
        expect(r.status).toBe(200);
      }
      ms.sort((a, b) => a - b);
      return `median ${ms[150].toFixed(2)} ms, p99 ${ms[296].toFixed(2)} ms`;
    };
    console.log(`OFREP single, 300 sequential requests: default environment ${await timeOne('evaluator')}; staging ${await timeOne('stagingEvaluator')}`);
  });
});

describe('promotion', () => {
  it('shows the plan, then copies staging to production in one revision', async () => {
    const plan = ok(await req('GET', '/api/v1/promotions/plan?from=staging&to=production&keys=checkout', 'reader'));
    expect(plan.items).toHaveLength(1);
    expect(plan.items[0]).toMatchObject({ key: 'checkout', before: { flag: { enabled: false } }, after: { enabled: true } });
    const posted = ok(await req('POST', '/api/v1/promotions/plan', 'reader', { from: 'staging', to: 'production' }));
    expect(posted.items.map((i: { key: string }) => i.key).sort()).toEqual(['checkout', 'prod-only']);
    problem(await req('GET', '/api/v1/promotions/plan?from=staging', 'reader'), 400, { issues: [{ path: 'to' }] });
    problem(await req('POST', '/api/v1/promotions', 'stagingEditor', { from: 'staging', to: 'production' }), 403, { environment: 'production' });
    problem(await req('POST', '/api/v1/promotions', 'reader', { from: 'staging', to: 'production' }), 403);
    const applied = ok(await req('POST', '/api/v1/promotions', 'editor', { from: 'staging', to: 'production', keys: ['checkout'] }));
    expect(applied.flags).toEqual(['checkout']);
    const after = ok(await req('GET', '/api/v1/flags/checkout', 'reader'));
    expect(after.flag.enabled).toBe(true);
    expect(after.modRevision).toBe(applied.revision);
  });
});

describe('change requests over REST', () => {
  it('protects production, then runs a request from creation to a second person\'s approval to apply', async () => {
    ok(await req('PATCH', '/api/v1/environments/production', 'admin', { policy: { approvalsRequired: 1, authorCannotApprove: true } }));
    const refused = problem(await req('PUT', '/api/v1/flags/checkout', 'editor', boolFlag('checkout', { enabled: false })), 409, { reason: 'PROTECTED', environment: 'production' });
    expect(refused.detail).toContain('change request');
    const created = ok(await req('POST', '/api/v1/change-requests', 'editor', {
      title: 'Switch checkout off', ops: [{ op: 'putFlag', flag: boolFlag('checkout', { enabled: false }) }],
    }), 201);
    const id = created.changeRequest.id as string;
    expect(created.changeRequest).toMatchObject({ env: 'production', author: NAMES.editor, status: 'draft' });
    problem(await req('POST', `/api/v1/change-requests/${id}/submit`, 'reviewer'), 403);
    ok(await req('POST', `/api/v1/change-requests/${id}/submit`, 'editor'));
    ok(await req('POST', `/api/v1/change-requests/${id}/comments`, 'reviewer', { comment: 'looks fine' }));
    problem(await req('POST', `/api/v1/change-requests/${id}/comments`, 'reviewer', {}), 422, { issues: [{ path: 'comment' }] });
    // The inbox: the reviewer has it to review, the author does not.
    const inbox = ok(await req('GET', '/api/v1/change-requests?toReview=true', 'reviewer'));
    expect(inbox.changeRequests.map((c: { changeRequest: { id: string } }) => c.changeRequest.id)).toContain(id);
    expect(ok(await req('GET', '/api/v1/change-requests?toReview=true', 'editor')).changeRequests).toEqual([]);
    problem(await req('POST', `/api/v1/change-requests/${id}/approve`, 'editor'), 403);
    problem(await req('POST', `/api/v1/change-requests/${id}/approve`, 'stagingEditor'), 403, { environment: 'production' });
    problem(await req('GET', `/api/v1/change-requests/${id}`, 'stagingReader'), 403, { environment: 'production' });
    problem(await req('POST', `/api/v1/change-requests/${id}/apply`, 'editor'), 409, { reason: 'INVALID_STATE' });
    const approved = ok(await req('POST', `/api/v1/change-requests/${id}/approve`, 'reviewer', { comment: 'ok' }));
    expect(approved.changeRequest).toMatchObject({ status: 'approved', approvals: [{ actor: 'rev', role: 'editor', text: 'ok' }] });
    problem(await req('POST', `/api/v1/change-requests/${id}/apply`, 'stagingEditor'), 403, { environment: 'production' });
    const applied = ok(await req('POST', `/api/v1/change-requests/${id}/apply`, 'editor'));
    expect(applied.changeRequest.status).toBe('applied');
    const flag = ok(await req('GET', '/api/v1/flags/checkout', 'reader'));
    expect(flag.flag.enabled).toBe(false);
    expect(flag.modRevision).toBe(applied.changeRequest.appliedRevision);
    const history = ok(await req('GET', '/api/v1/flags/checkout/history?limit=1', 'reader'));
    expect(history.changes[0].actor).toBe(NAMES.editor);
    expect(ok(await req('GET', '/api/v1/change-requests?state=applied&environment=production', 'reader')).changeRequests.map((c: { changeRequest: { id: string } }) => c.changeRequest.id)).toContain(id);
    expect(ok(await req('GET', `/api/v1/change-requests?author=${NAMES.admin}`, 'reader')).changeRequests).toEqual([]);
    problem(await req('GET', '/api/v1/change-requests?state=sideways', 'reader'), 400, { issues: [{ path: 'state' }] });
    problem(await req('GET', '/api/v1/change-requests/cr-999999', 'reader'), 404);
    problem(await req('GET', '/api/v1/change-requests/nope', 'reader'), 400, { issues: [{ path: 'changeRequestId' }] });
  });

  it('answers a conflicted apply with base, current and proposed; the author rebases; withdraw and reject', async () => {
    const make = async (enabled: boolean) => ok(await req('POST', '/api/v1/change-requests', 'editor', { title: `checkout ${enabled}`, submit: true, ops: [{ op: 'putFlag', flag: boolFlag('checkout', { enabled }) }] }), 201).changeRequest.id as string;
    const first = await make(true);
    const second = await make(true);
    // An approval retried with its Idempotency-Key is applied once and answered alike (without a key, a second approval is refused).
    const keyed = (id: string) => request(stack.url, 'POST', `/api/v1/change-requests/${id}/approve`, { token: EXTRA.reviewer.token, headers: { 'idempotency-key': `approve-${id}` } });
    const once = ok(await keyed(first));
    const again = ok(await keyed(first));
    expect(again.changeRequest.approvals).toHaveLength(1);
    expect(again.modRevision).toBe(once.modRevision);
    problem(await req('POST', `/api/v1/change-requests/${first}/approve`, 'reviewer'), 409);
    ok(await req('POST', `/api/v1/change-requests/${second}/approve`, 'reviewer'));
    ok(await req('POST', `/api/v1/change-requests/${first}/apply`, 'editor'));
    const conflicted = problem(await req('POST', `/api/v1/change-requests/${second}/apply`, 'editor'), 409, { reason: 'CONFLICTED', changeRequest: { changeRequest: { status: 'conflicted' } } });
    expect(conflicted.conflicts[0]).toMatchObject({ kind: 'flag', key: 'checkout', item: { flag: { enabled: false } }, current: { flag: { enabled: true } }, proposed: { enabled: true } });
    problem(await req('POST', `/api/v1/change-requests/${second}/rebase`, 'reviewer', {}), 403);
    const rebased = ok(await req('POST', `/api/v1/change-requests/${second}/rebase`, 'editor', { ops: [{ op: 'putFlag', flag: boolFlag('checkout', { enabled: false }) }] }));
    expect(rebased.changeRequest).toMatchObject({ status: 'inReview', approvals: [] });
    ok(await req('POST', `/api/v1/change-requests/${second}/reject`, 'reviewer', { comment: 'not now' }));
    const third = await make(false);
    expect(ok(await req('POST', `/api/v1/change-requests/${third}/withdraw`, 'editor')).changeRequest.status).toBe('withdrawn');
  });
});

describe('the change stream with environments=all', () => {
  it('carries other environments\' flags, environment, change request and schedule events; old streams stay as they were', async () => {
    const streams: SseReader[] = [];
    const open = async (who: Who, query: string) => {
      const token = who in EXTRA ? EXTRA[who as keyof typeof EXTRA].token : TOKENS[who as Role];
      const s = await openSse(`${stack.url}/api/v1/stream${query}`, { authorization: `Bearer ${token}` });
      streams.push(s);
      return s;
    };
    try {
      const all = await open('reader', '?environments=all');
      const legacy = await open('reader', '');
      const stagingOnly = await open('stagingReader', '?environments=all');
      expect([all.status, legacy.status, stagingOnly.status]).toEqual([200, 200, 200]);
      problem(await req('GET', '/api/v1/stream', 'stagingReader'), 403, { environment: 'production' });
      problem(await req('GET', '/api/v1/stream?environments=some', 'reader'), 400);
      problem(await req('GET', '/api/v1/stream?kind=schedule', 'reader'), 400);
      const events = (s: SseReader) => s.frames.filter((f: SseFrame) => f.event === 'message' || f.event === undefined || f.event === '').map((f) => JSON.parse(f.data));
      ok(await req('PUT', '/api/v1/flags/stream-flag?environment=staging', 'editor', boolFlag('stream-flag')), 201);
      const cr = ok(await req('POST', '/api/v1/change-requests', 'editor', { title: 'stream', ops: [{ op: 'putFlag', flag: boolFlag('stream-flag', { enabled: false }) }] }), 201);
      ok(await req('POST', `/api/v1/change-requests/${cr.changeRequest.id}/withdraw`, 'editor'));
      ok(await req('PATCH', '/api/v1/environments/staging', 'admin', { displayName: 'Staging again' }));
      await all.waitFor((f) => events({ ...all, frames: f }).some((e) => e.kind === 'environment' && e.key === 'staging'), 10_000, 'environment event');
      const seen = events(all);
      // The flag arrived in both environments (one revision): staging's event names its env, production's has none.
      expect(seen.filter((e) => e.kind === 'flag' && e.key === 'stream-flag').map((e) => e.env ?? 'production').sort()).toEqual(['production', 'staging']);
      expect(seen.filter((e) => e.kind === 'changeRequest').map((e) => e.changeRequest.changeRequest.status)).toEqual(['draft', 'withdrawn']);
      expect(seen.find((e) => e.kind === 'environment')).toMatchObject({ op: 'put', environment: { environment: { displayName: 'Staging again' } } });
      // The legacy stream: the default environment's flag only, without env, exactly as before environments.
      await legacy.waitFor((f) => events({ ...legacy, frames: f }).some((e) => e.key === 'stream-flag'), 10_000, 'legacy flag event');
      const old = events(legacy);
      expect(old.every((e) => (e.kind === 'flag' || e.kind === 'segment') && e.env === undefined)).toBe(true);
      expect(old.filter((e) => e.key === 'stream-flag')).toHaveLength(1);
      // A token limited to staging: staging's events only.
      await stagingOnly.waitFor((f) => events({ ...stagingOnly, frames: f }).some((e) => e.kind === 'environment'), 10_000, 'staging environment event');
      const limited = events(stagingOnly);
      expect(limited.some((e) => e.kind === 'flag' && e.env === 'staging')).toBe(true);
      expect(limited.filter((e) => (e.kind === 'flag' && e.env === undefined) || e.kind === 'changeRequest')).toEqual([]);
      // OFREP events: an evaluator of staging is told of staging's changes, never of production's.
      const stagingOfrep = await openSse(`${stack.url}/ofrep/v1/events`, { authorization: `Bearer ${EXTRA.stagingEvaluator.token}` });
      const prodOfrep = await openSse(`${stack.url}/ofrep/v1/events`, { authorization: `Bearer ${TOKENS.evaluator}` });
      streams.push(stagingOfrep, prodOfrep);
      const prodChange = ok(await req('POST', '/api/v1/change-requests', 'editor', { title: 'prod', submit: true, ops: [{ op: 'putFlag', flag: boolFlag('stream-flag', { enabled: false, defaultVariant: 'on' }) }] }), 201).changeRequest.id;
      ok(await req('POST', `/api/v1/change-requests/${prodChange}/approve`, 'reviewer'));
      const applied = ok(await req('POST', `/api/v1/change-requests/${prodChange}/apply`, 'editor')).changeRequest.appliedRevision as number;
      const stagingWrite = ok(await req('PUT', '/api/v1/flags/stream-flag?environment=staging', 'editor', boolFlag('stream-flag', { defaultVariant: 'on' }))).modRevision as number;
      const refetches = (s: SseReader) => s.frames.filter((f) => f.data.includes('refetchEvaluation')).map((f) => JSON.parse(f.data) as { etag: string; flags?: string[] });
      await prodOfrep.waitFor(() => refetches(prodOfrep).some((r) => r.etag === String(applied)), 10_000, 'production refetch');
      await stagingOfrep.waitFor(() => refetches(stagingOfrep).some((r) => r.etag === String(stagingWrite)), 10_000, 'staging refetch');
      expect(refetches(stagingOfrep).map((r) => r.etag)).not.toContain(String(applied));
      expect(refetches(stagingOfrep).find((r) => r.etag === String(stagingWrite))?.flags).toEqual(['stream-flag']);
      // Resume with Last-Event-ID on the all stream: nothing lost or repeated.
      const resumed = await open('reader', `?environments=all&since=${seen[0].revision}`);
      await resumed.waitFor((f) => events({ ...resumed, frames: f }).some((e) => e.kind === 'environment'), 10_000, 'resumed');
      const expected = seen.filter((e) => e.revision > seen[0].revision).map((e) => `${e.revision}/${e.kind}/${e.key}`);
      expect(events(resumed).map((e) => `${e.revision}/${e.kind}/${e.key}`).slice(0, expected.length)).toEqual(expected);
    } finally {
      for (const s of streams) s.close();
    }
  });
});

describe('schedules over REST', () => {
  it('schedules a toggle in staging that the leader\'s scheduler fires; refuses bad steps by field', async () => {
    problem(await req('POST', '/api/v1/schedules', 'editor', { environment: 'staging', title: 't', steps: [{ at: '2026-12-24 09:00', toggle: { flag: 'checkout', enabled: false } }] }), 422, { issues: [{ path: 'steps[0].at' }] });
    problem(await req('POST', '/api/v1/schedules', 'editor', { environment: 'staging', title: 't', steps: [{ at: Date.now(), toggle: { flag: 'checkout', enabled: false }, ops: [] }] }), 422, { issues: [{ path: 'steps[0]' }] });
    problem(await req('POST', '/api/v1/schedules', 'editor', { environment: 'staging', title: 't', steps: [{ at: Date.now(), ops: [{ op: 'deleteFlag', key: 'no spaces' }] }] }), 422, { issues: [{ path: 'steps[0].ops[0].key' }] });
    problem(await req('POST', '/api/v1/schedules', 'stagingEditor', { title: 't', steps: [{ at: Date.now(), toggle: { flag: 'checkout', enabled: false } }] }), 403, { environment: 'production' });
    // Ops steps into a protected environment are refused by the state machine: schedule an approved change request there.
    problem(await req('POST', '/api/v1/schedules', 'editor', { title: 't', steps: [{ at: Date.now() + 60_000, toggle: { flag: 'checkout', enabled: true } }] }), 409, { reason: 'PROTECTED' });
    const at = new Date(clock() + 1_500).toISOString();
    const created = ok(await req('POST', '/api/v1/schedules', 'stagingEditor', { environment: 'staging', title: 'staging off', steps: [{ at, toggle: { flag: 'checkout', enabled: false } }] }), 201);
    const id = created.schedule.id as string;
    expect(created.schedule).toMatchObject({ env: 'staging', createdBy: 'st-ed', steps: [{ at: Date.parse(at), status: 'pending' }] });
    // Not yet due: the scheduler proposes nothing. Once the clock passes the step, it fires it.
    expect(await stack.cluster.runSchedules()).toBe(0);
    skew += 1_500;
    expect(await stack.cluster.runSchedules()).toBe(1);
    const fired = ok(await req('GET', `/api/v1/schedules/${id}`, 'stagingReader'));
    expect(fired.schedule.steps[0].status).toBe('applied');
    const flag = ok(await req('GET', '/api/v1/flags/checkout?environment=staging', 'reader'));
    expect(flag.flag.enabled).toBe(false);
    expect(flag.modRevision).toBe(fired.schedule.steps[0].revision);
    expect(ok(await req('GET', '/api/v1/schedules?environment=staging&pending=false', 'reader')).schedules.map((s: { schedule: { id: string } }) => s.schedule.id)).toContain(id);
    // A rollout as a schedule of steps (5 % -> 100 %), each fired in turn; a bad weight is refused by its path.
    problem(await req('POST', '/api/v1/schedules', 'editor', { environment: 'staging', title: 'r', steps: [{ at: Date.now(), rollout: { flag: 'checkout', weights: [{ variant: 'on', weight: -1 }] } }] }), 422, { issues: [{ path: 'steps[0].rollout.weights[0]' }] });
    const w = (on: number) => [{ variant: 'on', weight: on }, { variant: 'off', weight: 100 - on }];
    const rollout = ok(await req('POST', '/api/v1/schedules', 'editor', {
      environment: 'staging', title: 'rollout', steps: [{ at: clock() + 1_000, rollout: { flag: 'checkout', weights: w(5) } }, { at: clock() + 2_000, rollout: { flag: 'checkout', weights: w(100) } }],
    }), 201).schedule.id as string;
    // The scheduler fires one due step per look, in turn.
    skew += 2_000;
    expect(await stack.cluster.runSchedules()).toBe(1);
    expect(await stack.cluster.runSchedules()).toBe(1);
    const done = ok(await req('GET', `/api/v1/schedules/${rollout}`, 'reader'));
    expect(done.schedule.steps.map((st: { status: string }) => st.status)).toEqual(['applied', 'applied']);
    expect(done.schedule.steps[1].revision).toBeGreaterThan(done.schedule.steps[0].revision);
    const rolled = ok(await req('GET', '/api/v1/flags/checkout?environment=staging', 'reader'));
    expect(rolled.flag.rules.at(-1).rollout.weights).toEqual(w(100));
    expect(ok(await req('GET', '/api/v1/flags/checkout/history?environment=staging&limit=2', 'reader')).changes.map((c: { after: { flag: { rules: { rollout?: { weights: unknown } }[] } } }) => c.after.flag.rules.at(-1)?.rollout?.weights)).toEqual([w(100), w(5)]);
    const later = ok(await req('POST', '/api/v1/schedules', 'editor', { environment: 'staging', title: 'later', steps: [{ at: clock() + 3_600_000, toggle: { flag: 'checkout', enabled: true } }] }), 201);
    expect(ok(await req('POST', `/api/v1/schedules/${later.schedule.id}/cancel`, 'editor')).schedule.steps[0].status).toBe('cancelled');
    problem(await req('POST', `/api/v1/schedules/${later.schedule.id}/cancel`, 'editor'), 409, { reason: 'INVALID_STATE' });
    problem(await req('GET', '/api/v1/schedules/sch-999999', 'reader'), 404);
  });
});
