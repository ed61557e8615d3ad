// Flag evaluation with OpenFeature reasons and error codes.
//
// A flag is compiled once (validated, conditions precompiled, rollouts with
// the key's hash prefix) and the compiled form is cached by object identity
// in a WeakMap: the gateway's hot path does no parsing, and a replaced flag
// object is compiled again when first used. Flag objects must therefore not
// be mutated after their first evaluation (stored flags never are).
import { ValidationError } from './errors.js';
import { deepFreeze } from './json-util.js';
import { validateFlag, validateSegment } from './validate.js';
import { Bucketer } from './bucketing.js';
import { compileCondition, readPath, testCondition, type CompiledCondition } from './conditions.js';
import type {
  EvaluationContext, EvaluationErrorCode, EvaluationReason, EvaluationResult, FlagDefinition, JsonValue,
  SegmentDefinition, SegmentLookup,
} from './types.js';

type Meta = Record<string, string | number | boolean>;
type Ctx = Record<string, unknown>;
const NO_METADATA: Meta = Object.freeze({}) as Meta;

interface CompiledRollout {
  bucketer: Bucketer;
  variants: string[];
  values: JsonValue[];
  bucketBy: string;
  bucketPath: string[] | null;
  onMissingSkip: boolean;
}

interface CompiledRule {
  conditions: CompiledCondition[];
  segments: string[];
  excludeSegments: string[];
  variant: string | undefined;
  value: JsonValue | undefined;
  rollout: CompiledRollout | null;
}

export interface CompiledSegment {
  readonly name: string;
  readonly conditions: CompiledCondition[];
  /** Set when the definition is invalid: evaluation answers PARSE_ERROR. */
  readonly error: string | undefined;
}

/** A flag ready to evaluate; obtain with compileFlag(). */
export class CompiledFlag {
  readonly key: string;
  /** Set when the definition is invalid: every evaluation answers PARSE_ERROR with it. */
  readonly error: string | undefined;
  private readonly enabled: boolean;
  private readonly metadata: Meta;
  private readonly defaultVariant: string | undefined;
  private readonly defaultValue: JsonValue | undefined;
  private readonly offVariant: string | undefined;
  private readonly offValue: JsonValue | undefined;
  private readonly rules: CompiledRule[];

  constructor(input: FlagDefinition) {
    let flag: FlagDefinition | undefined;
    let error: string | undefined;
    try {
      flag = validateFlag(input);
    } catch (e) {
      error = e instanceof ValidationError ? e.message : String(e);
    }
    this.key = flag?.key ?? (typeof input?.key === 'string' ? input.key : '');
    this.error = error;
    this.rules = [];
    this.enabled = flag?.enabled ?? false;
    this.metadata = flag?.metadata ? deepFreeze({ ...flag.metadata }) : NO_METADATA;
    if (!flag) return;
    const variants = deepFreeze(flag.variants); // validateFlag returned a private copy
    const valueOf = (v: string) => variants[v];
    this.defaultVariant = flag.defaultVariant;
    this.defaultValue = valueOf(flag.defaultVariant);
    if (flag.offVariant !== undefined) {
      this.offVariant = flag.offVariant;
      this.offValue = valueOf(flag.offVariant);
    } else if (flag.type === 'boolean') {
      // Booleans are off by default: serve false, under the name of a variant holding false if there is one.
      this.offVariant = Object.keys(variants).find((v) => variants[v] === false);
      this.offValue = false;
    }
    for (const r of flag.rules) {
      const bucketBy = r.rollout?.bucketBy ?? 'targetingKey';
      this.rules.push({
        conditions: r.conditions.map(compileCondition),
        segments: r.segments ?? [],
        excludeSegments: r.excludeSegments ?? [],
        variant: r.variant,
        value: r.variant !== undefined ? valueOf(r.variant) : undefined,
        rollout: r.rollout ? {
          bucketer: new Bucketer(flag.key, r.rollout.weights.map((w) => w.weight)),
          variants: r.rollout.weights.map((w) => w.variant),
          values: r.rollout.weights.map((w) => valueOf(w.variant)),
          bucketBy,
          bucketPath: bucketBy.includes('.') ? bucketBy.split('.') : null,
          onMissingSkip: r.rollout.onMissing === 'skip',
        } : null,
      });
    }
  }

  /**
   * Evaluates for a context; `key` defaults to the flag's key. Never throws.
   * `trace`, when given, receives the index of the rule that decided a
   * TARGETING_MATCH or SPLIT (or that failed it with an error); the hot path
   * passes none and builds nothing extra.
   */
  evaluate(context: EvaluationContext, segments: SegmentLookup, key: string = this.key, trace?: EvaluationTrace): EvaluationResult {
    try {
      return this.run(context, segments, key, trace);
    } catch (e) {
      return errorResult(key, 'GENERAL', `evaluation failed: ${e instanceof Error ? e.message : String(e)}`, this.metadata);
    }
  }

  private run(context: EvaluationContext, segments: SegmentLookup, key: string, trace: EvaluationTrace | undefined): EvaluationResult {
    if (this.error !== undefined) return errorResult(key, 'PARSE_ERROR', this.error, NO_METADATA);
    if (context === undefined || context === null) context = {};
    if (typeof context !== 'object' || Array.isArray(context)) {
      return errorResult(key, 'INVALID_CONTEXT', 'the evaluation context must be an object', this.metadata);
    }
    const ctx = context as Ctx;
    const tk = ctx.targetingKey;
    if (tk !== undefined && tk !== null && typeof tk !== 'string') {
      return errorResult(key, 'INVALID_CONTEXT', 'targetingKey must be a string', this.metadata);
    }
    if (!this.enabled) return result(key, this.offValue, this.offVariant, 'DISABLED', this.metadata);
    const rules = this.rules;
    if (rules.length === 0) return result(key, this.defaultValue, this.defaultVariant, 'STATIC', this.metadata);
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      const conds = r.conditions;
      let ok = true;
      for (let j = 0; j < conds.length; j++) {
        if (!testCondition(conds[j], ctx)) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (trace !== undefined) trace.ruleIndex = i;
      if (r.segments.length > 0 || r.excludeSegments.length > 0) {
        const m = this.segmentsMatch(r, ctx, segments, key);
        if (m !== true) {
          if (m === false) {
            if (trace !== undefined) trace.ruleIndex = undefined;
            continue;
          }
          return m;
        }
      }
      if (r.rollout === null) return result(key, r.value, r.variant, 'TARGETING_MATCH', this.metadata);
      const ro = r.rollout;
      let bv = ctx[ro.bucketBy];
      if (bv === undefined && ro.bucketPath !== null) bv = readPath(ctx, ro.bucketPath);
      if (typeof bv === 'number' && Number.isFinite(bv)) bv = String(bv);
      if (typeof bv !== 'string') {
        if (ro.onMissingSkip) {
          if (trace !== undefined) trace.ruleIndex = undefined;
          continue;
        }
        if (ro.bucketBy === 'targetingKey') {
          return errorResult(key, 'TARGETING_KEY_MISSING', `rule ${i} splits by targetingKey, which the context lacks`, this.metadata);
        }
        return errorResult(key, 'INVALID_CONTEXT', `rule ${i} splits by "${ro.bucketBy}", which the context lacks or is not a string or number`, this.metadata);
      }
      const idx = ro.bucketer.pick(bv);
      return result(key, ro.values[idx], ro.variants[idx], 'SPLIT', this.metadata);
    }
    return result(key, this.defaultValue, this.defaultVariant, 'DEFAULT', this.metadata);
  }

  /** true / false, or an error result (missing or invalid segment). */
  private segmentsMatch(r: CompiledRule, ctx: Ctx, lookup: SegmentLookup, key: string): boolean | EvaluationResult {
    for (let pass = 0; pass < 2; pass++) {
      const names = pass === 0 ? r.segments : r.excludeSegments;
      for (const name of names) {
        const def = lookup(name);
        if (def === undefined) return errorResult(key, 'GENERAL', `segment "${name}" not found`, this.metadata);
        const seg = compileSegment(def);
        if (seg.error !== undefined) return errorResult(key, 'PARSE_ERROR', `segment "${name}": ${seg.error}`, this.metadata);
        if (segmentMatches(seg, ctx) !== (pass === 0)) return false;
      }
    }
    return true;
  }
}

function segmentMatches(seg: CompiledSegment, ctx: Ctx): boolean {
  const conds = seg.conditions;
  for (let j = 0; j < conds.length; j++) if (!testCondition(conds[j], ctx)) return false;
  return true;
}

function result(key: string, value: JsonValue | undefined, variant: string | undefined, reason: EvaluationReason, metadata: Meta): EvaluationResult {
  const r: EvaluationResult = { key, reason, metadata };
  if (value !== undefined) r.value = value;
  if (variant !== undefined) r.variant = variant;
  return r;
}

function errorResult(key: string, errorCode: EvaluationErrorCode, errorDetails: string, metadata: Meta): EvaluationResult {
  return { key, reason: 'ERROR', errorCode, errorDetails, metadata };
}

const flagCache = new WeakMap<object, CompiledFlag>();
const segmentCache = new WeakMap<object, CompiledSegment>();

/** The compiled form of a flag, cached by object identity. */
export function compileFlag(flag: FlagDefinition): CompiledFlag {
  let c = flagCache.get(flag);
  if (c === undefined) {
    c = new CompiledFlag(flag);
    flagCache.set(flag, c);
  }
  return c;
}

/** The compiled form of a segment, cached by object identity. */
export function compileSegment(segment: SegmentDefinition): CompiledSegment {
  let c = segmentCache.get(segment);
  if (c === undefined) {
    try {
      const s = validateSegment(segment);
      c = { name: s.name, conditions: s.conditions.map(compileCondition), error: undefined };
    } catch (e) {
      c = { name: String((segment as { name?: unknown })?.name ?? ''), conditions: [], error: e instanceof Error ? e.message : String(e) };
    }
    segmentCache.set(segment, c);
  }
  return c;
}

const NO_SEGMENTS: SegmentLookup = () => undefined;

/** Which rule decided an evaluation (filled by CompiledFlag.evaluate when asked). */
export interface EvaluationTrace {
  /** Index into `rules` of the rule that matched (TARGETING_MATCH, SPLIT) or failed with an error; undefined when no rule decided. */
  ruleIndex?: number;
}

/**
 * evaluate() plus the deciding rule's index, for tools that explain a result
 * (the dashboard's evaluation console); same rules, same answer.
 */
export function explainEvaluation(
  flag: FlagDefinition | undefined, key: string, context: EvaluationContext, segments: SegmentLookup = NO_SEGMENTS,
): EvaluationResult & EvaluationTrace {
  if (flag === undefined || flag === null || typeof flag !== 'object') return evaluate(flag, key, context, segments);
  const trace: EvaluationTrace = {};
  const result = compileFlag(flag).evaluate(context, segments, key, trace);
  return trace.ruleIndex === undefined ? result : { ...result, ruleIndex: trace.ruleIndex };
}

/**
 * Evaluates a flag (undefined = not found) for a context. Never throws:
 * problems are reported as reason ERROR with an OpenFeature error code.
 */
export function evaluate(
  flag: FlagDefinition | undefined, key: string, context: EvaluationContext, segments: SegmentLookup = NO_SEGMENTS,
): EvaluationResult {
  if (flag === undefined || flag === null || typeof flag !== 'object') {
    return errorResult(key, 'FLAG_NOT_FOUND', `flag "${key}" not found`, NO_METADATA);
  }
  return compileFlag(flag).evaluate(context, segments, key);
}
