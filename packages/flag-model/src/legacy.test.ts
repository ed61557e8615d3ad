import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { legacyFlagFromValue, legacyValueOf } from './legacy.js';
import { validateFlag } from './validate.js';
import { evaluate } from './evaluate.js';
import { boolFlag } from './test-fixtures.js';
import type { FlagDefinition } from './types.js';

describe('legacy string API mapping', () => {
  it('"true"/"false" make boolean flags, anything else a string flag', () => {
    const t = validateFlag(legacyFlagFromValue('new_feature', 'true'));
    expect(t).toMatchObject({ type: 'boolean', defaultVariant: 'on', enabled: true, variants: { on: true, off: false } });
    expect(evaluate(t, 'new_feature', {}).value).toBe(true);
    const f = validateFlag(legacyFlagFromValue('new_feature', 'false'));
    expect(evaluate(f, 'new_feature', {}).value).toBe(false);
    const s = validateFlag(legacyFlagFromValue('banner', 'hello'));
    expect(s).toMatchObject({ type: 'string', variants: { value: 'hello' }, defaultVariant: 'value' });
    expect(legacyFlagFromValue('x', 'TRUE').type).toBe('string');
  });

  it('property: get returns exactly the string given to set, also over an existing flag', () => {
    fc.assert(fc.property(fc.oneof(fc.constantFrom('true', 'false', '', '42', '{"a":1}'), fc.string()), fc.oneof(fc.constantFrom('true', 'false'), fc.string()), (v1, v2) => {
      const first = validateFlag(legacyFlagFromValue('k', v1));
      expect(legacyValueOf(first)).toBe(v1);
      const second = validateFlag(legacyFlagFromValue('k', v2, first));
      expect(legacyValueOf(second)).toBe(v2);
    }), { numRuns: 500, seed: 31 });
  });

  it('keeps rules and descriptive fields on the same type; switches the flag on', () => {
    const existing = boolFlag('k', { enabled: false, description: 'd', owner: 'o', tags: ['t'], metadata: { m: 1 }, rules: [{ conditions: [{ attribute: 'beta', op: 'equals', value: true }], variant: 'on' }] });
    const next = validateFlag(legacyFlagFromValue('k', 'false', existing));
    expect(next).toMatchObject({ enabled: true, defaultVariant: 'off', description: 'd', owner: 'o', tags: ['t'], metadata: { m: 1 }, rules: existing.rules });
    expect(evaluate(next, 'k', { beta: true }).value).toBe(true); // targeting survives
    expect(legacyValueOf(next)).toBe('false');
  });

  it('a string value not held by any variant does not change what rules serve', () => {
    const existing: FlagDefinition = { key: 'k', type: 'string', variants: { a: 'A', b: 'B' }, defaultVariant: 'a', enabled: true, rules: [{ conditions: [{ attribute: 'x', op: 'exists' }], variant: 'a' }] };
    const next = validateFlag(legacyFlagFromValue('k', 'C', existing));
    expect(next.variants).toEqual({ a: 'A', b: 'B', v1: 'C' });
    expect(next.defaultVariant).toBe('v1');
    expect(evaluate(next, 'k', { x: 1 }).value).toBe('A');
    expect(validateFlag(legacyFlagFromValue('k', 'B', existing)).defaultVariant).toBe('b'); // reuses a variant
  });

  it('number and object flags keep their type for canonical values; a type change drops rules', () => {
    const num: FlagDefinition = { key: 'n', type: 'number', variants: { x: 1 }, defaultVariant: 'x', enabled: true, rules: [] };
    expect(validateFlag(legacyFlagFromValue('n', '2.5', num))).toMatchObject({ type: 'number', variants: { x: 2.5 } });
    expect(legacyFlagFromValue('n', '2.50', num).type).toBe('string');
    const obj: FlagDefinition = { key: 'o', type: 'object', variants: { x: { a: 1 } }, defaultVariant: 'x', enabled: true, rules: [] };
    expect(legacyFlagFromValue('o', '{"a":2}', obj)).toMatchObject({ type: 'object', variants: { x: { a: 2 } } });
    const ruled = boolFlag('b', { rules: [{ conditions: [], variant: 'on' }] });
    expect(legacyFlagFromValue('b', 'hello', ruled)).toMatchObject({ type: 'string', rules: [] });
  });

  it('a disabled flag reads as its off value', () => {
    expect(legacyValueOf(boolFlag('b', { enabled: false, defaultVariant: 'on' }))).toBe('false');
    expect(legacyValueOf({ key: 'o', type: 'object', variants: { x: { a: [1] } }, defaultVariant: 'x', enabled: true, rules: [] })).toBe('{"a":[1]}');
  });
});
