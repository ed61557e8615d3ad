import { describe, expect, it } from 'vitest';
import { validateFlag } from '@flagraft/flag-model';
import { fromDefinition, newFlagState, newRule, parseVariantValue, renameVariant, toDefinition, weightShares, withName } from './editor-model';
import type { FlagDefinition } from './types';

const flag: FlagDefinition = {
  key: 'checkout',
  type: 'string',
  variants: { control: 'old', treatment: 'new' },
  defaultVariant: 'control',
  offVariant: 'control',
  enabled: true,
  rules: [
    { id: 'beta', conditions: [{ attribute: 'plan', op: 'in', value: ['pro', 'team'] }, { attribute: 'age', op: 'gte', value: 18 }], segments: ['staff'], variant: 'treatment' },
    { id: 'ramp', conditions: [], rollout: { weights: [{ variant: 'control', weight: 70 }, { variant: 'treatment', weight: 30 }], bucketBy: 'userId' } },
  ],
  description: 'New checkout',
  tags: ['payments', 'q4'],
  owner: 'team-pay',
  metadata: { jira: 'PAY-1' },
};

describe('editor model', () => {
  it('round-trips a definition through the editor state unchanged', () => {
    const { flag: back, issues } = toDefinition(fromDefinition(flag));
    expect(issues).toEqual([]);
    expect(back).toEqual(flag);
  });

  it('keeps a number condition value a number and a boolean a boolean', () => {
    const f: FlagDefinition = { ...flag, rules: [{ conditions: [{ attribute: 'beta', op: 'equals', value: true }], variant: 'control' }] };
    expect(toDefinition(fromDefinition(f)).flag.rules[0].conditions[0].value).toBe(true);
  });

  it('reports unparsable typed values with flag-model style paths', () => {
    const s = newFlagState('object', 'cfg');
    s.variants[0].value = '{"a": ';
    s.variants[1].value = '[1]';
    const { issues } = toDefinition(s);
    expect(issues.map((i) => i.path)).toEqual(['variants.a', 'variants.b']);
    expect(parseVariantValue('number', 'x').error).toMatch(/number/);
    expect(parseVariantValue('boolean', 'true').value).toBe(true);
  });

  it('asks rollout weights to add up to 100', () => {
    const s = newFlagState('boolean', 'b');
    const r = newRule(s, 0);
    r.mode = 'rollout';
    r.weights = [
      { variant: 'on', weight: '40' },
      { variant: 'off', weight: '50' },
    ];
    s.rules.push(r);
    expect(toDefinition(s).issues).toEqual([{ path: 'rules[0].rollout.weights', message: 'add up to 90%; they must add up to 100%' }]);
    expect(weightShares(r.weights).map((w) => Math.round(w.pct))).toEqual([44, 56]);
  });

  it('produces definitions flag-model accepts for every new flag type', () => {
    for (const t of ['boolean', 'string', 'number', 'object'] as const) {
      const { flag: f, issues } = toDefinition(newFlagState(t, `new-${t}`));
      expect(issues).toEqual([]);
      expect(() => validateFlag(f)).not.toThrow();
    }
  });

  it('renaming a variant carries default, off, rule variant and weights along; names like constructor are names', () => {
    const s = fromDefinition(flag);
    renameVariant(s, 0, 'constructor');
    const { flag: back, issues } = toDefinition(s);
    expect(issues).toEqual([]);
    expect(Object.keys(back.variants)).toEqual(['constructor', 'treatment']);
    expect(back.defaultVariant).toBe('constructor');
    expect(back.offVariant).toBe('constructor');
    expect(back.rules[1].rollout!.weights.map((w) => w.variant)).toEqual(['constructor', 'treatment']);
    expect(() => validateFlag(JSON.parse(JSON.stringify(back)))).not.toThrow();
    renameVariant(s, 1, 'toString');
    expect(s.rules[0].variant).toBe('toString');
  });

  it('a rename that makes a duplicate leaves the references with the other variant of that name', () => {
    const s = fromDefinition(flag);
    renameVariant(s, 1, 'control'); // now two "control"s: a duplicate the form reports
    expect(toDefinition(s).issues.map((i) => i.message)).toContain('duplicate variant name');
    renameVariant(s, 1, 'controlled');
    expect(s.defaultVariant).toBe('control');
    expect(s.rules[1].weights.map((w) => w.variant)).toEqual(['control', 'control']);
  });

  it('an empty off variant ("none") is not a reference to a variant being retyped', () => {
    const s = fromDefinition({ ...flag, offVariant: undefined });
    renameVariant(s, 0, '');
    renameVariant(s, 0, 'c');
    expect(s.offVariant).toBe('');
    expect(s.defaultVariant).toBe('c');
  });
});

describe('withName (segment picker)', () => {
  it('adds a name once, at the end, and removes it', () => {
    expect(withName(['a', 'b'], 'c', true)).toEqual(['a', 'b', 'c']);
    expect(withName(['a', 'b'], 'a', true)).toEqual(['b', 'a']);
    expect(withName(['a', 'b'], 'a', false)).toEqual(['b']);
    expect(withName([], 'x', false)).toEqual([]);
  });
});
