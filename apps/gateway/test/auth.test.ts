// The auth matrix: every role (and no token, and a wrong token) against every
// endpoint. Allowed requests must get past auth (any status but 401/403);
// forbidden ones get 403, anonymous ones 401 with WWW-Authenticate.
import type { Role } from '@flagraft/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boolFlag, startMemoryStack, type RequestOptions, type MemoryStack } from './support/harness.js';

let stack: MemoryStack;
beforeAll(async () => {
  stack = await startMemoryStack();
  const seed = [
    ['PUT', '/api/v1/flags/m-flag', boolFlag('m-flag')],
    ['PUT', '/api/v1/segments/m-seg', { conditions: [] }],
  ] as const;
  for (const [m, p, body] of seed) expect((await stack.req(m, p, { role: 'admin', body })).status).toBe(201);
});
afterAll(async () => {
  await stack?.stop();
});

type Need = 'evaluate' | 'read' | 'write' | 'admin' | 'public';
const ALLOWED: Record<Role, Need[]> = {
  admin: ['evaluate', 'read', 'write', 'admin'],
  editor: ['evaluate', 'read', 'write'],
  reader: ['evaluate', 'read'],
  evaluator: ['evaluate'],
};

// Writes use bodies that pass auth and then fail validation or succeed harmlessly;
// membership operations use invalid ids so an allowed call never changes the cluster.
const ENDPOINTS: [string, string, Need, RequestOptions?][] = [
  ['GET', '/api/v1/flags', 'read'],
  ['GET', '/api/v1/flags/m-flag', 'read'],
  ['PUT', '/api/v1/flags/m-flag', 'write', { body: boolFlag('m-flag') }],
  ['PATCH', '/api/v1/flags/m-flag', 'write', { body: { enabled: true } }],
  ['DELETE', '/api/v1/flags/m-missing', 'write'],
  ['GET', '/api/v1/flags/m-flag/history', 'read'],
  ['GET', '/api/v1/segments', 'read'],
  ['GET', '/api/v1/segments/m-seg', 'read'],
  ['PUT', '/api/v1/segments/m-seg', 'write', { body: { conditions: [] } }],
  ['DELETE', '/api/v1/segments/m-missing', 'write'],
  ['GET', '/api/v1/segments/m-seg/history', 'read'],
  ['POST', '/api/v1/batch', 'write', { body: { ops: [{ op: 'putFlag', flag: boolFlag('m-batch') }] } }],
  ['GET', '/api/v1/cluster', 'read'],
  ['POST', '/api/v1/cluster/members', 'admin', { body: { id: 0, address: 'x' } }],
  ['POST', '/api/v1/cluster/members/abc/promote', 'admin'],
  ['DELETE', '/api/v1/cluster/members/abc', 'admin'],
  ['POST', '/api/v1/cluster/leader', 'admin', { body: { id: 0 } }],
  ['GET', '/api/v1/stream?since=abc', 'read'],
  ['POST', '/set', 'write', { body: { key: 'm-legacy', value: 'v' } }],
  ['POST', '/api/v1/flags/set', 'write', { body: { key: 'm-legacy', value: 'w' } }],
  ['GET', '/get/m-flag', 'read'],
  ['GET', '/api/v1/flags/all', 'read'],
  ['POST', '/ofrep/v1/evaluate/flags/m-flag', 'evaluate', { body: {} }],
  ['POST', '/ofrep/v1/evaluate/flags', 'evaluate', { body: {} }],
  ['GET', '/ofrep/v1/events', 'evaluate'],
  ['GET', '/api/v1/me', 'evaluate'],
  ['GET', '/health', 'public'],
  ['GET', '/ready', 'public'],
  ['GET', '/metrics', 'public'],
  ['GET', '/api/v1/openapi.json', 'public'],
];

async function call(method: string, path: string, opts: RequestOptions): Promise<{ status: number; wwwAuth: string | null }> {
  // Streams stay open on success: read only the status, then abort.
  if (path.includes('/stream') || path.endsWith('/events')) {
    const ac = new AbortController();
    const headers: Record<string, string> = {};
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    const res = await fetch(stack.url + path, { method, headers, signal: ac.signal });
    const out = { status: res.status, wwwAuth: res.headers.get('www-authenticate') };
    ac.abort();
    return out;
  }
  const r = await stack.req(method, path, opts);
  return { status: r.status, wwwAuth: r.headers.get('www-authenticate') };
}

describe('auth matrix', () => {
  for (const role of Object.keys(ALLOWED) as Role[]) {
    it(`role ${role}`, async () => {
      const { TOKENS } = await import('./support/harness.js');
      const wrong: string[] = [];
      for (const [method, path, need, opts] of ENDPOINTS) {
        const { status } = await call(method, path, { ...opts, token: TOKENS[role] });
        const allowed = need === 'public' || ALLOWED[role].includes(need);
        const ok = allowed ? status !== 401 && status !== 403 && status < 500 : status === 403;
        if (!ok) wrong.push(`${method} ${path}: ${status} (${allowed ? 'should pass auth' : 'should be 403'})`);
      }
      expect(wrong).toEqual([]);
    });
  }

  it('no token and a wrong token: 401 with WWW-Authenticate (public endpoints excepted)', async () => {
    const wrong: string[] = [];
    for (const token of [undefined, 'not-a-token']) {
      for (const [method, path, need, opts] of ENDPOINTS) {
        const { status, wwwAuth } = await call(method, path, { ...opts, token, role: undefined });
        const ok = need === 'public' ? status === 200 : status === 401 && wwwAuth === 'Bearer realm="flagraft"';
        if (!ok) wrong.push(`${token ?? 'none'} ${method} ${path}: ${status} ${wwwAuth}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('X-API-Key works like Bearer; the actor in the audit trail is the token name', async () => {
    const { TOKENS } = await import('./support/harness.js');
    const r = await stack.req('PUT', '/api/v1/flags/m-apikey', { body: boolFlag('m-apikey'), headers: { 'x-api-key': TOKENS.editor } });
    expect(r.status).toBe(201);
    expect(r.json.updatedBy).toBe('ed');
    const h = await stack.req('GET', '/api/v1/flags/m-apikey/history', { role: 'reader' });
    expect(h.json.changes[0].actor).toBe('ed');
  });
});
