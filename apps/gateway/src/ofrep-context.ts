// The evaluation context of an OFREP request: parsed and checked once per
// distinct request text. An SDK asks again and again with the same context
// (every feature check of a request, every poll of a page), so the gateway
// keeps the last MAX_CACHED_CONTEXTS contexts by their exact body text: a hit
// skips JSON.parse, the shape-limit walk and, for bulk answers, the context's
// hash in the ETag. Only accepted contexts are kept, deep-frozen (the
// evaluator and canonicalJson only read them; freezing makes that a fact).
import { jsonShapeViolations, jsonTextDepthViolation, jsonWithinLimits, type EvaluationContext } from '@flagraft/flag-model';
import { canonicalJson, shortHash } from './http-util.js';

/** An OFREP error answer: status, OFREP errorCode, detail and extra headers. */
export class OfrepError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

/** Distinct request bodies whose parsed context is kept (entries); the oldest goes first. */
export const MAX_CACHED_CONTEXTS = 1000;
/** Longest body kept (characters); longer ones are parsed every time. So the cache holds at most ~2 MB of text. */
export const MAX_CACHED_CONTEXT_CHARS = 2048;

/** A parsed, checked, frozen context and (once a bulk answer asked) its hash for the ETag. */
export interface ParsedContext {
  readonly context: EvaluationContext;
  etagHash: string | undefined;
}

const EMPTY_CONTEXT: ParsedContext = { context: Object.freeze({}) as EvaluationContext, etagHash: undefined };

export class ContextCache {
  private readonly byText = new Map<string, ParsedContext>();

  constructor(
    private readonly maxEntries = MAX_CACHED_CONTEXTS,
    private readonly maxChars = MAX_CACHED_CONTEXT_CHARS,
  ) {}

  /** The request body's context; throws OfrepError (400) naming what is wrong, exactly as without the cache. */
  parse(buf: Buffer): ParsedContext {
    if (buf.length === 0) return EMPTY_CONTEXT;
    const text = buf.toString('utf8');
    const cacheable = text.length <= this.maxChars;
    if (cacheable) {
      const hit = this.byText.get(text);
      if (hit !== undefined) return hit;
    }
    const context = parseContextText(text);
    const parsed: ParsedContext = { context: context === NO_CONTEXT ? EMPTY_CONTEXT.context : deepFreeze(context), etagHash: undefined };
    if (cacheable) {
      if (this.byText.size >= this.maxEntries) this.byText.delete(this.byText.keys().next().value as string);
      this.byText.set(text, parsed);
    }
    return parsed;
  }

  /** Contexts kept now. */
  get size(): number {
    return this.byText.size;
  }
}

/** The short hash of the context's canonical JSON that the bulk ETag carries, computed once per cached context. */
export function contextEtagHash(p: ParsedContext): string {
  return (p.etagHash ??= shortHash(canonicalJson(p.context)));
}

const NO_CONTEXT = {} as EvaluationContext;

/** The request body `{}` or `{"context": {...}}` as a context (NO_CONTEXT when it has none). */
function parseContextText(text: string): EvaluationContext {
  // JSON.parse is iterative in V8 and the text is at most maxEvaluationBodyBytes,
  // so parsing first is safe; jsonWithinLimits then checks every shape limit
  // (depth included) before anything recursive (the bulk ETag hashes the
  // context, rules walk it). The text scan and the full walk run only to name
  // a violation, in the same order as before: depth of the text first.
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throwDepthViolation(text);
    throw new OfrepError(400, 'PARSE_ERROR', 'the request body is not valid JSON');
  }
  if (!jsonWithinLimits(body)) {
    throwDepthViolation(text);
    const violations = jsonShapeViolations(body);
    const v = violations[0]!;
    throw new OfrepError(400, 'INVALID_CONTEXT', `${v.path || 'the request body'}: ${v.message} (${v.limit}${v.max ? ` = ${v.max}` : ''})`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new OfrepError(400, 'PARSE_ERROR', 'the request body must be a JSON object like {"context": {...}}');
  }
  const context = (body as { context?: unknown }).context;
  if (context === undefined || context === null) return NO_CONTEXT;
  if (typeof context !== 'object' || Array.isArray(context)) throw new OfrepError(400, 'INVALID_CONTEXT', 'context must be a JSON object');
  const tk = (context as { targetingKey?: unknown }).targetingKey;
  if (tk !== undefined && typeof tk !== 'string') throw new OfrepError(400, 'INVALID_CONTEXT', 'context.targetingKey must be a string');
  return context as EvaluationContext;
}

function throwDepthViolation(text: string): void {
  const deep = jsonTextDepthViolation(text);
  if (deep) throw new OfrepError(400, 'INVALID_CONTEXT', `the request body ${deep.message} (${deep.limit} = ${deep.max})`);
}

/** Freezes a parsed JSON value in place; its depth is already bounded by jsonWithinLimits. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const k in value) deepFreeze((value as Record<string, unknown>)[k]);
  }
  return value;
}
