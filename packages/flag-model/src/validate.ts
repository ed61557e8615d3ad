// Validation of flag and segment definitions. Returns a normalized deep copy
// (defaults filled in, nulls for optional fields dropped) or throws
// ValidationError listing every problem with its field path. Whatever the
// input (cycles, proxies, throwing getters, huge arrays), the only thing that
// escapes is a ValidationError: the work done is bounded by the limits, checked
// before iterating.
import type { ValidationError } from './errors.js';
import { LIMITS, NAME_PATTERN } from './limits.js';
import { fieldPath, indexPath, isPlainObject, utf8Length } from './json-util.js';
import { checkString, checkUnknown, guarded, Issues, key, name, opt } from './validate-util.js';
import { checkConditions } from './validate-conditions.js';
import type {
  FlagDefinition, FlagType, JsonValue, Rollout, RolloutWeight, Rule, SegmentDefinition, ValidationIssue,
} from './types.js';

export { CONDITION_OPS } from './validate-conditions.js';
export { MAX_ISSUES } from './validate-util.js';

export const FLAG_TYPES: readonly FlagType[] = ['boolean', 'string', 'number', 'object'];
const FLAG_FIELDS = new Set(['key', 'type', 'variants', 'defaultVariant', 'offVariant', 'enabled', 'rules',
  'description', 'tags', 'owner', 'metadata']);
const RULE_FIELDS = new Set(['id', 'description', 'conditions', 'segments', 'excludeSegments', 'variant', 'rollout']);
const ROLLOUT_FIELDS = new Set(['weights', 'bucketBy', 'onMissing']);
const WEIGHT_FIELDS = new Set(['variant', 'weight']);
const SEGMENT_FIELDS = new Set(['name', 'description', 'conditions']);

/** Validates a flag definition; returns a normalized copy or throws ValidationError. */
export function validateFlag(input: unknown): FlagDefinition {
  return guarded('flag', (is) => checkFlag(input, is));
}

/** Validates a segment definition; returns a normalized copy or throws ValidationError. */
export function validateSegment(input: unknown): SegmentDefinition {
  return guarded('segment', (is) => checkSegment(input, is));
}

/** Non-throwing form: the issues, or [] when valid. */
export function flagIssues(input: unknown): ValidationIssue[] {
  try {
    validateFlag(input);
    return [];
  } catch (e) {
    return (e as ValidationError).issues;
  }
}

function checkFlag(input: unknown, is: Issues): FlagDefinition | undefined {
  if (!isPlainObject(input)) {
    is.add('', 'must be an object');
    return undefined;
  }
  const o = input;
  checkUnknown(o, FLAG_FIELDS, '', is);
  const k = key(o.key, 'key', is);
  let type: FlagType | undefined;
  if (typeof o.type === 'string' && (FLAG_TYPES as readonly string[]).includes(o.type)) type = o.type as FlagType;
  else is.add('type', `must be one of ${FLAG_TYPES.join(', ')}`);

  const variants = checkVariants(o.variants, type, is);
  // Variant references are still checked when a variant's *value* is wrong (the
  // names are known): every problem is reported at once, not one per attempt.
  const variantNames = variants ? new Set(Object.keys(variants)) : namesOf(o.variants);
  const variantRef = (v: unknown, p: string): string | undefined => {
    const n = typeof v === 'string' ? v : undefined;
    if (n === undefined) {
      is.add(p, 'must be a string naming a variant');
      return undefined;
    }
    if (variantNames && !variantNames.has(n)) is.add(p, `unknown variant "${n.slice(0, LIMITS.maxNameChars)}"`);
    return n;
  };

  const defaultVariant = variantRef(o.defaultVariant, 'defaultVariant');
  const offRaw = opt(o, 'offVariant');
  const offVariant = offRaw === undefined ? undefined : variantRef(offRaw, 'offVariant');
  const enabledRaw = opt(o, 'enabled');
  let enabled = true;
  if (enabledRaw !== undefined) {
    if (typeof enabledRaw === 'boolean') enabled = enabledRaw;
    else is.add('enabled', 'must be a boolean');
  }

  const rules: Rule[] = [];
  const rulesRaw = opt(o, 'rules');
  if (rulesRaw !== undefined) {
    if (!Array.isArray(rulesRaw)) is.add('rules', 'must be an array');
    else if (rulesRaw.length > LIMITS.maxRules) is.add('rules', `must have at most ${LIMITS.maxRules} rules (got ${rulesRaw.length})`);
    else {
      const ids = new Set<string>();
      for (let i = 0; i < rulesRaw.length && !is.full; i++) {
        const r = checkRule(rulesRaw[i], indexPath('rules', i), variantRef, is);
        if (!r) continue;
        if (r.id !== undefined) {
          if (ids.has(r.id)) is.add(indexPath('rules', i) + '.id', `duplicate rule id "${r.id}"`);
          ids.add(r.id);
        }
        rules.push(r);
      }
    }
  }

  const out: FlagDefinition = {
    key: k as string, type: type as FlagType, variants: variants as Record<string, JsonValue>,
    defaultVariant: defaultVariant as string, enabled, rules,
  };
  if (offVariant !== undefined) out.offVariant = offVariant;
  const description = opt(o, 'description');
  if (description !== undefined) {
    const d = checkString(description, 'description', is, LIMITS.maxDescriptionChars);
    if (d !== undefined) out.description = d;
  }
  const tags = checkTags(opt(o, 'tags'), is);
  if (tags) out.tags = tags;
  const owner = opt(o, 'owner');
  if (owner !== undefined) {
    const w = checkString(owner, 'owner', is, LIMITS.maxOwnerChars);
    if (w !== undefined) out.owner = w;
  }
  const metadata = checkMetadata(opt(o, 'metadata'), is);
  if (metadata) out.metadata = metadata;

  if (is.list.length === 0) {
    const bytes = utf8Length(JSON.stringify(out));
    if (bytes > LIMITS.maxFlagBytes) is.add('', `flag is ${bytes} bytes as JSON, more than the limit of ${LIMITS.maxFlagBytes}`);
  }
  return is.list.length === 0 ? out : undefined;
}

/** The well-formed variant names of a variants object whose values failed validation; undefined when there is no such object. */
function namesOf(v: unknown): Set<string> | undefined {
  if (!isPlainObject(v)) return undefined;
  const names = Object.keys(v);
  if (names.length === 0 || names.length > LIMITS.maxVariants) return undefined;
  return new Set(names.filter((n) => n.length <= LIMITS.maxNameChars && NAME_PATTERN.test(n)));
}

function checkVariants(v: unknown, type: FlagType | undefined, is: Issues): Record<string, JsonValue> | undefined {
  if (!isPlainObject(v)) {
    is.add('variants', 'must be an object of variant name -> value');
    return undefined;
  }
  const names = Object.keys(v);
  if (names.length === 0) {
    is.add('variants', 'must have at least 1 variant');
    return undefined;
  }
  if (names.length > LIMITS.maxVariants) {
    is.add('variants', `must have at most ${LIMITS.maxVariants} variants (got ${names.length})`);
    return undefined;
  }
  const out: [string, JsonValue][] = [];
  let ok = true;
  for (const n of names) {
    const p = fieldPath('variants', n);
    if (name(n, p, is) === undefined) {
      ok = false;
      continue;
    }
    const value = v[n];
    if (type === undefined) continue;
    const checked = checkVariantValue(value, type, p, is);
    if (checked === undefined) ok = false;
    else out.push([n, checked]);
  }
  return ok && type !== undefined ? Object.fromEntries(out) : undefined;
}

function checkVariantValue(value: unknown, type: FlagType, path: string, is: Issues): JsonValue | undefined {
  switch (type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      is.add(path, 'must be a boolean (the flag type)');
      return undefined;
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      is.add(path, 'must be a finite number (the flag type)');
      return undefined;
    case 'string':
      if (typeof value === 'string') return checkString(value, path, is, LIMITS.maxStringValueChars);
      is.add(path, 'must be a string (the flag type)');
      return undefined;
    case 'object':
      if (!isPlainObject(value)) {
        is.add(path, 'must be a JSON object (the flag type)');
        return undefined;
      }
      return checkJson(value, path, 1, { nodes: 0 }, is);
  }
}

/** Deep-copies a JSON value, enforcing depth, node count, string length and finite numbers. */
function checkJson(v: unknown, path: string, depth: number, count: { nodes: number }, is: Issues): JsonValue | undefined {
  if (++count.nodes > LIMITS.maxObjectNodes) {
    if (count.nodes === LIMITS.maxObjectNodes + 1) is.add(path, `object values may hold at most ${LIMITS.maxObjectNodes} keys and items in total`);
    return undefined;
  }
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return v;
    is.add(path, 'must be a finite number');
    return undefined;
  }
  if (typeof v === 'string') return checkString(v, path, is, LIMITS.maxStringValueChars);
  if (Array.isArray(v) || isPlainObject(v)) {
    if (depth > LIMITS.maxObjectDepth) {
      is.add(path, `nesting deeper than ${LIMITS.maxObjectDepth} levels`);
      return undefined;
    }
    if (Array.isArray(v)) {
      const out: JsonValue[] = [];
      for (let i = 0; i < v.length; i++) {
        const c = checkJson(v[i], indexPath(path, i), depth + 1, count, is);
        if (c === undefined) return undefined;
        out.push(c);
      }
      return out;
    }
    const entries: [string, JsonValue][] = [];
    for (const k of Object.keys(v)) {
      const p = fieldPath(path, k);
      if (k.length > LIMITS.maxStringValueChars) {
        is.add(p, `key longer than ${LIMITS.maxStringValueChars} characters`);
        return undefined;
      }
      const c = checkJson((v as Record<string, unknown>)[k], p, depth + 1, count, is);
      if (c === undefined) return undefined;
      entries.push([k, c]);
    }
    return Object.fromEntries(entries); // defines own properties, so "__proto__" stays data
  }
  is.add(path, 'must be a JSON value (string, number, boolean, null, array or object)');
  return undefined;
}

function checkRule(
  v: unknown, path: string, variantRef: (v: unknown, p: string) => string | undefined, is: Issues,
): Rule | undefined {
  if (!isPlainObject(v)) {
    is.add(path, 'must be an object');
    return undefined;
  }
  const before = is.list.length;
  checkUnknown(v, RULE_FIELDS, path, is);
  const rule: Rule = { conditions: [] };
  const id = opt(v, 'id');
  if (id !== undefined) {
    const n = name(id, path + '.id', is);
    if (n !== undefined) rule.id = n;
  }
  const description = opt(v, 'description');
  if (description !== undefined) {
    const d = checkString(description, path + '.description', is, LIMITS.maxDescriptionChars);
    if (d !== undefined) rule.description = d;
  }
  rule.conditions = checkConditions(opt(v, 'conditions'), path + '.conditions', is, false) ?? [];

  const segs = checkSegmentRefs(opt(v, 'segments'), path + '.segments', is);
  const excl = checkSegmentRefs(opt(v, 'excludeSegments'), path + '.excludeSegments', is);
  if ((segs?.length ?? 0) + (excl?.length ?? 0) > LIMITS.maxSegmentRefsPerRule) {
    is.add(path, `must reference at most ${LIMITS.maxSegmentRefsPerRule} segments in total`);
  }
  if (segs && excl) for (const s of segs) if (excl.includes(s)) is.add(path + '.excludeSegments', `"${s}" is also in segments`);
  if (segs && segs.length > 0) rule.segments = segs;
  if (excl && excl.length > 0) rule.excludeSegments = excl;

  const variant = opt(v, 'variant');
  const rollout = opt(v, 'rollout');
  if (variant === undefined && rollout === undefined) is.add(path, 'must have either variant or rollout');
  else if (variant !== undefined && rollout !== undefined) is.add(path, 'must have either variant or rollout, not both');
  else if (variant !== undefined) {
    const n = variantRef(variant, path + '.variant');
    if (n !== undefined) rule.variant = n;
  } else {
    const r = checkRollout(rollout, path + '.rollout', variantRef, is);
    if (r) rule.rollout = r;
  }
  return is.list.length === before ? rule : undefined;
}

function checkSegmentRefs(v: unknown, path: string, is: Issues): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) {
    is.add(path, 'must be an array of segment names');
    return undefined;
  }
  if (v.length > LIMITS.maxSegmentRefsPerRule) {
    is.add(path, `must have at most ${LIMITS.maxSegmentRefsPerRule} segments (got ${v.length})`);
    return undefined;
  }
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) {
    const n = key(v[i], indexPath(path, i), is);
    if (n === undefined) continue;
    if (out.includes(n)) is.add(indexPath(path, i), `duplicate segment "${n}"`);
    else out.push(n);
  }
  return out;
}

function checkRollout(
  v: unknown, path: string, variantRef: (v: unknown, p: string) => string | undefined, is: Issues,
): Rollout | undefined {
  if (!isPlainObject(v)) {
    is.add(path, 'must be an object');
    return undefined;
  }
  const before = is.list.length;
  checkUnknown(v, ROLLOUT_FIELDS, path, is);
  const wp = path + '.weights';
  const w = v.weights;
  const weights: RolloutWeight[] = [];
  if (!Array.isArray(w)) is.add(wp, 'must be an array of {variant, weight}');
  else if (w.length === 0) is.add(wp, 'must have at least 1 entry');
  else if (w.length > LIMITS.maxVariants) is.add(wp, `must have at most ${LIMITS.maxVariants} entries (got ${w.length})`);
  else {
    let total = 0;
    const seen = new Set<string>();
    for (let i = 0; i < w.length; i++) {
      const ep = indexPath(wp, i);
      const e = w[i];
      if (!isPlainObject(e)) {
        is.add(ep, 'must be an object {variant, weight}');
        continue;
      }
      checkUnknown(e, WEIGHT_FIELDS, ep, is);
      const n = variantRef(e.variant, ep + '.variant');
      if (n !== undefined && seen.has(n)) is.add(ep + '.variant', `duplicate variant "${n}"`);
      if (n !== undefined) seen.add(n);
      const weight = e.weight;
      if (typeof weight !== 'number' || !Number.isSafeInteger(weight) || weight < 0) {
        is.add(ep + '.weight', 'must be a non-negative integer');
        continue;
      }
      total += weight;
      if (n !== undefined) weights.push({ variant: n, weight });
    }
    if (is.list.length === before) {
      if (total <= 0) is.add(wp, 'must sum to more than 0');
      else if (total > LIMITS.maxWeightTotal) is.add(wp, `must sum to at most ${LIMITS.maxWeightTotal} (got ${total})`);
    }
  }
  const out: Rollout = { weights };
  const bucketBy = opt(v, 'bucketBy');
  if (bucketBy !== undefined) {
    const b = checkString(bucketBy, path + '.bucketBy', is, LIMITS.maxAttributeChars);
    if (b !== undefined && b.length === 0) is.add(path + '.bucketBy', 'must not be empty');
    else if (b !== undefined) out.bucketBy = b;
  }
  const onMissing = opt(v, 'onMissing');
  if (onMissing !== undefined) {
    if (onMissing === 'error' || onMissing === 'skip') out.onMissing = onMissing;
    else is.add(path + '.onMissing', 'must be "error" or "skip"');
  }
  return is.list.length === before ? out : undefined;
}

function checkTags(v: unknown, is: Issues): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) {
    is.add('tags', 'must be an array of strings');
    return undefined;
  }
  if (v.length > LIMITS.maxTags) {
    is.add('tags', `must have at most ${LIMITS.maxTags} tags (got ${v.length})`);
    return undefined;
  }
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) {
    const t = name(v[i], indexPath('tags', i), is);
    if (t === undefined) continue;
    if (out.includes(t)) is.add(indexPath('tags', i), `duplicate tag "${t}"`);
    else out.push(t);
  }
  return out;
}

function checkMetadata(v: unknown, is: Issues): Record<string, string | number | boolean> | undefined {
  if (v === undefined) return undefined;
  if (!isPlainObject(v)) {
    is.add('metadata', 'must be an object of name -> string, number or boolean');
    return undefined;
  }
  const keys = Object.keys(v);
  if (keys.length > LIMITS.maxMetadataEntries) {
    is.add('metadata', `must have at most ${LIMITS.maxMetadataEntries} entries (got ${keys.length})`);
    return undefined;
  }
  const out: [string, string | number | boolean][] = [];
  for (const k of keys) {
    const p = fieldPath('metadata', k);
    if (name(k, p, is) === undefined) continue;
    const x = v[k];
    if (typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x))) out.push([k, x]);
    else if (typeof x === 'string') {
      const s = checkString(x, p, is, LIMITS.maxMetadataValueChars);
      if (s !== undefined) out.push([k, s]);
    } else is.add(p, 'must be a string, finite number or boolean');
  }
  return Object.fromEntries(out);
}

function checkSegment(input: unknown, is: Issues): SegmentDefinition | undefined {
  if (!isPlainObject(input)) {
    is.add('', 'must be an object');
    return undefined;
  }
  checkUnknown(input, SEGMENT_FIELDS, '', is);
  const n = key(input.name, 'name', is);
  const conditions = checkConditions(input.conditions, 'conditions', is, true);
  const out: SegmentDefinition = { name: n as string, conditions: conditions ?? [] };
  const description = opt(input, 'description');
  if (description !== undefined) {
    const d = checkString(description, 'description', is, LIMITS.maxDescriptionChars);
    if (d !== undefined) out.description = d;
  }
  if (is.list.length === 0) {
    const bytes = utf8Length(JSON.stringify(out));
    if (bytes > LIMITS.maxSegmentBytes) is.add('', `segment is ${bytes} bytes as JSON, more than the limit of ${LIMITS.maxSegmentBytes}`);
  }
  return is.list.length === 0 ? out : undefined;
}

/** Segment names a flag's rules reference (segments and excludeSegments), without duplicates. */
export function referencedSegments(flag: FlagDefinition): string[] {
  const out = new Set<string>();
  for (const r of flag.rules) {
    if (r.segments) for (const s of r.segments) out.add(s);
    if (r.excludeSegments) for (const s of r.excludeSegments) out.add(s);
  }
  return [...out];
}
