import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Bucketer, bucketBigInt, bucketOf, fractionalIndex } from './bucketing.js';
import { murmur3Bytes } from './murmur3.js';

/** Independent reference: TextEncoder bytes, BigInt maths, straight from the flagd description. */
function referenceIndex(flagKey: string, value: string, weights: number[]): number {
  const h = BigInt(murmur3Bytes(new TextEncoder().encode(flagKey + value)));
  const total = BigInt(weights.reduce((a, b) => a + b, 0));
  const bucket = (h * total) >> 32n;
  let acc = 0n;
  for (let i = 0; i < weights.length; i++) {
    acc += BigInt(weights[i]);
    if (acc > bucket) return i;
  }
  throw new Error('no variant');
}

/** A seeded PRNG producing UUID-shaped ids (mulberry32), so runs are reproducible. */
function uuids(n: number, seed: number): string[] {
  let a = seed >>> 0;
  const r = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const hex = (x: number, len: number) => x.toString(16).padStart(8, '0').slice(0, len);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = hex(r(), 8), q = hex(r(), 8), s = hex(r(), 8), t = hex(r(), 8);
    out.push(`${p}-${q.slice(0, 4)}-4${q.slice(5, 8)}-${'89ab'[s.charCodeAt(0) % 4]}${s.slice(1, 4)}-${s.slice(4, 8)}${t}`);
  }
  return out;
}

describe('flagd fractional v2 bucketing', () => {
  it('float bucket maths equals the BigInt formula', () => {
    const edge = [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
    for (const h of edge) for (const w of [1, 2, 3, 100, 999_983, 1_000_000, 2 ** 21, 2 ** 21 + 1, 2 ** 31 - 1]) {
      expect(bucketOf(h, w), `${h} ${w}`).toBe(bucketBigInt(h, w));
    }
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (h, w) => {
      expect(bucketOf(h, w)).toBe(bucketBigInt(h, w));
      expect(bucketOf(h, w)).toBeLessThan(w);
    }), { numRuns: 5000, seed: 9 });
  });

  it('reproduces flagd-core 4.0.1 for the benchmark population (digest ad1597151b383d0d)', () => {
    // The eval-anchors benchmark's 100,000 ids (mulberry32 seed 0x5eed) on a
    // 50/30/20 rollout of flag "bench-ruled": flagd-core assigns them with
    // this sha256 digest of the variant sequence and these counts.
    const names = ['red', 'green', 'blue'];
    const b = new Bucketer('bench-ruled', [50, 30, 20]);
    const hash = createHash('sha256');
    const counts: Record<string, number> = {};
    for (const id of uuids(100_000, 0x5eed)) {
      const v = names[b.pick(id)];
      counts[v] = (counts[v] ?? 0) + 1;
      hash.update(`${v}\n`);
    }
    expect(counts).toEqual({ red: 50_020, green: 29_889, blue: 20_091 });
    expect(hash.digest('hex').slice(0, 16)).toBe('ad1597151b383d0d');
  });

  it('property: Bucketer = one-shot = independent reference, including non-ASCII keys and ids', () => {
    const weights = fc.array(fc.nat(1000), { minLength: 1, maxLength: 6 }).filter((w) => w.some((x) => x > 0));
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 40 }), weights, (key, id, w) => {
      const want = referenceIndex(key, id, w);
      expect(new Bucketer(key, w).pick(id)).toBe(want);
      expect(fractionalIndex(key, id, w)).toBe(want);
      expect(w[want]).toBeGreaterThan(0); // zero-weight variants are never chosen
    }), { numRuns: 800, seed: 10 });
  });

  it('distribution over 100,000 ids is within ±1 percentage point of the weights', () => {
    const ids = uuids(100_000, 12345);
    for (const [key, w] of [['checkout', [50, 30, 20]], ['pricing.v2', [1, 1, 1, 1]], ['tiny', [5, 95]], ['x', [333, 0, 667]]] as [string, number[]][]) {
      const b = new Bucketer(key, w);
      const counts = new Array(w.length).fill(0);
      for (const id of ids) counts[b.pick(id)]++;
      const total = w.reduce((a, c) => a + c, 0);
      for (let i = 0; i < w.length; i++) {
        expect(Math.abs((counts[i] / ids.length) * 100 - (w[i] / total) * 100), `${key} variant ${i}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('property: distribution within ±1 pp for random weights and flag keys (100,000 ids each)', () => {
    const ids = uuids(100_000, 777);
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 2, maxLength: 5 }), (key, w) => {
      const b = new Bucketer(key, w);
      const counts = new Array(w.length).fill(0);
      for (const id of ids) counts[b.pick(id)]++;
      const total = w.reduce((a, c) => a + c, 0);
      for (let i = 0; i < w.length; i++) expect(Math.abs(counts[i] / 1000 - (w[i] / total) * 100)).toBeLessThanOrEqual(1);
    }), { numRuns: 8, seed: 13 });
  });

  it('property: stability — same id and flag give the same variant, whatever else was hashed in between', () => {
    fc.assert(fc.property(fc.string(), fc.array(fc.string(), { minLength: 1, maxLength: 20 }), (key, ids) => {
      const b1 = new Bucketer(key, [10, 20, 70]);
      const first = ids.map((id) => b1.pick(id));
      const b2 = new Bucketer(key, [10, 20, 70]);
      const again = [...ids].reverse().map((id) => b2.pick(id)).reverse();
      expect(again).toEqual(first);
    }), { numRuns: 300, seed: 14 });
  });

  it('property: monotonic rollout — raising a variant weight never moves an id out of it', () => {
    const ids = uuids(2000, 99);
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 5 }).filter((w) => w.some((x) => x > 0)),
      fc.nat(4), fc.integer({ min: 1, max: 100 }), fc.string({ maxLength: 8 }),
      (w, iRaw, d, key) => {
        const i = iRaw % w.length;
        const before = new Bucketer(key, w);
        const raised = w.slice();
        raised[i] += d;
        const after = new Bucketer(key, raised);
        for (const id of ids) if (before.pick(id) === i) expect(after.pick(id)).toBe(i);
      },
    ), { numRuns: 100, seed: 15 });
  });
});
