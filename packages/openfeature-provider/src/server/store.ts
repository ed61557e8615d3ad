// The provider's copy of the flags and segments its token may see, at one
// revision, and local evaluation with @flagraft/flag-model: the same engine,
// the same answers and reasons, the same bucketing as the gateway's OFREP.
//
// Flag objects come straight from JSON and are never mutated; flag-model
// compiles each on its first evaluation and caches the compiled form by object
// identity, so only flags actually evaluated are compiled (memory for the rest
// is their parsed JSON).
import { evaluate, type ChangeEvent, type EvaluationContext, type EvaluationResult, type SegmentDefinition, type StoredFlag, type StoredSegment } from '@flagraft/flag-model';

export interface Snapshot {
  revision: number;
  flags: StoredFlag[];
  segments: StoredSegment[];
}

export class FlagStore {
  revision = 0;
  private flags = new Map<string, StoredFlag>();
  private segments = new Map<string, StoredSegment>();
  private readonly lookup = (name: string): SegmentDefinition | undefined => this.segments.get(name)?.segment;

  get size(): number {
    return this.flags.size;
  }

  /** Replaces everything; returns the keys whose definition (or segments) differ from before. */
  install(snapshot: Snapshot): string[] {
    const oldFlags = this.flags;
    const oldSegments = this.segments;
    this.flags = new Map(snapshot.flags.map((f) => [f.flag.key, f]));
    this.segments = new Map(snapshot.segments.map((s) => [s.segment.name, s]));
    this.revision = snapshot.revision;
    const changedSegments = new Set<string>();
    for (const [name, s] of this.segments) if (oldSegments.get(name)?.modRevision !== s.modRevision) changedSegments.add(name);
    for (const name of oldSegments.keys()) if (!this.segments.has(name)) changedSegments.add(name);
    const changed: string[] = [];
    for (const [key, f] of this.flags) {
      if (oldFlags.get(key)?.modRevision !== f.modRevision || usesAny(f, changedSegments)) changed.push(key);
    }
    for (const key of oldFlags.keys()) if (!this.flags.has(key)) changed.push(key);
    return changed;
  }

  /** Applies one change (in revision order); returns the flag keys it may affect. */
  apply(e: ChangeEvent): string[] {
    if (e.revision > this.revision) this.revision = e.revision;
    if (e.kind === 'flag') {
      if (e.op === 'put') this.flags.set(e.key, e.flag);
      else this.flags.delete(e.key);
      return [e.key];
    }
    if (e.op === 'put') this.segments.set(e.key, e.segment);
    else this.segments.delete(e.key);
    const users: string[] = [];
    const one = new Set([e.key]);
    for (const [key, f] of this.flags) if (usesAny(f, one)) users.push(key);
    return users;
  }

  evaluate(key: string, context: EvaluationContext): EvaluationResult {
    return evaluate(this.flags.get(key)?.flag, key, context, this.lookup);
  }

  has(key: string): boolean {
    return this.flags.has(key);
  }

  snapshot(): Snapshot {
    return { revision: this.revision, flags: [...this.flags.values()], segments: [...this.segments.values()] };
  }
}

function usesAny(f: StoredFlag, segments: Set<string>): boolean {
  if (segments.size === 0) return false;
  for (const r of f.flag.rules) {
    for (const s of r.segments ?? []) if (segments.has(s)) return true;
    for (const s of r.excludeSegments ?? []) if (segments.has(s)) return true;
  }
  return false;
}
