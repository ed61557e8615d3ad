// The evaluation context of an OFREP request, parsed and checked, and
// remembered per connection: an SDK asks again and again with the same
// context over its keep-alive connection (every feature check of a request,
// every poll of a page), so each connection keeps the last context it sent,
// by its exact body text. The same body again on that connection skips
// JSON.parse, the shape-limit walk and, for bulk answers, the context's hash
// in the ETag. One entry per connection, not a shared map: a map of recent
// bodies made every *new* body cost more (measured: 7-9 µs against 3 µs per
// parse, from hashing, eviction and the garbage it kept alive), while a
// connection's own slot costs a miss nothing. Only accepted contexts are kept.
// They are shared by the requests that repeat them, so nothing may change a
// context: the evaluator and canonicalJson only read it (ofrep-context.test.ts
// checks). Not frozen on purpose: Object.freeze on every new context made the
// evaluator's reads of it slower (measured with ofrep.mjs --contexts 8: 60-93
// against 41-49 µs per evaluation on main; unfrozen, the same as main).
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

/** Longest body remembered per connection (characters); longer ones are parsed every time. */
export const MAX_REMEMBERED_CONTEXT_CHARS = 2048;

/** A parsed, checked context (read-only: shared by the requests that repeat it) and, once a bulk answer asked, its hash for the ETag. */
export interface ParsedContext {
  readonly context: EvaluationContext;
  etagHash: string | undefined;
}

// A plain object, like every other context (a frozen one would take the evaluator's slower path).
const EMPTY_CONTEXT: ParsedContext = { context: {} as EvaluationContext, etagHash: undefined };

const LAST = Symbol('flagraft.lastContext');
interface Remembered {
  readonly text: string;
  readonly parsed: ParsedContext;
}
/** Anything a context is remembered on: the request's socket. */
export type ContextHolder = object;
type Slot = { [LAST]: Remembered | undefined };

/**
 * Gives a new connection its (empty) slot, so every socket gets the property
 * at once and in the same order (gateway.ts calls it on 'connection'): one
 * hidden class for all sockets instead of a shape change on a hot path.
 */
export function prepareConnection(conn: ContextHolder): void {
  (conn as Slot)[LAST] = undefined;
}

/** The request body's context; throws OfrepError (400) naming what is wrong, exactly as without the memo. */
export function contextOf(buf: Buffer, conn: ContextHolder | null | undefined): ParsedContext {
  if (buf.length === 0) return EMPTY_CONTEXT;
  const text = buf.toString('utf8');
  // No connection (a request object not from a socket): parsed every time.
  const last = conn ? (conn as Slot)[LAST] : undefined;
  if (last !== undefined && last.text === text) return last.parsed;
  const context = parseContextText(text);
  const parsed: ParsedContext = { context: context === NO_CONTEXT ? EMPTY_CONTEXT.context : context, etagHash: undefined };
  if (conn && text.length <= MAX_REMEMBERED_CONTEXT_CHARS) (conn as Slot)[LAST] = { text, parsed };
  return parsed;
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
