// Field paths for people: `rules[1].rollout.weights` -> "Rule 2, weights".
// Paths come from flag-model and from the gateway's 422 (`errors: [{path,
// message}]`, flag-model's style or a JSON Pointer like `/rules/1/variant`);
// anything unknown is shown as it is, so no problem is ever hidden.

const FIELD_LABELS = new Map<string, string>([
  ['key', 'Key'],
  ['name', 'Name'],
  ['type', 'Type'],
  ['enabled', 'Enabled'],
  ['variants', 'Variants'],
  ['defaultVariant', 'Default variant'],
  ['offVariant', 'Off variant'],
  ['rules', 'Rules'],
  ['description', 'Description'],
  ['tags', 'Tags'],
  ['owner', 'Owner'],
  ['metadata', 'Metadata'],
  ['conditions', 'Conditions'],
  ['attribute', 'attribute'],
  ['op', 'operator'],
  ['value', 'value'],
  ['segments', 'segments'],
  ['excludeSegments', 'excluded segments'],
  ['variant', 'variant'],
  ['rollout', 'rollout'],
  ['weights', 'weights'],
  ['weight', 'weight'],
  ['bucketBy', 'bucket by'],
  ['id', 'id'],
]);

/** Singular labels of list items: `rules[1]` -> "Rule 2". */
const ITEM_LABELS = new Map<string, string>([
  ['rules', 'Rule'],
  ['conditions', 'condition'],
  ['weights', 'weight'],
  ['segments', 'segment'],
  ['excludeSegments', 'excluded segment'],
  ['tags', 'Tag'],
  ['variants', 'Variant'],
]);

type Part = string | number;

/** Splits `a.b[2]["x y"]` or `/a/b/2` into parts. Returns undefined for a shape it does not know. */
export function pathParts(path: string): Part[] | undefined {
  if (path === '' || path === '/') return [];
  if (path.startsWith('/')) {
    return path
      .slice(1)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  }
  const parts: Part[] = [];
  const re = /(?:^|\.)([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  let at = 0;
  while (at < path.length) {
    re.lastIndex = at;
    const m = re.exec(path);
    if (!m || m.index !== at) return undefined;
    if (m[1] !== undefined) parts.push(m[1]);
    else if (m[2] !== undefined) parts.push(Number(m[2]));
    else {
      try {
        parts.push(JSON.parse(m[3]) as string);
      } catch {
        return undefined;
      }
    }
    at = re.lastIndex;
  }
  return parts;
}

/** "Rule 2, weights", "Variant “on”", "Rule 1, condition 3, attribute"; the path itself if it cannot be read. */
export function humanPath(path: string, subject = 'flag'): string {
  const parts = pathParts(path);
  if (!parts) return path;
  if (parts.length === 0) return `The ${subject}`;
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    const next = parts[i + 1];
    if (typeof p === 'string' && typeof next === 'number' && ITEM_LABELS.has(p)) {
      out.push(`${ITEM_LABELS.get(p)} ${next + 1}`);
      i++;
    } else if (p === 'variants' && typeof next === 'string') {
      out.push(`Variant “${next}”`);
      i++;
    } else if (p === 'weight' && typeof parts[i - 1] === 'number' && parts[i - 2] === 'weights') {
      continue; // "weight 1", not "weight 1, weight"
    } else if (p === 'rollout' && i + 1 < parts.length) {
      continue; // "Rule 2, weights" reads better than "Rule 2, rollout, weights"
    } else if (typeof p === 'number') {
      out.push(`item ${p + 1}`);
    } else {
      out.push(FIELD_LABELS.get(p) ?? p);
    }
  }
  const s = out.join(', ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** One problem as a sentence: "Rule 2, weights: must add up to 100 %". */
export function humanIssue(issue: { path: string; message: string }, subject = 'flag'): string {
  return `${humanPath(issue.path, subject)}: ${issue.message}`;
}

/**
 * Paths in flag-model's style, so a gateway problem given as a JSON Pointer
 * lands next to the same field as the editor's own checks.
 */
export function normalisePath(path: string): string {
  if (!path.startsWith('/')) return path;
  const parts = pathParts(path);
  if (!parts) return path;
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}
