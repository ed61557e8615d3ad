// Validation of conditions (shared by rules and segments).
import { LIMITS } from './limits.js';
import { hasOwn, indexPath, isPlainObject } from './json-util.js';
import { parseSemver } from './semver.js';
import { compileSafeRegex } from './regex.js';
import { checkString, checkUnknown, type Issues } from './validate-util.js';
import type { Condition, ConditionOp, ConditionScalar } from './types.js';

export const CONDITION_OPS: readonly ConditionOp[] = [
  'equals', 'notEquals', 'in', 'notIn', 'contains', 'notContains', 'startsWith', 'endsWith',
  'lt', 'lte', 'gt', 'gte', 'semverEq', 'semverNeq', 'semverLt', 'semverLte', 'semverGt', 'semverGte',
  'exists', 'notExists', 'matches',
];
const SCALAR_OPS = new Set<ConditionOp>(['equals', 'notEquals']);
const LIST_OPS = new Set<ConditionOp>(['in', 'notIn']);
const STRING_OPS = new Set<ConditionOp>(['contains', 'notContains', 'startsWith', 'endsWith']);
const NUMBER_OPS = new Set<ConditionOp>(['lt', 'lte', 'gt', 'gte']);
const SEMVER_OPS = new Set<ConditionOp>(['semverEq', 'semverNeq', 'semverLt', 'semverLte', 'semverGt', 'semverGte']);
const PRESENCE_OPS = new Set<ConditionOp>(['exists', 'notExists']);

const CONDITION_FIELDS = new Set(['attribute', 'op', 'value']);

export function checkConditions(v: unknown, path: string, is: Issues, required: boolean): Condition[] | undefined {
  if (v === undefined && !required) return [];
  if (!Array.isArray(v)) {
    is.add(path, 'must be an array of conditions');
    return undefined;
  }
  if (v.length > LIMITS.maxConditions) {
    is.add(path, `must have at most ${LIMITS.maxConditions} conditions (got ${v.length})`);
    return undefined;
  }
  const out: Condition[] = [];
  for (let i = 0; i < v.length && !is.full; i++) {
    const c = checkCondition(v[i], indexPath(path, i), is);
    if (c) out.push(c);
  }
  return out;
}

function checkScalar(v: unknown, path: string, is: Issues): ConditionScalar | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return v;
    is.add(path, 'must be a finite number');
    return undefined;
  }
  if (typeof v === 'string') return checkString(v, path, is, LIMITS.maxStringValueChars);
  is.add(path, 'must be a string, number or boolean');
  return undefined;
}

function checkCondition(v: unknown, path: string, is: Issues): Condition | undefined {
  if (!isPlainObject(v)) {
    is.add(path, 'must be an object {attribute, op, value}');
    return undefined;
  }
  const before = is.list.length;
  checkUnknown(v, CONDITION_FIELDS, path, is);
  const attribute = checkString(v.attribute, path + '.attribute', is, LIMITS.maxAttributeChars);
  if (attribute !== undefined && attribute.length === 0) is.add(path + '.attribute', 'must not be empty');
  const op = v.op;
  if (typeof op !== 'string' || !(CONDITION_OPS as readonly string[]).includes(op)) {
    is.add(path + '.op', `must be one of ${CONDITION_OPS.join(', ')}`);
    return undefined;
  }
  const o = op as ConditionOp;
  const vp = path + '.value';
  const raw = hasOwn(v, 'value') ? v.value : undefined;
  let value: ConditionScalar | ConditionScalar[] | undefined;
  if (PRESENCE_OPS.has(o)) {
    if (raw !== undefined && raw !== null) is.add(vp, `must be absent for ${o}`);
  } else if (raw === undefined || raw === null) {
    is.add(vp, `is required for ${o}`);
  } else if (SCALAR_OPS.has(o)) {
    value = checkScalar(raw, vp, is);
  } else if (LIST_OPS.has(o)) {
    if (!Array.isArray(raw)) is.add(vp, `must be an array for ${o}`);
    else if (raw.length === 0) is.add(vp, 'must have at least 1 item');
    else if (raw.length > LIMITS.maxListItems) is.add(vp, `must have at most ${LIMITS.maxListItems} items (got ${raw.length})`);
    else {
      const list: ConditionScalar[] = [];
      for (let i = 0; i < raw.length; i++) {
        const s = checkScalar(raw[i], indexPath(vp, i), is);
        if (s !== undefined) list.push(s);
      }
      value = list;
    }
  } else if (STRING_OPS.has(o)) {
    value = checkString(raw, vp, is, LIMITS.maxStringValueChars);
  } else if (NUMBER_OPS.has(o)) {
    if (typeof raw === 'number' && Number.isFinite(raw)) value = raw;
    else is.add(vp, `must be a finite number for ${o}`);
  } else if (SEMVER_OPS.has(o)) {
    if (typeof raw === 'string' && parseSemver(raw)) value = raw;
    else is.add(vp, `must be a semantic version such as "1.2.3" for ${o}`);
  } else if (o === 'matches') {
    const pattern = checkString(raw, vp, is, LIMITS.maxRegexChars);
    if (pattern !== undefined) {
      const re = compileSafeRegex(pattern);
      if (typeof re === 'string') is.add(vp, re);
      else value = pattern;
    }
  }
  if (is.list.length !== before) return undefined;
  const c: Condition = { attribute: attribute as string, op: o };
  if (value !== undefined) c.value = value;
  return c;
}
