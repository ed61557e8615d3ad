// The "does not start / end with" patterns the import writes for negated
// starts_with / ends_with run on flag-model's regex engine: checked against
// String.startsWith / endsWith on generated texts and inputs.
import { describe, expect, it } from 'vitest';
import { evaluate, type FlagDefinition } from '@flagraft/flag-model';
import { notPrefixPattern, notSuffixPattern } from '../src/index.js';
import { rngOf } from './generate.js';

function matches(pattern: string, input: string): boolean {
  const flag: FlagDefinition = { key: 'p', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules: [{ conditions: [{ attribute: 'x', op: 'matches', value: pattern }], variant: 'on' }] };
  const r = evaluate(flag, 'p', { x: input });
  expect(r.errorCode, `${pattern}: ${r.errorDetails}`).toBeUndefined();
  return r.value === true;
}

describe('negated affix patterns', () => {
  it('match exactly the strings that do not start / end with the text (special characters included)', () => {
    const r = rngOf(99);
    const alphabet = ['a', 'b', '.', '@', '(', '\\', '-', ']', '^', '$', 'é'];
    const word = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
    for (let i = 0; i < 300; i++) {
      const s = word(1 + Math.floor(r() * 5));
      const inputs = [s, '', word(3), s + word(2), word(2) + s, s.slice(1), s.slice(0, -1), word(6)];
      for (const x of inputs) {
        expect(matches(notPrefixPattern(s), x), `not-prefix ${JSON.stringify(s)} on ${JSON.stringify(x)}`).toBe(!x.startsWith(s));
        expect(matches(notSuffixPattern(s), x), `not-suffix ${JSON.stringify(s)} on ${JSON.stringify(x)}`).toBe(!x.endsWith(s));
      }
    }
  });

  it("stay within flag-model's 256-character pattern limit for texts of ~18 characters", () => {
    expect(notSuffixPattern('@corp.example.com').length).toBeLessThanOrEqual(256);
    expect(notPrefixPattern('@corp.example.com').length).toBeLessThanOrEqual(256);
  });
});
