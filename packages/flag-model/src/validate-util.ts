// Building blocks of the validators: issue collection, the guard that turns
// any failure into a ValidationError, and checks for strings, keys and names.
import { ValidationError } from './errors.js';
import { LIMITS, KEY_PATTERN, NAME_PATTERN } from './limits.js';
import { fieldPath, hasOwn } from './json-util.js';
import type { ValidationIssue } from './types.js';

/** Issues collected before validation stops looking (bounds the error size). */
export const MAX_ISSUES = 50;

export class Issues {
  readonly list: ValidationIssue[] = [];
  add(path: string, message: string): void {
    if (this.list.length < MAX_ISSUES) this.list.push({ path, message });
  }
  get full(): boolean {
    return this.list.length >= MAX_ISSUES;
  }
}


export function guarded<T>(what: string, run: (is: Issues) => T | undefined): T {
  const is = new Issues();
  let out: T | undefined;
  try {
    out = run(is);
  } catch (e) {
    // A hostile input (throwing getter, revoked proxy, stack overflow) must
    // still produce our own error, never an arbitrary exception.
    is.add('', `could not be read: ${safeMessage(e)}`);
  }
  if (is.list.length > 0 || out === undefined) {
    if (is.list.length === 0) is.add('', 'is invalid');
    throw new ValidationError(is.list, what);
  }
  return out;
}

export function safeMessage(e: unknown): string {
  try {
    return e instanceof Error ? String(e.message).slice(0, 200) : 'unexpected value';
  } catch {
    return 'unexpected value';
  }
}

export function checkUnknown(o: Record<string, unknown>, allowed: Set<string>, path: string, is: Issues): void {
  for (const k of Object.keys(o)) if (!allowed.has(k)) is.add(fieldPath(path, k), 'unknown field');
}

/** Reads an optional field: undefined and null both mean absent. */
export function opt(o: Record<string, unknown>, k: string): unknown {
  if (!hasOwn(o, k)) return undefined;
  const v = o[k];
  return v === null ? undefined : v;
}

export function checkString(v: unknown, path: string, is: Issues, maxChars: number, pattern?: RegExp, patternText?: string): string | undefined {
  if (typeof v !== 'string') {
    is.add(path, 'must be a string');
    return undefined;
  }
  if (v.length === 0 && pattern) {
    is.add(path, 'must not be empty');
    return undefined;
  }
  if (v.length > maxChars) {
    is.add(path, `must be at most ${maxChars} characters (got ${v.length})`);
    return undefined;
  }
  if (pattern && !pattern.test(v)) {
    is.add(path, `must match ${patternText ?? String(pattern)}`);
    return undefined;
  }
  return v;
}

export const KEY_TEXT = KEY_PATTERN.source;
export const NAME_TEXT = NAME_PATTERN.source;
export const key = (v: unknown, p: string, is: Issues) => checkString(v, p, is, LIMITS.maxKeyChars, KEY_PATTERN, KEY_TEXT);
export const name = (v: unknown, p: string, is: Issues) => checkString(v, p, is, LIMITS.maxNameChars, NAME_PATTERN, NAME_TEXT);
