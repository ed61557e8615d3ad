// Readable differences between two JSON documents (flag revisions), as a
// flat list of field paths in flag-model's path style: `variants.on`,
// `rules[0].conditions[1].value`. Used by history and the conflict view.
import type { JsonValue } from './types';

export interface DiffEntry {
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: string;
  after?: string;
}

/** Deepest nesting flattened; deeper values are compared as JSON text. */
export const MAX_DIFF_DEPTH = 12;
/** Entries reported at most; the rest are summarised by the caller. */
export const MAX_DIFF_ENTRIES = 500;

function flatten(value: unknown, path: string, out: Map<string, string>, depth: number): void {
  if (value === undefined) return;
  if (value !== null && typeof value === 'object' && depth < MAX_DIFF_DEPTH) {
    const isArr = Array.isArray(value);
    const entries = isArr ? (value as unknown[]).map((v, i) => [String(i), v] as const) : Object.entries(value as object);
    if (entries.length === 0) {
      out.set(path, isArr ? '[]' : '{}');
      return;
    }
    for (const [k, v] of entries) {
      const p = isArr ? `${path}[${k}]` : /^[A-Za-z_$][\w$-]*$/.test(k) ? (path ? `${path}.${k}` : k) : `${path}[${JSON.stringify(k)}]`;
      flatten(v, p, out, depth + 1);
    }
    return;
  }
  out.set(path, JSON.stringify(value));
}

export function diffJson(before: unknown, after: unknown): DiffEntry[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  flatten(before, '', a, 0);
  flatten(after, '', b, 0);
  const out: DiffEntry[] = [];
  for (const [path, v] of a) {
    if (out.length >= MAX_DIFF_ENTRIES) break;
    if (!b.has(path)) out.push({ path, kind: 'removed', before: v });
    else if (b.get(path) !== v) out.push({ path, kind: 'changed', before: v, after: b.get(path) });
  }
  for (const [path, v] of b) {
    if (out.length >= MAX_DIFF_ENTRIES) break;
    if (!a.has(path)) out.push({ path, kind: 'added', after: v });
  }
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

/** Top-level fields whose JSON differs. */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const own = (o: Record<string, unknown>, k: string) => (Object.hasOwn(o, k) ? o[k] : undefined);
  return [...keys].filter((k) => JSON.stringify(own(before, k)) !== JSON.stringify(own(after, k))).sort();
}

export interface MergeResult<T> {
  merged: T;
  /** Fields I changed that they also changed (to a different value): mine wins in `merged`. */
  overlapping: string[];
  /** Fields I changed. */
  mine: string[];
  /** Fields they changed meanwhile. */
  theirs: string[];
}

/**
 * Three-way merge by top-level field, for "reapply my changes": start from
 * what is stored now and put back every field the user changed relative to
 * what the editor loaded. Fields changed by both are reported so the user
 * sees them before saving again.
 */
export function reapply<T extends Record<string, unknown>>(base: T, mine: T, current: T): MergeResult<T> {
  const mineFields = changedFields(base, mine);
  const theirFields = changedFields(base, current);
  // Field names come from the documents: no prototype behind them.
  const merged = Object.assign(Object.create(null), current) as Record<string, unknown>;
  for (const f of mineFields) {
    if (!Object.hasOwn(mine, f) || mine[f] === undefined) delete merged[f];
    else merged[f] = mine[f];
  }
  const overlapping = mineFields.filter((f) => theirFields.includes(f) && JSON.stringify(mine[f]) !== JSON.stringify(current[f]));
  return { merged: merged as T, overlapping, mine: mineFields, theirs: theirFields };
}
