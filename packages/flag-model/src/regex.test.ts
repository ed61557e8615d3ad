import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileSafeRegex, type SafeRegex } from './regex.js';

const re = (p: string) => {
  const r = compileSafeRegex(p);
  if (typeof r === 'string') throw new Error(r);
  return r as SafeRegex;
};

describe('linear-time regex', () => {
  it('matches like RegExp on examples', () => {
    const cases: [string, string[]][] = [
      ['^user-\\d+$', ['user-1', 'user-', 'xuser-12', 'user-12x', 'user-007']],
      ['@example\\.com$', ['a@example.com', 'a@exampleXcom', 'a@example.com.au']],
      ['^(foo|bar)+baz', ['foobarbaz', 'baz', 'foofoo baz', 'barbaz!']],
      ['colou?r', ['color', 'colour', 'colouur']],
      ['^[a-f0-9]{8}-', ['deadbeef-x', 'deadbeeg-x', 'dead-']],
      ['^a{2,3}$', ['a', 'aa', 'aaa', 'aaaa']],
      ['^a{2,}$', ['a', 'aa', 'aaaaaa']],
      ['[^a-z]', ['abc', 'abC', '']],
      ['^$', ['', 'x']],
      ['a.c', ['abc', 'a\nc', 'ac']],
      ['\\s\\S\\w\\W', [' a_!', '\t\t__', 'x']],
      ['^(?:ab)*?$', ['', 'abab', 'aba']],
      ['[]', ['', 'a']],
      ['[^]', ['', 'a', '\n']],
      ['[\\]\\-a]', [']', '-', 'a', 'b']],
      ['x{', ['x{', 'x']],
    ];
    for (const [p, inputs] of cases) for (const s of inputs) expect(re(p).test(s), `${p} on ${JSON.stringify(s)}`).toBe(new RegExp(p).test(s));
  });

  it('refuses what it cannot do in linear time, and oversized patterns', () => {
    for (const p of ['(a)\\1', '(?=a)', '(?!a)', '(?<n>a)', '\\bword', '*a', 'a{1000}', '(a', 'a)', '[a', '\\p{L}', 'x'.repeat(257), '(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))', '(a{100}){100}']) {
      expect(typeof compileSafeRegex(p), p).toBe('string');
    }
  });

  it('stays linear on catastrophic-backtracking patterns', () => {
    const evil = re('^(a+)+$');
    const input = 'a'.repeat(4000) + 'b';
    const t0 = performance.now();
    expect(evil.test(input)).toBe(false);
    // RegExp would need ~2^4000 steps; the NFA does ~4000 x program size.
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(re('(x+x+)+y').test('x'.repeat(3000))).toBe(false);
  });

  it('stays correct when the DFA cache overflows and is flushed', () => {
    // (a|b)*a(a|b){10} needs ~2^11 DFA states, far above the cache size.
    const r = re('(a|b)*a(a|b){10}$');
    const js = /(a|b)*a(a|b){10}$/;
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 0, maxLength: 300 }), (s) => {
      expect(r.test(s)).toBe(js.test(s));
    }), { numRuns: 300, seed: 12 });
  });

  it('property: agrees with RegExp on generated patterns', () => {
    const atom = fc.oneof(
      fc.constantFrom('a', 'b', '.', '\\d', '\\w', '[ab]', '[^a]', '\\.', 'ab'),
      fc.constantFrom('(a|b)', '(?:ab|a)', '(a*)'),
    );
    const quant = fc.constantFrom('', '', '*', '+', '?', '{2}', '{1,2}', '{0,}', '*?');
    const piece = fc.tuple(atom, quant).map(([a, q]) => a + q);
    const pattern = fc.tuple(fc.boolean(), fc.array(piece, { minLength: 1, maxLength: 5 }), fc.boolean(), fc.boolean())
      .map(([bol, ps, alt, eol]) => (bol ? '^' : '') + ps.join('') + (alt ? '|b' : '') + (eol ? '$' : ''));
    const input = fc.string({ unit: fc.constantFrom('a', 'b', '1', '.', ' ', '_', '\n'), maxLength: 12 });
    fc.assert(fc.property(pattern, input, (p, s) => {
      expect(re(p).test(s)).toBe(new RegExp(p).test(s));
    }), { numRuns: 1500, seed: 11 });
  });
});
