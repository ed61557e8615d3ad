import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { murmur3, murmur3Bytes, murmur3Finish, murmur3Start, murmur3Update } from './murmur3.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('MurmurHash3 x86_32', () => {
  it('known answers from the flagd test bed (seed 0)', () => {
    const vectors: [string, number][] = [['ejOoVL', 0], ['bY9fO-', 1], ['SI7p-', 2147483647], ['6LvT0', 2147483648], ['ceQdGm', 4294967295]];
    for (const [s, h] of vectors) {
      expect(murmur3(s), s).toBe(h);
      expect(murmur3Bytes(utf8(s)), s).toBe(h);
    }
  });

  it('known answers from the reference implementation (SMHasher)', () => {
    expect(murmur3('', 0)).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('', 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3Bytes(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0)).toBe(0x76293b50);
    expect(murmur3Bytes(new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0)).toBe(0xf55b516b);
    expect(murmur3Bytes(new Uint8Array([0x21, 0x43, 0x65]), 0)).toBe(0x7e4a8634);
    expect(murmur3Bytes(new Uint8Array([0x21, 0x43]), 0)).toBe(0xa0f7b07a);
    expect(murmur3Bytes(new Uint8Array([0x21]), 0)).toBe(0x72661cf4);
    expect(murmur3('Hello, world!', 0x9747b28c)).toBe(0x24884cba);
    expect(murmur3('The quick brown fox jumps over the lazy dog', 0x9747b28c)).toBe(0x2fa826cd);
  });

  it('hashes the UTF-8 bytes of non-ASCII text (not UTF-16 code units)', () => {
    for (const s of ['ü', 'naïve-user', '日本語', '🚀launch', 'é'.normalize('NFD'), '\ud800x', 'x\udfff']) {
      expect(murmur3(s), s).toBe(murmur3Bytes(utf8(s)));
    }
    expect(murmur3('ü')).not.toBe(murmur3Bytes(new Uint8Array([0xfc]))); // latin-1 would differ
  });

  it('property: the string form equals hashing TextEncoder bytes, any code units', () => {
    const anyUnits = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 24 }).map((a) => String.fromCharCode(...a));
    fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }), anyUnits), fc.integer(), (s, seed) => {
      expect(murmur3(s, seed)).toBe(murmur3Bytes(utf8(s), seed));
    }), { numRuns: 800, seed: 5 });
  });

  it('property: a hashed prefix continued equals hashing the concatenation', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
      const st = murmur3Update(murmur3Start(0), a);
      expect(murmur3Finish(st, b)).toBe(murmur3(a + b));
      expect(murmur3Finish(st, b)).toBe(murmur3Finish(st, b)); // state not consumed
    }), { numRuns: 1000, seed: 6 });
  });
});
