// flagraft flags and segments -> a flagd flag-definition document.
//
// Each flagraft condition is written as the JSON Logic that flagd-core
// evaluates the same way for typed contexts (README.md), guarding against
// JSON Logic reading an absent attribute as null / 0: `age lt 18` becomes
// `{"and": [{"!==": [{"var": "age"}, null]}, {"<": [{"var": "age"}, 18]}]}`.
// Rules become one `if` chain; a rule's segments become `$ref`s to
// `$evaluators` of the same name; rollouts become `fractional` over
// `cat($flagd.flagKey, attribute)`, exactly flagraft's bucketing value.
import type { Condition, FlagDefinition, Rule, SegmentDefinition } from '@flagraft/flag-model';
import { notPrefixPattern, notSuffixPattern } from './logic.js';
import type { Issue } from './types.js';

/**
 * The text s of a pattern the import wrote for "does not start / end with s"
 * (flagraft has no such operator), so it goes back to flagd as !starts_with.
 */
function affixOfPattern(pattern: string): { op: 'starts_with' | 'ends_with'; text: string } | undefined {
  const chars = [...pattern.matchAll(/\[\^(\\?.)\]/g)].map((m) => (m[1].length === 2 ? m[1][1] : m[1]));
  const text = chars.join('');
  if (text === '') return undefined;
  if (notPrefixPattern(text) === pattern) return { op: 'starts_with', text };
  const reversed = [...chars].reverse().join(''); // the suffix pattern nests from the last character
  if (notSuffixPattern(reversed) === pattern) return { op: 'ends_with', text: reversed };
  return undefined;
}

export interface FlagdExport {
  document: { $schema: string; flags: Record<string, unknown>; $evaluators?: Record<string, unknown> };
  issues: Issue[];
}

/** The variant name answered when a rollout's attribute is missing and the rule says `onMissing: error`: no such variant exists, so flagd answers the caller's default (as flagraft does, with an error). */
export const MISSING_BUCKET_VARIANT = '__flagraft_bucket_attribute_missing__';

class NoEquivalent extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
  }
}

const v = (attribute: string) => ({ var: attribute });
const present = (attribute: string) => ({ '!==': [v(attribute), null] });

function condition(c: Condition, path: string): unknown {
  const a = c.attribute;
  const x = c.value;
  switch (c.op) {
    case 'equals': return { '===': [v(a), x] };
    case 'notEquals': return { '!==': [v(a), x] };
    case 'in': return { in: [v(a), x] };
    case 'notIn': return { '!': { in: [v(a), x] } };
    case 'contains': return { in: [x, v(a)] };
    case 'notContains': return { '!': { in: [x, v(a)] } };
    case 'startsWith': return { starts_with: [v(a), x] };
    case 'endsWith': return { ends_with: [v(a), x] };
    case 'lt': return { and: [present(a), { '<': [v(a), x] }] };
    case 'lte': return { and: [present(a), { '<=': [v(a), x] }] };
    case 'gt': return { and: [present(a), { '>': [v(a), x] }] };
    case 'gte': return { and: [present(a), { '>=': [v(a), x] }] };
    case 'semverEq': return { sem_ver: [v(a), '=', x] };
    case 'semverNeq': return { '!': { sem_ver: [v(a), '=', x] } };
    case 'semverLt': return { sem_ver: [v(a), '<', x] };
    case 'semverLte': return { sem_ver: [v(a), '<=', x] };
    case 'semverGt': return { sem_ver: [v(a), '>', x] };
    case 'semverGte': return { sem_ver: [v(a), '>=', x] };
    case 'exists': return present(a);
    case 'notExists': return { '===': [v(a), null] };
    case 'matches': {
      const affix = affixOfPattern(String(x));
      if (affix) return { and: [present(a), { '!': { [affix.op]: [v(a), affix.text] } }] };
      throw new NoEquivalent(path, 'flagd has no regular-expression operator');
    }
  }
}

const all = (parts: unknown[]): unknown => (parts.length === 0 ? true : parts.length === 1 ? parts[0] : { and: parts });

function ruleCondition(r: Rule, path: string): unknown {
  return all([
    ...r.conditions.map((c, i) => condition(c, `${path}.conditions[${i}]`)),
    ...(r.segments ?? []).map((s) => ({ $ref: s })),
    ...(r.excludeSegments ?? []).map((s) => ({ '!': { $ref: s } })),
  ]);
}

function outcome(f: FlagDefinition, r: Rule, path: string, issues: Issue[]): { cond?: unknown; then: unknown } {
  if (!r.rollout) return { then: r.variant };
  const by = r.rollout.bucketBy ?? 'targetingKey';
  const fractional = { fractional: [{ cat: [v('$flagd.flagKey'), v(by)] }, ...r.rollout.weights.map((w) => [w.variant, w.weight])] };
  if (r.rollout.onMissing === 'skip') return { cond: present(by), then: fractional };
  issues.push({ path: `${path}.rollout`, severity: 'warning', message: `without ${by} flagraft answers an error (TARGETING_KEY_MISSING or INVALID_CONTEXT), flagd an error GENERAL: both give the caller's default` });
  return { then: { if: [{ '===': [v(by), null] }, MISSING_BUCKET_VARIANT, fractional] } };
}

/** Writes flagraft flags and segments as one flagd document; what flagd cannot say is reported per flag and that flag left out. */
export function toFlagd(flags: FlagDefinition[], segments: SegmentDefinition[]): FlagdExport {
  const issues: Issue[] = [];
  // Keyed by flag keys and segment names ("constructor" and "toString" are valid ones): no prototype to find them in.
  const out: FlagdExport['document'] = { $schema: 'https://flagd.dev/schema/v0/flags.json', flags: Object.create(null) as Record<string, unknown> };
  const evaluators: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const s of segments) {
    try {
      evaluators[s.name] = all(s.conditions.map((c, i) => condition(c, `segments.${s.name}.conditions[${i}]`)));
    } catch (err) {
      if (!(err instanceof NoEquivalent)) throw err;
      issues.push({ path: err.path, severity: 'error', message: `${err.message}; segment ${s.name} and the flags using it not exported` });
    }
  }
  for (const f of flags) {
    const path = `flags.${f.key}`;
    const flagIssues: Issue[] = [];
    try {
      const branches: unknown[] = [];
      f.rules.forEach((r, i) => {
        for (const s of [...(r.segments ?? []), ...(r.excludeSegments ?? [])]) {
          if (!Object.hasOwn(evaluators, s)) throw new NoEquivalent(`${path}.rules[${i}]`, `segment ${s} could not be exported`);
        }
        const cond = ruleCondition(r, `${path}.rules[${i}]`);
        const o = outcome(f, r, `${path}.rules[${i}]`, flagIssues);
        branches.push(o.cond === undefined ? cond : all([cond, o.cond].filter((x) => x !== true)), o.then);
      });
      const flag: Record<string, unknown> = { state: f.enabled ? 'ENABLED' : 'DISABLED', variants: f.variants, defaultVariant: f.defaultVariant };
      if (branches.length > 0) flag.targeting = { if: branches };
      if (f.metadata && Object.keys(f.metadata).length > 0) flag.metadata = f.metadata;
      if (!f.enabled && (f.offVariant !== undefined || f.type === 'boolean')) {
        flagIssues.push({ path: `${path}.enabled`, severity: 'warning', message: `disabled: flagd answers the caller's default, flagraft ${f.offVariant !== undefined ? `the offVariant ${f.offVariant}` : 'false'}` });
      }
      for (const field of ['description', 'tags', 'owner'] as const) {
        if (f[field] !== undefined) flagIssues.push({ path: `${path}.${field}`, severity: 'warning', message: 'flagd flags have no such field: not exported' });
      }
      out.flags[f.key] = flag;
      issues.push(...flagIssues);
    } catch (err) {
      if (!(err instanceof NoEquivalent)) throw err;
      issues.push({ path: err.path, severity: 'error', message: `${err.message}; flag ${f.key} not exported` });
    }
  }
  if (Object.keys(evaluators).length > 0) out.$evaluators = evaluators;
  return { document: out, issues };
}
