// The vocabulary of a client history: what flagraft's API offers (put,
// compare-and-set, delete, atomic batch, linearizable and stale reads), each
// operation with its call and return on one logical clock and its outcome.

/** One write of a batch (or the body of a put / delete). `expectedRevision`: the If-Match revision; 0 = must not exist. */
export type Write =
  | { type: 'put'; key: string; value: string; expectedRevision?: number }
  | { type: 'delete'; key: string; expectedRevision?: number };

/**
 * The outcome of a write. `ok` with the revision that committed it (all
 * writes of a batch share one); or a definite refusal by the state machine,
 * which changed nothing but observed the state: `revision-mismatch` (the
 * key's modRevision was not the expected one; `currentRevision` as reported,
 * 0 = absent) or `not-found` (deleting a key that does not exist). For a
 * batch, `key` names the write that failed.
 */
export type WriteResult =
  | { ok: true; revision?: number }
  | { ok: false; error: 'revision-mismatch'; key?: string; currentRevision?: number }
  | { ok: false; error: 'not-found'; key?: string };

/** What a read returned: the value (undefined = the key does not exist) and, when present, the item's modRevision. */
export interface ReadResult {
  value: string | undefined;
  modRevision?: number;
}

/** Fields every operation has. Times are one logical clock: every call and return in the history is ordered by it. */
export interface OpBase {
  /** Unique in the history (reports name ops by it). */
  id: number;
  call: number;
  /** Infinity while the outcome is unknown (timed out, connection lost): the op may or may not have taken effect. */
  ret: number;
  /** Who issued it (stale-read sessions; reports). */
  client?: string | number;
  /** For reports only: wall or simulated times and the node or gateway that served it. */
  callTime?: number;
  retTime?: number;
  node?: string | number;
}

/** put(key, value) / compare-and-set (with expectedRevision). */
export interface PutOp extends OpBase {
  kind: 'put';
  key: string;
  value: string;
  expectedRevision?: number;
  /** Absent exactly when ret is Infinity. */
  result?: WriteResult;
}

/** delete(key), with or without an expected revision. */
export interface DeleteOp extends OpBase {
  kind: 'delete';
  key: string;
  expectedRevision?: number;
  result?: WriteResult;
}

/** An atomic batch: its writes apply in order, all at one revision, or none does. */
export interface BatchOp extends OpBase {
  kind: 'batch';
  writes: Write[];
  result?: WriteResult;
}

/**
 * A read of one key. Linearizable by default; `stale: true` is a read any
 * node may answer from its own applied state, checked against the weaker
 * model (see stale.ts), never in the linearizability search.
 */
export interface ReadOp extends OpBase {
  kind: 'read';
  key: string;
  stale?: boolean;
  result?: ReadResult;
}

export type Op = PutOp | DeleteOp | BatchOp | ReadOp;
export type WriteOp = PutOp | DeleteOp | BatchOp;

/** The state of one key at the start of the history (keys not listed are absent). */
export interface InitialItem {
  value: string;
  modRevision: number;
}

export interface CheckOptions {
  /** Search steps allowed per partition (a set of keys batches tie together); beyond it the verdict is 'undecided', never ok. */
  maxSteps?: number;
  /** Keys present when the history starts. */
  initial?: ReadonlyMap<string, InitialItem>;
  /** Stale reads of one client never go back in revision on a key (off by default: flagraft does not promise it; see README). */
  monotonicStaleReads?: boolean;
  /** Compute a minimal failing window for each failure (default true; each try is one more search). */
  minimalWindows?: boolean;
}

export type FailureKind =
  /** No linearization exists (with writes in revision order). */
  | 'not-linearizable'
  /** The search bound ran out: reported, never passed. */
  | 'undecided'
  /** A write that returned before another was called has the higher revision. */
  | 'revision-order'
  /** Two observations disagree about a write's revision, or two writes claim one revision. */
  | 'revision-conflict'
  /** A stale read returned something no committed state had (or went back in time, with monotonicStaleReads). */
  | 'stale-read';

export interface Failure {
  kind: FailureKind;
  keys: string[];
  /** One line for humans: the keys, the sizes and the window. */
  message: string;
  /** Ops that show the anomaly on their own (for not-linearizable: a minimal failing window). */
  window: Op[];
  /** The state the window starts from (what the writes before it left), when it does not start at the beginning. */
  windowStart?: ReadonlyMap<string, InitialItem>;
  /** The op the search could not place at its deepest point. */
  stuckAt?: Op;
}

export interface CheckResult {
  ok: boolean;
  failures: Failure[];
  stats: {
    ops: number;
    /** Ops of unknown outcome. */
    pending: number;
    staleReads: number;
    /** Independent key sets searched (a batch ties its keys into one). */
    partitions: number;
    steps: number;
    maxPartitionSteps: number;
  };
}

/** A history that cannot be checked as given (a duplicate id, a pending op with a result, ...); `field` names what is wrong. */
export class HistoryError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'HistoryError';
  }
}
