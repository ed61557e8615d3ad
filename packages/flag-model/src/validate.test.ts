import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { validateFlag, validateSegment, flagIssues } from './validate.js';
import { ValidationError } from './errors.js';
import { LIMITS } from './limits.js';
import { boolFlag } from './test-fixtures.js';

function issuesOf(input: unknown): { path: string; message: string }[] {
  try {
    validateFlag(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).issues;
  }
  throw new Error('expected a ValidationError');
}

const ruled = {
  key: 'checkout.v2',
  type: 'string',
  variants: { red: 'r', green: 'g', blue: 'b' },
  defaultVariant: 'red',
  enabled: true,
  rules: [
    { id: 'eu', conditions: [{ attribute: 'country', op: 'in', value: ['DE', 'FR'] }], variant: 'green' },
    { conditions: [{ attribute: 'appVersion', op: 'semverGte', value: '2.0.0' }], segments: ['beta'], variant: 'blue' },
    { conditions: [], rollout: { weights: [{ variant: 'red', weight: 50 }, { variant: 'green', weight: 50 }] } },
  ],
  metadata: { team: 'payments', ticket: 42, experimental: true },
  tags: ['checkout'],
  owner: 'payments-team',
  description: 'new checkout',
};

describe('validateFlag', () => {
  it('accepts a full flag and returns a normalized copy', () => {
    const out = validateFlag(ruled);
    expect(out).toEqual(ruled);
    expect(out).not.toBe(ruled);
    expect(out.rules[0].conditions).not.toBe(ruled.rules[0].conditions);
  });

  it('fills defaults: enabled true, rules [], nulls dropped', () => {
    const out = validateFlag({ key: 'a', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', offVariant: null, description: null });
    expect(out).toEqual({ key: 'a', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules: [] });
  });

  it('names the field path of each problem', () => {
    const bad = structuredClone(ruled) as any;
    bad.rules[2].rollout.weights = [{ variant: 'red', weight: 0 }, { variant: 'green', weight: 0 }];
    expect(issuesOf(bad)).toEqual([{ path: 'rules[2].rollout.weights', message: 'must sum to more than 0' }]);
  });

  it.each([
    [{ ...ruled, key: '' }, 'key'],
    [{ ...ruled, key: '-starts-with-dash' }, 'key'],
    [{ ...ruled, key: 'x'.repeat(LIMITS.maxKeyChars + 1) }, 'key'],
    [{ ...ruled, key: 'has space' }, 'key'],
    [{ ...ruled, type: 'date' }, 'type'],
    [{ ...ruled, variants: {} }, 'variants'],
    [{ ...ruled, variants: { red: 1 } , defaultVariant: 'red', rules: [] }, 'variants.red'],
    [{ ...ruled, defaultVariant: 'purple' }, 'defaultVariant'],
    [{ ...ruled, offVariant: 'purple' }, 'offVariant'],
    [{ ...ruled, enabled: 'yes' }, 'enabled'],
    [{ ...ruled, rules: {} }, 'rules'],
    [{ ...ruled, rules: [{ conditions: [], variant: 'purple' }] }, 'rules[0].variant'],
    [{ ...ruled, rules: [{ conditions: [] }] }, 'rules[0]'],
    [{ ...ruled, rules: [{ conditions: [], variant: 'red', rollout: { weights: [{ variant: 'red', weight: 1 }] } }] }, 'rules[0]'],
    [{ ...ruled, rules: [{ conditions: [{ attribute: 'x', op: 'like', value: 1 }], variant: 'red' }] }, 'rules[0].conditions[0].op'],
    [{ ...ruled, rules: [{ conditions: [{ attribute: 'x', op: 'lt', value: '3' }], variant: 'red' }] }, 'rules[0].conditions[0].value'],
    [{ ...ruled, rules: [{ conditions: [{ attribute: 'x', op: 'in', value: [] }], variant: 'red' }] }, 'rules[0].conditions[0].value'],
    [{ ...ruled, rules: [{ conditions: [{ attribute: 'x', op: 'in', value: [{}] }], variant: 'red' }] }, 'rules[0].conditions[0].value[0]'],
    [{ ...ruled, rules: [{ conditions: [{ attribute: 'x', op: 'semverGt', value: '1.2' }], variant: 'red' }] }, 'rules[0].conditions[0].value'],
    [{ ...ruled, rules: [{ conditions: [{ attribute: 'x', op: 'exists', value: 1 }], variant: 'red' }] }, 'rules[0].conditions[0].value'],
    [{ ...ruled, rules: [{ conditions: [{ attribute: '', op: 'exists' }], variant: 'red' }] }, 'rules[0].conditions[0].attribute'],
    [{ ...ruled, rules: [{ conditions: [], rollout: { weights: [{ variant: 'red', weight: -1 }] } }] }, 'rules[0].rollout.weights[0].weight'],
    [{ ...ruled, rules: [{ conditions: [], rollout: { weights: [{ variant: 'red', weight: 1.5 }] } }] }, 'rules[0].rollout.weights[0].weight'],
    [{ ...ruled, rules: [{ conditions: [], rollout: { weights: [{ variant: 'red', weight: 1 }, { variant: 'red', weight: 1 }] } }] }, 'rules[0].rollout.weights[1].variant'],
    [{ ...ruled, rules: [{ conditions: [], rollout: { weights: [{ variant: 'red', weight: LIMITS.maxWeightTotal + 1 }] } }] }, 'rules[0].rollout.weights'],
    [{ ...ruled, rules: [{ conditions: [], rollout: { weights: [] } }] }, 'rules[0].rollout.weights'],
    [{ ...ruled, rules: [{ conditions: [], rollout: { weights: [{ variant: 'red', weight: 1 }], onMissing: 'ignore' } }] }, 'rules[0].rollout.onMissing'],
    [{ ...ruled, rules: [{ conditions: [], segments: ['a', 'a'], variant: 'red' }] }, 'rules[0].segments[1]'],
    [{ ...ruled, rules: [{ conditions: [], segments: ['a'], excludeSegments: ['a'], variant: 'red' }] }, 'rules[0].excludeSegments'],
    [{ ...ruled, rules: [{ id: 'a', conditions: [], variant: 'red' }, { id: 'a', conditions: [], variant: 'red' }] }, 'rules[1].id'],
    [{ ...ruled, metadata: { nested: { a: 1 } } }, 'metadata.nested'],
    [{ ...ruled, metadata: { n: Infinity } }, 'metadata.n'],
    [{ ...ruled, tags: ['ok', 'ok'] }, 'tags[1]'],
    [{ ...ruled, tags: 'x' }, 'tags'],
    [{ ...ruled, owner: 3 }, 'owner'],
    [{ ...ruled, descrption: 'typo' }, 'descrption'],
    [{ ...ruled, rules: [{ conditions: [], variant: 'red', extra: 1 }] }, 'rules[0].extra'],
  ])('rejects malformed shape %#', (input, path) => {
    const issues = issuesOf(input);
    expect(issues.map((i) => i.path)).toContain(path);
    for (const i of issues) expect(i.message.length).toBeGreaterThan(0);
  });

  it('checks variant values against the flag type', () => {
    expect(issuesOf({ key: 'n', type: 'number', variants: { a: NaN }, defaultVariant: 'a' })[0].path).toBe('variants.a');
    expect(issuesOf({ key: 'o', type: 'object', variants: { a: [1] }, defaultVariant: 'a' })[0].path).toBe('variants.a');
    expect(issuesOf({ key: 's', type: 'string', variants: { a: true }, defaultVariant: 'a' })[0].path).toBe('variants.a');
    const obj = validateFlag(JSON.parse('{"key":"o","type":"object","variants":{"a":{"x":[1,{"y":null}],"__proto__":{"z":1}}},"defaultVariant":"a"}'));
    expect(Object.keys(obj.variants.a as object)).toEqual(['x', '__proto__']);
  });

  it('enforces every named limit', () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`v${i}`, i % 2 === 0]));
    expect(issuesOf({ key: 'k', type: 'boolean', variants: many(LIMITS.maxVariants + 1), defaultVariant: 'v0' })[0].path).toBe('variants');
    expect(() => validateFlag({ key: 'k', type: 'boolean', variants: many(LIMITS.maxVariants), defaultVariant: 'v0' })).not.toThrow();
    const rule = { conditions: [], variant: 'on' };
    expect(issuesOf(boolFlag('k', { rules: Array(LIMITS.maxRules + 1).fill(rule) }))[0].path).toBe('rules');
    const cond = { attribute: 'a', op: 'exists' };
    expect(issuesOf(boolFlag('k', { rules: [{ conditions: Array(LIMITS.maxConditions + 1).fill(cond), variant: 'on' }] } as any))[0].path).toBe('rules[0].conditions');
    expect(issuesOf(boolFlag('k', { rules: [{ conditions: [{ attribute: 'a', op: 'in', value: Array(LIMITS.maxListItems + 1).fill('x') }], variant: 'on' }] } as any))[0].path).toBe('rules[0].conditions[0].value');
    expect(issuesOf(boolFlag('k', { rules: [{ conditions: [{ attribute: 'a', op: 'equals', value: 'x'.repeat(LIMITS.maxStringValueChars + 1) }], variant: 'on' }] } as any))[0].path).toBe('rules[0].conditions[0].value');
    expect(issuesOf(boolFlag('k', { metadata: Object.fromEntries(Array.from({ length: LIMITS.maxMetadataEntries + 1 }, (_, i) => [`m${i}`, i])) }))[0].path).toBe('metadata');
    expect(issuesOf(boolFlag('k', { tags: Array.from({ length: LIMITS.maxTags + 1 }, (_, i) => `t${i}`) }))[0].path).toBe('tags');
    expect(issuesOf(boolFlag('k', { description: 'd'.repeat(LIMITS.maxDescriptionChars + 1) }))[0].path).toBe('description');
    let deep: unknown = 1;
    for (let i = 0; i < LIMITS.maxObjectDepth; i++) deep = { d: deep };
    expect(() => validateFlag({ key: 'o', type: 'object', variants: { a: deep }, defaultVariant: 'a' })).not.toThrow();
    expect(issuesOf({ key: 'o', type: 'object', variants: { a: { d: deep } }, defaultVariant: 'a' })[0].message).toMatch(/nesting deeper than 8/);
    const wide = { items: Array(LIMITS.maxObjectNodes).fill(0) };
    expect(issuesOf({ key: 'o', type: 'object', variants: { a: wide }, defaultVariant: 'a' })[0].message).toMatch(/at most 10000 keys and items/);
    // total size: 64 string variants of 4096 chars = 256 KiB plus the rest > maxFlagBytes
    const big = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`v${i}`, 'x'.repeat(LIMITS.maxStringValueChars)]));
    const sizeIssue = issuesOf({ key: 's', type: 'string', variants: big, defaultVariant: 'v0' });
    expect(sizeIssue).toEqual([{ path: '', message: expect.stringMatching(/bytes as JSON, more than the limit of 262144/) }]);
  });

  it('survives hostile inputs with its own error only', () => {
    const cyclic: any = { key: 'c', type: 'object', defaultVariant: 'a', variants: { a: {} } };
    cyclic.variants.a.self = cyclic.variants.a;
    expect(issuesOf(cyclic)[0].message).toMatch(/nesting deeper/);
    const throwing = { get key(): string { throw new Error('boom'); } };
    expect(issuesOf(throwing)).toEqual([{ path: '', message: 'could not be read: boom' }]);
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    expect(issuesOf(revoked.proxy)[0].path).toBe('');
    expect(issuesOf(new Date())[0]).toEqual({ path: '', message: 'must be an object' });
  });

  it('property: never throws anything but ValidationError, and accepts what it returns', () => {
    // Valid-looking flags, then the same with one field replaced by anything.
    const cond = fc.oneof(
      fc.record({ attribute: fc.constantFrom('country', 'plan', 'a.b'), op: fc.constantFrom('equals', 'notEquals', 'contains'), value: fc.string({ maxLength: 5 }) }),
      fc.record({ attribute: fc.constant('n'), op: fc.constantFrom('lt', 'gte'), value: fc.integer() }),
      fc.record({ attribute: fc.constant('v'), op: fc.constantFrom('semverGte', 'semverLt'), value: fc.constantFrom('1.2.3', '2.0.0-rc.1') }),
      fc.record({ attribute: fc.constant('c'), op: fc.constantFrom('in', 'notIn'), value: fc.array(fc.oneof(fc.string(), fc.integer(), fc.boolean()), { minLength: 1, maxLength: 4 }) }),
      fc.record({ attribute: fc.constant('x'), op: fc.constantFrom('exists', 'notExists') }),
    );
    const rule = fc.oneof(
      fc.record({ conditions: fc.array(cond, { maxLength: 3 }), variant: fc.constantFrom('on', 'off') }),
      fc.record({ conditions: fc.array(cond, { maxLength: 3 }), rollout: fc.record({ weights: fc.constant([{ variant: 'on', weight: 10 }, { variant: 'off', weight: 90 }]) }) }),
    );
    const valid = fc.record({
      key: fc.constantFrom('k', 'a-b', 'x.y:z'), type: fc.constant('boolean'), variants: fc.constant({ on: true, off: false }),
      defaultVariant: fc.constantFrom('on', 'off'), enabled: fc.boolean(), rules: fc.array(rule, { maxLength: 4 }),
      metadata: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof(fc.string(), fc.integer(), fc.boolean())),
    });
    const mutated = fc.tuple(valid, fc.constantFrom('key', 'type', 'variants', 'defaultVariant', 'enabled', 'rules', 'metadata', 'tags', 'x'), fc.anything())
      .map(([f, k, v]) => ({ ...f, [k]: v }));
    const mutatedRule = fc.tuple(valid, fc.nat(3), fc.constantFrom('conditions', 'variant', 'rollout', 'segments', 'id'), fc.anything())
      .map(([f, i, k, v]) => ({ ...f, rules: f.rules.map((r, j) => (j === i ? { ...r, [k]: v } : r)) }));
    let accepted = 0;
    let rejected = 0;
    fc.assert(fc.property(fc.oneof(valid, mutated, mutatedRule, fc.anything()), (input) => {
      try {
        const out = validateFlag(input);
        accepted++;
        expect(validateFlag(out)).toEqual(out); // idempotent on its own output
        expect(validateFlag(JSON.parse(JSON.stringify(out)))).toEqual(out);
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        rejected++;
        expect(e.issues.length).toBeGreaterThan(0);
        for (const i of e.issues) expect(typeof i.path).toBe('string');
      }
    }), { numRuns: 2000, seed: 42 });
    expect(accepted).toBeGreaterThan(200);
    expect(rejected).toBeGreaterThan(200);
  });

  it('flagIssues is the non-throwing form', () => {
    expect(flagIssues(ruled)).toEqual([]);
    expect(flagIssues({})[0].path).toBe('key');
  });
});

describe('validateSegment', () => {
  it('accepts and normalizes', () => {
    expect(validateSegment({ name: 'beta', conditions: [{ attribute: 'plan', op: 'equals', value: 'beta' }], description: null }))
      .toEqual({ name: 'beta', conditions: [{ attribute: 'plan', op: 'equals', value: 'beta' }] });
  });
  it('rejects with paths', () => {
    const e = (() => { try { validateSegment({ name: 'a b', conditions: [{ attribute: 'x', op: 'gt' }], extra: 1 }); } catch (x) { return x as ValidationError; } })();
    expect(e).toBeInstanceOf(ValidationError);
    expect(e!.issues.map((i) => i.path).sort()).toEqual(['conditions[0].value', 'extra', 'name']);
    expect(() => validateSegment({ name: 'a' })).toThrow(/conditions: must be an array/);
  });
  it('property: only ValidationError escapes', () => {
    fc.assert(fc.property(fc.anything(), (x) => {
      try { validateSegment(x); } catch (e) { if (!(e instanceof ValidationError)) throw e; }
    }), { numRuns: 500, seed: 7 });
  });
});

describe('every problem at once', () => {
  it('a wrong variant value does not hide wrong variant references', () => {
    const issues = flagIssues({ key: 'k', type: 'boolean', variants: { on: 'yes', off: false }, defaultVariant: 'missing', rules: [{ variant: 'nope' }] });
    expect(issues.map((i) => i.path)).toEqual(['variants.on', 'defaultVariant', 'rules[0].variant']);
  });
});
