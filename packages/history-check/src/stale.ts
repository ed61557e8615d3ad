// Stale reads: the weaker model. In flagraft a stale read is served by
// whichever node the client is talking to, from that node's applied state,
// without a ReadIndex round (apps/consensus-node: `stale` reads the local
// state; packages/cluster-client sends it to its current endpoint and does not
// follow NOT_LEADER hints). A node applies only committed entries, in log
// order, so what it serves is the state after some committed prefix of the
// log; but that prefix can be arbitrarily old (a partitioned or removed node,
// a learner catching up, a node restarted from an older state file) and the
// client's endpoint changes on failure, so successive reads can go back.
// What a stale read promises, and what is checked:
//   - it returns the key's state at some committed revision: a value some
//     write of that key committed (with that write's revision as modRevision),
//     or absence where the key was absent;
//   - not from the future: that write was invoked before the read returned,
//     and it did take effect (a stale read of a value reveals that its write
//     committed, which the linearizability search then has to respect);
//   - with monotonicStaleReads (a client pinned to one node or one gateway
//     replica, which apply in order): one client's stale reads of a key never
//     go back in revision. Off by default: flagraft does not promise it.
import type { ModelContext } from './model.js';
import { writesOf } from './model.js';
import type { CheckOptions, Failure, Op, ReadOp, WriteOp } from './types.js';

export interface StaleCheck {
  failures: Failure[];
  /** Writes a stale read saw: they committed, before that read returned. */
  mustHappenBy: Map<WriteOp, number>;
  count: number;
}

export function checkStaleReads(
  all: readonly Op[],
  writeOf: (key: string, value: string | undefined) => WriteOp | undefined,
  ctx: ModelContext,
  opts: CheckOptions,
): StaleCheck {
  const failures: Failure[] = [];
  const mustHappenBy = new Map<WriteOp, number>();
  const stale = all.filter((o): o is ReadOp => o.kind === 'read' && o.stale === true && o.result !== undefined);
  const fail = (o: ReadOp, message: string, also: Op[] = []): void => {
    failures.push({ kind: 'stale-read', keys: [o.key], message: `stale read op ${o.id} of ${o.key}: ${message}`, window: [...also, o] });
  };
  const deletes = new Map<string, Op[]>();
  for (const o of all) {
    for (const w of writesOf(o)) {
      if (w.type !== 'delete') continue;
      let l = deletes.get(w.key);
      if (!l) deletes.set(w.key, (l = []));
      l.push(o);
    }
  }
  /** The revision of the state a stale read saw, when known (for monotonicity). */
  const seenRev = new Map<number, number>();
  for (const o of stale) {
    const r = o.result!;
    const init = opts.initial?.get(o.key);
    if (r.value === undefined) {
      if (!init) continue; // absent from the start: any node that has not applied the first write says so
      const d = (deletes.get(o.key) ?? []).find((x) => x.call < o.ret && x.kind !== 'read' && (x.result === undefined || x.result.ok));
      if (!d) fail(o, 'returned nothing, but the key existed from the start and no delete of it was invoked before the read returned');
      continue;
    }
    if (init && init.value === r.value) {
      seenRev.set(o.id, init.modRevision);
      continue;
    }
    const w = writeOf(o.key, r.value);
    if (!w) {
      fail(o, `returned "${r.value}", which no write of this key wrote`);
      continue;
    }
    if (w.call > o.ret) {
      fail(o, `returned "${r.value}" before the write of it (op ${w.id}) was invoked`, [w]);
      continue;
    }
    if (w.result && !w.result.ok) {
      fail(o, `returned "${r.value}" of op ${w.id}, which was refused (${w.result.error})`, [w]);
      continue;
    }
    mustHappenBy.set(w, Math.min(mustHappenBy.get(w) ?? Infinity, o.ret));
    const rev = ctx.revisionOf.get(w.id) ?? r.modRevision;
    if (rev !== undefined) seenRev.set(o.id, rev);
  }
  if (opts.monotonicStaleReads) failures.push(...checkMonotonic(stale, seenRev));
  return { failures, mustHappenBy, count: stale.length };
}

/** One client's stale reads of a key, in real-time order, never see a lower revision than an earlier one did. */
function checkMonotonic(stale: ReadOp[], seenRev: ReadonlyMap<number, number>): Failure[] {
  const out: Failure[] = [];
  const byClientKey = new Map<string, ReadOp[]>();
  for (const o of stale) {
    if (o.client === undefined || !seenRev.has(o.id)) continue;
    const k = `${String(o.client)}\u0000${o.key}`;
    let l = byClientKey.get(k);
    if (!l) byClientKey.set(k, (l = []));
    l.push(o);
  }
  for (const l of byClientKey.values()) {
    l.sort((a, b) => a.call - b.call);
    const byRet = l.filter((o) => o.ret !== Infinity).sort((a, b) => a.ret - b.ret);
    let i = 0;
    let best: ReadOp | undefined;
    for (const o of l) {
      // Only reads that returned before this one was called are "earlier".
      for (; i < byRet.length && byRet[i].ret < o.call; i++) if (!best || seenRev.get(byRet[i].id)! > seenRev.get(best.id)!) best = byRet[i];
      if (best && seenRev.get(o.id)! < seenRev.get(best.id)!) {
        out.push({
          kind: 'stale-read',
          keys: [o.key],
          message: `client ${String(o.client)}: stale read op ${o.id} of ${o.key} saw revision ${seenRev.get(o.id)} after op ${best.id} had seen ${seenRev.get(best.id)}`,
          window: [best, o],
        });
        break;
      }
    }
  }
  return out;
}
