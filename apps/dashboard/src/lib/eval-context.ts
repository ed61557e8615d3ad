// The evaluation console's context: a targeting key plus attribute rows
// (name, type, value as typed), turned into the OFREP evaluation context. Rows
// instead of raw JSON only, so an operator types `country` = `DE` rather than
// a JSON document; a `json` row still takes any JSON value (an object, a list).
import type { Condition, JsonValue } from './types';

/** Most attribute rows one evaluation takes. */
export const MAX_CONTEXT_ATTRIBUTES = 100;
/** Longest attribute name, in characters. */
export const MAX_ATTRIBUTE_NAME_CHARS = 200;
/** Longest value as typed, in characters. */
export const MAX_ATTRIBUTE_VALUE_CHARS = 8 * 1024;

export type AttributeType = 'string' | 'number' | 'boolean' | 'json';
export const ATTRIBUTE_TYPES: readonly AttributeType[] = ['string', 'number', 'boolean', 'json'];

export interface ContextRow {
  name: string;
  type: AttributeType;
  value: string;
}

export interface ContextIssue {
  /** `targetingKey`, `attributes[2].name`, `attributes[2].value`, or '' for the whole list. */
  path: string;
  message: string;
}

/**
 * The context, or every problem at once. Rows with an empty name and value are
 * ignored (the blank row the form keeps at the end). The result is built with
 * Object.fromEntries, so a name like `__proto__` is an ordinary own field.
 */
export function contextFromRows(targetingKey: string, rows: readonly ContextRow[]): { context: Record<string, JsonValue> } | { issues: ContextIssue[] } {
  const issues: ContextIssue[] = [];
  const used = rows.filter((r) => r.name.trim() !== '' || r.value !== '');
  if (used.length > MAX_CONTEXT_ATTRIBUTES) return { issues: [{ path: '', message: `at most ${MAX_CONTEXT_ATTRIBUTES} attributes (limit MAX_CONTEXT_ATTRIBUTES)` }] };
  if (targetingKey.length > MAX_ATTRIBUTE_VALUE_CHARS) issues.push({ path: 'targetingKey', message: `longer than ${MAX_ATTRIBUTE_VALUE_CHARS} characters (limit MAX_ATTRIBUTE_VALUE_CHARS)` });
  const entries: [string, JsonValue][] = [];
  const seen = new Set<string>();
  if (targetingKey !== '') {
    entries.push(['targetingKey', targetingKey]);
    seen.add('targetingKey');
  }
  rows.forEach((r, i) => {
    if (r.name.trim() === '' && r.value === '') return;
    const at = `attributes[${i}]`;
    const name = r.name.trim();
    if (name === '') return void issues.push({ path: `${at}.name`, message: 'an attribute needs a name' });
    if (name.length > MAX_ATTRIBUTE_NAME_CHARS) return void issues.push({ path: `${at}.name`, message: `longer than ${MAX_ATTRIBUTE_NAME_CHARS} characters (limit MAX_ATTRIBUTE_NAME_CHARS)` });
    if (seen.has(name)) {
      return void issues.push({ path: `${at}.name`, message: name === 'targetingKey' ? 'use the targeting key field' : `"${name}" is given twice` });
    }
    seen.add(name);
    if (r.value.length > MAX_ATTRIBUTE_VALUE_CHARS) return void issues.push({ path: `${at}.value`, message: `longer than ${MAX_ATTRIBUTE_VALUE_CHARS} characters (limit MAX_ATTRIBUTE_VALUE_CHARS)` });
    const v = typedValue(r.type, r.value);
    if ('error' in v) return void issues.push({ path: `${at}.value`, message: v.error });
    entries.push([name, v.value]);
  });
  return issues.length ? { issues } : { context: Object.fromEntries(entries) };
}

function typedValue(type: AttributeType, raw: string): { value: JsonValue } | { error: string } {
  switch (type) {
    case 'string':
      return { value: raw };
    case 'number': {
      const n = Number(raw.trim());
      return raw.trim() !== '' && Number.isFinite(n) ? { value: n } : { error: `"${raw}" is not a number` };
    }
    case 'boolean': {
      const t = raw.trim().toLowerCase();
      return t === 'true' ? { value: true } : t === 'false' ? { value: false } : { error: 'must be true or false' };
    }
    case 'json':
      try {
        return { value: JSON.parse(raw) as JsonValue };
      } catch (e) {
        return { error: `not JSON: ${(e as Error).message}` };
      }
    default:
      return { error: `unknown type "${String(type)}" (one of ${ATTRIBUTE_TYPES.join(', ')})` };
  }
}

/** Rows from the action's JSON field: an array of {name, type, value} strings, else undefined. */
export function parseRows(raw: unknown): ContextRow[] | undefined {
  if (typeof raw !== 'string') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length > MAX_CONTEXT_ATTRIBUTES + 1) return undefined;
  const out: ContextRow[] = [];
  for (const r of v) {
    const o = r as Partial<Record<keyof ContextRow, unknown>>;
    if (!o || typeof o.name !== 'string' || typeof o.value !== 'string' || !ATTRIBUTE_TYPES.includes(o.type as AttributeType)) return undefined;
    out.push({ name: o.name, type: o.type as AttributeType, value: o.value });
  }
  return out;
}

/** A condition for people: `country in ["DE","FR"]`, `beta exists`. */
export function conditionText(c: Condition): string {
  return `${c.attribute} ${c.op}${c.value === undefined ? '' : ` ${JSON.stringify(c.value)}`}`;
}
