import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareSemver, parseSemver } from './semver.js';

const cmp = (a: string, b: string) => Math.sign(compareSemver(parseSemver(a)!, parseSemver(b)!));

describe('semver', () => {
  it('parses valid versions and rejects invalid ones', () => {
    expect(parseSemver('1.2.3')).toEqual({ major: 1, minor: 2, patch: 3, pre: [] });
    expect(parseSemver('v10.0.1-rc.1+build.5')).toEqual({ major: 10, minor: 0, patch: 1, pre: ['rc', 1] });
    for (const bad of ['', '1', '1.2', '1.2.3.4', '01.2.3', '1.2.3-', '1.2.3-01', '1.2.3+', '1.2.3-a..b', 'a.b.c', '1.2.3 ', ' 1.2.3', '1.2.-3']) {
      expect(parseSemver(bad), bad).toBeUndefined();
    }
  });

  it('orders by semver §11 precedence (the spec example chain)', () => {
    const chain = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '2.0.0', '2.1.0', '2.1.1', '2.10.0'];
    for (let i = 0; i + 1 < chain.length; i++) {
      expect(cmp(chain[i], chain[i + 1]), `${chain[i]} < ${chain[i + 1]}`).toBe(-1);
      expect(cmp(chain[i + 1], chain[i])).toBe(1);
    }
    expect(cmp('1.0.0+a', '1.0.0+b')).toBe(0);
  });

  it('property: numeric order of the triple', () => {
    const v = fc.tuple(fc.nat(1000), fc.nat(1000), fc.nat(1000));
    fc.assert(fc.property(v, v, (a, b) => {
      const expected = Math.sign(a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
      expect(cmp(a.join('.'), b.join('.'))).toBe(expected);
    }), { numRuns: 500, seed: 1 });
  });
});
