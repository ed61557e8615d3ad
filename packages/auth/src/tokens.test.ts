import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createTokenStore,
  hashToken,
  loadTokens,
  parseTokens,
  roleAllows,
  TokenConfigError,
  tokenFromHeaders,
  MAX_TOKEN_BYTES,
  principalAllowsEnvironment,
} from './index.js';

const entries = [
  { name: 'alice', role: 'admin', sha256: hashToken('alice-secret') },
  { name: 'bob', role: 'evaluator', sha256: hashToken('bob-secret').toUpperCase() },
];

describe('parseTokens', () => {
  it('accepts a valid list and lower-cases hashes', () => {
    const parsed = parseTokens(JSON.stringify(entries), 'T');
    expect(parsed).toEqual([
      { name: 'alice', role: 'admin', sha256: hashToken('alice-secret') },
      { name: 'bob', role: 'evaluator', sha256: hashToken('bob-secret') },
    ]);
  });

  it.each([
    ['not json', '{', /T: not valid JSON/],
    ['not an array', '{}', /expected a JSON array/],
    ['entry not object', '[1]', /T\[0\]: expected an object/],
    ['empty name', JSON.stringify([{ name: '', role: 'admin', sha256: 'a'.repeat(64) }]), /T\[0\]\.name/],
    ['bad role', JSON.stringify([{ name: 'x', role: 'root', sha256: 'a'.repeat(64) }]), /T\[0\]\.role: must be one of admin, editor, reader, evaluator/],
    ['bad hash', JSON.stringify([{ name: 'x', role: 'admin', sha256: 'plaintext' }]), /T\[0\]\.sha256: must be 64 hex/],
    [
      'duplicate hash',
      JSON.stringify([
        { name: 'x', role: 'admin', sha256: 'a'.repeat(64) },
        { name: 'y', role: 'reader', sha256: 'A'.repeat(64) },
      ]),
      /T\[1\]\.sha256: the same token is configured twice/,
    ],
  ])('rejects %s with a message naming the field', (_name, json, message) => {
    expect(() => parseTokens(json, 'T')).toThrow(TokenConfigError);
    expect(() => parseTokens(json, 'T')).toThrow(message);
  });

  it('reads environments: an evaluator in exactly one, others in one or more', () => {
    const parsed = parseTokens(JSON.stringify([
      { name: 'e', role: 'evaluator', sha256: 'a'.repeat(64), environments: ['staging'] },
      { name: 'w', role: 'editor', sha256: 'b'.repeat(64), environments: ['staging', 'dev'] },
    ]), 'T');
    expect(parsed.map((p) => p.environments)).toEqual([['staging'], ['staging', 'dev']]);
    const store = createTokenStore([{ name: 'w', role: 'editor', sha256: hashToken('w-secret'), environments: ['staging'] }]);
    const who = store.authenticate('w-secret')!;
    expect(who.environments).toEqual(['staging']);
    expect(principalAllowsEnvironment(who, 'staging')).toBe(true);
    expect(principalAllowsEnvironment(who, 'production')).toBe(false);
    expect(principalAllowsEnvironment({ name: 'x', role: 'admin' }, 'production')).toBe(true);
  });

  it.each([
    ['an evaluator in two', { role: 'evaluator', environments: ['a', 'b'] }, /T\[0\]\.environments: an evaluator token belongs to exactly one environment/],
    ['an empty list', { role: 'editor', environments: [] }, /T\[0\]\.environments: must be a non-empty array/],
    ['a bad name', { role: 'reader', environments: ['no spaces'] }, /T\[0\]\.environments\[0\]: must be an environment name/],
    ['a repeat', { role: 'reader', environments: ['a', 'a'] }, /T\[0\]\.environments: lists an environment twice/],
  ])('refuses environments with %s', (_name, extra, message) => {
    expect(() => parseTokens(JSON.stringify([{ name: 'x', sha256: 'a'.repeat(64), ...extra }]), 'T')).toThrow(message);
  });

  it('never echoes a hash in an error', () => {
    const secretish = 'b'.repeat(63) + 'z';
    try {
      parseTokens(JSON.stringify([{ name: 'x', role: 'admin', sha256: secretish }]), 'T');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain(secretish);
    }
  });
});

describe('createTokenStore', () => {
  const store = createTokenStore(parseTokens(JSON.stringify(entries), 'T'));
  it('authenticates known tokens to their principal', () => {
    expect(store.size).toBe(2);
    expect(store.authenticate('alice-secret')).toEqual({ name: 'alice', role: 'admin' });
    expect(store.authenticate('bob-secret')).toEqual({ name: 'bob', role: 'evaluator' });
  });
  it('rejects unknown, empty, missing and oversized tokens', () => {
    expect(store.authenticate('alice-secreT')).toBeUndefined();
    expect(store.authenticate('')).toBeUndefined();
    expect(store.authenticate(undefined)).toBeUndefined();
    expect(store.authenticate(null)).toBeUndefined();
    expect(store.authenticate('x'.repeat(MAX_TOKEN_BYTES + 1))).toBeUndefined();
  });
  it('does not accept the hash itself as a token', () => {
    expect(store.authenticate(hashToken('alice-secret'))).toBeUndefined();
  });
});

describe('loadTokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flagraft-auth-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads FLAGRAFT_TOKENS', () => {
    const store = loadTokens({ FLAGRAFT_TOKENS: JSON.stringify(entries) });
    expect(store.authenticate('alice-secret')?.name).toBe('alice');
  });
  it('reads FLAGRAFT_TOKENS_FILE', () => {
    const file = join(dir, 'tokens.json');
    writeFileSync(file, JSON.stringify(entries));
    const store = loadTokens({ FLAGRAFT_TOKENS_FILE: file });
    expect(store.authenticate('bob-secret')?.role).toBe('evaluator');
  });
  it('names a missing file', () => {
    expect(() => loadTokens({ FLAGRAFT_TOKENS_FILE: join(dir, 'nope.json') })).toThrow(/nope\.json: cannot read \(ENOENT\)/);
  });
  it('refuses both variables at once', () => {
    expect(() => loadTokens({ FLAGRAFT_TOKENS: '[]', FLAGRAFT_TOKENS_FILE: 'x' })).toThrow(/not both/);
  });
  it('gives an empty store when nothing is configured', () => {
    const store = loadTokens({});
    expect(store.size).toBe(0);
    expect(store.authenticate('anything')).toBeUndefined();
  });
});

describe('roleAllows', () => {
  it('matches the documented matrix', () => {
    const matrix = {
      admin: ['evaluate', 'read', 'write', 'admin'],
      editor: ['evaluate', 'read', 'write'],
      reader: ['evaluate', 'read'],
      evaluator: ['evaluate'],
    } as const;
    for (const [role, allowed] of Object.entries(matrix)) {
      for (const perm of ['evaluate', 'read', 'write', 'admin'] as const) {
        expect(roleAllows(role as keyof typeof matrix, perm), `${role} ${perm}`).toBe((allowed as readonly string[]).includes(perm));
      }
    }
  });
});

describe('tokenFromHeaders', () => {
  it('reads Bearer and X-API-Key, Bearer first', () => {
    expect(tokenFromHeaders({ authorization: 'Bearer abc' })).toBe('abc');
    expect(tokenFromHeaders({ authorization: 'bearer   abc ' })).toBe('abc');
    expect(tokenFromHeaders({ 'x-api-key': 'k1' })).toBe('k1');
    expect(tokenFromHeaders({ authorization: 'Bearer a', 'x-api-key': 'b' })).toBe('a');
  });
  it('ignores other schemes and empty values', () => {
    expect(tokenFromHeaders({ authorization: 'Basic dXNlcjpwYXNz' })).toBeUndefined();
    expect(tokenFromHeaders({ 'x-api-key': '  ' })).toBeUndefined();
    expect(tokenFromHeaders({})).toBeUndefined();
  });
});
