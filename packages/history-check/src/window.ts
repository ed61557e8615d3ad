// A small failing window of a non-linearizable history, self-contained
// evidence a human can read: the earliest cut T at which it already fails
// (binary search: linearizability is prefix-closed, so failure is monotone in
// T), then the latest start S whose window still fails from the state the
// earlier writes left, then op-by-op shrinking. Every step keeps only windows
// verified to fail, and a window fails only if the history does.
import { writesOf } from './model.js';
import type { CheckOptions, InitialItem, Op } from './types.js';
import { verify } from './verify.js';

/** Windows longer than this are reported without the op-by-op shrinking (each try is one more search). Unit: ops. */
export const MAX_SHRINK_OPS = 200;

/** Cut a history at logical time T: what the clients knew by then (ops not returned by T become pending). */
function truncate(ops: readonly Op[], t: number): Op[] {
  return ops.filter((o) => o.call <= t).map((o) => (o.ret <= t ? o : ({ ...o, ret: Infinity, result: undefined } as Op)));
}

/**
 * The state every key is in when the window starting at `s` begins: the
 * history's initial state plus every successful write that returned before
 * the window (they precede all of it, and go in revision order). Undefined
 * if such a write has no known revision (the order would be a guess).
 */
function stateBefore(excluded: Op[], initial: CheckOptions['initial']): Map<string, InitialItem> | undefined {
  const out = new Map(initial ?? []);
  const done = excluded.filter((o) => o.kind !== 'read' && o.result?.ok);
  const revOf = (o: Op): number | undefined => (o.kind !== 'read' && o.result?.ok ? o.result.revision : undefined);
  if (done.some((o) => revOf(o) === undefined)) return undefined;
  done.sort((a, b) => revOf(a)! - revOf(b)!);
  for (const o of done) {
    for (const w of writesOf(o)) {
      if (w.type === 'put') out.set(w.key, { value: w.value, modRevision: revOf(o)! });
      else out.delete(w.key);
    }
  }
  return out;
}

/**
 * The window of a history that fails (see the file comment): its ops, and
 * the state they start from (the history's initial state plus what the
 * writes before the window left). A history that does not fail is its own window.
 */
export function minimalWindow(ops: readonly Op[], opts: CheckOptions = {}): { ops: Op[]; start: ReadonlyMap<string, InitialItem> } {
  const base: CheckOptions = { ...opts, minimalWindows: false };
  const fails = (h: readonly Op[], initial = opts.initial): boolean => verify(h, { ...base, initial }).failures.some((f) => f.kind === 'not-linearizable');
  const rets = [...new Set(ops.filter((o) => o.ret !== Infinity).map((o) => o.ret))].sort((a, b) => a - b);
  if (rets.length === 0 || !fails(truncate(ops, rets[rets.length - 1]))) return { ops: [...ops], start: new Map(opts.initial ?? []) };
  let lo = 0;
  let hi = rets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (fails(truncate(ops, rets[mid]))) hi = mid;
    else lo = mid + 1;
  }
  const prefix = truncate(ops, rets[hi]);
  // The window from s: the ops not returned before s, plus (to a fixed point) every earlier op that overlaps one of
  // them, since it may be linearized in between. What is left out precedes the whole window in real time.
  const windowFrom = (s: number): { h: Op[]; initial: Map<string, InitialItem> } | undefined => {
    const inWindow = new Set(prefix.filter((o) => o.ret >= s));
    let minCall = Math.min(...[...inWindow].map((o) => o.call));
    for (let grew = true; grew; ) {
      grew = false;
      for (const o of prefix) {
        if (inWindow.has(o) || o.ret < minCall) continue;
        inWindow.add(o);
        minCall = Math.min(minCall, o.call);
        grew = true;
      }
    }
    const initial = stateBefore(
      prefix.filter((o) => !inWindow.has(o)),
      opts.initial,
    );
    return initial && { h: prefix.filter((o) => inWindow.has(o)), initial };
  };
  const calls = [...new Set(prefix.map((o) => o.call))].sort((a, b) => a - b);
  // Invariant: the window starting at calls[best] fails (calls[0] is the whole prefix from the true initial state).
  let best = 0;
  let a = 1;
  let b = calls.length - 1;
  while (a <= b) {
    const mid = (a + b) >>> 1;
    const w = windowFrom(calls[mid]);
    if (w && fails(w.h, w.initial)) {
      best = mid;
      a = mid + 1;
    } else b = mid - 1;
  }
  const w = best === 0 ? { h: prefix, initial: new Map(opts.initial ?? []) } : windowFrom(calls[best])!;
  // Drop single ops the failure does not need: never a write some remaining op refers to (by the value it read, or a
  // revision it expected or was told), which would turn the report into a misleading "read of a value never written".
  let h = w.h.filter((o) => o.result !== undefined || o.kind !== 'read');
  for (let changed = h.length <= MAX_SHRINK_OPS; changed; ) {
    changed = false;
    for (let i = h.length - 1; i >= 0; i--) {
      if (referenced(h[i], h)) continue;
      const without = h.filter((_, j) => j !== i);
      if (fails(without, w.initial)) {
        h = without;
        changed = true;
      }
    }
  }
  return { ops: h, start: w.initial };
}

/** Does some op of `h` name this write: read its value, expect its revision, or get it reported as current? */
function referenced(o: Op, h: readonly Op[]): boolean {
  if (o.kind === 'read') return false;
  const rev = o.result?.ok ? o.result.revision : undefined;
  const values = new Set(writesOf(o).flatMap((w) => (w.type === 'put' ? [`${w.key}\u0000${w.value}`] : [])));
  return h.some((x) => {
    if (x === o || !x.result) return false;
    if (x.kind === 'read') return x.result.value !== undefined && values.has(`${x.key}\u0000${x.result.value}`);
    if (rev === undefined) return false;
    if (!x.result.ok && x.result.error === 'revision-mismatch' && x.result.currentRevision === rev) return true;
    return writesOf(x).some((w) => w.expectedRevision === rev);
  });
}
