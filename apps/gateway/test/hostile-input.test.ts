// Each finding of issue 12 against the gateway, reproduced on a real 3-node
// cluster with two gateways: authentication before any body is read (gzip
// bombs included), named JSON shape limits instead of 500s, every problem of
// a 422 at once with paths and pointers, prototype-named keys that work
// everywhere, invalid page tokens, PATCH with If-None-Match.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/index.js';
import { TOKENS, boolFlag, eventually, request, startMemoryStack, type MemoryStack } from './support/harness.js';

/** Restore limit of these gateways: below the 20 MB bomb, so a valid token gets 413 naming it. */
const RESTORE_LIMIT = 16 * 1024 * 1024;

let stack: MemoryStack;
let second: Gateway;
beforeAll(async () => {
  stack = await startMemoryStack({ gateway: { maxRestoreBodyBytes: RESTORE_LIMIT } });
  second = await stack.newGateway();
});
afterAll(async () => {
  await stack?.stop();
});

/** `{"a":{"a":...}}` nested `levels` deep, built as text (a recursive builder would overflow first). */
function deepObjectText(levels: number, leaf = '1'): string {
  return '{"a":'.repeat(levels) + leaf + '}'.repeat(levels);
}

/** A gzip body of `mb` MB of JSON (one array of zeros): about 29 KB compressed for 20 MB. */
function gzipBomb(mb: number): Buffer {
  const inner = Buffer.alloc(mb * 1024 * 1024 - 2, '0,'.charCodeAt(0));
  for (let i = 1; i < inner.length; i += 2) inner[i] = 0x2c;
  inner[inner.length - 1] = 0x30;
  return gzipSync(Buffer.concat([Buffer.from('['), inner, Buffer.from(']')]), { level: 9 });
}

async function raw(method: string, path: string, body: Buffer | string, headers: Record<string, string>, base = stack.url) {
  const t0 = performance.now();
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', json: text ? JSON.parse(text) : undefined, ms: performance.now() - t0 };
}

describe('authentication comes before the body', () => {
  const bomb = gzipBomb(20);

  it('an unauthenticated gzip bomb to the restore route is a 401 at once, without inflating it', async () => {
    expect(bomb.length).toBeLessThan(40 * 1024);
    const before = process.memoryUsage().rss;
    const health = (async () => {
      const t0 = performance.now();
      const r = await fetch(stack.url + '/health');
      return { status: r.status, ms: performance.now() - t0 };
    })();
    const r = await raw('POST', '/api/v1/admin/restore', bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(r.status).toBe(401);
    expect(r.json.type).toBe('urn:flagraft:problem:unauthorized');
    expect((await health).status).toBe(200);
    // Inflating and parsing 20 MB took 2.1 s and ~160 MB before; reading 29 KB takes neither.
    expect(r.ms).toBeLessThan(500);
    expect(process.memoryUsage().rss - before).toBeLessThan(60 * 1024 * 1024);
  });

  it('with an admin token the bomb is a 413 naming the restore limit (the decompressed size counts)', async () => {
    const r = await raw('POST', '/api/v1/admin/restore', bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${TOKENS.admin}` });
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ type: 'urn:flagraft:problem:payload-too-large', limit: 'maxRestoreBodyBytes', limitBytes: RESTORE_LIMIT });
    expect(r.json.detail).toMatch(/once decompressed \(maxRestoreBodyBytes\)/);
  });

  it('the same on an ordinary route: maxBodyBytes counts decompressed bytes; a small gzip body works', async () => {
    const auth = { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${TOKENS.editor}` };
    const big = await raw('PUT', '/api/v1/flags/gz', gzipBomb(2), auth);
    expect(big.status).toBe(413);
    expect(big.json.limit).toBe('maxBodyBytes');
    const ok = await raw('PUT', '/api/v1/flags/gz', gzipSync(JSON.stringify(boolFlag('gz'))), auth);
    expect(ok.status).toBe(201);
    const corrupt = await raw('PUT', '/api/v1/flags/gz', Buffer.from('not gzip at all'), auth);
    expect(corrupt.status).toBe(400);
    const unknown = await raw('PUT', '/api/v1/flags/gz', '{}', { ...auth, 'content-encoding': 'zstd-ish' });
    expect(unknown.status).toBe(415);
  });

  it('an unauthenticated PUT with body "{" is 401, not 400; with a reader token 403', async () => {
    for (const [token, status] of [[undefined, 401], ['nope', 401], [TOKENS.reader, 403]] as const) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      for (const path of ['/api/v1/flags/x', '/api/v1/segments/x', '/api/v1/batch', '/set', '/api/v1/flagd/import', '/api/v1/admin/restore']) {
        const method = path.startsWith('/api/v1/flags/') || path.startsWith('/api/v1/segments/') ? 'PUT' : 'POST';
        expect((await raw(method, path, '{', headers)).status, `${token} ${method} ${path}`).toBe(status);
      }
    }
    const noToken = await raw('POST', '/api/v1/evaluation-counts', '{', { 'content-type': 'application/json' });
    expect(noToken.status).toBe(401);
  });

  it('OFREP refuses compressed contexts (415) after authenticating', async () => {
    const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    expect((await raw('POST', '/ofrep/v1/evaluate/flags', gzipSync('{}'), headers)).status).toBe(401);
    const r = await raw('POST', '/ofrep/v1/evaluate/flags', gzipSync('{}'), { ...headers, authorization: `Bearer ${TOKENS.evaluator}` });
    expect(r.status).toBe(415);
    expect(r.json.errorCode).toBe('GENERAL');
  });
});

describe('bad input is a 4xx naming the limit, never a 500', () => {
  const editor = { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.editor}` };
  beforeAll(async () => {
    expect((await stack.req('PUT', '/api/v1/flags/deep', { role: 'editor', body: boolFlag('deep') })).status).toBe(201);
  });

  it('a JSON merge patch nested 100,000 levels', async () => {
    const r = await raw('PATCH', '/api/v1/flags/deep', deepObjectText(100_000), { ...editor, 'content-type': 'application/merge-patch+json' });
    expect(r.status).toBe(422);
    expect(r.type).toMatch(/^application\/problem\+json/);
    expect(r.json).toMatchObject({ type: 'urn:flagraft:problem:json-limit', limit: 'maxJsonDepth' });
    expect(r.json.detail).toMatch(/nested more than 64 levels/);
  });

  it('a JSON Patch whose value is nested 100,000 levels', async () => {
    const body = `[{"op":"add","path":"/description","value":${deepObjectText(100_000)}}]`;
    const r = await raw('PATCH', '/api/v1/flags/deep', body, { ...editor, 'content-type': 'application/json-patch+json' });
    expect(r.status).toBe(422);
    expect(r.json.limit).toBe('maxJsonDepth');
  });

  it('JSON shape limits list every violation with its path, pointer and limit', async () => {
    const body = JSON.stringify({ key: 'deep', description: 'x'.repeat(70_000), tags: Array.from({ length: 10_001 }, () => 't') });
    const r = await raw('PUT', '/api/v1/flags/deep', body, editor);
    expect(r.status).toBe(422);
    expect(r.json.issues).toEqual([
      expect.objectContaining({ path: 'description', pointer: '/description', limit: 'maxJsonStringChars' }),
      expect.objectContaining({ path: 'tags', pointer: '/tags', limit: 'maxJsonArrayItems' }),
    ]);
    const huge = await raw('PUT', '/api/v1/flags/deep', '{"key":"deep","metadata":{"n":1e400}}', editor);
    expect(huge.status).toBe(422);
    expect(huge.json.issues[0]).toMatchObject({ path: 'metadata.n', limit: 'jsonNumberRange' });
  });

  it('an OFREP bulk context nested 10,000 levels, and a single one', async () => {
    const body = `{"context":${deepObjectText(10_000)}}`;
    for (const path of ['/ofrep/v1/evaluate/flags', '/ofrep/v1/evaluate/flags/deep']) {
      const r = await raw('POST', path, body, { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.evaluator}` });
      expect(r.status, path).toBe(400);
      expect(r.json.errorCode).toBe('INVALID_CONTEXT');
      expect(r.json.errorDetails).toMatch(/maxJsonDepth = 64/);
    }
  });

  it('a batch with expectedRevision 1e300 (and 2^53)', async () => {
    for (const rev of ['1e300', String(2 ** 53)]) {
      const body = `{"ops":[{"op":"putFlag","flag":${JSON.stringify(boolFlag('b1'))},"expectedRevision":${rev}}]}`;
      const r = await raw('POST', '/api/v1/batch', body, editor);
      expect(r.status, rev).toBe(422);
      expect(r.json.issues[0]).toMatchObject({ path: 'ops[0].expectedRevision', pointer: '/ops/0/expectedRevision' });
      expect(r.json.issues[0].message).toMatch(/jsonSafeInteger/);
    }
  });

  it('an invalid pageToken is a 400, a real one pages on', async () => {
    for (const list of ['/api/v1/flags', '/api/v1/segments']) {
      for (const bad of ['zzzz', '!!', '%E0%A4', 'AA', 'Lw']) {
        const r = await stack.req('GET', `${list}?pageToken=${bad}`, { role: 'reader' });
        expect(r.status, `${list} ${bad}`).toBe(400);
        expect(r.json.detail).toMatch(/pageToken/);
      }
    }
    const first = await stack.req('GET', '/api/v1/flags?limit=1', { role: 'reader' });
    expect(first.json.nextPageToken).toBeTypeOf('string');
    const next = await stack.req('GET', `/api/v1/flags?limit=1&pageToken=${first.json.nextPageToken}`, { role: 'reader' });
    expect(next.status).toBe(200);
    expect(next.json.flags[0].flag.key > first.json.flags[0].flag.key).toBe(true);
  });

  it('PATCH honours If-None-Match', async () => {
    const cur = await stack.req('GET', '/api/v1/flags/deep', { role: 'reader' });
    const etag = cur.headers.get('etag')!;
    for (const inm of ['*', etag, `"1", ${etag}`]) {
      const r = await stack.req('PATCH', '/api/v1/flags/deep', { role: 'editor', body: { enabled: false }, headers: { 'if-none-match': inm } });
      expect(r.status, inm).toBe(412);
    }
    const ok = await stack.req('PATCH', '/api/v1/flags/deep', { role: 'editor', body: { enabled: false }, headers: { 'if-none-match': '"1"' } });
    expect(ok.status).toBe(200);
    expect(ok.json.flag.enabled).toBe(false);
    const bad = await stack.req('PATCH', '/api/v1/flags/deep', { role: 'editor', body: { enabled: true }, headers: { 'if-none-match': 'nonsense' } });
    expect(bad.status).toBe(400);
  });
});

describe('a 422 lists every problem at once', () => {
  it('a flag with several problems: each with path, pointer and message', async () => {
    const r = await stack.req('PUT', '/api/v1/flags/many', {
      role: 'editor',
      body: { key: 'other', type: 'boolean', variants: { on: 'yes', off: false }, defaultVariant: 'missing', rules: [{ variant: 'nope' }], bogus: 1 },
    });
    expect(r.status).toBe(422);
    const paths = r.json.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['key', 'variants.on', 'defaultVariant', 'rules[0].variant', 'bogus']));
    for (const i of r.json.issues) {
      expect(i.pointer).toMatch(/^(\/|$)/);
      expect(i.message.length).toBeGreaterThan(3);
    }
    expect(r.json.issues.find((i: { path: string }) => i.path === 'rules[0].variant').pointer).toBe('/rules/0/variant');
  });

  it('a batch: the problems of every op, not only the first', async () => {
    const r = await stack.req('POST', '/api/v1/batch', {
      role: 'editor',
      body: { ops: [{ op: 'putFlag', flag: boolFlag('ok-1') }, { op: 'deleteFlag', key: '' }, { op: 'putFlag', flag: { ...boolFlag('bad-2'), defaultVariant: 'x' } }, { op: 'nope' }] },
    });
    expect(r.status).toBe(422);
    const paths = r.json.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(['ops[1].key', 'ops[2].flag.defaultVariant', 'ops[3].op']);
    expect(r.json.issues[1].pointer).toBe('/ops/2/flag/defaultVariant');
  });
});

describe('prototype-named keys are ordinary keys everywhere', () => {
  const KEYS = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];

  it('flags named like Object.prototype members: write, list, get, history, OFREP single and bulk, on both gateways', async () => {
    for (const key of KEYS) {
      const flag = {
        ...boolFlag(key),
        variants: { constructor: true, toString: false },
        defaultVariant: 'constructor',
        offVariant: 'toString',
        metadata: { constructor: 'c', valueOf: 1 },
        rules: [{ conditions: [{ attribute: 'constructor', op: 'equals', value: 'x' }], variant: 'toString' }],
      };
      expect((await stack.req('PUT', `/api/v1/flags/${key}`, { role: 'editor', body: flag })).status, key).toBe(201);
    }
    for (const base of [stack.url, second.url()]) {
      await eventually(async () => {
        const list = await request(base, 'GET', '/api/v1/flags?consistency=stale', { role: 'reader' });
        const keys = list.json.flags.map((f: { flag: { key: string } }) => f.flag.key);
        return KEYS.every((k) => keys.includes(k));
      }, 10_000, `all keys on ${base}`);
      for (const key of KEYS) {
        const g = await request(base, 'GET', `/api/v1/flags/${key}`, { role: 'reader' });
        expect(g.status).toBe(200);
        expect(g.json.flag.variants).toEqual({ constructor: true, toString: false });
        const h = await request(base, 'GET', `/api/v1/flags/${key}/history`, { role: 'reader' });
        expect(h.json.changes[0].key).toBe(key);
        const one = await request(base, 'POST', `/ofrep/v1/evaluate/flags/${key}`, { role: 'evaluator', body: { context: { targetingKey: 'u' } } });
        expect(one.json).toMatchObject({ key, value: true, variant: 'constructor' });
        const matched = await request(base, 'POST', `/ofrep/v1/evaluate/flags/${key}`, { role: 'evaluator', body: { context: { constructor: 'x' } } });
        expect(matched.json).toMatchObject({ value: false, variant: 'toString' });
      }
      const bulk = await request(base, 'POST', '/ofrep/v1/evaluate/flags', { role: 'evaluator', body: { context: { targetingKey: 'u' } } });
      for (const key of KEYS) expect(bulk.json.flags.find((f: { key: string }) => f.key === key)).toMatchObject({ value: true });
    }
  });

  it('a context attribute named __proto__ is just an attribute; a merge patch setting __proto__ changes no prototype', async () => {
    const flag = { ...boolFlag('proto-attr'), rules: [{ conditions: [{ attribute: '__proto__', op: 'equals', value: 'p' }], variant: 'on' }] };
    expect((await stack.req('PUT', '/api/v1/flags/proto-attr', { role: 'editor', body: flag })).status).toBe(201);
    const hit = await stack.req('POST', '/ofrep/v1/evaluate/flags/proto-attr', { role: 'evaluator', rawBody: '{"context":{"__proto__":"p"}}', headers: { 'content-type': 'application/json' } });
    expect(hit.json).toMatchObject({ value: true, variant: 'on' });
    const miss = await stack.req('POST', '/ofrep/v1/evaluate/flags/proto-attr', { role: 'evaluator', body: { context: {} } });
    expect(miss.json).toMatchObject({ value: false });
    // {"__proto__": {...}} in a merge patch is a member named __proto__: the flag has no such field -> 422, nothing inherited.
    const r = await stack.req('PATCH', '/api/v1/flags/proto-attr', { role: 'editor', rawBody: '{"__proto__":{"enabled":false}}', headers: { 'content-type': 'application/merge-patch+json' } });
    expect(r.status).toBe(422);
    expect(r.json.issues.map((i: { path: string }) => i.path)).toContain('__proto__');
    expect((await stack.req('GET', '/api/v1/flags/proto-attr', { role: 'reader' })).json.flag.enabled).toBe(true);
    const viaPatch = await stack.req('PATCH', '/api/v1/flags/proto-attr', {
      role: 'editor', body: [{ op: 'add', path: '/metadata', value: { constructor: 'c' } }], headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(viaPatch.status).toBe(200);
    expect(viaPatch.json.flag.metadata).toEqual({ constructor: 'c' });
  });

  it('__proto__ is refused as a flag key, variant name or segment name with a clear 422 (the key pattern starts with a letter or digit)', async () => {
    const variant = await stack.req('PUT', '/api/v1/flags/pv', { role: 'editor', rawBody: '{"type":"boolean","variants":{"__proto__":true,"off":false},"defaultVariant":"off"}', headers: { 'content-type': 'application/json' } });
    expect(variant.status).toBe(422);
    expect(variant.json.issues[0].path).toMatch(/__proto__/);
    const key = await stack.req('POST', '/api/v1/batch', { role: 'editor', body: { ops: [{ op: 'putFlag', flag: boolFlag('__proto__') }] } });
    expect(key.status).toBe(422);
    expect((await stack.req('GET', '/api/v1/flags/__proto__', { role: 'reader' })).status).toBe(400);
  });
});
