// The seeded generator: a seed replays exactly, seeds differ, forks are
// independent streams that are themselves reproducible, and the helpers stay
// in their ranges.
import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';

const take = (r: Rng, n: number) => Array.from({ length: n }, () => r.next());

describe('Rng', () => {
  it('the same seed gives the same sequence; another seed another one', () => {
    expect(take(new Rng(42), 50)).toEqual(take(new Rng(42), 50));
    expect(take(new Rng(42), 50)).not.toEqual(take(new Rng(43), 50));
    // Seed 0 is not a stuck generator.
    expect(new Set(take(new Rng(0), 20)).size).toBe(20);
  });

  it('next() is in [0, 1); int(lo, hi) covers both ends and nothing outside', () => {
    const r = new Rng(5);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
      const k = r.int(3, 6);
      expect(k >= 3 && k <= 6 && Number.isInteger(k)).toBe(true);
      seen.add(k);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
  });

  it('forks are reproducible and do not replay their parent', () => {
    const a = new Rng(9);
    const b = new Rng(9);
    const fa = a.fork();
    const fb = b.fork();
    expect(take(fa, 20)).toEqual(take(fb, 20));
    expect(take(a, 20)).toEqual(take(b, 20));
    expect(take(new Rng(9).fork(), 20)).not.toEqual(take(new Rng(9), 20));
  });

  it('shuffle is a permutation, reproducible by seed; pick refuses an empty list', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8];
    const s = new Rng(3).shuffle(xs);
    expect([...s].sort()).toEqual(xs);
    expect(new Rng(3).shuffle(xs)).toEqual(s);
    expect(xs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // the input is not changed
    expect(() => new Rng(1).pick([])).toThrow(/empty/);
  });
});
