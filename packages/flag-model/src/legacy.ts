// The original design's API (`set key value`, `get key`, bare strings)
// mapped onto typed flags. The mapping (also in README.md):
//
// set(key, "true" | "false")  -> a boolean flag {on: true, off: false}, default = that value
// set(key, any other string)  -> a string flag whose default variant holds the string,
//                                unless the flag already exists as a number (object) flag and
//                                the string is that number (JSON) written canonically:
//                                then it stays a number (object) flag.
// set on an existing flag of the same type keeps its rules, description, tags, owner and
// metadata, switches it on, and makes the new value its default (reusing a variant that
// already holds it). A type change replaces variants and drops the rules.
// get(key) = legacyValueOf(flag): the value served when no rule matches, as a string
//   (booleans "true"/"false", numbers String(n), objects compact JSON). So get returns
//   exactly the string given to set.
import type { FlagDefinition, FlagType, JsonValue } from './types.js';
import { isPlainObject } from './json-util.js';

function typedValue(value: string, existing?: FlagDefinition): [FlagType, JsonValue] {
  if (value === 'true' || value === 'false') return ['boolean', value === 'true'];
  if (existing?.type === 'number') {
    const n = Number(value);
    if (value.trim() !== '' && Number.isFinite(n) && String(n) === value) return ['number', n];
  }
  if (existing?.type === 'object') {
    try {
      const o: unknown = JSON.parse(value);
      if (isPlainObject(o) && JSON.stringify(o) === value) return ['object', o as JsonValue];
    } catch {
      // not JSON: a string flag
    }
  }
  return ['string', value];
}

/** The flag a legacy `set key value` produces (validate it before use). */
export function legacyFlagFromValue(key: string, value: string, existing?: FlagDefinition): FlagDefinition {
  const [type, v] = typedValue(value, existing);
  const keep: Partial<FlagDefinition> = {};
  if (existing) {
    for (const f of ['description', 'tags', 'owner', 'metadata'] as const) {
      if (existing[f] !== undefined) (keep as Record<string, unknown>)[f] = existing[f];
    }
  }
  if (!existing || existing.type !== type) {
    if (type === 'boolean') {
      return { key, type, variants: { on: true, off: false }, defaultVariant: v ? 'on' : 'off', offVariant: 'off', enabled: true, rules: [], ...keep };
    }
    return { key, type, variants: { value: v }, defaultVariant: 'value', enabled: true, rules: [], ...keep };
  }
  const variants = { ...existing.variants };
  const same = (x: JsonValue) => JSON.stringify(x) === JSON.stringify(v);
  let defaultVariant = Object.keys(variants).find((n) => same(variants[n]));
  if (defaultVariant === undefined) {
    const used = new Set<string>();
    if (existing.offVariant !== undefined) used.add(existing.offVariant);
    for (const r of existing.rules) {
      if (r.variant !== undefined) used.add(r.variant);
      for (const w of r.rollout?.weights ?? []) used.add(w.variant);
    }
    if (!used.has(existing.defaultVariant)) defaultVariant = existing.defaultVariant;
    else {
      let i = 1;
      while (Object.prototype.hasOwnProperty.call(variants, `v${i}`)) i++;
      defaultVariant = `v${i}`;
    }
    variants[defaultVariant] = v;
  }
  return { ...existing, variants, defaultVariant, enabled: true };
}

/** The legacy `get`: the flag's value when no rule matches, as a string. */
export function legacyValueOf(flag: FlagDefinition): string {
  let value: JsonValue | undefined = flag.variants[flag.defaultVariant];
  if (!flag.enabled) {
    if (flag.offVariant !== undefined) value = flag.variants[flag.offVariant];
    else if (flag.type === 'boolean') value = false;
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  return JSON.stringify(value ?? null);
}
