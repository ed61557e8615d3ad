// Before the search: validate the history, learn every write's revision
// (from its result, or revealed by a read that saw its value, or by a stale
// read), check what revisions alone decide (cheap, and much stronger than the
// search: writes are ordered by revision, which is the commit order), narrow
// each write's window (it must take effect before anyone observed it, and
// before any write of a higher revision returned), drop ops that cannot
// matter, and split the rest into independent partitions of keys.
import { checkStaleReads } from './stale.js';
import { keysOf, writesOf, type KeyState, type ModelContext } from './model.js';
import { HistoryError, type CheckOptions, type Failure, type Op, type WriteOp } from './types.js';

export interface Partition {
  keys: string[];
  ops: Op[];
  initial: Map<string, KeyState>;
  /** Revisions writes of this partition are known to have. */
  knownRevs: Set<number>;
}

export interface Prepared {
  ctx: ModelContext;
  partitions: Partition[];
  failures: Failure[];
  ops: number;
  pending: number;
  staleReads: number;
}

const isWrite = (o: Op): o is WriteOp => o.kind !== 'read';
const nonNegInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Throws HistoryError naming the first field that makes the history uncheckable. */
export function validate(ops: readonly Op[]): void {
  const ids = new Set<number>();
  ops.forEach((o, i) => {
    const f = (name: string): string => `ops[${i}].${name}`;
    if (!Number.isSafeInteger(o.id)) throw new HistoryError(f('id'), 'must be an integer');
    if (ids.has(o.id)) throw new HistoryError(f('id'), `duplicate op id ${o.id}`);
    ids.add(o.id);
    if (typeof o.call !== 'number' || !Number.isFinite(o.call)) throw new HistoryError(f('call'), 'must be a finite number');
    if (typeof o.ret !== 'number' || Number.isNaN(o.ret) || o.ret < o.call) throw new HistoryError(f('ret'), 'must be >= call (Infinity while pending)');
    if ((o.ret === Infinity) !== (o.result === undefined)) throw new HistoryError(f('result'), o.ret === Infinity ? 'a pending op (ret Infinity) has no result' : 'a completed op needs a result');
    const checkWrite = (w: { key: unknown; expectedRevision?: unknown }, path: string): void => {
      if (typeof w.key !== 'string') throw new HistoryError(`${path}.key`, 'must be a string');
      if (w.expectedRevision !== undefined && !nonNegInt(w.expectedRevision)) throw new HistoryError(`${path}.expectedRevision`, 'must be a non-negative integer (0 = must not exist)');
    };
    switch (o.kind) {
      case 'put':
        checkWrite(o, `ops[${i}]`);
        if (typeof o.value !== 'string') throw new HistoryError(f('value'), 'must be a string');
        break;
      case 'delete':
        checkWrite(o, `ops[${i}]`);
        break;
      case 'batch':
        if (!Array.isArray(o.writes) || o.writes.length === 0) throw new HistoryError(f('writes'), 'must be a non-empty array');
        o.writes.forEach((w, j) => {
          checkWrite(w, `ops[${i}].writes[${j}]`);
          if (w.type !== 'put' && w.type !== 'delete') throw new HistoryError(`ops[${i}].writes[${j}].type`, 'must be put or delete');
          if (w.type === 'put' && typeof w.value !== 'string') throw new HistoryError(`ops[${i}].writes[${j}].value`, 'must be a string');
        });
        break;
      case 'read':
        if (typeof o.key !== 'string') throw new HistoryError(f('key'), 'must be a string');
        break;
      default:
        throw new HistoryError(f('kind'), `unknown kind ${String((o as { kind: unknown }).kind)}`);
    }
    if (o.result && o.kind !== 'read' && o.result.ok && o.result.revision !== undefined && !(nonNegInt(o.result.revision) && o.result.revision > 0)) {
      throw new HistoryError(f('result.revision'), 'must be a positive integer');
    }
  });
}

/** Per key, the op that wrote each value (values are unique per key: that is how a read names the write it saw). */
export function indexValues(ops: readonly Op[], initial: CheckOptions['initial']): Map<string, Map<string, WriteOp>> {
  const byKey = new Map<string, Map<string, WriteOp>>();
  for (const o of ops) {
    if (!isWrite(o)) continue;
    for (const w of writesOf(o)) {
      if (w.type !== 'put') continue;
      let m = byKey.get(w.key);
      if (!m) byKey.set(w.key, (m = new Map()));
      const prev = m.get(w.value);
      if ((prev && prev !== o) || initial?.get(w.key)?.value === w.value) {
        throw new HistoryError(`op ${o.id}`, `writes value "${w.value}" to key "${w.key}" again${prev ? ` (op ${prev.id} did)` : ' (its initial value)'}: values must be unique per key`);
      }
      m.set(w.value, o);
    }
  }
  return byKey;
}

export function prepare(all: readonly Op[], opts: CheckOptions = {}): Prepared {
  validate(all);
  const failures: Failure[] = [];
  const values = indexValues(all, opts.initial);
  const writeOf = (key: string, value: string | undefined): WriteOp | undefined => (value === undefined ? undefined : values.get(key)?.get(value));
  const revisionOf = new Map<number, number>();
  /** Writes by revision (more than one only in a history with a revision conflict, which is reported). */
  const byRevision = new Map<number, WriteOp[]>();
  const claim = (w: WriteOp, rev: number, why: Op): void => {
    const had = revisionOf.get(w.id);
    if (had !== undefined) {
      if (had !== rev) failures.push({ kind: 'revision-conflict', keys: keysOf(w), message: `op ${why.id} says op ${w.id} committed at revision ${rev}, but it committed at ${had}`, window: [w, why] });
      return;
    }
    const others = byRevision.get(rev) ?? [];
    if (others.length > 0) {
      failures.push({ kind: 'revision-conflict', keys: [...new Set([...keysOf(w), ...keysOf(others[0])])], message: `ops ${others[0].id} and ${w.id} both committed at revision ${rev}`, window: [others[0], w] });
    }
    // Each write keeps what it was told, so every partition is judged on its own ops.
    revisionOf.set(w.id, rev);
    byRevision.set(rev, [...others, w]);
  };
  for (const o of all) if (isWrite(o) && o.result?.ok && o.result.revision !== undefined) claim(o, o.result.revision, o);
  // A read that saw a value (and its modRevision) reveals the write of that value, and when it committed.
  for (const o of all) {
    if (o.kind !== 'read' || !o.result || o.result.value === undefined || o.result.modRevision === undefined) continue;
    const init = opts.initial?.get(o.key);
    if (init && init.value === o.result.value) {
      if (init.modRevision !== o.result.modRevision) failures.push({ kind: 'revision-conflict', keys: [o.key], message: `op ${o.id} read the initial value of ${o.key} with modRevision ${o.result.modRevision}, not ${init.modRevision}`, window: [o] });
      continue;
    }
    const w = writeOf(o.key, o.result.value);
    if (w) claim(w, o.result.modRevision, o);
  }
  // Partition-level fields (knownRevs, keyIndex) are filled in per partition by verify.
  const ctx: ModelContext = { knownRevs: new Set(), revisionOf, keyIndex: new Map() };

  failures.push(...checkRevisionOrder(all, revisionOf));

  // Windows: ret is narrowed to the latest moment the op can take effect (never widened).
  const ret = new Map<number, number>();
  const narrow = (o: Op, t: number): void => {
    if (t < (ret.get(o.id) ?? o.ret)) ret.set(o.id, Math.max(t, o.call));
  };
  const stale = checkStaleReads(all, writeOf, ctx, opts);
  failures.push(...stale.failures);
  for (const [w, t] of stale.mustHappenBy) narrow(w, t);
  // A write takes effect before anyone observes it: a read of its value, a write that expected its revision, a
  // refusal that reported its revision as current.
  for (const o of all) {
    if (!o.result) continue;
    if (o.kind === 'read') {
      if (o.stale) continue;
      const w = writeOf(o.key, o.result.value);
      if (w) narrow(w, o.ret);
      continue;
    }
    const seen: number[] = [];
    if (o.result.ok) for (const w of writesOf(o)) if (w.expectedRevision) seen.push(w.expectedRevision);
    if (!o.result.ok && o.result.error === 'revision-mismatch' && o.result.currentRevision) seen.push(o.result.currentRevision);
    for (const r of seen) for (const w of byRevision.get(r) ?? []) if (keysOf(w).some((k) => keysOf(o).includes(k))) narrow(w, o.ret);
  }
  // Pending reads constrain nothing; stale reads were checked above against their own model.
  const parts = partition(
    all.filter((o) => !(o.kind === 'read' && (o.stale || !o.result))),
    opts,
  );
  for (const part of parts) {
    // Revision order is commit order: a write takes effect before any write of a higher revision (in its
    // partition) returns. Across partitions only checkRevisionOrder applies, so each partition stands alone.
    const known = part.ops.filter((o) => revisionOf.has(o.id)).sort((a, b) => revisionOf.get(b.id)! - revisionOf.get(a.id)!);
    let bound = Infinity;
    for (const w of known) {
      narrow(w, bound);
      bound = Math.min(bound, ret.get(w.id) ?? w.ret);
    }
    part.ops = part.ops.map((o) => (ret.has(o.id) ? ({ ...o, ret: ret.get(o.id)! } as Op) : o));
    // A write of unknown revision has none of the revisions known in its partition (revisions are unique).
    for (const w of known) part.knownRevs.add(revisionOf.get(w.id)!);
    for (const k of part.keys) {
      const it = opts.initial?.get(k);
      if (it) part.knownRevs.add(it.modRevision);
    }
  }
  return {
    ctx,
    partitions: parts,
    failures,
    ops: all.length,
    pending: all.filter((o) => !o.result).length,
    staleReads: stale.count,
  };
}

/** Writes that returned before another write was called must have the lower revision (commit order is real-time order). */
function checkRevisionOrder(all: readonly Op[], revisionOf: ReadonlyMap<number, number>): Failure[] {
  const ws = all.filter((o): o is WriteOp => isWrite(o) && revisionOf.has(o.id));
  const byRet = [...ws].filter((w) => w.ret !== Infinity).sort((a, b) => a.ret - b.ret);
  const byCall = [...ws].sort((a, b) => a.call - b.call);
  const out: Failure[] = [];
  let i = 0;
  let max: WriteOp | undefined;
  for (const w of byCall) {
    while (i < byRet.length && byRet[i].ret < w.call) {
      if (!max || revisionOf.get(byRet[i].id)! > revisionOf.get(max.id)!) max = byRet[i];
      i++;
    }
    if (max && revisionOf.get(max.id)! > revisionOf.get(w.id)!) {
      out.push({
        kind: 'revision-order',
        keys: [...new Set([...keysOf(max), ...keysOf(w)])],
        message: `op ${max.id} returned revision ${revisionOf.get(max.id)} before op ${w.id} was called, which got the lower revision ${revisionOf.get(w.id)}`,
        window: [max, w],
      });
      if (out.length >= 10) break;
    }
  }
  return out;
}

/** Independent sets of keys: a batch ties its keys together; everything else is one key (linearizability is local). */
function partition(live: Op[], opts: CheckOptions): Partition[] {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let p = parent.get(k) ?? k;
    if (p !== k) {
      p = find(p);
      parent.set(k, p);
    }
    return p;
  };
  for (const o of live) {
    const ks = keysOf(o);
    for (const k of ks) if (!parent.has(k)) parent.set(k, k);
    for (let j = 1; j < ks.length; j++) parent.set(find(ks[j]), find(ks[0]));
  }
  const groups = new Map<string, Partition>();
  for (const o of live) {
    const root = find(keysOf(o)[0]);
    let g = groups.get(root);
    if (!g) groups.set(root, (g = { keys: [], ops: [], initial: new Map(), knownRevs: new Set() }));
    g.ops.push(o);
  }
  for (const [k] of parent) {
    const g = groups.get(find(k))!;
    g.keys.push(k);
    const init = opts.initial?.get(k);
    if (init) g.initial.set(k, { present: true, value: init.value, rev: init.modRevision });
  }
  for (const g of groups.values()) g.keys.sort();
  return [...groups.values()];
}
