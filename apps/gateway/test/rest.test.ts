// The REST API and the original endpoints, over testkit's in-memory cluster
// (the same answers as a real one: packages/testkit's conformance suite;
// membership changes with real nodes are in membership.test.ts).
// Every response seen here is also checked against the OpenAPI document at
// the end of the file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boolFlag, eventually, startMemoryStack, type MemoryStack, type RequestOptions, type Reply } from './support/harness.js';
import { OpenApiChecker, record, type Recorded } from './support/openapi-check.js';

let stack: MemoryStack;
const seen: Recorded[] = [];
const api = async (method: string, path: string, opts: RequestOptions = {}): Promise<Reply> =>
  record(seen, method, path, await stack.req(method, path, { role: 'admin', ...opts }));

const expectProblem = (r: Reply, status: number, type: string) => {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.json).toMatchObject({ type: `urn:flagraft:problem:${type}`, status });
  expect(typeof r.json.title).toBe('string');
  expect(typeof r.json.detail).toBe('string');
};

beforeAll(async () => {
  stack = await startMemoryStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('flags', () => {
  it('creates (201, ETag, Location), reads (200/304), replaces with If-Match, refuses a stale If-Match (412)', async () => {
    const created = await api('PUT', '/api/v1/flags/checkout', { body: boolFlag('checkout') });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/api/v1/flags/checkout');
    const rev = created.json.modRevision;
    expect(created.headers.get('etag')).toBe(`"${rev}"`);
    expect(created.json).toMatchObject({ flag: { key: 'checkout', enabled: true }, createRevision: rev, version: 1, updatedBy: 'alice' });

    const read = await api('GET', '/api/v1/flags/checkout');
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe(`"${rev}"`);
    const notModified = await api('GET', '/api/v1/flags/checkout', { headers: { 'if-none-match': `"${rev}"` } });
    expect(notModified.status).toBe(304);

    const replaced = await api('PUT', '/api/v1/flags/checkout', { body: boolFlag('checkout', { defaultVariant: 'on' }), headers: { 'if-match': `"${rev}"` } });
    expect(replaced.status).toBe(200);
    expect(replaced.json.version).toBe(2);
    expect(replaced.json.modRevision).toBeGreaterThan(rev);

    const stale = await api('PUT', '/api/v1/flags/checkout', { body: boolFlag('checkout'), headers: { 'if-match': `"${rev}"` } });
    expectProblem(stale, 412, 'precondition-failed');
    expect(stale.json.currentRevision).toBe(replaced.json.modRevision);

    const stale2 = await api('GET', '/api/v1/flags/checkout', { headers: { 'if-none-match': `"${rev}"` } });
    expect(stale2.status).toBe(200);
  });

  it('If-None-Match: * creates only; If-Match: * requires existence', async () => {
    const first = await api('PUT', '/api/v1/flags/once', { body: boolFlag('once'), headers: { 'if-none-match': '*' } });
    expect(first.status).toBe(201);
    const second = await api('PUT', '/api/v1/flags/once', { body: boolFlag('once'), headers: { 'if-none-match': '*' } });
    expectProblem(second, 412, 'precondition-failed');
    expect(second.json.currentRevision).toBe(first.json.modRevision);
    const missing = await api('PUT', '/api/v1/flags/never', { body: boolFlag('never'), headers: { 'if-match': '*' } });
    expectProblem(missing, 412, 'precondition-failed');
    const exists = await api('PUT', '/api/v1/flags/once', { body: boolFlag('once', { enabled: false }), headers: { 'if-match': '*' } });
    expect(exists.status).toBe(200);
  });

  it('lists with prefix and pagination, linearizable and stale', async () => {
    for (const k of ['list-a', 'list-b', 'list-c']) expect((await api('PUT', `/api/v1/flags/${k}`, { body: boolFlag(k) })).status).toBe(201);
    const p1 = await api('GET', '/api/v1/flags?prefix=list-&limit=2');
    expect(p1.status).toBe(200);
    expect(p1.json.flags.map((f: any) => f.flag.key)).toEqual(['list-a', 'list-b']);
    expect(p1.json.nextPageToken).toBeTruthy();
    const p2 = await api('GET', `/api/v1/flags?prefix=list-&limit=2&pageToken=${encodeURIComponent(p1.json.nextPageToken)}`);
    expect(p2.json.flags.map((f: any) => f.flag.key)).toEqual(['list-c']);
    expect(p2.json.nextPageToken).toBeUndefined();
    const stale = await api('GET', '/api/v1/flags?prefix=list-&consistency=stale');
    expect(stale.status).toBe(200);
    expect(stale.json.flags.length).toBeLessThanOrEqual(3);
    // Stale pages come from the gateway's replica: a write is in them as soon
    // as it is answered, and walking them gives what the cluster gives.
    const patched = await api('PATCH', '/api/v1/flags/list-b', { body: { enabled: false } });
    expect(patched.status).toBe(200);
    const walk = async (q: string) => {
      const keys: string[] = [];
      let token = '';
      let revision = 0;
      for (let i = 0; i < 10; i++) {
        const p = await api('GET', `/api/v1/flags?limit=2${q}${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
        expect(p.status).toBe(200);
        keys.push(...p.json.flags.map((f: any) => `${f.flag.key}@${f.modRevision}`));
        revision = p.json.revision;
        if (!p.json.nextPageToken) break;
        token = p.json.nextPageToken;
      }
      return { keys, revision };
    };
    const staleWalk = await walk('&consistency=stale');
    const linWalk = await walk('');
    expect(staleWalk.keys).toEqual(linWalk.keys);
    expect(staleWalk.keys).toContain(`list-b@${patched.json.modRevision}`);
    expect(staleWalk.revision).toBeGreaterThanOrEqual(patched.json.modRevision);
    const stalePrefix = await walk('&consistency=stale&prefix=list-');
    expect(stalePrefix.keys.map((k) => k.split('@')[0])).toEqual(['list-a', 'list-b', 'list-c']);
    expectProblem(await api('GET', '/api/v1/flags?limit=0'), 400, 'bad-request');
    expectProblem(await api('GET', '/api/v1/flags?consistency=eventual'), 400, 'bad-request');
  });

  it('PATCH: merge patch, JSON patch into a rollout, If-Match CAS, validation', async () => {
    const flag = boolFlag('rollout', {
      rules: [{ conditions: [], rollout: { weights: [{ variant: 'on', weight: 10 }, { variant: 'off', weight: 90 }] } }],
    });
    const created = await api('PUT', '/api/v1/flags/rollout', { body: flag });
    const off = await api('PATCH', '/api/v1/flags/rollout', { body: { enabled: false }, headers: { 'content-type': 'application/merge-patch+json' } });
    expect(off.status).toBe(200);
    expect(off.json.flag.enabled).toBe(false);
    expect(off.json.flag.rules).toEqual(flag.rules);
    const widen = await api('PATCH', '/api/v1/flags/rollout', {
      body: [
        { op: 'test', path: '/rules/0/rollout/weights/0/variant', value: 'on' },
        { op: 'replace', path: '/rules/0/rollout/weights/0/weight', value: 50 },
        { op: 'replace', path: '/rules/0/rollout/weights/1/weight', value: 50 },
      ],
      headers: { 'content-type': 'application/json-patch+json', 'if-match': `"${off.json.modRevision}"` },
    });
    expect(widen.status, widen.text).toBe(200);
    expect(widen.json.flag.rules[0].rollout.weights).toEqual([{ variant: 'on', weight: 50 }, { variant: 'off', weight: 50 }]);
    const stale = await api('PATCH', '/api/v1/flags/rollout', { body: { enabled: true }, headers: { 'if-match': `"${created.json.modRevision}"` } });
    expectProblem(stale, 412, 'precondition-failed');
    expect(stale.json.currentRevision).toBe(widen.json.modRevision);
    const invalid = await api('PATCH', '/api/v1/flags/rollout', { body: { defaultVariant: 'nope' } });
    expectProblem(invalid, 422, 'validation');
    expect(invalid.json.issues.some((i: any) => i.path === 'defaultVariant')).toBe(true);
    const badOp = await api('PATCH', '/api/v1/flags/rollout', { body: [{ op: 'replace', path: '/rules/7/variant', value: 'on' }] });
    expectProblem(badOp, 422, 'validation');
    expectProblem(await api('PATCH', '/api/v1/flags/ghost', { body: { enabled: true } }), 404, 'not-found');
  });

  it('rejects invalid definitions with 422 naming each field, and bad input with 4xx problems', async () => {
    const bad = await api('PUT', '/api/v1/flags/bad', { body: { type: 'boolean', variants: { on: 1 }, defaultVariant: 'x', enabled: 'yes', rules: [] } });
    expectProblem(bad, 422, 'validation');
    const paths = bad.json.issues.map((i: any) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['variants.on', 'enabled']));
    const mismatch = await api('PUT', '/api/v1/flags/one', { body: boolFlag('two') });
    expectProblem(mismatch, 422, 'validation');
    expect(mismatch.json.issues[0].path).toBe('key');
    expectProblem(await api('PUT', '/api/v1/flags/bad', { rawBody: '{"type":', headers: { 'content-type': 'application/json' } }), 400, 'malformed-json');
    expectProblem(await api('PUT', '/api/v1/flags/bad', { rawBody: 'key=1', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported-media-type');
    const huge = JSON.stringify({ ...boolFlag('big'), description: 'x'.repeat(2 * 1024 * 1024) });
    expectProblem(await api('PUT', '/api/v1/flags/big', { rawBody: huge, headers: { 'content-type': 'application/json' } }), 413, 'payload-too-large');
    expectProblem(await api('GET', '/api/v1/flags/no-such-flag'), 404, 'not-found');
    expectProblem(await api('GET', '/api/v1/flags/bad%20key'), 400, 'bad-request');
    expectProblem(await api('POST', '/api/v1/flags/checkout'), 405, 'method-not-allowed');
    expectProblem(await api('GET', '/api/v1/nothing-here'), 404, 'not-found');
    expectProblem(await api('PUT', '/api/v1/flags/checkout', { body: boolFlag('checkout'), headers: { 'if-match': 'W/"3"' } }), 400, 'bad-request');
  });

  it('DELETE with If-Match, then 404; history has actor, before and after', async () => {
    const c = await api('PUT', '/api/v1/flags/doomed', { body: boolFlag('doomed') });
    const u = await api('PUT', '/api/v1/flags/doomed', { body: boolFlag('doomed', { enabled: false }), role: 'editor' });
    expectProblem(await api('DELETE', '/api/v1/flags/doomed', { headers: { 'if-match': `"${c.json.modRevision}"` } }), 412, 'precondition-failed');
    const del = await api('DELETE', '/api/v1/flags/doomed', { headers: { 'if-match': `"${u.json.modRevision}"` } });
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ key: 'doomed', deleted: true });
    expectProblem(await api('DELETE', '/api/v1/flags/doomed'), 404, 'not-found');
    expectProblem(await api('GET', '/api/v1/flags/doomed'), 404, 'not-found');
    const h = await api('GET', '/api/v1/flags/doomed/history');
    expect(h.status).toBe(200);
    expect(h.json.changes.map((c: any) => [c.op, c.actor])).toEqual([
      ['delete', 'alice'],
      ['put', 'ed'],
      ['put', 'alice'],
    ]);
    expect(h.json.changes[0].before.flag.enabled).toBe(false);
    expect(h.json.changes[0].after).toBeNull();
    expect(h.json.changes[2].before).toBeNull();
    const older = await api('GET', `/api/v1/flags/doomed/history?limit=1&before=${h.json.changes[0].revision}`);
    expect(older.json.changes.map((c: any) => c.actor)).toEqual(['ed']);
  });

  it('CAS race: of two writers with the same If-Match exactly one wins', async () => {
    for (let round = 0; round < 5; round++) {
      const key = `race-${round}`;
      const base = await api('PUT', `/api/v1/flags/${key}`, { body: boolFlag(key) });
      const ifMatch = { 'if-match': `"${base.json.modRevision}"` };
      const [a, b] = await Promise.all([
        api('PUT', `/api/v1/flags/${key}`, { body: boolFlag(key, { defaultVariant: 'on' }), headers: ifMatch }),
        api('PUT', `/api/v1/flags/${key}`, { body: boolFlag(key, { enabled: false }), headers: ifMatch, role: 'editor' }),
      ]);
      const statuses = [a.status, b.status].sort();
      expect(statuses).toEqual([200, 412]);
      const winner = a.status === 200 ? a : b;
      const loser = a.status === 200 ? b : a;
      expect(loser.json.currentRevision).toBe(winner.json.modRevision);
      const now = await api('GET', `/api/v1/flags/${key}`);
      expect(now.json.modRevision).toBe(winner.json.modRevision);
      expect(now.json.flag).toEqual(winner.json.flag);
    }
  });
});

describe('segments and batch', () => {
  it('segment CRUD; in use -> 409; flag referencing a missing segment -> 422', async () => {
    const seg = await api('PUT', '/api/v1/segments/beta-users', { body: { conditions: [{ attribute: 'plan', op: 'equals', value: 'beta' }] } });
    expect(seg.status, seg.text).toBe(201);
    expect(seg.json.segment.name).toBe('beta-users');
    expect((await api('GET', '/api/v1/segments/beta-users')).json.modRevision).toBe(seg.json.modRevision);
    const list = await api('GET', '/api/v1/segments?prefix=beta');
    expect(list.json.segments.map((s: any) => s.segment.name)).toEqual(['beta-users']);
    const uses = await api('PUT', '/api/v1/flags/seg-flag', { body: boolFlag('seg-flag', { rules: [{ conditions: [], segments: ['beta-users'], variant: 'on' }] }) });
    expect(uses.status, uses.text).toBe(201);
    const inUse = await api('DELETE', '/api/v1/segments/beta-users');
    expectProblem(inUse, 409, 'conflict');
    const missing = await api('PUT', '/api/v1/flags/seg-missing', { body: boolFlag('seg-missing', { rules: [{ conditions: [], segments: ['nope'], variant: 'on' }] }) });
    expect([422]).toContain(missing.status);
    expectProblem(missing, 422, 'validation');
    const invalid = await api('PUT', '/api/v1/segments/bad-seg', { body: { conditions: [{ attribute: 'x', op: 'bogus' }] } });
    expectProblem(invalid, 422, 'validation');
    const hist = await api('GET', '/api/v1/segments/beta-users/history');
    expect(hist.json.changes[0]).toMatchObject({ op: 'put', actor: 'alice' });
    expect((await api('DELETE', '/api/v1/flags/seg-flag')).status).toBe(200);
    expect((await api('DELETE', '/api/v1/segments/beta-users')).status).toBe(200);
    expectProblem(await api('GET', '/api/v1/segments/beta-users'), 404, 'not-found');
  });

  it('batch is atomic: all at one revision, or nothing', async () => {
    const ok = await api('POST', '/api/v1/batch', {
      body: { ops: [{ op: 'putFlag', flag: boolFlag('batch-a') }, { op: 'putFlag', flag: boolFlag('batch-b') }] },
    });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json.changes.map((c: any) => [c.key, c.revision])).toEqual([
      ['batch-a', ok.json.revision],
      ['batch-b', ok.json.revision],
    ]);
    const a = await api('GET', '/api/v1/flags/batch-a');
    const failing = await api('POST', '/api/v1/batch', {
      body: {
        ops: [
          { op: 'putFlag', flag: boolFlag('batch-c') },
          { op: 'putFlag', flag: boolFlag('batch-a', { enabled: false }), expectedRevision: a.json.modRevision - 1 },
        ],
      },
    });
    expectProblem(failing, 409, 'conflict');
    expectProblem(await api('GET', '/api/v1/flags/batch-c'), 404, 'not-found');
    const invalid = await api('POST', '/api/v1/batch', { body: { ops: [{ op: 'putFlag', flag: { key: 'x', type: 'boolean' } }] } });
    expectProblem(invalid, 422, 'validation');
    expect(invalid.json.issues[0].path).toMatch(/^ops\[0\]\.flag/);
    expectProblem(await api('POST', '/api/v1/batch', { body: { ops: [] } }), 422, 'validation');
    expectProblem(await api('POST', '/api/v1/batch', { body: { ops: [{ op: 'explode' }] } }), 422, 'validation');
  });
});

describe('original endpoints', () => {
  it('POST /set and /api/v1/flags/set answer after commit with the revision; GET /get/:key and /api/v1/flags/all read them', async () => {
    const s1 = await api('POST', '/set', { body: { key: 'legacy-color', value: 'blue' }, role: 'editor' });
    expect(s1.status).toBe(200);
    expect(s1.json).toMatchObject({ key: 'legacy-color', value: 'blue' });
    expect(s1.json.revision).toBeGreaterThan(0);
    // Answered after commit: a linearizable read right away sees it, at that revision.
    const typed = await api('GET', '/api/v1/flags/legacy-color');
    expect(typed.json.modRevision).toBe(s1.json.revision);
    expect(typed.json.flag.type).toBe('string');
    const s2 = await api('POST', '/api/v1/flags/set', { body: { key: 'legacy-on', value: 'true' } });
    expect(s2.json).toMatchObject({ key: 'legacy-on', value: 'true' });
    expect((await api('GET', '/api/v1/flags/legacy-on')).json.flag.type).toBe('boolean');
    const s3 = await api('POST', '/set', { body: { key: 'legacy-color', value: 'green' } });
    expect(s3.json.revision).toBeGreaterThan(s1.json.revision);
    const got = await api('GET', '/get/legacy-color');
    expect(got.json).toEqual({ key: 'legacy-color', value: 'green', revision: s3.json.revision });
    const all = await api('GET', '/api/v1/flags/all');
    expect(all.json['legacy-color']).toBe('green');
    expect(all.json['legacy-on']).toBe('true');
    expectProblem(await api('GET', '/get/legacy-none'), 404, 'not-found');
    const bad = await api('POST', '/set', { body: { key: '', value: { nested: true } } });
    expectProblem(bad, 422, 'validation');
    expect(bad.json.issues.map((i: any) => i.path).sort()).toEqual(['key', 'value']);
  });
});

describe('cluster and operations', () => {
  it('GET /api/v1/cluster shows members, leader, term; membership ops are admin-only and validated', async () => {
    const st = await api('GET', '/api/v1/cluster', { role: 'reader' });
    expect(st.status).toBe(200);
    expect(st.json.members).toHaveLength(3);
    expect(st.json.leaderId).toBeGreaterThan(0);
    expect(st.json.term).toBeGreaterThan(0);
    expect(st.json.gateway.replicaLoaded).toBe(true);
    expectProblem(await api('POST', '/api/v1/cluster/members', { role: 'editor', body: { id: 9, address: '127.0.0.1:1' } }), 403, 'forbidden');
    expectProblem(await api('POST', '/api/v1/cluster/members', { body: { id: -1, address: 'nope' } }), 422, 'validation');
    expectProblem(await api('POST', '/api/v1/cluster/leader', { body: { id: 'x' } }), 422, 'validation');
  });

  it('/health, /ready, /metrics and the OpenAPI document', async () => {
    expect((await api('GET', '/health', { role: undefined })).json).toEqual({ status: 'ok' });
    const ready = await api('GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({ ready: true, replicaLoaded: true, clusterReachable: true });
    const metrics = await api('GET', '/metrics');
    expect(metrics.text).toMatch(/flagraft_gateway_http_requests_total\{method="PUT",route="\/api\/v1\/flags\/:key",status="201"\} \d+/);
    expect(metrics.text).toMatch(/flagraft_gateway_replica_revision \d+/);
    expect(metrics.text).toMatch(/flagraft_gateway_http_request_duration_seconds_bucket/);
    const doc = await api('GET', '/api/v1/openapi.json');
    expect(doc.json.openapi).toBe('3.1.0');
  });

  it('request logs are JSON lines without tokens', async () => {
    stack.gateway.log.flush();
    const lines = stack.logs.map((l) => JSON.parse(l));
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests.length).toBeGreaterThan(20);
    expect(requests.some((l) => l.actor === 'alice' && l.route === '/api/v1/flags/:key')).toBe(true);
    const all = stack.logs.join('\n');
    expect(all).not.toContain('tok-admin');
    expect(all).not.toContain('tok-editor');
  });

  it('every response seen in this file conforms to the OpenAPI document', async () => {
    const doc = (await stack.req('GET', '/api/v1/openapi.json')).json;
    const checker = new OpenApiChecker(doc);
    const problems = seen.flatMap((r) => checker.check(r));
    expect(problems).toEqual([]);
    expect(seen.length).toBeGreaterThan(80);
  });
});
