import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventKeyConfigError, EventKeyRing, EventKeySet, MAX_EVENT_KEYS, MAX_EVENT_KEYS_FILE_BYTES, watchEventKeysFile, type EventKeysReload } from './event-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'auth-event-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const s = (n = 32) => randomBytes(n).toString('base64');
const doc = (o: Record<string, unknown>) => JSON.stringify({ v: 1, ...o });

async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('EventKeySet.parse', () => {
  it('reads the active key and the accepted ones; ids list the active one first', () => {
    const set = EventKeySet.parse(doc({ active: 'new', keys: [{ id: 'old', secret: s() }, { id: 'new', secret: s(64).replace(/\+/g, '-').replace(/\//g, '_') }] }), 'f');
    expect(set.activeKeyId).toBe('new');
    expect(set.keyIds).toEqual(['new', 'old']);
    expect(set.key('old')).toBeDefined();
    expect(set.key('nope')).toBeUndefined();
    expect(EventKeySet.parse(doc({ keys: [{ id: 'a', secret: s() }] }), 'f').activeKeyId).toBeUndefined();
  });

  it('names the field of every problem and never quotes a secret', () => {
    const secret = s();
    const bad: [string, RegExp][] = [
      ['{"v":1,"keys":[{"id":"a","secret":"' + secret + '"}', /not valid JSON/],
      ['[]', /expected an object/],
      [JSON.stringify({ v: 2, keys: [] }), /f\.v: must be 1/],
      [doc({ keys: [] }), /f\.keys: must be a non-empty array/],
      [doc({ keys: Array.from({ length: MAX_EVENT_KEYS + 1 }, (_, i) => ({ id: `k${i}`, secret: s() })) }), /at most 16 keys/],
      [doc({ keys: [{ id: 'a.b', secret }] }), /f\.keys\[0\]\.id/],
      [doc({ keys: [{ id: 'a', secret }, { id: 'a', secret: s() }] }), /keys\[1\]\.id: "a" appears twice/],
      [doc({ keys: [{ id: 'a', secret: s(16) }] }), /keys\[0\]\.secret: must be base64 of 32-64/],
      [doc({ keys: [{ id: 'a', secret: s(65) }] }), /keys\[0\]\.secret/],
      [doc({ keys: [{ id: 'a', secret: `${secret}!` }] }), /keys\[0\]\.secret/],
      [doc({ keys: [{ id: 'a', secret: 42 }] }), /keys\[0\]\.secret/],
      [doc({ keys: [{ id: 'a', secret }, { id: 'b', secret }] }), /keys\[1\]\.secret: the same secret/],
      [doc({ active: 'c', keys: [{ id: 'a', secret }] }), /f\.active: must be the id of one of the keys/],
    ];
    for (const [json, re] of bad) {
      let err: unknown;
      try { EventKeySet.parse(json, 'f'); } catch (e) { err = e; }
      expect(err, json).toBeInstanceOf(EventKeyConfigError);
      expect((err as Error).message, json).toMatch(re);
      expect((err as Error).message).not.toContain(secret.slice(0, 12));
    }
    expect(() => EventKeySet.parse(doc({ keys: [{ id: 'a', secret }] }), 'f', { requireActive: true })).toThrow(/f\.active: required/);
  });

  it('load() refuses a missing or oversized file, naming the variable and path', () => {
    expect(() => EventKeySet.load(join(dir, 'missing.json'))).toThrow(/FLAGRAFT_EVENT_KEYS_FILE .*missing\.json: cannot read \(ENOENT\)/);
    const big = join(dir, 'big.json');
    writeFileSync(big, ' '.repeat(MAX_EVENT_KEYS_FILE_BYTES + 1));
    expect(() => EventKeySet.load(big)).toThrow(/larger than 65536 bytes/);
  });

  it('a key set prints no secret', () => {
    const secret = s();
    const set = EventKeySet.parse(doc({ active: 'a', keys: [{ id: 'a', secret }] }), 'f');
    const shown = JSON.stringify(set) + String(set) + JSON.stringify(set.key('a'));
    expect(shown).not.toContain(secret.slice(0, 12));
    expect(shown).not.toContain(Buffer.from(secret, 'base64').toString('hex').slice(0, 16));
  });
});

describe('watchEventKeysFile', () => {
  it('installs a changed or atomically replaced file; an invalid one keeps the previous keys', async () => {
    const file = join(dir, 'keys.json');
    writeFileSync(file, doc({ active: 'a', keys: [{ id: 'a', secret: s() }] }));
    const ring = new EventKeyRing(EventKeySet.load(file));
    const results: EventKeysReload[] = [];
    const w = watchEventKeysFile(file, ring, 20, { requireActive: true }, (r) => results.push(r));
    try {
      writeFileSync(file, doc({ active: 'a', keys: [{ id: 'a', secret: s() }, { id: 'b', secret: s() }] }));
      await until(() => ring.current.keyIds.length === 2, 'b accepted');
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, doc({ active: 'b', keys: [{ id: 'b', secret: s() }] }));
      renameSync(tmp, file);
      await until(() => ring.current.activeKeyId === 'b', 'b active');
      expect(results.at(-1)).toEqual({ ok: true, activeKeyId: 'b', keyIds: ['b'] });
      // No active key on a signer: refused, the previous keys stay.
      writeFileSync(file, doc({ keys: [{ id: 'c', secret: s() }] }));
      await until(() => results.some((r) => !r.ok), 'refused reload');
      expect(results.find((r) => !r.ok)).toMatchObject({ ok: false, error: expect.stringMatching(/active: required/) });
      expect(ring.current.activeKeyId).toBe('b');
      // reload() (SIGHUP) reads at once.
      writeFileSync(file, doc({ active: 'd', keys: [{ id: 'd', secret: s() }] }));
      expect(w.reload()).toBe(true);
      expect(ring.current.activeKeyId).toBe('d');
    } finally {
      w.close();
    }
  });
});
