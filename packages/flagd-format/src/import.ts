// flagd flag-definition document -> flagraft flags and segments.
//
// Every flag either maps whole or is reported with the JSON path of what could
// not be mapped (an `error` issue) and left out; nothing is dropped silently.
// Constructs that map with a documented difference in edge cases get a
// `warning` issue (see README.md).
import { LIMITS, KEY_PATTERN, NAME_PATTERN, fractionalIndex, validateFlag, validateSegment, ValidationError, type Condition, type FlagDefinition, type FlagType, type JsonValue, type Rollout, type Rule, type SegmentDefinition } from '@flagraft/flag-model';
import { MISSING_BUCKET_VARIANT } from './export.js';
import { opOf, product, translate, Unmappable, varName, type Conj, type LogicEnv } from './logic.js';
import type { Issue } from './types.js';

type Outcome = { variant: string } | { default: true } | { rollout: Rollout };
interface Branch { conj: Conj; outcome: Outcome }

export interface FlagdImport {
  flags: FlagDefinition[];
  segments: SegmentDefinition[];
  issues: Issue[];
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reads a flagd document (the parsed JSON of a flagd flags file). Never throws for bad input: it reports issues. */
export function fromFlagd(doc: unknown): FlagdImport {
  const issues: Issue[] = [];
  const out: FlagdImport = { flags: [], segments: [], issues };
  if (!isObj(doc)) {
    issues.push({ path: '', severity: 'error', message: 'a flagd document is a JSON object with "flags"' });
    return out;
  }
  const evaluators = new Map<string, unknown>();
  if (doc.$evaluators !== undefined) {
    if (!isObj(doc.$evaluators)) issues.push({ path: '$evaluators', severity: 'error', message: 'must be an object' });
    else for (const [k, v] of Object.entries(doc.$evaluators)) evaluators.set(k, v);
  }
  const setMetadata = isObj(doc.metadata) ? doc.metadata : {};
  const entries: [string, string, unknown][] = [];
  if (Array.isArray(doc.flags)) {
    doc.flags.forEach((f, i) => entries.push([`flags[${i}]`, isObj(f) && typeof f.key === 'string' ? f.key : '', f]));
  } else if (isObj(doc.flags)) {
    for (const [k, f] of Object.entries(doc.flags)) entries.push([`flags.${k}`, k, f]);
  } else {
    issues.push({ path: 'flags', severity: 'error', message: 'must be an object of flags (or an array of flags with "key")' });
    return out;
  }

  // Evaluators that are one AND of conditions become segments; others are inlined where used.
  const segmentNames = new Set<string>();
  for (const [name, expr] of evaluators) {
    if (!KEY_PATTERN.test(name) || name.length > LIMITS.maxKeyChars) continue;
    try {
      const env = { flagKey: '', evaluators, segments: new Set<string>(), warn: () => {} };
      const t = translate(expr, `$evaluators.${name}`, env).t;
      // A segment means the same wherever it is used: not if its translation depends on the place (two-argument ifs).
      const same = JSON.stringify(translate(expr, `$evaluators.${name}`, { ...env, shortIf: true }).t) === JSON.stringify(t);
      if (same && t.length === 1 && t[0].every((l) => 'cond' in l) && t[0].length <= LIMITS.maxConditions && !JSON.stringify(expr).includes('$flagd')) {
        segmentNames.add(name);
      }
    } catch {
      // inlined (and reported) where a flag uses it
    }
  }

  const usedSegments = new Set<string>();
  for (const [path, key, raw] of entries) {
    const flagIssues: Issue[] = [];
    const warn = (p: string, message: string) => flagIssues.push({ path: p, severity: 'warning', message });
    try {
      const flag = importFlag(path, key, raw, setMetadata, { flagKey: key, evaluators, segments: segmentNames, warn });
      for (const r of flag.rules) for (const s of [...(r.segments ?? []), ...(r.excludeSegments ?? [])]) usedSegments.add(s);
      out.flags.push(flag);
    } catch (err) {
      if (err instanceof Unmappable) flagIssues.push({ path: err.path, severity: 'error', message: `${err.message}; flag ${key || path} not imported` });
      else throw err;
    }
    issues.push(...dedupe(flagIssues));
  }
  for (const name of usedSegments) {
    const t = translate(evaluators.get(name), `$evaluators.${name}`, { flagKey: '', evaluators, segments: new Set(), warn: () => {} }).t;
    out.segments.push(validateSegment({ name, conditions: t[0].map((l) => (l as { cond: Condition }).cond) }));
  }
  return out;
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const id = `${i.severity}\u0000${i.path}\u0000${i.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function typeOf(variants: Record<string, unknown>, path: string): FlagType {
  const values = Object.values(variants);
  if (values.length === 0) throw new Unmappable(`${path}.variants`, 'a flag needs at least one variant');
  const kinds = new Set(values.map((v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)));
  if (kinds.size !== 1) throw new Unmappable(`${path}.variants`, `variants of mixed types (${[...kinds].join(', ')}); flagraft flags have one type`);
  const k = [...kinds][0];
  if (k === 'boolean' || k === 'string' || k === 'number') return k;
  if (k === 'object') return 'object';
  throw new Unmappable(`${path}.variants`, `variants of type ${k} (flagraft object flags are JSON objects)`);
}

function importFlag(path: string, key: string, raw: unknown, setMetadata: Record<string, unknown>, env: LogicEnv): FlagDefinition {
  if (!isObj(raw)) throw new Unmappable(path, 'a flag is an object');
  if (!KEY_PATTERN.test(key) || key.length > LIMITS.maxKeyChars) {
    throw new Unmappable(path, `the key ${JSON.stringify(key).slice(0, 60)} does not fit flagraft's key pattern ${KEY_PATTERN} (at most ${LIMITS.maxKeyChars} characters)`);
  }
  for (const k of Object.keys(raw)) {
    if (!['state', 'variants', 'defaultVariant', 'targeting', 'metadata', 'key'].includes(k)) throw new Unmappable(`${path}.${k}`, 'unknown flag field');
  }
  if (!isObj(raw.variants)) throw new Unmappable(`${path}.variants`, 'must be an object');
  const variants = raw.variants as Record<string, JsonValue>;
  for (const v of Object.keys(variants)) {
    if (!NAME_PATTERN.test(v) || v.length > LIMITS.maxNameChars) throw new Unmappable(`${path}.variants.${v}`, `the variant name does not fit flagraft's pattern ${NAME_PATTERN} (at most ${LIMITS.maxNameChars} characters)`);
  }
  const type = typeOf(variants, path);
  if (raw.state !== 'ENABLED' && raw.state !== 'DISABLED') throw new Unmappable(`${path}.state`, 'must be ENABLED or DISABLED');
  const defaultVariant = raw.defaultVariant;
  if (typeof defaultVariant !== 'string' || !Object.hasOwn(variants, defaultVariant)) {
    throw new Unmappable(`${path}.defaultVariant`, 'flagraft needs a default variant that is one of the variants (flagd without one answers the caller\'s default)');
  }
  const enabled = raw.state === 'ENABLED';
  if (!enabled && type === 'boolean') warnDisabledBoolean(env, `${path}.state`);
  // Entries from the document: "__proto__" must stay a (refused) key, never become this object's prototype.
  const metadata: Record<string, string | number | boolean> = Object.create(null) as Record<string, string | number | boolean>;
  for (const [k, v] of Object.entries({ ...setMetadata, ...(isObj(raw.metadata) ? raw.metadata : {}) })) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') metadata[k] = v;
    else throw new Unmappable(`${path}.metadata.${k}`, 'metadata values are strings, numbers or booleans');
  }
  const rules = raw.targeting === undefined || (isObj(raw.targeting) && Object.keys(raw.targeting).length === 0)
    ? []
    : rulesOf(targeting(raw.targeting, `${path}.targeting`, env, key, variants, defaultVariant), defaultVariant, `${path}.targeting`);
  const flag: FlagDefinition = { key, type, variants, defaultVariant, enabled, rules };
  if (Object.keys(metadata).length > 0) flag.metadata = metadata;
  try {
    return validateFlag(flag);
  } catch (err) {
    if (err instanceof ValidationError) throw new Unmappable(err.issues[0]?.path ? `${path}.${err.issues[0].path}` : path, `not a valid flagraft flag: ${err.message}`);
    throw err;
  }
}

function warnDisabledBoolean(env: LogicEnv, path: string) {
  env.warn(path, 'a DISABLED flag answers the caller\'s default in flagd; a disabled flagraft boolean flag without offVariant answers false');
}

/** A targeting expression as an ordered list of branches that always ends with an unconditional one. */
/**
 * `shortIf`: under an `if` with exactly two arguments (condition, answer).
 * json-logic-engine 5.0.7 (flagd-core 4.0.1) compiles those so that an absent
 * attribute reads as undefined, not null, and `cat` then writes "" instead of
 * "null": a fractional bucketed by an absent attribute hashes "<flagKey>" there
 * and "<flagKey>null" elsewhere. We follow it (tested against flagd-core).
 */
function targeting(node: unknown, path: string, env: LogicEnv, key: string, variants: Record<string, JsonValue>, dflt: string, shortIf = false): Branch[] {
  if (node === null) return [{ conj: [], outcome: { default: true } }];
  if (typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean') {
    const name = String(node);
    if (!Object.hasOwn(variants, name)) throw new Unmappable(path, `targeting answers ${JSON.stringify(name)}, which is not a variant (flagd reports an error)`);
    return [{ conj: [], outcome: { variant: name } }];
  }
  const o = opOf(node);
  const errorRollout = exportedErrorRollout(node, path, key, variants, dflt, shortIf);
  if (errorRollout) return errorRollout;
  if (o && (o[0] === 'if' || o[0] === '?:') && Array.isArray(o[1])) {
    const args = o[1];
    if (args.length < 2) throw new Unmappable(`${path}.${o[0]}`, 'an if with only a condition answers the condition\'s value, which is not a variant');
    const short = shortIf || args.length === 2;
    const out: Branch[] = [];
    for (let i = 0; i + 1 < args.length; i += 2) {
      const cond = translate(args[i], `${path}.${o[0]}[${i}]`, { ...env, shortIf: short }).t;
      const then = targeting(args[i + 1], `${path}.${o[0]}[${i + 1}]`, env, key, variants, dflt, short);
      for (const b of then) for (const conj of product(cond, [b.conj], `${path}.${o[0]}`)) out.push({ conj, outcome: b.outcome });
    }
    if (args.length % 2 === 1) out.push(...targeting(args[args.length - 1], `${path}.${o[0]}[${args.length - 1}]`, env, key, variants, dflt, short));
    else out.push({ conj: [], outcome: { default: true } });
    return out;
  }
  if (o && o[0] === 'fractional') return fractional(o[1], `${path}.fractional`, key, variants, dflt, shortIf);
  throw new Unmappable(path, 'targeting must answer a variant: null, a variant name, if/?: or fractional');
}

/**
 * flagd's fractional: murmur3 of the bucketing value, (hash * total) >> 32,
 * the first variant whose cumulative weight exceeds it. flagraft's rollouts
 * are the same with bucketing value = flagKey + attribute, so:
 *  - default (targetingKey): rollout by targetingKey; an absent or empty
 *    targetingKey makes flagd answer the default variant;
 *  - cat($flagd.flagKey, var A): rollout by A; absent A hashes "<flagKey>null"
 *    (or "<flagKey>" under a two-argument if, see targeting()), a fixed
 *    variant computed here;
 *  - a literal string: one fixed variant, computed here.
 */
function fractional(raw: unknown, path: string, key: string, variants: Record<string, JsonValue>, dflt: string, shortIf: boolean): Branch[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new Unmappable(path, 'fractional takes at least one [variant, weight]');
  let by: { attribute: string } | { literal: string } | undefined;
  let buckets = raw;
  const first = raw[0];
  if (typeof first === 'string') {
    by = { literal: first };
    buckets = raw.slice(1);
  } else if (!Array.isArray(first)) {
    const o = opOf(first);
    const args = o?.[0] === 'cat' && Array.isArray(o[1]) ? o[1] : undefined;
    if (args?.length === 2 && varName(args[0], `${path}[0].cat[0]`) === '$flagd.flagKey') {
      const a = varName(args[1], `${path}[0].cat[1]`);
      if (a !== undefined && a !== '$flagd.flagKey') by = { attribute: a };
    }
    if (!by) {
      throw new Unmappable(`${path}[0]`, 'flagraft buckets by flag key + one attribute: write the bucketing value as {"cat": [{"var": "$flagd.flagKey"}, {"var": "<attribute>"}]} (a bare value is hashed without the flag key)');
    }
    buckets = raw.slice(1);
  }
  const weights: { variant: string; weight: number }[] = [];
  buckets.forEach((b, i) => {
    const at = `${path}[${raw.length - buckets.length + i}]`;
    if (!Array.isArray(b) || b.length === 0 || b.length > 2) throw new Unmappable(at, 'a bucket is [variant] or [variant, weight]');
    const v = b[0] === null ? dflt : typeof b[0] === 'string' || typeof b[0] === 'number' || typeof b[0] === 'boolean' ? String(b[0]) : undefined;
    if (v === undefined) throw new Unmappable(`${at}[0]`, 'a computed variant has no flagraft equivalent');
    if (!Object.hasOwn(variants, v)) throw new Unmappable(`${at}[0]`, `${JSON.stringify(v)} is not a variant`);
    const w = b.length === 2 ? b[1] : 1;
    if (typeof w !== 'number' || !Number.isInteger(w)) throw new Unmappable(`${at}[1]`, 'weights are integers');
    const weight = Math.max(0, w); // flagd clamps negative weights to 0
    const prev = weights[weights.length - 1];
    if (prev && prev.variant === v) prev.weight += weight; // adjacent repeats bucket alike merged
    else if (weights.some((x) => x.variant === v)) throw new Unmappable(at, `variant ${JSON.stringify(v)} appears twice, apart: flagraft rollouts name a variant once`);
    else weights.push({ variant: v, weight });
  });
  const total = weights.reduce((s, w) => s + w.weight, 0);
  if (total === 0) return [{ conj: [], outcome: { default: true } }]; // flagd picks nothing: the default
  if (total > LIMITS.maxWeightTotal) throw new Unmappable(path, `weights sum to ${total}; flagraft rollouts sum to at most ${LIMITS.maxWeightTotal}`);
  const fixed = (value: string): Branch => ({ conj: [], outcome: { variant: weights[fractionalIndex('', value, weights.map((w) => w.weight))].variant } });
  if (by && 'literal' in by) return [fixed(by.literal)];
  // Guarded below (a missing attribute never reaches the rollout), so `skip` is never used; it keeps exports simple.
  const rollout = (attribute: string): Branch => ({ conj: [], outcome: { rollout: { weights, ...(attribute === 'targetingKey' ? {} : { bucketBy: attribute }), onMissing: 'skip' } } });
  if (by && 'attribute' in by) {
    return [{ conj: [{ cond: { attribute: by.attribute, op: 'notExists' } }], outcome: fixed(`${key}${shortIf ? '' : 'null'}`).outcome }, rollout(by.attribute)];
  }
  return [
    { conj: [{ cond: { attribute: 'targetingKey', op: 'notExists' } }], outcome: { default: true } },
    { conj: [{ cond: { attribute: 'targetingKey', op: 'equals', value: '' } }], outcome: { default: true } },
    rollout('targetingKey'),
  ];
}

/**
 * What toFlagd writes for a rollout whose rule answers an error when its
 * attribute is missing (onMissing: error): if(A === null, <no such variant>, fractional by A).
 */
function exportedErrorRollout(node: unknown, path: string, key: string, variants: Record<string, JsonValue>, dflt: string, shortIf: boolean): Branch[] | undefined {
  const o = opOf(node);
  if (!o || o[0] !== 'if' || !Array.isArray(o[1]) || o[1].length !== 3 || o[1][1] !== MISSING_BUCKET_VARIANT) return undefined;
  const test = opOf(o[1][0]);
  if (!test || test[0] !== '===' || !Array.isArray(test[1]) || test[1][1] !== null) return undefined;
  const a = varName(test[1][0], `${path}.if[0]`);
  const branches = targeting(o[1][2], `${path}.if[2]`, { flagKey: key, evaluators: new Map(), segments: new Set(), warn: () => {} }, key, variants, dflt, shortIf);
  const last = branches[branches.length - 1].outcome;
  if (a === undefined || !('rollout' in last) || (last.rollout.bucketBy ?? 'targetingKey') !== a) return undefined;
  return [{ conj: [], outcome: { rollout: { weights: last.rollout.weights, ...(a === 'targetingKey' ? {} : { bucketBy: a }) } } }];
}

function rulesOf(branches: Branch[], dflt: string, path: string): Rule[] {
  // Trailing branches that answer the default are what "no rule matched" does anyway (reason DEFAULT, as flagd).
  let end = branches.length;
  while (end > 0 && 'default' in branches[end - 1].outcome) end--;
  const rules: Rule[] = [];
  for (const b of branches.slice(0, end)) {
    const conditions: Condition[] = [];
    const seen = new Set<string>();
    const segments: string[] = [];
    const excludeSegments: string[] = [];
    for (const l of b.conj) {
      if ('cond' in l) {
        const id = JSON.stringify(l.cond);
        if (!seen.has(id)) conditions.push(l.cond);
        seen.add(id);
      } else if (l.neg) {
        if (!excludeSegments.includes(l.seg)) excludeSegments.push(l.seg);
      } else if (!segments.includes(l.seg)) segments.push(l.seg);
    }
    // In a segment and not in it: the branch can never be taken.
    if (segments.some((x) => excludeSegments.includes(x))) continue;
    const rule: Rule = { conditions };
    if (segments.length) rule.segments = segments;
    if (excludeSegments.length) rule.excludeSegments = excludeSegments;
    if ('variant' in b.outcome) rule.variant = b.outcome.variant;
    else if ('rollout' in b.outcome) rule.rollout = b.outcome.rollout;
    else rule.variant = dflt;
    rules.push(rule);
  }
  if (rules.length > LIMITS.maxRules) throw new Unmappable(path, `becomes ${rules.length} flagraft rules; a flag has at most ${LIMITS.maxRules}`);
  return rules;
}
