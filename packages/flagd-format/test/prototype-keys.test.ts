// Flag keys, segment names, variant names and metadata keys named like
// Object.prototype members are ordinary names in both directions; "__proto__"
// (not a valid flagraft name) is refused with an issue, never swallowed by a
// prototype setter.
import { describe, expect, it } from 'vitest';
import { validateFlag, validateSegment } from '@flagraft/flag-model';
import { fromFlagd, toFlagd } from '../src/index.js';

const NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty'];

describe('prototype-named keys', () => {
  it('export and import round-trip flags, segments and variants named like Object.prototype members', () => {
    const segments = NAMES.map((name) => validateSegment({ name, conditions: [{ attribute: 'constructor', op: 'equals', value: name }] }));
    const flags = NAMES.map((key) => validateFlag({
      key, type: 'string', variants: { constructor: 'c', toString: 't' }, defaultVariant: 'constructor',
      rules: [{ segments: [key], variant: 'toString' }], metadata: { valueOf: 1 },
    }));
    const out = toFlagd(flags, segments);
    expect(out.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(Object.keys(out.document.flags).sort()).toEqual([...NAMES].sort());
    const back = fromFlagd(JSON.parse(JSON.stringify(out.document)));
    expect(back.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(back.flags.map((f) => f.key).sort()).toEqual([...NAMES].sort());
    for (const f of back.flags) {
      expect(f.variants).toEqual({ constructor: 'c', toString: 't' });
      expect(f.metadata).toEqual({ valueOf: 1 });
    }
  });

  it('a segment that could not be exported is not found on Object.prototype', () => {
    const flag = validateFlag({ key: 'f', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', rules: [{ segments: ['toString'], variant: 'on' }] });
    const out = toFlagd([flag], []);
    expect(out.document.flags).not.toHaveProperty('f');
    expect(out.issues.some((i) => i.severity === 'error' && /segment toString could not be exported/.test(i.message))).toBe(true);
  });

  it('a default variant or targeting answer named like a prototype member must be a real variant', () => {
    const doc = { flags: { f: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'constructor' }, g: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on', targeting: { if: [true, 'toString', 'off'] } } } };
    const r = fromFlagd(doc);
    expect(r.flags).toEqual([]);
    expect(r.issues.map((i) => i.path)).toEqual(['flags.f.defaultVariant', 'flags.g.targeting.if[1]']);
  });

  it('metadata "__proto__" is an issue naming it, not a silently changed prototype', () => {
    const doc = JSON.parse('{"flags":{"f":{"state":"ENABLED","variants":{"on":true},"defaultVariant":"on","metadata":{"__proto__":"x"}}}}');
    const r = fromFlagd(doc);
    expect(r.flags).toEqual([]);
    expect(r.issues[0]).toMatchObject({ severity: 'error' });
    expect(r.issues[0].path).toMatch(/__proto__/);
  });
});
