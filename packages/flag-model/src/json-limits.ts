// Named limits on the *shape* of any JSON value a service accepts (request
// bodies, WebSocket messages, evaluation contexts), checked before any code
// walks the value recursively. JSON.parse itself is iterative in V8, so a
// 100,000-level document parses fine — and then overflows the stack of the
// first recursive consumer (validator, merge patch, structuredClone, ...).
// Everything here is iterative, allocation-light, and bounded by maxNodes.
//
// Each violation carries the limit's name so an error can say *which* limit
// was hit; callers map them to 400/413/422 problem+json.
import { fieldPath, indexPath } from './json-util.js';

export const JSON_LIMITS = Object.freeze({
  /** Nesting of arrays/objects; the top-level container is depth 1. */
  maxJsonDepth: 64,
  /** One string value, UTF-16 code units. */
  maxJsonStringChars: 64 * 1024,
  /** One object key, UTF-16 code units. */
  maxJsonKeyChars: 1024,
  /** Items of one array. */
  maxJsonArrayItems: 10_000,
  /** Keys of one object. */
  maxJsonObjectKeys: 10_000,
  /** Values (containers, keys' values, items, scalars) in the whole document. */
  maxJsonNodes: 1_000_000,
});

export type JsonLimits = { -readonly [K in keyof typeof JSON_LIMITS]: number };

/** The name of a JSON shape limit, or `jsonNumberRange` (a number that is not finite: JSON `1e400` parses to Infinity). */
export type JsonLimitName = keyof typeof JSON_LIMITS | 'jsonNumberRange' | 'jsonSafeInteger';

export interface JsonLimitViolation {
  /** The limit's name, e.g. `maxJsonDepth`. */
  limit: JsonLimitName;
  /** The limit's value (0 for jsonNumberRange; Number.MAX_SAFE_INTEGER for jsonSafeInteger). */
  max: number;
  /** Field path in the validator's style: `rules[2].conditions`, '' = the whole value. */
  path: string;
  /** RFC 6901 JSON pointer to the same place: `/rules/2/conditions`, '' = the whole value. */
  pointer: string;
  /** A sentence for people. */
  message: string;
}

/** Violations reported before the walk stops (bounds the error size). */
export const MAX_JSON_VIOLATIONS = 50;

// A node on the explicit stack. Paths are rebuilt from the parent chain only
// when a violation is reported, so the common (valid) case builds no strings.
interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | undefined;
  key: string | number | undefined;
  longKey?: boolean;
}

function segments(f: Frame): (string | number)[] {
  const out: (string | number)[] = [];
  for (let c: Frame | undefined = f; c && c.key !== undefined; c = c.parent) out.push(c.key);
  return out.reverse();
}

function pathOf(segs: (string | number)[]): string {
  let p = '';
  for (const s of segs) p = typeof s === 'number' ? indexPath(p, s) : fieldPath(p, s);
  return p;
}

export function jsonPointer(segs: readonly (string | number)[]): string {
  let p = '';
  for (const s of segs) p += '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1');
  return p;
}

function violation(f: Frame, limit: JsonLimitName, max: number, message: string): JsonLimitViolation {
  const segs = segments(f);
  return { limit, max, path: pathOf(segs), pointer: jsonPointer(segs), message };
}

/**
 * Checks a parsed JSON value against shape limits without recursion.
 * Returns [] when the value fits. A container deeper than maxJsonDepth is
 * reported once and not entered; the walk stops after maxJsonNodes values or
 * MAX_JSON_VIOLATIONS violations. Only own enumerable keys are read (what
 * JSON.parse produces), so `__proto__` is just a key.
 */
export function jsonShapeViolations(value: unknown, overrides: Partial<JsonLimits> = {}): JsonLimitViolation[] {
  const lim: JsonLimits = { ...JSON_LIMITS, ...overrides };
  const out: JsonLimitViolation[] = [];
  const stack: Frame[] = [{ value, depth: 0, parent: undefined, key: undefined }];
  let nodes = 0;
  while (stack.length > 0 && out.length < MAX_JSON_VIOLATIONS) {
    const f = stack.pop()!;
    if (++nodes > lim.maxJsonNodes) {
      out.push(violation(f, 'maxJsonNodes', lim.maxJsonNodes, `has more than ${lim.maxJsonNodes} values in all`));
      break;
    }
    if (f.longKey) {
      const n = (f.key as string).length;
      out.push(violation(f, 'maxJsonKeyChars', lim.maxJsonKeyChars, `is a key of ${n} characters, more than ${lim.maxJsonKeyChars}`));
      continue;
    }
    const v = f.value;
    if (typeof v === 'string') {
      if (v.length > lim.maxJsonStringChars) {
        out.push(violation(f, 'maxJsonStringChars', lim.maxJsonStringChars, `is a string of ${v.length} characters, more than ${lim.maxJsonStringChars}`));
      }
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) out.push(violation(f, 'jsonNumberRange', 0, 'is a number too large to represent'));
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const depth = f.depth + 1;
    if (depth > lim.maxJsonDepth) {
      out.push(violation(f, 'maxJsonDepth', lim.maxJsonDepth, `is nested more than ${lim.maxJsonDepth} levels deep`));
      continue;
    }
    if (Array.isArray(v)) {
      if (v.length > lim.maxJsonArrayItems) {
        out.push(violation(f, 'maxJsonArrayItems', lim.maxJsonArrayItems, `has ${v.length} items, more than ${lim.maxJsonArrayItems}`));
        continue;
      }
      // Pushed in reverse so violations come out in document order.
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth, parent: f, key: i });
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > lim.maxJsonObjectKeys) {
      out.push(violation(f, 'maxJsonObjectKeys', lim.maxJsonObjectKeys, `has ${keys.length} keys, more than ${lim.maxJsonObjectKeys}`));
      continue;
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      // A too-long key is reported when its frame is popped (document order), and its value is not entered.
      stack.push({ value: (v as Record<string, unknown>)[k], depth, parent: f, key: k, longKey: k.length > lim.maxJsonKeyChars });
    }
  }
  return out;
}

/**
 * Whether a parsed JSON value fits every shape limit: the same verdict as
 * `jsonShapeViolations(value, overrides).length === 0`, for hot paths that
 * only need yes or no (OFREP evaluation contexts). It builds nothing (no
 * frames, no merged limits object); on false, call jsonShapeViolations for
 * the violations and their paths. Recursive, but never deeper than
 * maxJsonDepth + 1 calls: a container past the limit answers false before
 * its children are entered.
 */
export function jsonWithinLimits(value: unknown, limits: JsonLimits = JSON_LIMITS): boolean {
  withinNodes = 0;
  return within(value, 0, limits);
}
let withinNodes = 0;

function within(v: unknown, depth: number, lim: JsonLimits): boolean {
  if (++withinNodes > lim.maxJsonNodes) return false;
  if (typeof v === 'string') return v.length <= lim.maxJsonStringChars;
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v !== 'object' || v === null) return true;
  const d = depth + 1;
  if (d > lim.maxJsonDepth) return false;
  if (Array.isArray(v)) {
    if (v.length > lim.maxJsonArrayItems) return false;
    for (let i = 0; i < v.length; i++) if (!within(v[i], d, lim)) return false;
    return true;
  }
  // Own enumerable keys, as jsonShapeViolations reads them (Object.keys).
  const keys = Object.keys(v);
  if (keys.length > lim.maxJsonObjectKeys) return false;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k.length > lim.maxJsonKeyChars || !within((v as Record<string, unknown>)[k], d, lim)) return false;
  }
  return true;
}

/**
 * Nesting depth check on raw JSON text, before JSON.parse builds anything:
 * a linear scan that tracks strings and escapes. Returns the violation or
 * undefined. Malformed text is not judged here (JSON.parse will refuse it).
 */
export function jsonTextDepthViolation(text: string, maxDepth: number = JSON_LIMITS.maxJsonDepth): JsonLimitViolation | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) {
        return { limit: 'maxJsonDepth', max: maxDepth, path: '', pointer: '', message: `is nested more than ${maxDepth} levels deep (at character ${i})` };
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

/**
 * A field that must be a non-negative safe integer (revisions, counts):
 * `1e300` or `2**53` would lose precision or overflow SQLite's INTEGER.
 * `segs` locate the field (e.g. ['ops', 3, 'expectedRevision']).
 */
export function safeIntegerViolation(value: unknown, segs: readonly (string | number)[]): JsonLimitViolation | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return undefined;
  return {
    limit: 'jsonSafeInteger',
    max: Number.MAX_SAFE_INTEGER,
    path: pathOf([...segs]),
    pointer: jsonPointer(segs),
    message: `must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`,
  };
}

/**
 * The JSON pointer of a validator-style field path: `rules[2].rollout.weights`
 * -> `/rules/2/rollout/weights`, `variants["odd name"]` -> `/variants/odd name`.
 * Undefined when the text is not such a path.
 */
export function pointerOfPath(path: string): string | undefined {
  const segs: (string | number)[] = [];
  let i = 0;
  const ident = /^[A-Za-z_$][A-Za-z0-9_$]*/;
  while (i < path.length) {
    const rest = path.slice(i);
    if (rest[0] === '[') {
      const num = /^\[(\d+)\]/.exec(rest);
      if (num) {
        segs.push(Number(num[1]));
        i += num[0].length;
        continue;
      }
      const str = /^\[("(?:[^"\\]|\\.)*")\]/.exec(rest);
      if (!str) return undefined;
      try {
        segs.push(JSON.parse(str[1]!) as string);
      } catch {
        return undefined;
      }
      i += str[0].length;
      continue;
    }
    const dot = segs.length > 0 && rest[0] === '.' ? 1 : 0;
    const m = ident.exec(rest.slice(dot));
    if (!m) return undefined;
    segs.push(m[0]);
    i += dot + m[0].length;
  }
  return jsonPointer(segs);
}
