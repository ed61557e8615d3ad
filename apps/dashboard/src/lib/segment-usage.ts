// What the rule editor's segment picker offers: every segment with the flags
// that use it ("used by"), so an operator sees the reach of a segment before
// adding a rule to it. Pure: the dashboard server computes it from the
// segment list and its flag list (list-cache.ts), the browser only renders it.
import type { StoredFlag, StoredSegment } from './types';

/** Flag keys listed per segment; the rest is a count ("and 12 more"). */
export const MAX_USED_BY_SHOWN = 5;

export interface SegmentChoice {
  name: string;
  description: string;
  /** Keys of flags whose rules include or exclude the segment, sorted, at most MAX_USED_BY_SHOWN. */
  usedBy: string[];
  /** How many flags use it in all. */
  usedByCount: number;
}

/** Segments sorted by name, each with the flags that reference it (in `segments` or `excludeSegments` of any rule). */
export function segmentChoices(segments: readonly StoredSegment[], flags: readonly StoredFlag[]): SegmentChoice[] {
  // Segment names are user data: a Map, never a plain object.
  const users = new Map<string, Set<string>>();
  for (const s of segments) users.set(s.segment.name, new Set());
  for (const f of flags) {
    for (const r of f.flag.rules) {
      for (const name of [...(r.segments ?? []), ...(r.excludeSegments ?? [])]) users.get(name)?.add(f.flag.key);
    }
  }
  return segments
    .map((s) => {
      const keys = [...(users.get(s.segment.name) ?? [])].sort();
      return { name: s.segment.name, description: s.segment.description ?? '', usedBy: keys.slice(0, MAX_USED_BY_SHOWN), usedByCount: keys.length };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
