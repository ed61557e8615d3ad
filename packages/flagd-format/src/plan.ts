// What an import would change, for a dry run and for applying it: each flag
// and segment of the import is created, updated or unchanged compared with
// what the cluster holds. An update keeps the descriptive fields flagd does
// not have (description, tags, owner) from the flag it replaces.
import { validateFlag, type FlagDefinition, type SegmentDefinition } from '@flagraft/flag-model';

export type PlanAction = 'create' | 'update' | 'unchanged';

export interface PlanEntry {
  kind: 'flag' | 'segment';
  key: string;
  action: PlanAction;
  /** The definition to write (for create / update). */
  definition: FlagDefinition | SegmentDefinition;
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function planImport(
  imported: { flags: FlagDefinition[]; segments: SegmentDefinition[] },
  current: { flag(key: string): FlagDefinition | undefined; segment(name: string): SegmentDefinition | undefined },
): PlanEntry[] {
  const out: PlanEntry[] = [];
  for (const s of imported.segments) {
    const now = current.segment(s.name);
    const definition = now?.description !== undefined && s.description === undefined ? { ...s, description: now.description } : s;
    out.push({ kind: 'segment', key: s.name, action: !now ? 'create' : canonical(now) === canonical(definition) ? 'unchanged' : 'update', definition });
  }
  for (const f of imported.flags) {
    const now = current.flag(f.key);
    let definition = f;
    if (now) {
      const keep: Partial<FlagDefinition> = {};
      if (now.description !== undefined) keep.description = now.description;
      if (now.tags !== undefined) keep.tags = now.tags;
      if (now.owner !== undefined) keep.owner = now.owner;
      definition = validateFlag({ ...f, ...keep });
    }
    out.push({ kind: 'flag', key: f.key, action: !now ? 'create' : canonical(validateFlag(now)) === canonical(definition) ? 'unchanged' : 'update', definition });
  }
  return out;
}
