// Conditions compiled once into flat, same-shaped objects that one switch
// tests: no parsing, no allocation and no closures on the hot path.
// Semantics (see README): positive operators need an attribute of the right
// type (a missing or mistyped attribute does not match); each negated
// operator (notEquals, notIn, notContains, semverNeq, notExists) matches
// exactly when its positive form does not.
import { LIMITS } from './limits.js';
import { compareSemver, parseSemver, type SemVer } from './semver.js';
import { compileSafeRegex, type SafeRegex } from './regex.js';
import { hasOwn } from './json-util.js';
import type { Condition, ConditionScalar } from './types.js';

enum Op {
  Equals, In, Contains, StartsWith, EndsWith, Lt, Lte, Gt, Gte, SemverEq, SemverLt, SemverLte, SemverGt, SemverGte,
  Exists, Matches,
}

const OPS: Record<Condition['op'], [Op, boolean]> = {
  equals: [Op.Equals, false], notEquals: [Op.Equals, true],
  in: [Op.In, false], notIn: [Op.In, true],
  contains: [Op.Contains, false], notContains: [Op.Contains, true],
  startsWith: [Op.StartsWith, false], endsWith: [Op.EndsWith, false],
  lt: [Op.Lt, false], lte: [Op.Lte, false], gt: [Op.Gt, false], gte: [Op.Gte, false],
  semverEq: [Op.SemverEq, false], semverNeq: [Op.SemverEq, true],
  semverLt: [Op.SemverLt, false], semverLte: [Op.SemverLte, false],
  semverGt: [Op.SemverGt, false], semverGte: [Op.SemverGte, false],
  exists: [Op.Exists, false], notExists: [Op.Exists, true],
  matches: [Op.Matches, false],
};

export interface CompiledCondition {
  readonly attribute: string;
  /** Dotted path for nested lookup when the whole name is not a top-level key; null if no dot. */
  readonly path: string[] | null;
  /** The name is also an Object.prototype member: read it only as an own property. */
  readonly ownOnly: boolean;
  readonly op: number;
  readonly negate: boolean;
  readonly scalar: ConditionScalar | undefined;
  readonly str: string;
  readonly num: number;
  readonly set: Set<ConditionScalar> | null;
  readonly semver: SemVer | null;
  readonly regex: SafeRegex | null;
}

/** Compiles a validated condition. Throws only for a condition validation would reject. */
export function compileCondition(c: Condition): CompiledCondition {
  const [op, negate] = OPS[c.op];
  const v = c.value;
  let regex: SafeRegex | null = null;
  if (op === Op.Matches) {
    const r = compileSafeRegex(String(v));
    if (typeof r === 'string') throw new Error(r);
    regex = r;
  }
  let semver: SemVer | null = null;
  if (op >= Op.SemverEq && op <= Op.SemverGte) {
    semver = parseSemver(String(v)) ?? null;
    if (!semver) throw new Error(`invalid semantic version ${String(v)}`);
  }
  return {
    attribute: c.attribute,
    path: c.attribute.includes('.') ? c.attribute.split('.') : null,
    ownOnly: c.attribute in Object.prototype,
    op, negate,
    scalar: Array.isArray(v) ? undefined : v,
    str: typeof v === 'string' ? v : '',
    num: typeof v === 'number' ? v : 0,
    set: Array.isArray(v) ? new Set(v) : null,
    semver, regex,
  };
}

/** Reads a context attribute: a top-level own key, else a dotted path. */
export function readAttribute(ctx: Record<string, unknown>, c: CompiledCondition): unknown {
  let v = c.ownOnly ? (hasOwn(ctx, c.attribute) ? ctx[c.attribute] : undefined) : ctx[c.attribute];
  if (v === undefined && c.path !== null) v = readPath(ctx, c.path);
  return v;
}

export function readPath(ctx: Record<string, unknown>, path: string[]): unknown {
  let cur: unknown = ctx;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null || !hasOwn(cur, p)) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

// One-entry cache: a rule set usually compares the same context version
// string several times per evaluation (e.g. 3 rules on appVersion).
let lastSemverInput = '';
let lastSemver: SemVer | undefined;
function semverOf(s: string): SemVer | undefined {
  if (s !== lastSemverInput) {
    lastSemver = parseSemver(s);
    lastSemverInput = s;
  }
  return lastSemver;
}

export function testCondition(c: CompiledCondition, ctx: Record<string, unknown>): boolean {
  return positive(c, readAttribute(ctx, c)) !== c.negate;
}

function positive(c: CompiledCondition, v: unknown): boolean {
  switch (c.op) {
    case Op.Equals:
      return v === c.scalar;
    case Op.In:
      return (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') && c.set!.has(v);
    case Op.Contains:
      if (typeof v === 'string') return v.includes(c.str);
      return Array.isArray(v) && v.includes(c.str);
    case Op.StartsWith:
      return typeof v === 'string' && v.startsWith(c.str);
    case Op.EndsWith:
      return typeof v === 'string' && v.endsWith(c.str);
    case Op.Lt:
      return typeof v === 'number' && v < c.num;
    case Op.Lte:
      return typeof v === 'number' && v <= c.num;
    case Op.Gt:
      return typeof v === 'number' && v > c.num;
    case Op.Gte:
      return typeof v === 'number' && v >= c.num;
    case Op.Exists:
      return v !== undefined && v !== null;
    case Op.Matches:
      return typeof v === 'string' && v.length <= LIMITS.maxRegexInputChars && c.regex!.test(v);
    default: {
      if (typeof v !== 'string') return false;
      const sv = semverOf(v);
      if (sv === undefined) return false;
      const d = compareSemver(sv, c.semver!);
      switch (c.op) {
        case Op.SemverEq: return d === 0;
        case Op.SemverLt: return d < 0;
        case Op.SemverLte: return d <= 0;
        case Op.SemverGt: return d > 0;
        default: return d >= 0;
      }
    }
  }
}
