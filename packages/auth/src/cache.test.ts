import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTokenStore, hashToken, type Principal, type TokenStore } from './tokens.js';
import { afterAll, describe, expect, it } from 'vitest';
import { CachingTokenStore, watchTokensFile } from './cache.js';

const dir = mkdtempSync(join(tmpdir(), 'auth-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A store that counts how often it really authenticates (hashes). */
function countingStore(entries: { name: string; role: Principal['role']; token: string }[]): TokenStore & { calls: number } {
  const inner = createTokenStore(entries.map((e) => ({ name: e.name, role: e.role, sha256: hashToken(e.token) })));
  const s = {
    calls: 0,
    size: inner.size,
    authenticate(token: string | undefined | null) {
      s.calls++;
      return inner.authenticate(token);
    },
  };
  return s;
}

async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('CachingTokenStore', () => {
  it('authenticates a known token once, then from the cache', () => {
    const inner = countingStore([{ name: 'svc', role: 'evaluator', token: 'secret-1' }]);
    const store = new CachingTokenStore(inner);
    for (let i = 0; i < 5; i++) expect(store.authenticate('secret-1')).toEqual({ name: 'svc', role: 'evaluator' });
    expect(inner.calls).toBe(1);
    expect(store.size).toBe(1);
  });

  it('never caches failures: unknown tokens are checked every time and take no cache space', () => {
    const inner = countingStore([{ name: 'svc', role: 'evaluator', token: 'secret-1' }]);
    const store = new CachingTokenStore(inner);
    for (let i = 0; i < 3; i++) expect(store.authenticate('guess')).toBeUndefined();
    expect(store.authenticate(undefined)).toBeUndefined();
    expect(inner.calls).toBe(3);
    expect(store.cachedTokens).toBe(0);
  });

  it('is bounded: the oldest token is forgotten first', () => {
    const entries = ['a', 'b', 'c'].map((t) => ({ name: t, role: 'reader' as const, token: `tok-${t}` }));
    const inner = countingStore(entries);
    const store = new CachingTokenStore(inner, 2);
    store.authenticate('tok-a');
    store.authenticate('tok-b');
    store.authenticate('tok-c'); // evicts tok-a
    expect(store.cachedTokens).toBe(2);
    inner.calls = 0;
    store.authenticate('tok-c');
    expect(inner.calls).toBe(0);
    expect(store.authenticate('tok-a')?.name).toBe('a');
    expect(inner.calls).toBe(1);
  });

  it('replace() revokes cached tokens at once', () => {
    const store = new CachingTokenStore(countingStore([{ name: 'old', role: 'admin', token: 'old-secret' }]));
    expect(store.authenticate('old-secret')?.name).toBe('old');
    store.replace(countingStore([{ name: 'new', role: 'editor', token: 'new-secret' }]));
    expect(store.authenticate('old-secret')).toBeUndefined();
    expect(store.authenticate('new-secret')).toEqual({ name: 'new', role: 'editor' });
  });
});

describe('watchTokensFile', () => {
  const fileOf = (entries: { name: string; role: string; token: string }[]) => JSON.stringify(entries.map((e) => ({ name: e.name, role: e.role, sha256: hashToken(e.token) })));

  it('picks up a rewritten and an atomically replaced file, revoking what was cached', async () => {
    const file = join(dir, 'tokens.json');
    writeFileSync(file, fileOf([{ name: 'a', role: 'evaluator', token: 'tok-a' }]));
    const store = new CachingTokenStore(countingStore([{ name: 'a', role: 'evaluator', token: 'tok-a' }]));
    const results: unknown[] = [];
    const watch = watchTokensFile(file, store, 20, (r) => results.push(r));
    try {
      expect(store.authenticate('tok-a')?.name).toBe('a'); // now cached
      writeFileSync(file, fileOf([{ name: 'b', role: 'reader', token: 'tok-b-longer' }]));
      await until(() => store.authenticate('tok-a') === undefined, 'tok-a revoked');
      expect(store.authenticate('tok-b-longer')).toEqual({ name: 'b', role: 'reader' });
      // Atomic replace (write elsewhere, rename over): a new inode.
      const tmp = join(dir, 'tokens.json.tmp');
      writeFileSync(tmp, fileOf([{ name: 'c', role: 'admin', token: 'tok-c' }]));
      renameSync(tmp, file);
      await until(() => store.authenticate('tok-c') !== undefined, 'tok-c installed');
      expect(store.authenticate('tok-b-longer')).toBeUndefined();
      expect(results.every((r) => (r as { ok: boolean }).ok)).toBe(true);
    } finally {
      watch.close();
    }
  });

  it('keeps the previous tokens when the new file is invalid, and reports why', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, fileOf([{ name: 'a', role: 'evaluator', token: 'tok-a' }]));
    const store = new CachingTokenStore(countingStore([{ name: 'a', role: 'evaluator', token: 'tok-a' }]));
    const results: { ok: boolean; error?: string }[] = [];
    const watch = watchTokensFile(file, store, 20, (r) => results.push(r as { ok: boolean; error?: string }));
    try {
      writeFileSync(file, '[{"name":"x","role":"root","sha256":"' + 'a'.repeat(64) + '"}]');
      await until(() => results.length > 0, 'a reload attempt');
      expect(results[0]).toMatchObject({ ok: false });
      expect(results[0].error).toMatch(/\[0\]\.role/);
      expect(store.authenticate('tok-a')?.name).toBe('a');
    } finally {
      watch.close();
    }
  });

  it('reload() re-reads on demand (SIGHUP) even without polling', () => {
    const file = join(dir, 'manual.json');
    writeFileSync(file, fileOf([{ name: 'a', role: 'evaluator', token: 'tok-a' }]));
    const store = new CachingTokenStore(countingStore([]));
    const watch = watchTokensFile(file, store, 0, () => {});
    expect(store.authenticate('tok-a')).toBeUndefined();
    expect(watch.reload()).toBe(true);
    expect(store.authenticate('tok-a')?.name).toBe('a');
    watch.close();
  });
});
