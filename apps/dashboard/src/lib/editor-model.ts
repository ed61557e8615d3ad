// The flag editor's state: FlagDefinition with every typed value held as the
// text the user typed, so half-typed input (a JSON object, a number) never
// breaks the form. toDefinition() turns it back, reporting parse problems in
// flag-model's path style; the full validation is flag-model's (server side).
import type { Condition, ConditionScalar, FlagDefinition, FlagType, JsonValue, Rule, SegmentDefinition, ValidationIssue } from './types';
import { CONDITION_OPS } from './types';

export interface VariantRow {
  name: string;
  value: string;
}
export interface ConditionRow {
  attribute: string;
  op: string;
  value: string;
  /** Type of the loaded value, so a number or boolean survives an edit round trip. */
  valueType: 'string' | 'number' | 'boolean';
}
export interface WeightRow {
  variant: string;
  weight: string;
}
export interface RuleRow {
  id: string;
  description: string;
  conditions: ConditionRow[];
  /** Segment names, in the order picked (all must match). */
  segments: string[];
  /** Segment names none of which may match. */
  excludeSegments: string[];
  mode: 'variant' | 'rollout';
  variant: string;
  weights: WeightRow[];
  bucketBy: string;
}
export interface EditorState {
  key: string;
  type: FlagType;
  enabled: boolean;
  variants: VariantRow[];
  defaultVariant: string;
  offVariant: string;
  rules: RuleRow[];
  description: string;
  tags: string;
  owner: string;
  /** Not edited here; carried through unchanged. */
  metadataJson: string;
}

function valueText(type: FlagType, v: JsonValue): string {
  if (type === 'string') return typeof v === 'string' ? v : JSON.stringify(v);
  if (type === 'object') return JSON.stringify(v, null, 2);
  return String(v);
}

function scalarType(v: unknown): ConditionRow['valueType'] {
  return typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string';
}

function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

export function fromDefinition(f: FlagDefinition): EditorState {
  return {
    key: f.key,
    type: f.type,
    enabled: f.enabled,
    variants: Object.entries(f.variants).map(([name, v]) => ({ name, value: valueText(f.type, v) })),
    defaultVariant: f.defaultVariant,
    offVariant: f.offVariant ?? '',
    rules: (f.rules ?? []).map(ruleRow),
    description: f.description ?? '',
    tags: (f.tags ?? []).join(', '),
    owner: f.owner ?? '',
    metadataJson: f.metadata && Object.keys(f.metadata).length ? JSON.stringify(f.metadata) : '',
  };
}

export function conditionRow(c: Condition): ConditionRow {
  const first = Array.isArray(c.value) ? c.value[0] : c.value;
  return {
    attribute: c.attribute,
    op: c.op,
    value: Array.isArray(c.value) ? c.value.map(String).join(', ') : c.value === undefined ? '' : String(c.value),
    valueType: scalarType(first),
  };
}

function ruleRow(r: Rule, i: number): RuleRow {
  return {
    id: r.id ?? `rule-${i + 1}`,
    description: r.description ?? '',
    conditions: (r.conditions ?? []).map(conditionRow),
    segments: [...(r.segments ?? [])],
    excludeSegments: [...(r.excludeSegments ?? [])],
    mode: r.rollout ? 'rollout' : 'variant',
    variant: r.variant ?? '',
    weights: (r.rollout?.weights ?? []).map((w) => ({ variant: w.variant, weight: String(w.weight) })),
    bucketBy: r.rollout?.bucketBy ?? '',
  };
}

/** Starting values for a new flag of a type. */
export function newFlagState(type: FlagType, key = ''): EditorState {
  const variants: VariantRow[] =
    type === 'boolean'
      ? [
          { name: 'on', value: 'true' },
          { name: 'off', value: 'false' },
        ]
      : type === 'number'
        ? [
            { name: 'low', value: '0' },
            { name: 'high', value: '1' },
          ]
        : type === 'object'
          ? [
              { name: 'a', value: '{}' },
              { name: 'b', value: '{}' },
            ]
          : [
              { name: 'control', value: 'control' },
              { name: 'treatment', value: 'treatment' },
            ];
  return {
    key,
    type,
    enabled: true,
    variants,
    defaultVariant: variants[1].name,
    offVariant: type === 'boolean' ? 'off' : '',
    rules: [],
    description: '',
    tags: '',
    owner: '',
    metadataJson: '',
  };
}

export function newRule(state: EditorState, index: number): RuleRow {
  return {
    id: `rule-${index + 1}`,
    description: '',
    conditions: [{ attribute: '', op: 'equals', value: '', valueType: 'string' }],
    segments: [],
    excludeSegments: [],
    mode: 'variant',
    variant: state.variants[0]?.name ?? '',
    weights: state.variants.map((v) => ({ variant: v.name, weight: '0' })),
    bucketBy: '',
  };
}

/**
 * Renames variant `index` and carries the references to its old name along
 * (default and off variant, rule variants, rollout weights), so renaming the
 * default variant does not leave the form pointing at a name that is gone
 * while its <select> shows another. References stay where they are when
 * another variant still has the old name (the rename made a duplicate and
 * the references belong to that one), and an empty off variant means "none",
 * never a variant being retyped.
 */
export function renameVariant(s: EditorState, index: number, name: string): void {
  const row = s.variants[index];
  if (!row) return;
  const old = row.name;
  row.name = name;
  if (old === name || s.variants.some((v, i) => i !== index && v.name === old)) return;
  if (s.defaultVariant === old) s.defaultVariant = name;
  if (old !== '' && s.offVariant === old) s.offVariant = name;
  for (const r of s.rules) {
    if (r.variant === old) r.variant = name;
    for (const w of r.weights) if (w.variant === old) w.variant = name;
  }
}

export function parseVariantValue(type: FlagType, text: string): { value?: JsonValue; error?: string } {
  const t = text.trim();
  if (type === 'boolean') {
    if (t === 'true') return { value: true };
    if (t === 'false') return { value: false };
    return { error: 'must be true or false' };
  }
  if (type === 'number') {
    if (t === '' || !Number.isFinite(Number(t))) return { error: 'must be a finite number' };
    return { value: Number(t) };
  }
  if (type === 'object') {
    try {
      const v = JSON.parse(text) as JsonValue;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return { error: 'must be a JSON object, e.g. {"color": "blue"}' };
      return { value: v };
    } catch (e) {
      return { error: `is not valid JSON (${(e as Error).message})` };
    }
  }
  return { value: text };
}

function conditionValue(c: ConditionRow): Condition['value'] {
  const kind = CONDITION_OPS.find((o) => o.op === c.op)?.value ?? 'text';
  const coerce = (s: string): ConditionScalar => {
    if (c.valueType === 'number' && s !== '' && Number.isFinite(Number(s))) return Number(s);
    if (c.valueType === 'boolean' && (s === 'true' || s === 'false')) return s === 'true';
    return s;
  };
  if (kind === 'none') return undefined;
  if (kind === 'list') return splitList(c.value).map(coerce);
  if (kind === 'number') return c.value.trim() !== '' && Number.isFinite(Number(c.value)) ? Number(c.value) : c.value;
  return coerce(c.value);
}

export function toConditions(rows: ConditionRow[]): Condition[] {
  return rows.map((c) => {
    const out: Condition = { attribute: c.attribute.trim(), op: c.op as Condition['op'] };
    const v = conditionValue(c);
    if (v !== undefined) out.value = v;
    return out;
  });
}

/** The definition the editor describes, plus problems found while parsing typed text. */
export function toDefinition(s: EditorState): { flag: FlagDefinition; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  // Variant names are user data ("constructor", "__proto__" are valid names):
  // no prototype to look them up in or to overwrite.
  const variants: Record<string, JsonValue> = Object.create(null);
  s.variants.forEach((v, i) => {
    const name = v.name.trim();
    if (!name) {
      issues.push({ path: `variants[${i}]`, message: 'variant name is required' });
      return;
    }
    if (Object.hasOwn(variants, name)) issues.push({ path: `variants.${name}`, message: 'duplicate variant name' });
    const p = parseVariantValue(s.type, v.value);
    if (p.error) issues.push({ path: `variants.${name}`, message: p.error });
    variants[name] = p.value ?? null;
  });
  const rules: Rule[] = s.rules.map((r, i) => {
    const rule: Rule = { conditions: toConditions(r.conditions) };
    if (r.id.trim()) rule.id = r.id.trim();
    if (r.description.trim()) rule.description = r.description.trim();
    if (r.segments.length) rule.segments = [...r.segments];
    if (r.excludeSegments.length) rule.excludeSegments = [...r.excludeSegments];
    if (r.mode === 'rollout') {
      rule.rollout = {
        weights: r.weights.map((w, j) => {
          const n = Number(w.weight);
          if (w.weight.trim() === '' || !Number.isInteger(n) || n < 0) {
            issues.push({ path: `rules[${i}].rollout.weights[${j}].weight`, message: 'must be a whole number ≥ 0' });
          }
          return { variant: w.variant, weight: Number.isFinite(n) ? n : 0 };
        }),
      };
      if (r.bucketBy.trim()) rule.rollout.bucketBy = r.bucketBy.trim();
      // flag-model only needs a positive total (shares are weight / total);
      // the editor presents percentages, so it asks for exactly 100.
      const total = rule.rollout.weights.reduce((a, w) => a + w.weight, 0);
      if (total !== 100) {
        issues.push({ path: `rules[${i}].rollout.weights`, message: `add up to ${total}%; they must add up to 100%` });
      }
    } else {
      rule.variant = r.variant;
    }
    return rule;
  });
  const flag: FlagDefinition = {
    key: s.key.trim(),
    type: s.type,
    variants,
    defaultVariant: s.defaultVariant,
    enabled: s.enabled,
    rules,
  };
  if (s.offVariant) flag.offVariant = s.offVariant;
  if (s.description.trim()) flag.description = s.description.trim();
  const tags = splitList(s.tags);
  if (tags.length) flag.tags = tags;
  if (s.owner.trim()) flag.owner = s.owner.trim();
  if (s.metadataJson.trim()) {
    try {
      flag.metadata = JSON.parse(s.metadataJson);
    } catch {
      issues.push({ path: 'metadata', message: 'is not valid JSON' });
    }
  }
  return { flag, issues };
}

export interface SegmentState {
  name: string;
  description: string;
  conditions: ConditionRow[];
}

export function segmentState(s?: SegmentDefinition): SegmentState {
  return {
    name: s?.name ?? '',
    description: s?.description ?? '',
    conditions: s ? s.conditions.map(conditionRow) : [{ attribute: '', op: 'equals', value: '', valueType: 'string' }],
  };
}

export function toSegment(s: SegmentState): SegmentDefinition {
  const out: SegmentDefinition = { name: s.name.trim(), conditions: toConditions(s.conditions) };
  if (s.description.trim()) out.description = s.description.trim();
  return out;
}

/** Percent share of each weight (0 when the total is 0), for the rollout bar. */
export function weightShares(weights: WeightRow[]): { variant: string; pct: number }[] {
  const nums = weights.map((w) => Math.max(0, Number(w.weight) || 0));
  const total = nums.reduce((a, b) => a + b, 0);
  return weights.map((w, i) => ({ variant: w.variant, pct: total ? (nums[i] / total) * 100 : 0 }));
}

/** Issues whose path is `prefix` or lies under it. */
export function issuesAt(issues: ValidationIssue[], prefix: string): ValidationIssue[] {
  return issues.filter((i) => i.path === prefix || i.path.startsWith(prefix + '.') || i.path.startsWith(prefix + '['));
}

/** `names` with `name` added (at the end, once) or removed: the segment picker's checkboxes. */
export function withName(names: readonly string[], name: string, on: boolean): string[] {
  const rest = names.filter((n) => n !== name);
  return on ? [...rest, name] : rest;
}
