// flagd targeting (JSON Logic) -> flagraft conditions.
//
// flagraft rules are ordered; each is an AND of conditions and segment
// (non-)memberships. A JSON Logic condition is translated into disjunctive
// normal form twice: when it is truthy (`t`) and when it is falsy (`f`), so
// `!`, `or` and negated references need no operator flagraft lacks. Each
// literal keeps JSON Logic's semantics (as json-logic-engine 5 in flagd-core
// evaluates them) for *typed contexts*: an attribute a rule reads is absent or
// has the JSON type of the value it is compared with (a string for string
// comparisons, a number for numeric ones, a full SemVer string for sem_ver).
// Outside that, flagd coerces ("5" == 5, null < 18, "1.2" as 1.2.0) and
// flagraft does not; README.md lists the differences.
//
// Notably, for an absent attribute JSON Logic reads null, and null compares as
// 0: `{"<": [{"var": "age"}, 18]}` is TRUE without an age, and `== 0` /
// `== false` match it. The translation adds `notExists` where flagd would match.
import type { Condition, ConditionScalar } from '@flagraft/flag-model';

export type Literal = { cond: Condition } | { seg: string; neg: boolean };
/** A conjunction of literals; a DNF is a list of them ([] = never, [[]] = always). */
export type Conj = Literal[];
export type Dnf = Conj[];
/** Truthy and falsy forms; the falsy one is built only when needed (a negation). */
export interface Both { t: Dnf; f: () => Dnf }

export class Unmappable extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
  }
}

/** Largest DNF we build (terms); beyond it the expression is reported as unmappable. */
export const MAX_DNF_TERMS = 64;

const TRUE: Both = { t: [[]], f: () => [] };
const FALSE: Both = { t: [], f: () => [[]] };
const both = (t: Dnf, f: Dnf): Both => ({ t, f: () => f });

/** Operators that match only a present attribute. */
const NEEDS_PRESENT = new Set<Condition['op']>(['exists', 'equals', 'in', 'contains', 'startsWith', 'endsWith', 'lt', 'lte', 'gt', 'gte', 'semverEq', 'semverLt', 'semverLte', 'semverGt', 'semverGte', 'matches']);

/** A conjunction no context satisfies (pruned: it would only be a rule that never matches). */
export function contradictory(conj: Conj): boolean {
  const absent = new Set<string>();
  const present = new Set<string>();
  const equal = new Map<string, string>();
  const unequal = new Set<string>();
  for (const l of conj) {
    if (!('cond' in l)) continue;
    const { attribute: a, op, value } = l.cond;
    if (op === 'notExists') absent.add(a);
    if (NEEDS_PRESENT.has(op)) present.add(a);
    const v = `${a}\u0000${JSON.stringify(value)}`;
    if (op === 'equals') {
      if (equal.has(a) && equal.get(a) !== v) return true;
      equal.set(a, v);
    }
    if (op === 'notEquals') unequal.add(v);
  }
  for (const a of absent) if (present.has(a)) return true;
  for (const v of equal.values()) if (unequal.has(v)) return true;
  return false;
}

export function product(a: Dnf, b: Dnf, path: string): Dnf {
  const out: Dnf = [];
  for (const x of a) for (const y of b) {
    const conj = [...x, ...y];
    if (!contradictory(conj)) out.push(conj);
  }
  if (out.length > MAX_DNF_TERMS) throw new Unmappable(path, `expands to more than ${MAX_DNF_TERMS} rules`);
  return out;
}

function union(a: Dnf, b: Dnf, path: string): Dnf {
  const out = [...a, ...b];
  if (out.length > MAX_DNF_TERMS) throw new Unmappable(path, `expands to more than ${MAX_DNF_TERMS} rules`);
  return out;
}

const c = (attribute: string, op: Condition['op'], value?: ConditionScalar | ConditionScalar[]): Literal =>
  ({ cond: value === undefined ? { attribute, op } : { attribute, op, value } });

export interface LogicEnv {
  flagKey: string;
  /** $evaluators of the document. */
  evaluators: Map<string, unknown>;
  /** Evaluators imported as segments (name -> true). Others are inlined. */
  segments: Set<string>;
  /** Where a construct is mapped with a documented difference. */
  warn(path: string, message: string): void;
  /** $refs being expanded (cycle detection). */
  expanding?: Set<string>;
  /** Under an `if` with exactly two arguments (see import.ts targeting(): json-logic-engine compiles those differently). */
  shortIf?: boolean;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isScalar = (v: unknown): v is ConditionScalar => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';

/** The single operator of a JSON Logic node, or undefined for literals. */
export function opOf(node: unknown): [string, unknown] | undefined {
  if (!isObj(node)) return undefined;
  const keys = Object.keys(node);
  return keys.length === 1 ? [keys[0], node[keys[0]]] : undefined;
}

const argsOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

/** `{"var": "a.b"}` / `{"var": ["a"]}` -> the attribute name; undefined if the node is not a plain var. */
export function varName(node: unknown, path: string): string | undefined {
  const o = opOf(node);
  if (!o || o[0] !== 'var') return undefined;
  let v = o[1];
  if (Array.isArray(v)) {
    if (v.length !== 1) throw new Unmappable(path, 'a var with a default value has no flagraft equivalent');
    v = v[0];
  }
  if (typeof v !== 'string' || v === '' || v.length > 256) throw new Unmappable(path, 'var must name one attribute (a non-empty string of at most 256 characters)');
  if (v === '$flagd.timestamp') throw new Unmappable(path, '$flagd.timestamp (time-based targeting) has no flagraft equivalent');
  return v;
}

/** Translates a JSON Logic expression used as a condition. */
export function translate(node: unknown, path: string, env: LogicEnv): Both {
  if (node === null || node === false || node === 0 || node === '') return FALSE;
  if (isScalar(node)) return TRUE;
  if (Array.isArray(node)) return node.length === 0 ? FALSE : TRUE; // JSON Logic truthiness of arrays
  const o = opOf(node);
  if (!o) throw new Unmappable(path, 'expected one operator per object');
  const [op, raw] = o;
  const at = `${path}.${op}`;
  const args = argsOf(raw);
  switch (op) {
    case 'and':
    case 'or': {
      if (args.length === 0) return FALSE;
      const parts = args.map((a, i) => translate(a, `${at}[${i}]`, env));
      let t: Dnf = op === 'and' ? [[]] : [];
      for (const p of parts) t = op === 'and' ? product(t, p.t, at) : union(t, p.t, at);
      const f = () => {
        let out: Dnf = op === 'and' ? [] : [[]];
        for (const p of parts) out = op === 'and' ? union(out, p.f(), at) : product(out, p.f(), at);
        return out;
      };
      return { t, f };
    }
    case '!': {
      const x = translate(args[0], `${at}[0]`, env);
      return { t: x.f(), f: () => x.t };
    }
    case '!!':
      return translate(args[0], `${at}[0]`, env);
    case 'var': {
      const a = varName(node, path)!;
      if (a === '$flagd.flagKey') return env.flagKey ? TRUE : FALSE;
      return both(
        [[c(a, 'exists'), c(a, 'notEquals', ''), c(a, 'notEquals', 0), c(a, 'notEquals', false)]],
        [[c(a, 'notExists')], [c(a, 'equals', '')], [c(a, 'equals', 0)], [c(a, 'equals', false)]],
      );
    }
    case 'missing': {
      const names = (Array.isArray(raw) ? raw : [raw]).map((n, i) => {
        if (typeof n !== 'string' || n === '') throw new Unmappable(`${at}[${i}]`, 'missing takes attribute names');
        return n;
      });
      env.warn(at, 'flagd counts only absent attributes as missing, flagraft also null ones');
      return both(names.map((n) => [c(n, 'notExists')]), [names.map((n) => c(n, 'exists'))]);
    }
    case '$ref':
      return ref(raw, at, env);
    case '==':
    case '!=':
    case '===':
    case '!==':
      return equality(op, args, at, env);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return comparison(op, args, at);
    case 'in':
      return inOp(args, at);
    case 'starts_with':
    case 'ends_with':
      return affix(op, args, at);
    case 'sem_ver':
      return semver(args, at, env);
    default:
      throw new Unmappable(at, `the operator ${JSON.stringify(op).slice(0, 40)} has no flagraft equivalent in a condition`);
  }
}

function ref(name: unknown, at: string, env: LogicEnv): Both {
  if (typeof name !== 'string' || !env.evaluators.has(name)) throw new Unmappable(at, `$ref to an evaluator that $evaluators does not define: ${JSON.stringify(name)}`);
  if (env.segments.has(name)) return both([[{ seg: name, neg: false }]], [[{ seg: name, neg: true }]]);
  const expanding = env.expanding ?? new Set<string>();
  if (expanding.has(name)) throw new Unmappable(at, `$ref cycle through ${name}`);
  expanding.add(name);
  try {
    return translate(env.evaluators.get(name), `$evaluators.${name}`, { ...env, expanding });
  } finally {
    expanding.delete(name);
  }
}

/** One var and one scalar literal, in either order; `swapped` when the literal came first. */
function varAndLiteral(args: unknown[], at: string): { a: string; lit: ConditionScalar; swapped: boolean } {
  if (args.length !== 2) throw new Unmappable(at, 'expected two arguments');
  const a0 = varName(args[0], `${at}[0]`);
  const a1 = varName(args[1], `${at}[1]`);
  if (a0 !== undefined && isScalar(args[1])) return { a: a0, lit: args[1], swapped: false };
  if (a1 !== undefined && isScalar(args[0])) return { a: a1, lit: args[0], swapped: true };
  throw new Unmappable(at, 'flagraft compares one attribute with one string, number or boolean');
}

function equality(op: string, args: unknown[], at: string, env: LogicEnv): Both {
  if ((op === '===' || op === '!==') && args.length === 2 && (args[0] === null || args[1] === null)) {
    // Strict comparison with null: an attribute absent or null (what the export writes for exists / notExists).
    const a = varName(args[0] === null ? args[1] : args[0], at);
    if (a === undefined || a === '$flagd.flagKey') throw new Unmappable(at, 'flagraft compares one attribute with null only to test whether it exists');
    const absent: Dnf = [[c(a, 'notExists')]];
    const there: Dnf = [[c(a, 'exists')]];
    return op === '===' ? both(absent, there) : both(there, absent);
  }
  const { a, lit, swapped } = varAndLiteral(args, at);
  if (a === '$flagd.flagKey') return (lit === env.flagKey) === (op === '==' || op === '===') ? TRUE : FALSE;
  const strict = op === '===' || op === '!==';
  // Loose equality in json-logic-engine 5: an absent attribute equals 0 and false with the attribute
  // first ({"==": [{"var": "x"}, 0]}); with the literal first only under a two-argument if.
  const absentMatches = !strict && (!swapped || env.shortIf === true) && (lit === 0 || lit === false);
  if (!strict && typeof lit !== 'string') env.warn(at, `loose equality: flagd also matches values of other types that coerce to ${JSON.stringify(lit)} ("1" == 1); flagraft compares strictly`);
  const yes: Dnf = absentMatches ? [[c(a, 'equals', lit)], [c(a, 'notExists')]] : [[c(a, 'equals', lit)]];
  const no: Dnf = absentMatches ? [[c(a, 'notEquals', lit), c(a, 'exists')]] : [[c(a, 'notEquals', lit)]];
  return op === '==' || op === '===' ? both(yes, no) : both(no, yes);
}

type NumOp = 'lt' | 'lte' | 'gt' | 'gte';
const NUM: Record<string, NumOp> = { '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' };
const FLIP: Record<NumOp, NumOp> = { lt: 'gt', lte: 'gte', gt: 'lt', gte: 'lte' };
const NEG: Record<NumOp, NumOp> = { lt: 'gte', lte: 'gt', gt: 'lte', gte: 'lt' };
const holds = (x: number, op: NumOp, n: number) => (op === 'lt' ? x < n : op === 'lte' ? x <= n : op === 'gt' ? x > n : x >= n);

function comparison(op: string, args: unknown[], at: string): Both {
  if (args.length === 3 && (op === '<' || op === '<=')) {
    // Between: lo < x < hi (or <=).
    const [lo, x, hi] = args;
    const a = varName(x, `${at}[1]`);
    if (a === undefined || typeof lo !== 'number' || typeof hi !== 'number') throw new Unmappable(at, 'a between-comparison must be number < var < number');
    const opLo = NUM[op] === 'lt' ? 'gt' : 'gte';
    const opHi = NUM[op];
    const absent = holds(0, opLo, lo) && holds(0, opHi, hi); // null reads as 0
    return both(
      [[c(a, opLo, lo), c(a, opHi, hi)], ...(absent ? [[c(a, 'notExists')]] : [])],
      [[c(a, NEG[opLo], lo)], [c(a, NEG[opHi], hi)], ...(absent ? [] : [[c(a, 'notExists')]])],
    );
  }
  const { a, lit, swapped } = varAndLiteral(args, at);
  if (typeof lit !== 'number') throw new Unmappable(at, 'flagraft compares numbers only (string order comparisons have no equivalent)');
  const nop = swapped ? FLIP[NUM[op]] : NUM[op];
  const absent = holds(0, nop, lit);
  return both(
    [[c(a, nop, lit)], ...(absent ? [[c(a, 'notExists')]] : [])],
    [[c(a, NEG[nop], lit)], ...(absent ? [] : [[c(a, 'notExists')]])],
  );
}

function inOp(args: unknown[], at: string): Both {
  if (args.length !== 2) throw new Unmappable(at, 'expected two arguments');
  const a = varName(args[0], `${at}[0]`);
  if (a !== undefined && Array.isArray(args[1])) {
    const list = args[1];
    if (!list.every(isScalar)) throw new Unmappable(`${at}[1]`, 'the list may hold strings, numbers and booleans only');
    if (list.length === 0) return FALSE;
    if (list.length > 1000) throw new Unmappable(`${at}[1]`, 'flagraft lists hold at most 1000 values');
    return both([[c(a, 'in', list)]], [[c(a, 'notIn', list)]]);
  }
  const b = varName(args[1], `${at}[1]`);
  if (b !== undefined && typeof args[0] === 'string') return both([[c(b, 'contains', args[0])]], [[c(b, 'notContains', args[0])]]);
  throw new Unmappable(at, 'in must be var in [list] or "text" in var (a substring of a literal has no flagraft equivalent)');
}

/** Escapes a literal for flag-model's regex syntax. */
const esc = (ch: string) => (/[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch);
const notChar = (ch: string) => `[^${esc(ch)}]`;

/** A pattern matching strings that do NOT start with s. */
export function notPrefixPattern(s: string): string {
  let inner = '';
  for (let i = s.length - 1; i >= 0; i--) inner = `(?:$|${notChar(s[i])}${i + 1 < s.length ? `|${esc(s[i])}${inner}` : ''})`;
  return `^${inner}`;
}

/**
 * A pattern matching strings that do NOT end with s, linear in s:
 * T(s) = (?:^|[^last]|T(s without last)last), then $.
 */
export function notSuffixPattern(s: string): string {
  let t = '';
  for (let i = 0; i < s.length; i++) t = `(?:^|${notChar(s[i])}${i > 0 ? `|${t}${esc(s[i])}` : ''})`;
  return `${t}$`;
}

function affix(op: string, args: unknown[], at: string): Both {
  if (args.length !== 2) throw new Unmappable(at, 'expected two arguments');
  const a = varName(args[0], `${at}[0]`);
  const s = args[1];
  if (a === undefined || typeof s !== 'string') throw new Unmappable(at, `${op} must be var, "text"`);
  if (s === '') return both([[c(a, 'startsWith', '')]], [[c(a, 'notExists')]]);
  return {
    t: [[c(a, op === 'starts_with' ? 'startsWith' : 'endsWith', s)]],
    // flagraft has no "does not start/end with": a pattern says it (flag-model's linear-time regex).
    f: () => {
      const pattern = op === 'starts_with' ? notPrefixPattern(s) : notSuffixPattern(s);
      if (pattern.length > 256) throw new Unmappable(at, `the negation of ${op} with a text this long has no flagraft equivalent`);
      return [[c(a, 'matches', pattern)], [c(a, 'notExists')]];
    },
  };
}

/** flagd's lenient version literal: v/V prefix stripped, "1" and "1.2" completed to 1.0.0 / 1.2.0. */
export function normalizeVersion(raw: unknown): string | undefined {
  const s = String(raw).replace(/^[vV]/, '');
  if (/^\d+$/.test(s)) return `${Number(s)}.0.0`;
  if (/^\d+\.\d+$/.test(s)) return `${s.split('.').map(Number).join('.')}.0`;
  if (/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.test(s)) return s;
  return undefined;
}

type SemOp = 'semverEq' | 'semverNeq' | 'semverLt' | 'semverLte' | 'semverGt' | 'semverGte';
const SEM: Record<string, SemOp> = { '=': 'semverEq', '!=': 'semverNeq', '<': 'semverLt', '<=': 'semverLte', '>': 'semverGt', '>=': 'semverGte' };
const SEM_NEG: Record<SemOp, SemOp> = { semverEq: 'semverNeq', semverNeq: 'semverEq', semverLt: 'semverGte', semverLte: 'semverGt', semverGt: 'semverLte', semverGte: 'semverLt' };

function semver(args: unknown[], at: string, env: LogicEnv): Both {
  if (args.length !== 3) throw new Unmappable(at, 'sem_ver takes var, operator, version');
  const a = varName(args[0], `${at}[0]`);
  const op = args[1];
  const v = normalizeVersion(args[2]);
  if (a === undefined || typeof op !== 'string' || v === undefined) throw new Unmappable(at, 'sem_ver must be var, one of = != < <= > >= ^ ~, a version');
  env.warn(at, 'flagd also reads partial versions ("1.2") and numbers from the context; flagraft needs full SemVer strings');
  const [maj, min] = v.split(/[.+-]/).map(Number);
  if (op === '^' || op === '~') {
    const lo = op === '^' ? `${maj}.0.0-0` : `${maj}.${min}.0-0`;
    const hi = op === '^' ? `${maj + 1}.0.0-0` : `${maj}.${min + 1}.0-0`;
    return both([[c(a, 'semverGte', lo), c(a, 'semverLt', hi)]], [[c(a, 'semverLt', lo)], [c(a, 'semverGte', hi)], [c(a, 'notExists')]]);
  }
  const s = SEM[op];
  if (!s) throw new Unmappable(`${at}[1]`, `unknown sem_ver operator ${JSON.stringify(op).slice(0, 20)}`);
  // flagd answers null (false) for an absent or unparseable version, whatever the operator.
  if (s === 'semverEq') return both([[c(a, s, v)]], [[c(a, 'semverNeq', v)]]);
  if (s === 'semverNeq') return both([[c(a, s, v), c(a, 'exists')]], [[c(a, 'semverEq', v)], [c(a, 'notExists')]]);
  return both([[c(a, s, v)]], [[c(a, SEM_NEG[s], v)], [c(a, 'notExists')]]);
}
