// Validation with the same package the gateway and the cluster use, so the
// editor shows exactly the messages a save would be refused with.
import { FLAG_KIND, ValidationError, type AnyItemKind, type FlagKind } from '@flagraft/flag-model';
import type { FlagDefinition, SegmentDefinition, ValidationIssue } from '~/lib/types';
import { checkShape, DOCUMENT_LIMITS } from './input-limits';
import { serverFunction } from './server-functions';

export type Checked<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

function check<T>(fn: () => T): Checked<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof ValidationError) return { ok: false, issues: err.issues };
    // Not a validation problem: a bug of flag-model or input it cannot handle; say so without a stack trace.
    return { ok: false, issues: [{ path: '', message: `could not be checked (${(err as Error)?.message ?? String(err)})`.slice(0, 300) }] };
  }
}

/** A definition of either kind checked by its descriptor's validator. */
export function checkItem<K extends AnyItemKind>(kind: K, input: unknown): Checked<K extends FlagKind ? FlagDefinition : SegmentDefinition> {
  return check(() => kind.validate(input) as unknown as K extends FlagKind ? FlagDefinition : SegmentDefinition);
}

export function checkFlag(input: unknown): Checked<FlagDefinition> {
  return checkItem(FLAG_KIND, input);
}

/** Largest JSON body an editor action accepts, in characters. */
export const MAX_EDITOR_JSON_CHARS = 512 * 1024;

export function parseEditorJson(text: unknown): { ok: true; value: unknown } | { ok: false; issues: ValidationIssue[] } {
  if (typeof text !== 'string' || text.length === 0) return { ok: false, issues: [{ path: '', message: 'missing flag document' }] };
  if (text.length > MAX_EDITOR_JSON_CHARS) {
    return { ok: false, issues: [{ path: '', message: `flag document larger than ${MAX_EDITOR_JSON_CHARS} characters` }] };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, issues: [{ path: '', message: `not valid JSON: ${(e as Error).message}` }] };
  }
  // Before flag-model walks it (recursively): depth, sizes and numbers within the named limits.
  const p = checkShape(value, DOCUMENT_LIMITS);
  return p ? { ok: false, issues: [p] } : { ok: true, value };
}

/** The flag editor's live validation (a server$ function): the problems a save of this document would be refused with. */
export const validateEditorJson = serverFunction(function (json: unknown): ValidationIssue[] {
  const parsed = parseEditorJson(json);
  if (!parsed.ok) return parsed.issues;
  const r = checkFlag(parsed.value);
  return r.ok ? [] : r.issues;
});
