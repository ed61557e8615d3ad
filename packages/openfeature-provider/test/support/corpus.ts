// A seeded generator of flags, segments and evaluation contexts covering what
// flag-model evaluates: every flag type, every condition operator, segments and
// exclusions, rollouts by targetingKey or another attribute (error or skip when
// it is missing), disabled flags with and without offVariant, metadata.
import type { Condition, FlagDefinition, Rule, SegmentDefinition } from '@flagraft/flag-model';

import { createRng } from '@flagraft/raft-core';

export type Rng = () => number;

/** A seeded PRNG (raft-core's), so every run of a seed is the same corpus. */
export function rngOf(seed: number): Rng {
  const r = createRng(seed);
  return () => r.next();
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const COUNTRIES = ['US', 'CA', 'DE', 'FR', 'GB', 'JP'];
const PLANS = ['free', 'pro', 'enterprise'];
const VERSIONS = ['1.0.0', '1.2.3', '2.0.0-rc.1', '2.0.0', '2.6.0', '2.10.1', 'v3.1.0', 'not-a-version'];
const EMAILS = ['ann@example.com', 'bob@corp.example', 'cy@example.org', 'dee@corp.example'];

function condition(r: Rng): Condition {
  switch (Math.floor(r() * 12)) {
    case 0: return { attribute: 'country', op: pick(r, ['equals', 'notEquals'] as const), value: pick(r, COUNTRIES) };
    case 1: return { attribute: 'country', op: pick(r, ['in', 'notIn'] as const), value: COUNTRIES.filter(() => r() < 0.4).concat('US') };
    case 2: return { attribute: 'plan', op: 'equals', value: pick(r, PLANS) };
    case 3: return { attribute: 'email', op: pick(r, ['endsWith', 'startsWith'] as const), value: pick(r, ['@corp.example', 'ann', 'b', '.org']) };
    case 4: return { attribute: 'email', op: pick(r, ['contains', 'notContains'] as const), value: pick(r, ['corp', 'example', 'x']) };
    case 5: return { attribute: 'age', op: pick(r, ['lt', 'lte', 'gt', 'gte'] as const), value: Math.floor(r() * 60) + 10 };
    case 6: return { attribute: 'appVersion', op: pick(r, ['semverEq', 'semverNeq', 'semverLt', 'semverLte', 'semverGt', 'semverGte'] as const), value: pick(r, VERSIONS.slice(0, 7)) };
    case 7: return { attribute: 'beta', op: pick(r, ['exists', 'notExists'] as const) };
    case 8: return { attribute: 'beta', op: 'equals', value: true };
    case 9: return { attribute: 'email', op: 'matches', value: pick(r, ['^[a-c]', 'corp\\.example$', '(ann|cy)@']) };
    case 10: return { attribute: 'user.plan', op: 'in', value: ['pro', 'enterprise'] };
    default: return { attribute: 'tags', op: 'contains', value: pick(r, ['a', 'b']) };
  }
}

function valuesFor(r: Rng, type: FlagDefinition['type'], n: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const name = `v${i}`;
    out[name] = type === 'boolean' ? i % 2 === 0 : type === 'string' ? `s-${i}-${Math.floor(r() * 100)}` : type === 'number' ? i * 1.5 : { n: i, tag: `t${i}` };
  }
  return out;
}

export function generateCorpus(seed: number, flags: number, prefix: string): { segments: SegmentDefinition[]; flags: FlagDefinition[] } {
  const r = rngOf(seed);
  const segments: SegmentDefinition[] = [
    { name: `${prefix}seg-corp`, conditions: [{ attribute: 'email', op: 'endsWith', value: '@corp.example' }] },
    { name: `${prefix}seg-pro`, conditions: [{ attribute: 'plan', op: 'in', value: ['pro', 'enterprise'] }, { attribute: 'age', op: 'gte', value: 18 }] },
    { name: `${prefix}seg-all`, conditions: [] },
  ];
  const out: FlagDefinition[] = [];
  for (let i = 0; i < flags; i++) {
    const type = pick(r, ['boolean', 'string', 'number', 'object'] as const);
    const nv = type === 'boolean' ? 2 : 2 + Math.floor(r() * 3);
    const variants = valuesFor(r, type, nv);
    const names = Object.keys(variants);
    const rules: Rule[] = [];
    const nr = Math.floor(r() * 5);
    for (let j = 0; j < nr; j++) {
      const rule: Rule = { conditions: Array.from({ length: Math.floor(r() * 3) }, () => condition(r)) };
      if (r() < 0.25) rule.segments = [pick(r, segments).name];
      if (r() < 0.15 && !rule.segments?.includes(segments[0].name)) rule.excludeSegments = [segments[0].name];
      if (r() < 0.4) {
        rule.rollout = {
          weights: names.map((v) => ({ variant: v, weight: Math.floor(r() * 50) + (v === names[0] ? 1 : 0) })),
          ...(r() < 0.3 ? { bucketBy: 'email' } : {}),
          ...(r() < 0.5 ? { onMissing: 'skip' as const } : {}),
        };
      } else rule.variant = pick(r, names);
      rules.push(rule);
    }
    const f: FlagDefinition = { key: `${prefix}f${i}`, type, variants: variants as FlagDefinition['variants'], defaultVariant: pick(r, names), enabled: r() > 0.12, rules };
    if (r() < 0.3) f.offVariant = pick(r, names);
    if (r() < 0.3) f.metadata = { team: pick(r, ['a', 'b']), ticket: Math.floor(r() * 1000), gated: r() < 0.5 };
    out.push(f);
  }
  return { segments, flags: out };
}

export function generateContexts(seed: number, n: number): Record<string, unknown>[] {
  const r = rngOf(seed);
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const c: Record<string, unknown> = {};
    if (r() < 0.9) c.targetingKey = `user-${Math.floor(r() * 1e6)}`;
    if (r() < 0.8) c.country = pick(r, COUNTRIES);
    if (r() < 0.8) c.plan = pick(r, PLANS);
    if (r() < 0.7) c.email = pick(r, EMAILS);
    if (r() < 0.7) c.age = Math.floor(r() * 80);
    if (r() < 0.7) c.appVersion = pick(r, VERSIONS);
    if (r() < 0.3) c.beta = r() < 0.5;
    if (r() < 0.3) c.user = { plan: pick(r, PLANS) };
    if (r() < 0.3) c.tags = ['a', 'c'].filter(() => r() < 0.6);
    out.push(c);
  }
  return out;
}

export function defaultFor(type: FlagDefinition['type']): boolean | string | number | Record<string, never> {
  return type === 'boolean' ? false : type === 'string' ? 'code-default' : type === 'number' ? -1 : {};
}
