// The checker's shortcuts (clamped put returns, scheduled instead of searched
// puts, the memo) must not change any verdict: compare it with a brute-force
// search over every order of small random histories (fast-check shrinks any
// disagreement to a minimal history).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkKey, type Op } from './linearizability.js';

/** Brute force: is there an order of the ops (pending puts optional, pending gets ignored) that respects real time and the register? */
function bruteForce(ops: Op[]): boolean {
  const done = ops.filter((o) => o.ret !== Infinity);
  const pendingPuts = ops.filter((o) => o.ret === Infinity && o.kind === 'put');
  // Each subset of pending puts may or may not take effect.
  for (let mask = 0; mask < 1 << pendingPuts.length; mask++) {
    const set = [...done, ...pendingPuts.filter((_, i) => mask & (1 << i))];
    const used = new Array<boolean>(set.length).fill(false);
    const search = (state: string | undefined, n: number): boolean => {
      if (n === set.length) return true;
      for (let i = 0; i < set.length; i++) {
        if (used[i]) continue;
        const o = set[i];
        // o may go next only if no unused op returned before o was called.
        if (set.some((q, j) => !used[j] && j !== i && q.ret < o.call)) continue;
        if (o.kind === 'get' && o.value !== state) continue;
        used[i] = true;
        if (search(o.kind === 'put' ? o.value : state, n + 1)) return true;
        used[i] = false;
      }
      return false;
    };
    if (search(undefined, 0)) return true;
  }
  return false;
}

/** Random small histories: unique put values; gets read a put's value, absent, or (rarely) junk. Distinct event times. */
const history = fc
  .array(
    fc.record({
      kind: fc.constantFrom('put', 'put', 'get', 'get', 'get'),
      start: fc.integer({ min: 0, max: 12 }),
      len: fc.integer({ min: 0, max: 10 }),
      pending: fc.integer({ min: 0, max: 7 }),
      pick: fc.integer({ min: 0, max: 19 }),
    }),
    { minLength: 1, maxLength: 8 },
  )
  .map((raw) => {
    // Odd/even times keep every call and return distinct and ordered.
    return raw.map((r, i): Op => {
      const call = 2 * (r.start * 8 + i) + 1;
      const ret = r.pending === 0 ? Infinity : call + 2 * (r.len * 8 + 1) + 1;
      if (r.kind === 'put') return { id: i, key: 'x', kind: 'put', value: `v${i}`, call, ret };
      const putIdx = raw.map((q, j) => (q.kind === 'put' ? j : -1)).filter((j) => j >= 0);
      const value = r.pick === 19 ? 'junk' : r.pick >= 17 || putIdx.length === 0 ? undefined : `v${putIdx[r.pick % putIdx.length]}`;
      return { id: i, key: 'x', kind: 'get', value, call, ret };
    });
  });

describe('linearizability checker agrees with brute force', () => {
  it('on random small register histories (overlaps, pending puts and gets)', () => {
    let oks = 0;
    let fails = 0;
    fc.assert(
      fc.property(history, (ops) => {
        const expected = bruteForce(ops);
        if (expected) oks++;
        else fails++;
        expect(checkKey(ops).verdict).toBe(expected ? 'ok' : 'fail');
      }),
      { numRuns: 5000, seed: 20261126 },
    );
    // Both verdicts were exercised, not just one.
    expect(oks).toBeGreaterThan(300);
    expect(fails).toBeGreaterThan(300);
  });
});
