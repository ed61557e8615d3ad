// What a change does, for people: the leaves of two JSON values that differ,
// one `path: before -> after` line each, so a reviewer sees "enabled: false ->
// true" rather than two whole flag definitions. Used by `promote` (the plan)
// and `cr show` (each operation against the revision it was made from).
import type { StoredFlag } from '@flagraft/api';

/** Longest value shown on a diff line, in characters. */
export const MAX_DIFF_VALUE_CHARS = 120;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function show(v: unknown): string {
  if (v === undefined) return '(none)';
  const s = JSON.stringify(v);
  return s.length > MAX_DIFF_VALUE_CHARS ? `${s.slice(0, MAX_DIFF_VALUE_CHARS - 1)}…` : s;
}

/** One line per differing leaf; objects and arrays are walked, a leaf present on one side only shows (none) on the other. */
export function jsonDiff(before: unknown, after: unknown, path = ''): string[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((k) => jsonDiff(before[k], after[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const out: string[] = [];
    for (let i = 0; i < Math.max(before.length, after.length); i++) out.push(...jsonDiff(before[i], after[i], `${path}[${i}]`));
    return out;
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [`${path || '(value)'}: ${show(before)} -> ${show(after)}`];
}

/**
 * A flag's change in an environment: `~ flag k in env (revision n)` then its
 * differing fields indented; `+` for a flag new there, `-` for a deletion.
 */
export function flagChange(key: string, env: string | undefined, before: StoredFlag | null | undefined, after: unknown): string {
  const where = env ? ` in ${env}` : '';
  if (after === null) return `- flag ${key}${where}: deleted (from every environment)${before ? ` (was at revision ${before.modRevision})` : ''}\n`;
  if (!before) return `+ flag ${key}${where}: new\n${jsonDiff({}, after).map((l) => `    ${l}\n`).join('')}`;
  const lines = jsonDiff(before.flag, after);
  return `~ flag ${key}${where} (from revision ${before.modRevision})${lines.length ? '' : ': no change'}\n${lines.map((l) => `    ${l}\n`).join('')}`;
}
