// One pass of the check without minimal windows: prepare, then search each
// partition. check.ts adds the windows (window.ts calls this on sub-histories).
import { initialState } from './model.js';
import { prepare } from './prepare.js';
import { DEFAULT_MAX_STEPS, searchPartition } from './search.js';
import type { CheckOptions, Failure, Op } from './types.js';

export interface Verified {
  failures: Failure[];
  /** For each not-linearizable / undecided failure: the ops of its partition (before narrowing). */
  partitionOps: Map<Failure, Op[]>;
  stats: { ops: number; pending: number; staleReads: number; partitions: number; steps: number; maxPartitionSteps: number };
}

export function verify(ops: readonly Op[], opts: CheckOptions = {}): Verified {
  const p = prepare(ops, opts);
  const failures = [...p.failures];
  const partitionOps = new Map<Failure, Op[]>();
  const byId = new Map(ops.map((o) => [o.id, o]));
  let steps = 0;
  let maxPartitionSteps = 0;
  for (const part of p.partitions) {
    const keyIndex = new Map(part.keys.map((k, i) => [k, i]));
    const r = searchPartition(part.ops, initialState(part.keys, part.initial), { ...p.ctx, knownRevs: part.knownRevs, keyIndex }, opts.maxSteps ?? DEFAULT_MAX_STEPS);
    steps += r.steps;
    maxPartitionSteps = Math.max(maxPartitionSteps, r.steps);
    if (r.verdict === 'ok') continue;
    const keys = new Set(part.keys);
    // The partition's ops as given (windows are cut from these, not from the narrowed copies), with the stale reads of its keys.
    const original = ops.filter((o) => (o.kind === 'batch' ? o.writes.some((w) => keys.has(w.key)) : keys.has(o.key)));
    const f: Failure = {
      kind: r.verdict === 'fail' ? 'not-linearizable' : 'undecided',
      keys: part.keys,
      message: '',
      window: [],
      stuckAt: r.stuckAt ? byId.get(r.stuckAt.id) : undefined,
    };
    failures.push(f);
    partitionOps.set(f, original);
  }
  return { failures, partitionOps, stats: { ops: p.ops, pending: p.pending, staleReads: p.staleReads, partitions: p.partitions.length, steps, maxPartitionSteps } };
}
