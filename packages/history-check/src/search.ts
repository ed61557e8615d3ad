// The linearizability search of one partition, written from the published
// algorithms (not from Porcupine's or Knossos' code):
//   Wing & Gong (1993): look for a total order of the operations that
//     respects real time (an op that returned before another was called
//     comes first) and that the sequential model accepts;
//   Lowe (2017), "just-in-time linearization": walk a list of call and return
//     events; at a call, try to linearize that op now (lift it out of the
//     list); at the return of an op not yet linearized, backtrack. A memo of
//     (set of linearized ops, model state) cuts every branch already explored.
// What revisions and the model add (each keeps the verdict exact; the
// property tests compare it with brute force):
//   - writes whose revision is known are linearized in revision order (the
//     commit order), so they are never searched against each other: they go
//     as late as possible, either when an observation needs their effect (the
//     chain of writes up to the one it saw goes with it), or at their return;
//   - an observation (a read, a refused write) that is legal now goes now,
//     without branching: it changes nothing, so any order that places it
//     later still works with it here;
//   - a pending write nobody observed (its value unread, its revision
//     unknown) only matters where some op needs its effect, and its effect
//     lasts until the next write of its key: so it is not searched at its
//     call but taken on demand, just before an op that is illegal without it.
//     Unconditional puts and deletes of one key are interchangeable (a put of
//     a value nobody read leaves "some unread value"; a delete leaves
//     absence): they form a pool per key and the earliest called is taken,
//     which leaves the later ones for later. A partitioned leader leaves long
//     runs of such writes; searching them would cost 2^n. A conditional one
//     is a "spare": taken on demand too (the earliest called that works). A
//     pending batch nobody observed counts as its writes, each on its own
//     (so its atomicity is checked only once something observed it: a
//     relaxation, never a false alarm);
//   - writes reported ok without a revision, and pending batches that were
//     observed but whose revision is unknown, are placed by search.
import { ABSENT, keysOf, step, stateKey, type KeyState, type ModelContext, type State } from './model.js';
import type { Op } from './types.js';

export type Verdict = 'ok' | 'fail' | 'undecided';

export interface SearchResult {
  verdict: Verdict;
  steps: number;
  /** On failure: the op whose return could not be reached with every earlier op linearized (deepest point). */
  stuckAt?: Op;
}

/** Bound on search steps per partition; beyond it the verdict is 'undecided' (reported, never passed). */
export const DEFAULT_MAX_STEPS = 2_000_000;

interface Ev {
  op: number;
  call: boolean;
  pos: number;
  match: Ev | undefined;
  caller: Ev | undefined;
  prev: Ev | undefined;
  next: Ev | undefined;
}

const OBSERVATION = 0;
const KNOWN_WRITE = 1;
const UNKNOWN_WRITE = 2;
const POOLED = 3;

/** What a pooled put leaves: a value nobody read. */
const UNREAD: KeyState = { present: true, value: '\u0000unread', rev: '?unread' };

/** Taken on demand before an op: pooled writes (a put or a delete of one key each), or a spare pending write. */
type Pre = { pool: { key: string; kind: 'put' | 'delete' }[] } | { spare: number };

/** One op of a chain, with what is taken on demand just before it. */
interface Link {
  i: number;
  pre?: Pre[];
}

/** How deep spare pending writes may need each other on demand (a spare that needs a spare ...). */
const MAX_SPARE_DEPTH = 2;

/** Pooled writes tried before one op: at most this many keys of it (3^n combinations). */
const MAX_POOLED_KEYS_PER_OP = 4;

/** A choice made at a call (or return) event: linearize `taken` (a chain of ops, in order) there; `alts` yields the untried ones. */
interface Choice {
  ev: Ev;
  alts: Iterator<Link[]>;
  taken: Link[];
  prevState: State;
  prevKnown: number;
  forced: boolean;
}

/**
 * Is this partition linearizable? When every write that returned has a known
 * revision, the lazy strategy (forcedMoves) goes first: it is exact when no
 * pending write is left to take on demand, and with some it may miss a
 * linearization but never invents one, so a 'fail' there is confirmed by the
 * full search (which is exact; the property tests compare both with brute force).
 */
export function searchPartition(given: readonly Op[], initial: State, ctx: ModelContext, maxSteps = DEFAULT_MAX_STEPS): SearchResult {
  const ops = splitUnobservedBatches(given, ctx);
  const unknown = (o: Op): boolean => o.kind !== 'read' && !(o.result && !o.result.ok) && !ctx.revisionOf.has(o.id);
  if (ops.some((o) => unknown(o) && o.ret !== Infinity)) return search(ops, initial, ctx, maxSteps, false);
  const lazy = search(ops, initial, ctx, maxSteps, true);
  if (lazy.verdict === 'ok' || !ops.some(unknown)) return lazy;
  const full = search(ops, initial, ctx, Math.max(0, maxSteps - lazy.steps), false);
  return { ...full, steps: lazy.steps + full.steps };
}

function search(ops: readonly Op[], initial: State, ctx: ModelContext, maxSteps: number, lazy: boolean): SearchResult {
  const n = ops.length;
  const cls = new Uint8Array(n);
  const known: number[] = [];
  /** Per key: the pooled puts and deletes, by call time; `used` of each have been taken (always the earliest). */
  const pools = new Map<string, { put: number[]; delete: number[] }>();
  const used = new Map<string, { put: number; delete: number }>();
  /** Pending unobserved conditional writes of one key (not interchangeable), by call time. */
  const spares: number[] = [];
  for (let i = 0; i < n; i++) {
    const o = ops[i];
    if (o.kind === 'read' || (o.result !== undefined && !o.result.ok)) cls[i] = OBSERVATION;
    else if (ctx.revisionOf.has(o.id)) {
      cls[i] = KNOWN_WRITE;
      known.push(i);
    } else if (o.ret === Infinity && o.kind !== 'batch') {
      cls[i] = POOLED;
      if (o.expectedRevision !== undefined) spares.push(i);
      else {
        let p = pools.get(o.key);
        if (!p) pools.set(o.key, (p = { put: [], delete: [] }));
        p[o.kind].push(i);
        used.set(o.key, { put: 0, delete: 0 });
      }
    } else cls[i] = UNKNOWN_WRITE;
  }
  spares.sort((a, b) => ops[a].call - ops[b].call);
  for (const p of pools.values()) {
    p.put.sort((a, b) => ops[a].call - ops[b].call);
    p.delete.sort((a, b) => ops[a].call - ops[b].call);
  }
  known.sort((a, b) => ctx.revisionOf.get(ops[a].id)! - ctx.revisionOf.get(ops[b].id)!);
  const rank = new Int32Array(n).fill(-1);
  known.forEach((i, r) => (rank[i] = r));
  const hasUnknown = cls.some((c) => c === UNKNOWN_WRITE);

  // The event list, in time order; at equal times calls come first (such ops overlap: the permissive reading).
  const evs: { t: number; ev: Ev }[] = [];
  const callEv: Ev[] = [];
  for (let i = 0; i < n; i++) {
    if (cls[i] === POOLED) continue;
    const r: Ev = { op: i, call: false, pos: 0, match: undefined, caller: undefined, prev: undefined, next: undefined };
    const c: Ev = { op: i, call: true, pos: 0, match: r, caller: undefined, prev: undefined, next: undefined };
    r.caller = c;
    callEv[i] = c;
    evs.push({ t: ops[i].call, ev: c }, { t: ops[i].ret, ev: r });
  }
  evs.sort((a, b) => a.t - b.t || Number(b.ev.call) - Number(a.ev.call));
  const head: Ev = { op: -1, call: false, pos: -1, match: undefined, caller: undefined, prev: undefined, next: undefined };
  let tail = head;
  /** Time of the event at each list position (pooled writes are callable before a position if called by its time). */
  const evTime = evs.map((x) => x.t);
  const limitTime = (limit: number): number => (limit === Infinity ? Infinity : evTime[limit]);
  evs.forEach(({ ev }, p) => {
    ev.pos = p;
    // Lazy: a known write is never tried at its call (only pulled in by a forced move), so its call event is left
    // out of the list; its position still says when it became callable.
    if (lazy && ev.call && cls[ev.op] === KNOWN_WRITE) return;
    tail.next = ev;
    ev.prev = tail;
    tail = ev;
  });
  /** Bumped on every change of the list (caches firstReturn). */
  let version = 0;
  const unlink = (e: Ev): void => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    version++;
  };
  const relink = (e: Ev): void => {
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
    version++;
  };

  let state = initial;
  let nextKnown = 0;
  const words = new Uint32Array(Math.ceil(n / 32) + 1);
  const flip = (i: number): void => {
    words[i >>> 5] ^= 1 << (i & 31);
  };
  const isSet = (i: number): boolean => (words[i >>> 5] & (1 << (i & 31))) !== 0;
  const memo = new Set<string>();
  const stack: Choice[] = [];
  let steps = 0;
  let deepest = -1;
  let stuckAt: Op | undefined;

  /** Position of the first return event still in the list: ops whose call is before it may be linearized now. */
  let cached = { version: -1, pos: Infinity };
  const firstReturn = (): number => {
    if (cached.version === version) return cached.pos;
    let pos = Infinity;
    for (let x = head.next; x !== undefined; x = x.next) {
      if (!x.call) {
        pos = x.pos;
        break;
      }
    }
    cached = { version, pos };
    return pos;
  };
  const memoOfPools = (): string => {
    let out = '';
    for (const [k, u] of used) if (u.put + u.delete > 0) out += `${k}\u0000${u.put},${u.delete};`;
    return out;
  };
  /** Is a pooled write of this kind on this key left, called before event position `limit`? (Taken in call order.) */
  const poolHas = (key: string, kind: 'put' | 'delete', limit: number, taken: Map<string, number>): boolean => {
    const p = pools.get(key);
    if (!p) return false;
    const k = used.get(key)![kind] + (taken.get(`${kind}\u0000${key}`) ?? 0);
    return k < p[kind].length && ops[p[kind][k]].call <= limitTime(limit);
  };
  const withPool = (s: State, pool: { key: string; kind: 'put' | 'delete' }[]): State => {
    const pre = s.slice();
    for (const p of pool) pre[ctx.keyIndex.get(p.key)!] = p.kind === 'put' ? UNREAD : ABSENT;
    return pre;
  };
  /**
   * Apply op i to s; if it is illegal, with pending writes nobody observed
   * taken first: pooled writes of its keys (the fewest that make it legal),
   * or else a spare of its keys (the earliest called that works), which may
   * itself need some. Records what it takes in `taken` (spares as "#<index>").
   */
  const extend = (s: State, i: number, limit: number, taken: Map<string, number>, depth = MAX_SPARE_DEPTH): { s: State; pre: Pre[] } | undefined => {
    const direct = step(s, ops[i], ctx);
    if (direct) return { s: direct, pre: [] };
    const pooled = extendFromPool(s, i, limit, taken);
    if (pooled || depth === 0) return pooled;
    const ks = keysOf(ops[i]);
    for (const j of spares) {
      if (ops[j].call > limitTime(limit)) break;
      if (isSet(j) || taken.has(`#${j}`) || !keysOf(ops[j]).some((k) => ks.includes(k))) continue;
      const t = new Map(taken).set(`#${j}`, 1);
      const x = extend(s, j, limit, t, depth - 1);
      const y = x && extend(x.s, i, limit, t, 0);
      if (!y) continue;
      for (const [k, v] of t) taken.set(k, v);
      return { s: y.s, pre: [...x!.pre, { spare: j }, ...y.pre] };
    }
    return undefined;
  };
  /** Per op: the combinations of (nothing | a pooled put | a pooled delete) on its keys that have pools, fewest first. */
  const combosOf = new Map<number, { key: string; kind: 'put' | 'delete' }[][]>();
  const poolCombos = (i: number): { key: string; kind: 'put' | 'delete' }[][] => {
    let combos = combosOf.get(i);
    if (combos) return combos;
    const ks = keysOf(ops[i]).filter((k) => pools.has(k)).slice(0, MAX_POOLED_KEYS_PER_OP);
    combos = [];
    for (let c = 1; c < 3 ** ks.length; c++) {
      const pool: { key: string; kind: 'put' | 'delete' }[] = [];
      for (let j = 0, x = c; j < ks.length; j++, x = Math.floor(x / 3)) if (x % 3 > 0) pool.push({ key: ks[j], kind: x % 3 === 1 ? 'put' : 'delete' });
      combos.push(pool);
    }
    combos.sort((a, b) => a.length - b.length);
    combosOf.set(i, combos);
    return combos;
  };
  const extendFromPool = (s: State, i: number, limit: number, taken: Map<string, number>): { s: State; pre: Pre[] } | undefined => {
    for (const pool of poolCombos(i)) {
      if (!pool.every((p) => poolHas(p.key, p.kind, limit, taken))) continue;
      const after = step(withPool(s, pool), ops[i], ctx);
      if (!after) continue;
      for (const p of pool) {
        const t = `${p.kind}\u0000${p.key}`;
        taken.set(t, (taken.get(t) ?? 0) + 1);
      }
      return { s: after, pre: [{ pool }] };
    }
    return undefined;
  };
  /** Run a chain from the current state (with what it takes on demand): the state after it, or undefined if illegal. */
  const run = (chain: Link[]): State | undefined => {
    let s: State | undefined = state;
    for (const l of chain) {
      for (const p of l.pre ?? []) {
        s = 'pool' in p ? withPool(s!, p.pool) : step(s!, ops[p.spare], ctx);
        if (!s) return undefined;
      }
      s = step(s!, ops[l.i], ctx);
      if (!s) return undefined;
    }
    return s;
  };
  /** The known writes from nextKnown up to rank `upTo`, if all may be linearized now (before event position `limit`). */
  const knownChain = (upTo: number, limit: number): Link[] | undefined => {
    const chain: Link[] = [];
    const taken = new Map<string, number>();
    let s: State = state;
    for (let r = nextKnown; r <= upTo; r++) {
      if (callEv[known[r]].pos >= limit) return undefined;
      const x = extend(s, known[r], limit, taken);
      if (!x) return undefined;
      s = x.s;
      chain.push({ i: known[r], pre: x.pre });
    }
    return chain;
  };
  /** Ways to make observation i legal, computed as they are needed: after each prefix of the callable known writes that does. */
  function* chainsFor(i: number): Generator<Link[]> {
    const limit = firstReturn();
    const taken = new Map<string, number>();
    let s: State = state;
    const chain: Link[] = [];
    const last = extend(s, i, limit, new Map(taken));
    if (last) yield [{ i, pre: last.pre }];
    for (let r = nextKnown; r < known.length; r++) {
      const j = known[r];
      if (callEv[j].pos >= limit) return;
      const x = extend(s, j, limit, taken);
      if (!x) return;
      s = x.s;
      chain.push({ i: j, pre: x.pre });
      const y = extend(s, i, limit, new Map(taken));
      if (y) yield [...chain, { i, pre: y.pre }];
    }
  }
  /** Op i alone (with what it needs taken on demand), before event position `limit`. */
  const extendOne = (i: number, limit: number): Link[] | undefined => {
    const x = extend(state, i, limit, new Map());
    return x && [{ i, pre: x.pre }];
  };
  /**
   * Lazy mode (every write of the partition committed with a known revision):
   * the moves at the return of `goal` (its last moment), as they are needed:
   * the known writes go in revision order, as few as the goal needs (a known
   * goal: up to it), and every callable observation still waiting is placed
   * at the first point of that sequence where it is legal by itself (earliest
   * is best: it needs the fewest writes), before the writes that would take
   * its chance away; an observation goal at the first point where it is
   * legal (that dominates every later one: it needs the fewest writes, and
   * the rest can still be pulled in later). No choice is left, so the search
   * is linear. (With pending writes the dominance fails: taking one changes
   * the state, so that case searches, see chainsFor.)
   */
  function* forcedMoves(goal: number, limit: number): Generator<Link[]> {
    const waiting: number[] = [];
    for (let x = head.next; x !== undefined && x.pos < limit; x = x.next) if (x.call && cls[x.op] === OBSERVATION && x.op !== goal) waiting.push(x.op);
    const taken = new Map<string, number>();
    let s: State = state;
    const links: Link[] = [];
    /** Place every waiting observation legal by itself in s (earliest is best); returns the links, updates s. */
    const placeWaiting = (at: State, into: Link[], pre?: Pre[]): State => {
      let cur = at;
      for (let k = 0; k < waiting.length; k++) {
        if (waiting[k] < 0) continue;
        const next = step(cur, ops[waiting[k]], ctx);
        if (!next) continue;
        cur = next;
        into.push(into.length === 0 && pre ? { i: waiting[k], pre } : { i: waiting[k] });
        waiting[k] = -1;
      }
      return cur;
    };
    /** Op i after pending writes taken on demand (`pre`), with the waiting observations that fit in between. */
    const after = (i: number, x: { s: State; pre: Pre[] }): Link[] => {
      if (x.pre.length === 0) return [{ i }];
      const saved = waiting.slice();
      const mid: Link[] = [];
      // Observations change nothing, so the state after them is still the one op i needs.
      const between = placeWaiting(withPre(s, x.pre), mid, x.pre);
      if (mid.length > 0 && step(between, ops[i], ctx)) return [...mid, { i }];
      waiting.splice(0, waiting.length, ...saved);
      return [{ i, pre: x.pre }];
    };
    for (let r = nextKnown; ; r++) {
      s = placeWaiting(s, links);
      if (cls[goal] === OBSERVATION) {
        if (step(s, ops[goal], ctx)) {
          yield [...links, { i: goal }];
          return;
        }
        const y = extend(s, goal, limit, new Map(taken));
        if (y) yield [...links, ...after(goal, y)];
      }
      if (r >= known.length || callEv[known[r]].pos >= limit) return;
      const x = extend(s, known[r], limit, taken);
      if (!x) return;
      links.push(...after(known[r], x));
      s = x.s;
      if (known[r] === goal) {
        yield links;
        return;
      }
    }
  }
  /** s with pending writes taken (`pre`) applied. */
  const withPre = (s0: State, pre: Pre[]): State => {
    let cur = s0;
    for (const p of pre) cur = 'pool' in p ? withPool(cur, p.pool) : (step(cur, ops[p.spare], ctx) ?? cur);
    return cur;
  };

  let e: Ev | undefined = head.next;

  /** Mark (or unmark) a chain's ops, spares and pooled writes as linearized / taken. */
  const usePools = (chain: Link[], by: 1 | -1): void => {
    for (const l of chain) {
      flip(l.i);
      for (const p of l.pre ?? []) {
        if ('spare' in p) flip(p.spare);
        else for (const q of p.pool) used.get(q.key)![q.kind] += by;
      }
    }
  };
  /** Take the next untried alternative of a choice; true if one was taken. */
  const take = (c: Choice): boolean => {
    for (let it = c.alts.next(); !it.done; it = c.alts.next()) {
      const chain = it.value;
      const next = run(chain);
      if (!next) continue;
      usePools(chain, 1);
      const key = `${words.join(',')}|${stateKey(next)}|${memoOfPools()}`;
      if (memo.has(key)) {
        usePools(chain, -1);
        continue;
      }
      memo.add(key);
      c.taken = chain;
      // Lazy: the list holds only observations (and returns), and observations change nothing, so those skipped
      // before this one are still illegal: the scan goes on from here instead of from the head (the last event
      // before it that stays in the list). Otherwise a skipped write may fit after this op: rescan.
      let resume: Ev | undefined;
      if (lazy && next === state) {
        const lifted = new Set(chain.map((l) => l.i));
        resume = c.ev.prev;
        while (resume !== undefined && resume !== head && lifted.has(resume.op)) resume = resume.prev;
      }
      state = next;
      for (const l of chain) {
        if (!lazy || cls[l.i] !== KNOWN_WRITE) unlink(callEv[l.i]);
        unlink(callEv[l.i].match!);
        if (cls[l.i] === KNOWN_WRITE) nextKnown++;
      }
      stack.push(c);
      e = resume ? resume.next : head.next;
      return true;
    }
    return false;
  };
  const choose = (ev: Ev, alts: Iterable<Link[]>, forced: boolean): boolean => take({ ev, alts: alts[Symbol.iterator](), taken: [], prevState: state, prevKnown: nextKnown, forced });
  /** Undo choices until one has an untried alternative or can be skipped; false when there is nothing left. */
  const backtrack = (): boolean => {
    for (;;) {
      const c = stack.pop();
      if (!c) return false;
      const chain = c.taken;
      for (let k = chain.length - 1; k >= 0; k--) {
        const i = chain[k].i;
        relink(callEv[i].match!);
        if (!lazy || cls[i] !== KNOWN_WRITE) relink(callEv[i]);
      }
      usePools(chain, -1);
      state = c.prevState;
      nextKnown = c.prevKnown;
      if (take(c)) return true;
      if (c.forced) continue;
      e = c.ev.next;
      return true;
    }
  };

  while (head.next !== undefined) {
    if (++steps > maxSteps) return { verdict: 'undecided', steps };
    // Cannot happen: every call precedes its own return, so a non-empty list ends with a return.
    if (e === undefined) throw new Error('linearizability search ran off the event list');
    const i = e.op;
    if (e.call) {
      if (cls[i] === OBSERVATION) {
        // Legal now: it goes now (it changes nothing). Otherwise: in lazy mode it waits for writes (placed at its
        // return, or earlier when a write's return forces writes past its point: forcedMove); else search chains.
        if (step(state, ops[i], ctx)) {
          if (choose(e, [[{ i }]], true)) continue;
          if (!backtrack()) return { verdict: 'fail', steps, stuckAt };
          continue;
        }
        if (!lazy && choose(e, chainsFor(i), false)) continue;
      } else if (cls[i] === KNOWN_WRITE) {
        // Known writes go as late as possible; only a write of unknown revision may need one earlier than anyone observes it.
        if (hasUnknown) {
          const chain = knownChain(rank[i], firstReturn());
          if (chain && choose(e, [chain], false)) continue;
        }
      } else {
        const x = extend(state, i, firstReturn(), new Map());
        if (x && choose(e, [[{ i, pre: x.pre }]], false)) continue;
      }
      e = e.next;
      continue;
    }
    const o = ops[i];
    // Only returns of pending ops are left: every op that returned is linearized; the pending ones did not happen (yet).
    if (o.ret === Infinity) return { verdict: 'ok', steps };
    // The last moment for this op: it takes effect now, after the writes it needs and the observations waiting on them.
    if (lazy) {
      if (choose(e.caller!, forcedMoves(i, e.pos), true)) continue;
    } else if (cls[i] !== OBSERVATION) {
      // The last moment for this write: it (and, if known, every known write before it) takes effect now.
      const chain = cls[i] === KNOWN_WRITE ? knownChain(rank[i], e.pos) : extendOne(i, e.pos);
      if (chain && choose(e.caller!, [chain], true)) continue;
    }
    if (cls[i] === OBSERVATION && stack.length > deepest) {
      deepest = stack.length;
      stuckAt = o;
    }
    if (!backtrack()) return { verdict: 'fail', steps, stuckAt: stuckAt ?? o };
  }
  return { verdict: 'ok', steps };
}

/**
 * A pending batch nobody observed (no revision known, its window never
 * narrowed by a read of its values) becomes one pending single-key write per
 * key (they keep its id: their placeholder revisions are the same).
 */
function splitUnobservedBatches(ops: readonly Op[], ctx: ModelContext): Op[] {
  if (!ops.some((o) => o.kind === 'batch' && o.ret === Infinity && !ctx.revisionOf.has(o.id))) return ops as Op[];
  const out: Op[] = [];
  for (const o of ops) {
    if (o.kind !== 'batch' || o.ret !== Infinity || ctx.revisionOf.has(o.id)) {
      out.push(o);
      continue;
    }
    for (const w of o.writes) {
      const base = { id: o.id, call: o.call, ret: Infinity, client: o.client, callTime: o.callTime, node: o.node };
      out.push(w.type === 'put' ? { ...base, kind: 'put', key: w.key, value: w.value, expectedRevision: w.expectedRevision } : { ...base, kind: 'delete', key: w.key, expectedRevision: w.expectedRevision });
    }
  }
  return out;
}
