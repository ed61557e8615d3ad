// Named limits on the shape of what the dashboard accepts: request bodies
// (form fields or JSON sent to actions) and the flag/segment documents the
// editors post. A value over a limit is refused with a message naming the
// limit and where it was hit, before anything walks it recursively (flag-model,
// diffs, the gateway), so hostile nesting or size costs one bounded walk.

/** Largest request body, in bytes (Content-Length; a body without one is refused). */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;
/** Deepest nesting of arrays/objects. */
export const MAX_JSON_DEPTH = 64;
/** Longest string in a document, in characters (action fields: see MAX_FIELD_CHARS). */
export const MAX_JSON_STRING_CHARS = 64 * 1024;
/** Most items in one array, and most keys in one object. */
export const MAX_JSON_ITEMS = 10_000;
/** Numbers must be finite and within ±MAX_JSON_NUMBER (a JSON 1e400 parses to Infinity). */
export const MAX_JSON_NUMBER = Number.MAX_VALUE;
/** Longest string field of an action body, in characters: the editor's whole document travels in one field. */
export const MAX_FIELD_CHARS = 512 * 1024;

export interface ShapeLimits {
  depth: number;
  stringChars: number;
  items: number;
}

export const DOCUMENT_LIMITS: ShapeLimits = { depth: MAX_JSON_DEPTH, stringChars: MAX_JSON_STRING_CHARS, items: MAX_JSON_ITEMS };
export const BODY_LIMITS: ShapeLimits = { depth: MAX_JSON_DEPTH, stringChars: MAX_FIELD_CHARS, items: MAX_JSON_ITEMS };

export interface ShapeProblem {
  path: string;
  message: string;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key.length > 40 ? key.slice(0, 40) + '…' : key)}]`;
}

/**
 * The first limit `value` breaks, or undefined. Iterative (an explicit stack),
 * so even a value nested far beyond the limit cannot overflow the call stack.
 */
export function checkShape(value: unknown, limits: ShapeLimits = DOCUMENT_LIMITS): ShapeProblem | undefined {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: '', depth: 0 }];
  while (stack.length) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.length > limits.stringChars) return { path, message: `text longer than ${limits.stringChars} characters (limit MAX_JSON_STRING_CHARS)` };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v) || Math.abs(v) > MAX_JSON_NUMBER) return { path, message: 'number out of range (must be finite)' };
    } else if (v !== null && typeof v === 'object') {
      if (depth >= limits.depth) return { path, message: `nested deeper than ${limits.depth} levels (limit MAX_JSON_DEPTH)` };
      if (Array.isArray(v)) {
        if (v.length > limits.items) return { path, message: `more than ${limits.items} items (limit MAX_JSON_ITEMS)` };
        for (let i = 0; i < v.length; i++) stack.push({ v: v[i], path: join(path, i), depth: depth + 1 });
      } else {
        const keys = Object.keys(v);
        if (keys.length > limits.items) return { path, message: `more than ${limits.items} fields (limit MAX_JSON_ITEMS)` };
        for (const k of keys) {
          if (k.length > limits.stringChars) return { path, message: `field name longer than ${limits.stringChars} characters (limit MAX_JSON_STRING_CHARS)` };
          stack.push({ v: (v as Record<string, unknown>)[k], path: join(path, k), depth: depth + 1 });
        }
      }
    }
  }
  return undefined;
}

/** A revision from a form field: a safe integer >= min, else undefined (1e300 is an integer, but not a revision). */
export function revisionOf(raw: unknown, min = 0): number | undefined {
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  if (typeof raw === 'string' && !/^\d{1,16}$/.test(raw.trim())) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= min ? n : undefined;
}
