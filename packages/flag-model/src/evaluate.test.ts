import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileFlag, evaluate, explainEvaluation } from './evaluate.js';
import { validateFlag } from './validate.js';
import type { Condition, FlagDefinition, SegmentDefinition } from './types.js';
import { boolFlag } from './test-fixtures.js';

const noSegments = () => undefined;

const colors: FlagDefinition = {
  key: 'colors', type: 'string', variants: { red: 'r', green: 'g', blue: 'b' }, defaultVariant: 'red', enabled: true,
  metadata: { team: 'web', ticket: 7 },
  rules: [
    { conditions: [{ attribute: 'country', op: 'in', value: ['US', 'CA'] }, { attribute: 'plan', op: 'equals', value: 'enterprise' }], variant: 'blue' },
    { conditions: [{ attribute: 'appVersion', op: 'semverGte', value: '2.6.0' }], variant: 'green' },
    { conditions: [{ attribute: 'country', op: 'equals', value: 'DE' }], rollout: { weights: [{ variant: 'red', weight: 50 }, { variant: 'green', weight: 30 }, { variant: 'blue', weight: 20 }] } },
  ],
};

describe('evaluate: reasons', () => {
  it('STATIC for an enabled flag without rules', () => {
    expect(evaluate(boolFlag('b', { defaultVariant: 'on' }), 'b', {}, noSegments)).toEqual({ key: 'b', value: true, variant: 'on', reason: 'STATIC', metadata: {} });
  });
  it('TARGETING_MATCH, with the flag metadata', () => {
    expect(evaluate(colors, 'colors', { country: 'US', plan: 'enterprise' }, noSegments))
      .toEqual({ key: 'colors', value: 'b', variant: 'blue', reason: 'TARGETING_MATCH', metadata: { team: 'web', ticket: 7 } });
  });
  it('SPLIT for a rollout', () => {
    const r = evaluate(colors, 'colors', { targetingKey: 'user-1', country: 'DE' }, noSegments);
    expect(r.reason).toBe('SPLIT');
    expect(['red', 'green', 'blue']).toContain(r.variant);
    expect(r.value).toBe(colors.variants[r.variant!]);
  });
  it('DEFAULT when rules exist and none matches', () => {
    expect(evaluate(colors, 'colors', { country: 'JP' }, noSegments)).toMatchObject({ value: 'r', variant: 'red', reason: 'DEFAULT' });
  });
  it('DISABLED serves offVariant; booleans without one serve false; others omit the value', () => {
    expect(evaluate({ ...colors, enabled: false, offVariant: 'green' }, 'colors', {}, noSegments)).toMatchObject({ value: 'g', variant: 'green', reason: 'DISABLED' });
    expect(evaluate(boolFlag('b', { enabled: false, defaultVariant: 'on' }), 'b', {}, noSegments)).toEqual({ key: 'b', value: false, variant: 'off', reason: 'DISABLED', metadata: {} });
    expect(evaluate({ ...boolFlag('b'), variants: { yes: true }, defaultVariant: 'yes', enabled: false }, 'b', {}, noSegments)).toEqual({ key: 'b', value: false, reason: 'DISABLED', metadata: {} });
    const r = evaluate({ ...colors, enabled: false }, 'colors', {}, noSegments);
    expect(r).toEqual({ key: 'colors', reason: 'DISABLED', metadata: { team: 'web', ticket: 7 } });
  });
});

describe('evaluate: error codes', () => {
  it('FLAG_NOT_FOUND', () => {
    expect(evaluate(undefined, 'nope', {}, noSegments)).toEqual({ key: 'nope', reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', errorDetails: 'flag "nope" not found', metadata: {} });
  });
  it('TARGETING_KEY_MISSING when a rollout needs it; onMissing skip goes on', () => {
    expect(evaluate(colors, 'colors', { country: 'DE' }, noSegments)).toMatchObject({ reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' });
    const skip = structuredClone(colors);
    skip.rules[2].rollout!.onMissing = 'skip';
    expect(evaluate(skip, 'colors', { country: 'DE' }, noSegments)).toMatchObject({ reason: 'DEFAULT', variant: 'red' });
  });
  it('INVALID_CONTEXT for a non-object context, a non-string targetingKey, or a missing bucketBy attribute', () => {
    expect(evaluate(colors, 'colors', 'x' as never, noSegments)).toMatchObject({ reason: 'ERROR', errorCode: 'INVALID_CONTEXT' });
    expect(evaluate(colors, 'colors', [] as never, noSegments)).toMatchObject({ errorCode: 'INVALID_CONTEXT' });
    expect(evaluate(colors, 'colors', { targetingKey: 5 } as never, noSegments)).toMatchObject({ errorCode: 'INVALID_CONTEXT', errorDetails: 'targetingKey must be a string' });
    const byOrg = structuredClone(colors);
    byOrg.rules[2].rollout!.bucketBy = 'org.id';
    expect(evaluate(byOrg, 'colors', { country: 'DE', targetingKey: 'u' }, noSegments)).toMatchObject({ errorCode: 'INVALID_CONTEXT' });
    const a = evaluate(byOrg, 'colors', { country: 'DE', org: { id: 'acme' } }, noSegments);
    const b = evaluate(byOrg, 'colors', { country: 'DE', org: { id: 'acme' }, targetingKey: 'other' }, noSegments);
    expect(a.reason).toBe('SPLIT');
    expect(b.variant).toBe(a.variant); // bucketed by org, not by user
  });
  it('PARSE_ERROR for an invalid definition (flag or segment)', () => {
    const r = evaluate({ ...colors, defaultVariant: 'purple' } as FlagDefinition, 'colors', {}, noSegments);
    expect(r).toMatchObject({ reason: 'ERROR', errorCode: 'PARSE_ERROR', errorDetails: expect.stringContaining('defaultVariant: unknown variant "purple"') });
    const f = boolFlag('s', { rules: [{ conditions: [], segments: ['bad'], variant: 'on' }] });
    expect(evaluate(f, 's', {}, () => ({ name: 'bad', conditions: [{ attribute: 'x', op: 'lt', value: 'y' }] } as unknown as SegmentDefinition)))
      .toMatchObject({ errorCode: 'PARSE_ERROR', errorDetails: expect.stringContaining('segment "bad"') });
  });
  it('GENERAL for a missing segment or an unexpected failure', () => {
    const f = boolFlag('s', { rules: [{ conditions: [], segments: ['gone'], variant: 'on' }] });
    expect(evaluate(f, 's', {}, noSegments)).toMatchObject({ reason: 'ERROR', errorCode: 'GENERAL', errorDetails: 'segment "gone" not found' });
    const hostile = { get plan(): string { throw new Error('getter exploded'); } };
    const g = boolFlag('g', { rules: [{ conditions: [{ attribute: 'plan', op: 'equals', value: 'x' }], variant: 'on' }] });
    expect(evaluate(g, 'g', hostile, noSegments)).toMatchObject({ errorCode: 'GENERAL', errorDetails: expect.stringContaining('getter exploded') });
  });
});

describe('evaluate: rules, segments, operators', () => {
  it('rule order: the first matching rule wins (property)', () => {
    fc.assert(fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (matches) => {
      const variants = Object.fromEntries(matches.map((_, i) => [`v${i}`, `value${i}`]).concat([['dflt', 'd']]));
      const rules = matches.map((m, i) => ({ conditions: [{ attribute: 'x', op: m ? 'exists' : 'notExists' } as Condition], variant: `v${i}` }));
      const flag = validateFlag({ key: 'order', type: 'string', variants, defaultVariant: 'dflt', rules });
      const r = evaluate(flag, 'order', { x: 1 }, noSegments);
      const first = matches.indexOf(true);
      expect(r.variant).toBe(first === -1 ? 'dflt' : `v${first}`);
      expect(r.reason).toBe(first === -1 ? 'DEFAULT' : 'TARGETING_MATCH');
    }), { numRuns: 200, seed: 21 });
  });

  it('segments: all of segments must match, none of excludeSegments', () => {
    const segs: Record<string, SegmentDefinition> = {
      beta: { name: 'beta', conditions: [{ attribute: 'beta', op: 'equals', value: true }] },
      staff: { name: 'staff', conditions: [{ attribute: 'email', op: 'endsWith', value: '@corp.example' }] },
    };
    const lookup = (n: string) => segs[n];
    const f = boolFlag('seg', { rules: [{ conditions: [], segments: ['beta'], excludeSegments: ['staff'], variant: 'on' }] });
    expect(evaluate(f, 'seg', { beta: true, email: 'a@x.io' }, lookup)).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect(evaluate(f, 'seg', { beta: true, email: 'a@corp.example' }, lookup)).toMatchObject({ value: false, reason: 'DEFAULT' });
    expect(evaluate(f, 'seg', { beta: false }, lookup)).toMatchObject({ value: false, reason: 'DEFAULT' });
  });

  const cases: [Condition, unknown, boolean][] = [
    [{ attribute: 'a', op: 'equals', value: 'x' }, 'x', true],
    [{ attribute: 'a', op: 'equals', value: 5 }, '5', false],
    [{ attribute: 'a', op: 'equals', value: true }, true, true],
    [{ attribute: 'a', op: 'notEquals', value: 'x' }, 'y', true],
    [{ attribute: 'a', op: 'notEquals', value: 'x' }, undefined, true],
    [{ attribute: 'a', op: 'in', value: ['x', 3] }, 3, true],
    [{ attribute: 'a', op: 'in', value: ['x', 3] }, '3', false],
    [{ attribute: 'a', op: 'notIn', value: ['x'] }, 'y', true],
    [{ attribute: 'a', op: 'notIn', value: ['x'] }, 'x', false],
    [{ attribute: 'a', op: 'contains', value: 'ell' }, 'hello', true],
    [{ attribute: 'a', op: 'contains', value: 'admin' }, ['user', 'admin'], true],
    [{ attribute: 'a', op: 'contains', value: 'adm' }, ['user', 'admin'], false],
    [{ attribute: 'a', op: 'notContains', value: 'x' }, 'hello', true],
    [{ attribute: 'a', op: 'startsWith', value: 'he' }, 'hello', true],
    [{ attribute: 'a', op: 'startsWith', value: 'he' }, 5, false],
    [{ attribute: 'a', op: 'endsWith', value: 'lo' }, 'hello', true],
    [{ attribute: 'a', op: 'lt', value: 10 }, 9.5, true],
    [{ attribute: 'a', op: 'lt', value: 10 }, '9', false],
    [{ attribute: 'a', op: 'lte', value: 10 }, 10, true],
    [{ attribute: 'a', op: 'gt', value: 10 }, 10, false],
    [{ attribute: 'a', op: 'gte', value: 10 }, 10, true],
    [{ attribute: 'a', op: 'semverGte', value: '2.6.0' }, '2.10.0', true],
    [{ attribute: 'a', op: 'semverGte', value: '2.6.0' }, '2.6.0-rc.1', false],
    [{ attribute: 'a', op: 'semverLt', value: '2.6.0' }, '2.5.9', true],
    [{ attribute: 'a', op: 'semverLte', value: '2.6.0' }, 'v2.6.0', true],
    [{ attribute: 'a', op: 'semverGt', value: '1.0.0' }, 'not a version', false],
    [{ attribute: 'a', op: 'semverEq', value: '1.0.0' }, '1.0.0+build', true],
    [{ attribute: 'a', op: 'semverNeq', value: '1.0.0' }, '1.0.1', true],
    [{ attribute: 'a', op: 'exists' }, 0, true],
    [{ attribute: 'a', op: 'exists' }, null, false],
    [{ attribute: 'a', op: 'notExists' }, undefined, true],
    [{ attribute: 'a', op: 'matches', value: '^[a-z]+@example\\.com$' }, 'bob@example.com', true],
    [{ attribute: 'a', op: 'matches', value: '^[a-z]+@example\\.com$' }, 'bob@example.org', false],
    [{ attribute: 'a', op: 'matches', value: 'x' }, 'x'.repeat(1024), true],
    [{ attribute: 'a', op: 'matches', value: 'x' }, 'x'.repeat(1025), false], // longer than maxRegexInputChars
  ];
  it.each(cases)('%j on %j -> %s', (cond, value, expected) => {
    const f = boolFlag('op', { rules: [{ conditions: [cond], variant: 'on' }] });
    const ctx = value === undefined ? {} : { a: value };
    expect(evaluate(f, 'op', ctx, noSegments).value).toBe(expected);
  });

  it('attributes: dotted paths into nested objects; prototype members are not attributes', () => {
    const f = boolFlag('p', { rules: [{ conditions: [{ attribute: 'user.plan', op: 'equals', value: 'pro' }], variant: 'on' }] });
    expect(evaluate(f, 'p', { user: { plan: 'pro' } }, noSegments).value).toBe(true);
    expect(evaluate(f, 'p', { 'user.plan': 'pro' }, noSegments).value).toBe(true);
    expect(evaluate(f, 'p', { user: 'pro' }, noSegments).value).toBe(false);
    const g = boolFlag('q', { rules: [{ conditions: [{ attribute: 'constructor', op: 'exists' }], variant: 'on' }] });
    expect(evaluate(g, 'q', {}, noSegments).value).toBe(false);
    expect(evaluate(g, 'q', { constructor: 'x' }, noSegments).value).toBe(true);
  });

  it('compiles once per flag object, and results do not share mutable state', () => {
    expect(compileFlag(colors)).toBe(compileFlag(colors));
    expect(compileFlag({ ...colors })).not.toBe(compileFlag(colors));
    const r = evaluate(colors, 'colors', { country: 'JP' }, noSegments);
    expect(Object.isFrozen(r.metadata)).toBe(true);
    expect(() => { (r as { reason: string }).reason = 'x'; }).not.toThrow(); // a fresh object each time
    expect(evaluate(colors, 'colors', { country: 'JP' }, noSegments).reason).toBe('DEFAULT');
  });

  it('result key is the requested key; bucketing uses the flag key', () => {
    const f = validateFlag({ ...boolFlag('real'), rules: [{ conditions: [], rollout: { weights: [{ variant: 'on', weight: 1 }, { variant: 'off', weight: 1 }] } }] });
    const a = evaluate(f, 'alias', { targetingKey: 'u1' }, noSegments);
    expect(a.key).toBe('alias');
    expect(a.variant).toBe(evaluate(f, 'real', { targetingKey: 'u1' }, noSegments).variant);
  });

  it('property: evaluation never throws, for any context', () => {
    fc.assert(fc.property(fc.anything(), (ctx) => {
      const r = evaluate(colors, 'colors', ctx as never, noSegments);
      expect(['TARGETING_MATCH', 'SPLIT', 'DEFAULT', 'ERROR']).toContain(r.reason);
    }), { numRuns: 1000, seed: 22 });
  });
});

describe('explainEvaluation: which rule decided', () => {
  const staff: SegmentDefinition = { name: 'staff', conditions: [{ attribute: 'email', op: 'endsWith', value: '@example.com' }] };
  const lookup = (n: string) => (n === 'staff' ? staff : undefined);
  const withSegments: FlagDefinition = {
    ...colors,
    rules: [{ conditions: [], segments: ['staff'], variant: 'green' }, { conditions: [], excludeSegments: ['staff'], rollout: { weights: [{ variant: 'red', weight: 100 }], bucketBy: 'org', onMissing: 'skip' } }, ...colors.rules],
  };
  it('names the matching rule, and agrees with evaluate()', () => {
    for (const [ctx, rule] of [
      [{ country: 'US', plan: 'enterprise' }, 0],
      [{ appVersion: '3.0.0' }, 1],
      [{ targetingKey: 'u', country: 'DE' }, 2],
    ] as const) {
      const r = explainEvaluation(colors, 'colors', ctx, noSegments);
      expect(r.ruleIndex).toBe(rule);
      const { ruleIndex: _, ...plain } = r;
      expect(plain).toEqual(evaluate(colors, 'colors', ctx, noSegments));
    }
  });
  it('no rule for DEFAULT, DISABLED and STATIC', () => {
    expect(explainEvaluation(colors, 'colors', { country: 'FR' }, noSegments)).not.toHaveProperty('ruleIndex');
    expect(explainEvaluation({ ...colors, enabled: false }, 'colors', { country: 'US', plan: 'enterprise' }, noSegments)).not.toHaveProperty('ruleIndex');
    expect(explainEvaluation(boolFlag('b', { defaultVariant: 'on' }), 'b', {}, noSegments)).not.toHaveProperty('ruleIndex');
  });
  it('skips a rule whose segment does not match, and a rollout skipped for a missing attribute', () => {
    expect(explainEvaluation(withSegments, 'colors', { email: 'a@example.com' }, lookup)).toMatchObject({ ruleIndex: 0, variant: 'green' });
    // Not staff: rule 1 applies only with "org"; without it the rollout is skipped, then colors' own rules follow.
    expect(explainEvaluation(withSegments, 'colors', { email: 'a@other.org', org: 'acme' }, lookup)).toMatchObject({ ruleIndex: 1, variant: 'red', reason: 'SPLIT' });
    expect(explainEvaluation(withSegments, 'colors', { email: 'a@other.org', appVersion: '2.6.0' }, lookup)).toMatchObject({ ruleIndex: 3, variant: 'green' });
    expect(explainEvaluation(withSegments, 'colors', { email: 'a@other.org' }, lookup)).not.toHaveProperty('ruleIndex');
  });
  it('an unknown flag is FLAG_NOT_FOUND without a rule', () => {
    expect(explainEvaluation(undefined, 'nope', {}, noSegments)).toMatchObject({ reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
  });
});
