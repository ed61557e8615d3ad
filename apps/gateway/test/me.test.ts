// GET /api/v1/me: every valid token learns its own name (the audit actor),
// role, environments and permissions; no token or a wrong one gets 401.
import { createTokenStore, hashToken, type Role } from '@flagraft/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NAMES, TOKENS, startMemoryStack, type MemoryStack } from './support/harness.js';

const SCOPED = { name: 'st-eval', token: 'tok-me-st-eval-51a0', environments: ['staging'] };
let stack: MemoryStack;
beforeAll(async () => {
  const entries = (Object.keys(TOKENS) as Role[]).map((role) => ({ name: NAMES[role], role, sha256: hashToken(TOKENS[role]) }));
  entries.push({ name: SCOPED.name, role: 'evaluator', sha256: hashToken(SCOPED.token), environments: SCOPED.environments } as (typeof entries)[number]);
  stack = await startMemoryStack({ gateway: { tokens: createTokenStore(entries) } });
});
afterAll(async () => {
  await stack?.stop();
});

describe('GET /api/v1/me', () => {
  const EXPECTED: Record<Role, string[]> = {
    admin: ['evaluate', 'read', 'write', 'admin'],
    editor: ['evaluate', 'read', 'write'],
    reader: ['evaluate', 'read'],
    evaluator: ['evaluate'],
  };
  for (const role of Object.keys(EXPECTED) as Role[]) {
    it(`a ${role} token: its name, role and permissions, no environments (all of them)`, async () => {
      const r = await stack.req('GET', '/api/v1/me', { role });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ name: NAMES[role], role, permissions: EXPECTED[role] });
    });
  }

  it('an environment-limited token learns its environments', async () => {
    const r = await stack.req('GET', '/api/v1/me', { token: SCOPED.token });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ name: 'st-eval', role: 'evaluator', environments: ['staging'], permissions: ['evaluate'] });
  });

  it('no token or a wrong one: 401 naming the scheme', async () => {
    for (const token of [undefined, 'tok-nobody']) {
      const r = await stack.req('GET', '/api/v1/me', { token });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="flagraft"');
    }
  });
});
