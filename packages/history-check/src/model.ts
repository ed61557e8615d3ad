// The sequential specification: a map of keys to (value, modRevision), with
// flagraft's write semantics (packages/flag-model apply.ts): a put with an
// expected revision is a compare-and-set (0 = must not exist), a delete of a
// missing key fails with not-found, a batch applies its writes in order and
// fails as a whole at the first refusal. A failed write changes nothing but
// observes the state, exactly like a read.
import type { Op, Write, WriteResult } from './types.js';

/**
 * A key's state. `rev` is the modRevision: a number when known (0 while
 * absent), or a placeholder string for a write whose revision the history
 * does not say (a pending write, or an ok one reported without revision).
 */
export interface KeyState {
  present: boolean;
  value: string | undefined;
  rev: number | string;
}

export const ABSENT: KeyState = { present: false, value: undefined, rev: 0 };

/** The state of the keys of one partition, by the key's position (ModelContext.keyIndex). Never mutated: steps return a copy. */
export type State = readonly KeyState[];

/** What the model knows about the history beyond the ops: the revisions writes are known to have. */
export interface ModelContext {
  /** Every revision a write (or initial item) of the partition is known to have, from results or revealed: a placeholder is none of them. */
  knownRevs: ReadonlySet<number>;
  /** The revision each write op committed at, when known (after revealing). */
  revisionOf: ReadonlyMap<number, number>;
  /** Position of each key of the partition in a State. */
  keyIndex: ReadonlyMap<string, number>;
}

/** The starting state of a partition's keys. */
export function initialState(keys: readonly string[], initial: ReadonlyMap<string, KeyState>): KeyState[] {
  return keys.map((k) => initial.get(k) ?? ABSENT);
}

/**
 * Is modRevision `rev` the revision `r`: true, false, or undefined (maybe)?
 * A placeholder may be any revision no write is known to have (revisions are
 * unique), which is how a client that saw it could only have learned it.
 */
function revIs(rev: number | string, r: number, ctx: ModelContext): boolean | undefined {
  if (typeof rev === 'number') return rev === r;
  return r === 0 || ctx.knownRevs.has(r) ? false : undefined;
}

function at(key: string, ctx: ModelContext): number {
  const i = ctx.keyIndex.get(key);
  if (i === undefined) throw new Error(`key ${key} is not in the partition`);
  return i;
}

/** Can the write apply in this state (its precondition may hold)? */
function canApply(s: KeyState, w: Write, ctx: ModelContext): boolean {
  if (w.type === 'delete' && !s.present) return false;
  const e = w.expectedRevision;
  if (e === undefined) return true;
  if (e === 0) return !s.present;
  return s.present && revIs(s.rev, e, ctx) !== false;
}

/** Can the write be refused in this state as `r` says (error, current revision)? */
function canRefuse(s: KeyState, w: Write, r: Extract<WriteResult, { ok: false }>, ctx: ModelContext): boolean {
  if (r.key !== undefined && r.key !== w.key) return false;
  if (r.error === 'not-found') return w.type === 'delete' && !s.present;
  // A mismatch: the key exists (or a put found it) and its revision may differ from the expected one.
  if (w.type === 'delete' && !s.present) return false;
  const e = w.expectedRevision;
  if (e === undefined) return false;
  const mismatch = e === 0 ? s.present : !s.present || revIs(s.rev, e, ctx) !== true;
  if (!mismatch) return false;
  const c = r.currentRevision;
  if (c === undefined) return true;
  return c === 0 ? !s.present : s.present && revIs(s.rev, c, ctx) !== false;
}

/** The writes an op makes (one for put/delete). */
export function writesOf(op: Op): Write[] {
  switch (op.kind) {
    case 'put':
      return [{ type: 'put', key: op.key, value: op.value, expectedRevision: op.expectedRevision }];
    case 'delete':
      return [{ type: 'delete', key: op.key, expectedRevision: op.expectedRevision }];
    case 'batch':
      return op.writes;
    case 'read':
      return [];
  }
}

/** The keys an op touches. */
export function keysOf(op: Op): string[] {
  return op.kind === 'batch' ? [...new Set(op.writes.map((w) => w.key))] : [op.key];
}

/**
 * Apply `op` to `state` as its outcome says (a pending write applies as a
 * success: if it failed, it is as if it never happened). Returns the next
 * state, or undefined if the outcome is impossible in this state.
 */
export function step(state: State, op: Op, ctx: ModelContext): State | undefined {
  if (op.kind === 'read') {
    const r = op.result!;
    const s = state[at(op.key, ctx)];
    if (r.value === undefined) return s.present ? undefined : state;
    if (!s.present || s.value !== r.value) return undefined;
    if (r.modRevision !== undefined && revIs(s.rev, r.modRevision, ctx) === false) return undefined;
    return state;
  }
  const result = op.result;
  const writes = writesOf(op);
  if (result && !result.ok) {
    // A refusal: the writes apply in order on a scratch copy until one is refused as reported; the state is unchanged.
    const scratch = writes.length > 1 ? state.slice() : (state as KeyState[]);
    for (const w of writes) {
      const k = at(w.key, ctx);
      const s = scratch[k];
      if (canRefuse(s, w, result, ctx)) return state;
      if (!canApply(s, w, ctx)) return undefined;
      if (writes.length > 1) scratch[k] = applied(w, `?${op.id}`);
    }
    return undefined; // nothing refused: the reported failure cannot happen here
  }
  const rev = ctx.revisionOf.get(op.id) ?? `?${op.id}`;
  const next = state.slice();
  for (const w of writes) {
    const k = at(w.key, ctx);
    if (!canApply(next[k], w, ctx)) return undefined;
    next[k] = applied(w, rev);
  }
  return next;
}

function applied(w: Write, rev: number | string): KeyState {
  return w.type === 'put' ? { present: true, value: w.value, rev } : ABSENT;
}

/** A compact text of the state (the search's memo key). */
export function stateKey(state: State): string {
  let out = '';
  for (const s of state) out += s.present ? `${s.value}\u0001${s.rev}|` : '\u0000|';
  return out;
}
