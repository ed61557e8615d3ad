// Plain-text tables for humans: left-aligned columns, one header line, no
// colour (output is often piped or pasted into tickets).

/** Longest cell shown, in characters; longer values are cut with an ellipsis. */
export const MAX_CELL_CHARS = 60;

export function formatTable(headers: string[], rows: Array<Array<string | number | boolean | null | undefined>>): string {
  const cells = rows.map((r) => headers.map((_, i) => cell(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

function cell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined || v === '') return '-';
  const s = String(v).replace(/\s+/g, ' ');
  return s.length > MAX_CELL_CHARS ? `${s.slice(0, MAX_CELL_CHARS - 1)}…` : s;
}

/** `key: value` lines, aligned, for one object. */
export function formatFields(fields: Array<[string, string | number | boolean | null | undefined]>): string {
  const w = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${`${k}:`.padEnd(w + 1)} ${v === undefined || v === null || v === '' ? '-' : String(v)}`).join('\n') + '\n';
}

export function formatTime(ms: unknown): string {
  if (typeof ms === 'number' && Number.isFinite(ms)) return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (typeof ms === 'string' && ms) return ms.replace(/\.\d{3}Z$/, 'Z');
  return '-';
}
