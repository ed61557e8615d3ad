// Linearizability of client histories against a register model, written from
// the published algorithms (not from Porcupine's code):
//   Wing & Gong (1993): search for a total order of the operations that
//     respects real time (an op returns before another is called => it comes
//     first) and that the sequential model accepts;
//   Lowe (2017), "just-in-time linearization": walk a linked list of call and
//     return events; at a call, try to linearize that op now (lift it out of
//     the list); at a return whose op is not yet linearized, backtrack. The
//     memo of (set of linearized ops, model state) cuts every branch already
//     explored: two branches that linearized the same ops and reached the
//     same state have the same future.
// A register history is partitioned by key first (P-compositionality: a
// history is linearizable iff each key's sub-history is), which keeps each
// search small. Ops whose outcome is unknown (timeouts, crashes) have
// ret = Infinity: they may be linearized anywhere after their call, or never
// observed (a pending put linearized at the very end changes nothing).

/** One client operation on a key-value register. Times are a logical clock: all calls and returns are totally ordered. */
export interface Op {
  id: number;
  key: string;
  kind: 'put' | 'get';
  /** put: the value written; get: the value observed (undefined = key absent). */
  value: string | undefined;
  call: number;
  /** Infinity while pending (timed out / outcome unknown). */
  ret: number;
  /** For reports: simulator time units and the node that served the op. */
  callTime?: number;
  retTime?: number;
  node?: number;
}

export type Verdict = 'ok' | 'fail' | 'unknown';

/** Bound on search steps per key; beyond it the verdict is 'unknown' (reported, never silently passed). */
export const DEFAULT_MAX_STEPS = 2_000_000;

// Register states as strings (the memo key); sentinels cannot collide with client values (they never start with NUL).
const ABSENT = '\u0000absent';
/** "Some value from `candidates`": the unknown state at the start of a window (see minimalWindow). */
const ANY = '\u0000any';
/** The value of some put no get observed (all such values behave alike). */
const UNREAD = '\u0000unread';

function stateOf(v: string | undefined): string {
  return v === undefined ? ABSENT : v;
}

/** The sequential register: put always succeeds; get must observe the current value. Returns the next state or undefined if illegal. */
function stepRegister(state: string, op: Op, candidates: Set<string> | undefined, unread: Set<string>): string | undefined {
  // Values nobody reads are indistinguishable to the model: one state for all of them shrinks the memo.
  if (op.kind === 'put') return unread.has(stateOf(op.value)) ? UNREAD : stateOf(op.value);
  const seen = stateOf(op.value);
  if (state === ANY) return candidates!.has(seen) ? seen : undefined;
  return state === seen ? state : undefined;
}

interface Ev {
  op: number; // index into the ops array
  call: boolean;
  match: Ev | undefined; // call -> its return
  caller?: Ev; // return -> its call
  prev: Ev | undefined;
  next: Ev | undefined;
}

export interface SearchResult {
  verdict: Verdict;
  steps: number;
  /** On failure: the op whose return could not be reached with every earlier op linearized (deepest point of the search). */
  stuckAt?: Op;
}

/**
 * Is this single-key history linearizable? `initial` is the register's
 * starting value, or `{ any: candidates }` for "one of these values".
 */
export function checkKey(ops: Op[], initial: string | undefined | { any: Set<string> } = undefined, maxSteps = DEFAULT_MAX_STEPS): SearchResult {
  // Gets with no answer constrain nothing; drop them. Pending puts whose value nobody read can be linearized last: drop them too.
  // A put must take effect before any get that observes its value returns (put values are unique in a history,
  // as in the simulator): clamping the put's return to the earliest such get's return only states what every
  // valid linearization already satisfies, so the verdict is unchanged. It turns pending puts (ret = Infinity)
  // into short intervals, which is what keeps the search small.
  const firstSeen = new Map<string, number>();
  for (const o of ops) {
    if (o.kind !== 'get' || o.ret === Infinity) continue;
    const v = stateOf(o.value);
    firstSeen.set(v, Math.min(firstSeen.get(v) ?? Infinity, o.ret));
  }
  const live: Op[] = [];
  for (const o of ops) {
    if (o.kind === 'get') {
      if (o.ret !== Infinity) live.push(o);
    } else {
      const seen = firstSeen.get(stateOf(o.value));
      if (seen !== undefined && seen < o.ret) live.push({ ...o, ret: Math.max(seen, o.call) });
      else if (o.ret !== Infinity) live.push(o);
    }
  }
  const evs: { t: number; ev: Ev }[] = [];
  live.forEach((o, i) => {
    const r: Ev = { op: i, call: false, match: undefined, prev: undefined, next: undefined };
    const c: Ev = { op: i, call: true, match: r, prev: undefined, next: undefined };
    r.caller = c;
    evs.push({ t: o.call, ev: c }, { t: o.ret, ev: r });
  });
  // Equal times (only in hand-written histories): calls first, i.e. such ops overlap (the permissive reading).
  evs.sort((a, b) => a.t - b.t || Number(b.ev.call) - Number(a.ev.call));
  const head: Ev = { op: -1, call: false, match: undefined, prev: undefined, next: undefined };
  let tail = head;
  for (const { ev } of evs) {
    tail.next = ev;
    ev.prev = tail;
    tail = ev;
  }
  const unlink = (e: Ev): void => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
  };
  const relink = (e: Ev): void => {
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };
  // Removal order call, return; restore in reverse (dancing links), so prev/next pointers stay valid.
  const lift = (c: Ev): void => {
    unlink(c);
    unlink(c.match!);
  };
  const unlift = (c: Ev): void => {
    relink(c.match!);
    relink(c);
  };

  const unread = new Set(live.filter((o) => o.kind === 'put' && !firstSeen.has(stateOf(o.value))).map((o) => stateOf(o.value)));
  let candidates: Set<string> | undefined;
  let state: string;
  if (typeof initial === 'object') {
    candidates = initial.any;
    state = ANY;
  } else state = stateOf(initial);

  // Puts are scheduled, never searched on their own (values are unique, so this loses no linearization):
  //  - a put whose value some get read must sit immediately before a get that reads it (anything else in
  //    between would change the register, and only this put writes that value): it is linearized together
  //    with such a get, when that get cannot read the current state;
  //  - an unread put either sits right before another put, where it changes nothing, or leaves a value no
  //    get can read: so all callable unread puts are "flushed" just before each put we linearize, and any
  //    left are linearized when the scan reaches their return (as late as possible, no alternative);
  //  - a read put whose return the scan reaches is linearized there (see below).
  // Searching puts like gets costs 2^n on the long runs of overlapping puts a partitioned leader leaves.
  const isUnread = (i: number): boolean => live[i].kind === 'put' && unread.has(stateOf(live[i].value));
  const putOf = new Map<string, number>();
  live.forEach((o, i) => {
    if (o.kind === 'put' && !isUnread(i)) putOf.set(stateOf(o.value), i);
  });
  const callEv: Ev[] = [];
  for (let x = head.next; x !== undefined; x = x.next) if (x.call) callEv[x.op] = x;
  const linearized = new Uint8Array(live.length);
  const words = new Uint32Array(Math.ceil(live.length / 32) + 1);
  const flip = (i: number): void => {
    words[i >>> 5] ^= 1 << (i & 31);
    linearized[i] ^= 1;
  };
  const memo = new Set<string>();
  /** before: puts lifted just before ev (flushed unread puts, then the put ev reads); forced: no alternative existed (a legal get, a put at its return). */
  const stack: { ev: Ev; state: string; before: Ev[]; forced: boolean }[] = [];
  let deepest = -1;
  let stuckAt: Op | undefined;
  let steps = 0;
  let e = head.next;
  /** Linearize `before` then `ev`, reaching state `next`, unless the memo says this was explored. */
  const tryLinearize = (ev: Ev, before: Ev[], next: string, forced: boolean): boolean => {
    for (const b of before) flip(b.op);
    flip(ev.op);
    const key = `${words.join(',')}|${next}`;
    if (memo.has(key)) {
      for (const b of before) flip(b.op);
      flip(ev.op);
      return false;
    }
    memo.add(key);
    stack.push({ ev, state, before, forced });
    state = next;
    for (const b of before) lift(b);
    lift(ev);
    e = head.next;
    return true;
  };
  /** Undo the last choice(s); false when there is nothing left to undo. */
  const backtrack = (): boolean => {
    for (;;) {
      const top = stack.pop();
      if (!top) return false;
      state = top.state;
      flip(top.ev.op);
      unlift(top.ev);
      for (let i = top.before.length - 1; i >= 0; i--) {
        flip(top.before[i].op);
        unlift(top.before[i]);
      }
      // A forced placement was the only one possible at that point: keep undoing.
      if (top.forced) continue;
      e = top.ev.next;
      return true;
    }
  };
  while (head.next !== undefined) {
    if (++steps > maxSteps) return { verdict: 'unknown', steps };
    // Cannot happen: every call precedes its own return, so a non-empty list ends with a return.
    if (e === undefined) throw new Error('linearizability search ran off the event list');
    if (e.call) {
      const o = live[e.op];
      if (o.kind === 'get') {
        const next = stepRegister(state, o, candidates, unread);
        if (next !== undefined) {
          // A callable get that can read the current state goes now, without branching: it changes nothing, so
          // any linearization that puts it later still works with it here. Without this, many overlapping gets
          // of one value make the memo tell apart every subset of them (2^n).
          if (tryLinearize(e, [], next, true)) continue;
          if (!backtrack()) return { verdict: 'fail', steps, stuckAt };
          continue;
        } else {
          // The get needs its put first: legal if that put is callable now (its call comes before the first pending return).
          const p = putOf.get(stateOf(o.value));
          if (p !== undefined && !linearized[p]) {
            const before: Ev[] = [];
            let callable = false;
            for (let x: Ev | undefined = head.next; x !== undefined && x.call; x = x.next) {
              if (x.op === p) callable = true;
              else if (isUnread(x.op)) before.push(x);
            }
            if (callable) {
              before.push(callEv[p]);
              if (tryLinearize(e, before, stateOf(o.value), false)) continue;
            }
          }
        }
      }
      e = e.next;
    } else if (live[e.op].kind === 'put') {
      // Last moment for this put: it takes effect now (after flushing the other callable unread puts). For an
      // unread put nothing else was possible; for a read one, no get of its value was linearized yet in this
      // branch, so it could not have gone earlier (it must sit right before such a get).
      const before: Ev[] = [];
      for (let x: Ev | undefined = head.next; x !== undefined && x.call; x = x.next) if (isUnread(x.op) && x.op !== e.op) before.push(x);
      if (tryLinearize(e.caller!, before, isUnread(e.op) ? UNREAD : stateOf(live[e.op].value), true)) continue;
      if (!backtrack()) return { verdict: 'fail', steps, stuckAt };
    } else {
      // A return whose op is still unlinearized: every op before it is linearized or cannot go now. Backtrack.
      if (stack.length > deepest) {
        deepest = stack.length;
        stuckAt = live[e.op];
      }
      if (!backtrack()) return { verdict: 'fail', steps, stuckAt };
    }
  }
  return { verdict: 'ok', steps };
}

/** Cut a history at logical time T: what a client saw by then (ops not yet returned become pending). */
function truncate(ops: Op[], t: number): Op[] {
  return ops.filter((o) => o.call <= t).map((o) => (o.ret <= t ? o : { ...o, ret: Infinity }));
}

/**
 * A small failing window of a non-linearizable key history: the earliest
 * cut T at which it already fails (binary search; linearizability is
 * prefix-closed so failure is monotone in T), then the latest start S whose
 * window (see windowFrom) still fails from ANY value the earlier puts could
 * have left, then op-by-op shrinking. Each step keeps only windows verified
 * to fail, and each kind of window fails only if the history does: the
 * window is self-contained evidence.
 */
export function minimalWindow(ops: Op[], maxSteps = DEFAULT_MAX_STEPS): { ops: Op[]; stuckAt?: Op } {
  const fails = (h: Op[], init?: { any: Set<string> }): SearchResult | undefined => {
    const r = checkKey(h, init, maxSteps);
    return r.verdict === 'fail' ? r : undefined;
  };
  const rets = [...new Set(ops.filter((o) => o.ret !== Infinity).map((o) => o.ret))].sort((a, b) => a - b);
  let lo = 0;
  let hi = rets.length - 1;
  if (!fails(truncate(ops, rets[hi] ?? Infinity))) return { ops };
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (fails(truncate(ops, rets[mid]))) hi = mid;
    else lo = mid + 1;
  }
  const prefix = truncate(ops, rets[hi]);
  // The window from s: the ops not returned before s, plus (to a fixed point) every earlier op that overlaps one
  // of them, since such an op may be linearized in between. What is left out then precedes the whole window in
  // real time, so the window starts from some value those earlier puts left (or absent): a sound witness.
  const windowFrom = (s: number): { h: Op[]; init: { any: Set<string> } } => {
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
    const any = new Set<string>([ABSENT]);
    for (const o of prefix) if (!inWindow.has(o) && o.kind === 'put') any.add(stateOf(o.value));
    return { h: prefix.filter((o) => inWindow.has(o)), init: { any } };
  };
  const calls = [...new Set(prefix.map((o) => o.call))].sort((a, b) => a - b);
  // Invariant: the window starting at calls[best] fails (calls[0] = the whole prefix, whose ANY includes the true initial state).
  let best = 0;
  let a = 1;
  let b = calls.length - 1;
  while (a <= b) {
    const mid = (a + b) >>> 1;
    const w = windowFrom(calls[mid]);
    if (fails(w.h, w.init)) {
      best = mid;
      a = mid + 1;
    } else b = mid - 1;
  }
  const w = windowFrom(calls[best]);
  // Last, drop single ops the failure does not need: gets without an answer (they constrain nothing), then
  // answered gets and puts nobody in the window reads (removing a put whose value is read would turn the
  // report into a misleading "read of a value never written"). Bounded: the window is small by now.
  let h = w.h.filter((o) => !(o.kind === 'get' && o.ret === Infinity));
  // Passes until nothing more can go: removing a get can make its put removable in the next pass.
  for (let changed = h.length <= MAX_SHRINK_OPS; changed; ) {
    changed = false;
    for (let i = h.length - 1; i >= 0; i--) {
      const o = h[i];
      const readInWindow = o.kind === 'put' && h.some((g) => g.kind === 'get' && g.ret !== Infinity && g.value === o.value);
      if (readInWindow) continue;
      const without = h.filter((_, j) => j !== i);
      if (fails(without, w.init)) {
        h = without;
        changed = true;
      }
    }
  }
  return { ops: h, stuckAt: fails(h, w.init)?.stuckAt ?? fails(prefix)?.stuckAt };
}

/** Windows longer than this are reported without the op-by-op shrinking (each try is one more search). Unit: ops. */
export const MAX_SHRINK_OPS = 200;

export interface HistoryFailure {
  key: string;
  verdict: Exclude<Verdict, 'ok'>;
  window: Op[];
  stuckAt?: Op;
  opsOfKey: number;
}

/** Check every key of a history. Returns one failure per non-linearizable (or undecided) key. */
export function checkHistory(ops: Op[], maxSteps = DEFAULT_MAX_STEPS): { failures: HistoryFailure[]; steps: number; maxKeySteps: number } {
  const byKey = new Map<string, Op[]>();
  for (const o of ops) {
    let l = byKey.get(o.key);
    if (!l) byKey.set(o.key, (l = []));
    l.push(o);
  }
  const failures: HistoryFailure[] = [];
  let steps = 0;
  let maxKeySteps = 0;
  for (const [key, h] of byKey) {
    const r = checkKey(h, undefined, maxSteps);
    steps += r.steps;
    maxKeySteps = Math.max(maxKeySteps, r.steps);
    if (r.verdict === 'ok') continue;
    const w = r.verdict === 'fail' ? minimalWindow(h, maxSteps) : { ops: [] as Op[], stuckAt: undefined };
    failures.push({ key, verdict: r.verdict, window: w.ops, stuckAt: w.stuckAt ?? r.stuckAt, opsOfKey: h.length });
  }
  return { failures, steps, maxKeySteps };
}

/** One line per op, in call order: what a human needs to see the anomaly. */
export function describeOp(o: Op): string {
  const at = (t: number | undefined, logical: number): string => (logical === Infinity ? 'pending' : t !== undefined ? `t=${t}` : `#${logical}`);
  const what = o.kind === 'put' ? `put(${o.value})` : `get -> ${o.value === undefined ? 'absent' : o.value}`;
  return `op ${o.id} ${what} [${at(o.callTime, o.call)} .. ${at(o.retTime, o.ret)}]${o.node !== undefined ? ` node ${o.node}` : ''}`;
}

export function describeFailure(f: HistoryFailure): string {
  if (f.verdict === 'unknown') return `key ${f.key}: search bound exceeded on ${f.opsOfKey} ops (undecided)`;
  const lines = f.window.slice(0, 40).map(describeOp);
  if (f.window.length > 40) lines.push(`... ${f.window.length - 40} more`);
  return `key ${f.key} is not linearizable (${f.opsOfKey} ops; minimal failing window of ${f.window.length}${f.stuckAt ? `, cannot linearize ${describeOp(f.stuckAt)}` : ''}): ${lines.join('; ')}`;
}
