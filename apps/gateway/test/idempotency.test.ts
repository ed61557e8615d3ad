// Idempotency-Key on writes, against a real 3-node cluster and two gateways
// with their own gateway certificates (as behind Caddy): a write sent twice
// with one key is applied once, whichever gateway gets the retry, and the
// retry is answered with the first outcome.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/index.js';
import { MAX_IDEMPOTENCY_KEY_CHARS } from '../src/idempotency.js';
import { boolFlag, request, startStack, type Reply, type RequestOptions, type Stack } from './support/harness.js';

let stack: Stack;
let second: Gateway;
const api = (method: string, path: string, opts: RequestOptions = {}) => stack.req(method, path, { role: 'admin', ...opts });
const viaSecond = (method: string, path: string, opts: RequestOptions = {}) => request(second.url(), method, path, { role: 'admin', ...opts });
const keyed = (key: string, opts: RequestOptions = {}): RequestOptions => ({ ...opts, headers: { ...opts.headers, 'idempotency-key': key } });
const history = async (key: string) => (await api('GET', `/api/v1/flags/${key}/history`)).json.changes as { revision: number }[];

const expectProblem = (r: Reply, status: number, type: string) => {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.json).toMatchObject({ type: `urn:flagraft:problem:${type}`, status });
};

beforeAll(async () => {
  stack = await startStack();
  // Its own certificate (gateway identity gw-2): retries must meet across gateway identities.
  second = await stack.newGateway({ clusterTls: await stack.cluster.serviceTls('gateway', 'gw-2') });
});
afterAll(async () => {
  await stack?.stop();
});

describe('Idempotency-Key', () => {
  it('applies a PUT once: the retry (on another gateway too) gets the first answer, history has one entry', async () => {
    const key = randomUUID();
    const first = await api('PUT', '/api/v1/flags/idem-put', keyed(key, { body: boolFlag('idem-put') }));
    expect(first.status, first.text).toBe(201);
    const again = await api('PUT', '/api/v1/flags/idem-put', keyed(key, { body: boolFlag('idem-put') }));
    const elsewhere = await viaSecond('PUT', '/api/v1/flags/idem-put', keyed(key, { body: boolFlag('idem-put') }));
    for (const r of [again, elsewhere]) {
      expect(r.status, r.text).toBe(201);
      expect(r.json).toEqual(first.json);
      expect(r.headers.get('etag')).toBe(first.headers.get('etag'));
    }
    expect((await history('idem-put')).map((c) => c.revision)).toEqual([first.json.modRevision]);
    // Without a key the same body is a second write (the control for the above).
    const unkeyed = await api('PUT', '/api/v1/flags/idem-put', { body: boolFlag('idem-put') });
    expect(unkeyed.status).toBe(200);
    expect(unkeyed.json.modRevision).toBeGreaterThan(first.json.modRevision);
  });

  it('replays PATCH (also with If-Match pinned to the revision it replaced), DELETE, batch and the legacy /set', async () => {
    const created = await api('PUT', '/api/v1/flags/idem-many', { body: boolFlag('idem-many') });
    const base = created.json.modRevision;

    const pk = randomUUID();
    const patchOpts = { body: { enabled: false }, headers: { 'if-match': `"${base}"` } };
    const patched = await api('PATCH', '/api/v1/flags/idem-many', keyed(pk, patchOpts));
    expect(patched.status, patched.text).toBe(200);
    const patchedAgain = await viaSecond('PATCH', '/api/v1/flags/idem-many', keyed(pk, patchOpts));
    expect(patchedAgain.status, patchedAgain.text).toBe(200);
    expect(patchedAgain.json).toEqual(patched.json);
    // The control: the same pinned PATCH with another key is a stale If-Match.
    expectProblem(await api('PATCH', '/api/v1/flags/idem-many', keyed(randomUUID(), patchOpts)), 412, 'precondition-failed');

    const sk = randomUUID();
    const set = await api('POST', '/api/v1/flags/set', keyed(sk, { body: { key: 'idem-legacy', value: 'v1' } }));
    expect(set.status, set.text).toBe(200);
    expect(await viaSecond('POST', '/api/v1/flags/set', keyed(sk, { body: { key: 'idem-legacy', value: 'v1' } }))).toMatchObject({ status: 200, json: set.json });
    expect(await history('idem-legacy')).toHaveLength(1);

    const bk = randomUUID();
    const ops = { ops: [{ op: 'putFlag', flag: boolFlag('idem-batch-a') }, { op: 'putFlag', flag: boolFlag('idem-batch-b') }] };
    const batch = await api('POST', '/api/v1/batch', keyed(bk, { body: ops }));
    expect(batch.status, batch.text).toBe(200);
    const batchAgain = await viaSecond('POST', '/api/v1/batch', keyed(bk, { body: ops }));
    expect(batchAgain.status, batchAgain.text).toBe(200);
    expect(batchAgain.json.revision).toBe(batch.json.revision);

    const dk = randomUUID();
    const deleted = await api('DELETE', '/api/v1/flags/idem-many', keyed(dk));
    expect(deleted.status, deleted.text).toBe(200);
    // Without the key this would be a 404: the flag is gone.
    expect(await viaSecond('DELETE', '/api/v1/flags/idem-many', keyed(dk))).toMatchObject({ status: 200, json: deleted.json });
    expectProblem(await api('DELETE', '/api/v1/flags/idem-many', keyed(randomUUID())), 404, 'not-found');
  });

  it('refuses a key reused with a different request (422 naming Idempotency-Key), and applies nothing', async () => {
    const key = randomUUID();
    const first = await api('PUT', '/api/v1/flags/idem-reuse', keyed(key, { body: boolFlag('idem-reuse') }));
    expect(first.status).toBe(201);
    const reused = await viaSecond('PUT', '/api/v1/flags/idem-reuse', keyed(key, { body: boolFlag('idem-reuse', { enabled: false }) }));
    expectProblem(reused, 422, 'idempotency-key-reused');
    expect(reused.json.header).toBe('Idempotency-Key');
    expect(reused.json.detail).toContain('Idempotency-Key');
    // Another route with the same key is another request too.
    expectProblem(await api('PUT', '/api/v1/flags/idem-reuse-2', keyed(key, { body: boolFlag('idem-reuse-2') })), 422, 'idempotency-key-reused');
    const now = await api('GET', '/api/v1/flags/idem-reuse');
    expect(now.json).toMatchObject({ flag: { enabled: true }, modRevision: first.json.modRevision });
    expect((await api('GET', '/api/v1/flags/idem-reuse-2')).status).toBe(404);
  });

  it('scopes keys by the authenticated caller: another token\'s same key is its own write', async () => {
    const key = randomUUID();
    const mine = await api('PUT', '/api/v1/flags/idem-scope', keyed(key, { body: boolFlag('idem-scope') }));
    expect(mine.status).toBe(201);
    const theirs = await api('PUT', '/api/v1/flags/idem-scope', keyed(key, { role: 'editor', body: boolFlag('idem-scope', { enabled: false }) }));
    expect(theirs.status, theirs.text).toBe(200);
    expect(theirs.json.modRevision).toBeGreaterThan(mine.json.modRevision);
    expect(theirs.json.updatedBy).toBe('ed');
    expect(await history('idem-scope')).toHaveLength(2);
  });

  it('checks the header: length limit, characters, one value; authentication first', async () => {
    const long = await api('PUT', '/api/v1/flags/idem-bad', keyed('k'.repeat(MAX_IDEMPOTENCY_KEY_CHARS + 1), { body: boolFlag('idem-bad') }));
    expectProblem(long, 400, 'bad-request');
    expect(long.json).toMatchObject({ header: 'Idempotency-Key', limit: MAX_IDEMPOTENCY_KEY_CHARS });
    expect(long.json.detail).toContain('MAX_IDEMPOTENCY_KEY_CHARS');
    const exact = await api('PUT', '/api/v1/flags/idem-bad', keyed('k'.repeat(MAX_IDEMPOTENCY_KEY_CHARS), { body: boolFlag('idem-bad') }));
    expect(exact.status, exact.text).toBe(201);
    for (const bad of ['has space', 'semi;colon', '""']) {
      const r = await api('PATCH', '/api/v1/flags/idem-bad', keyed(bad, { body: { enabled: false } }));
      expectProblem(r, 400, 'bad-request');
      expect(r.json.header).toBe('Idempotency-Key');
    }
    // The draft's Structured Field string form is the same key as the bare one.
    const sf = randomUUID();
    const quoted = await api('PATCH', '/api/v1/flags/idem-bad', keyed(`"${sf}"`, { body: { enabled: false } }));
    expect(quoted.status).toBe(200);
    expect(await api('PATCH', '/api/v1/flags/idem-bad', keyed(sf, { body: { enabled: false } }))).toMatchObject({ status: 200, json: quoted.json });
    // No token: 401 before the header (or the body) is looked at.
    expectProblem(await api('PUT', '/api/v1/flags/idem-bad', keyed('x y', { role: undefined, body: boolFlag('idem-bad') })), 401, 'unauthorized');
  });

  it('is refused where the cluster does not de-duplicate the effect (restore, flagd import, membership)', async () => {
    for (const [method, path, body] of [
      ['POST', '/api/v1/admin/restore', {}],
      ['POST', '/api/v1/flagd/import', { flags: {} }],
      ['DELETE', '/api/v1/cluster/members/9', undefined],
    ] as const) {
      const r = await api(method, path, keyed(randomUUID(), { body }));
      expectProblem(r, 400, 'bad-request');
      expect(r.json.header, path).toBe('Idempotency-Key');
    }
  });
});
