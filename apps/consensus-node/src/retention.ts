// How much history (the changes table) and de-duplication (client_requests)
// the state file keeps: by size and by age, not by a fixed count of
// revisions, so the data dir follows the live data and a configured budget.
//
// Both tables are replicated state (snapshots carry them; history, Watch and
// retried writes are answered from them), so pruning must cut at the same
// revision on every replica. Everything here is decided from replicated
// inputs only:
//  - sizes are estimated from the rows' contents (UTF-8 bytes of their text
//    plus a fixed per-row overhead), never from the file's size;
//  - "now" is the replicated clock: the newest `time` the leaders stamped on
//    commands (the voters' median clock, clock.ts ClusterClock), sampled at
//    each prune point into the clock_samples table (revision -> time,
//    monotonic; a stamp behind the last sample takes none), never this
//    node's wall clock.
// An age limit of A ms then prunes through the newest sampled revision whose
// time is at least A ms before the replicated now.
//
// One budget, historyMaxBytes (FLAGRAFT_HISTORY_MAX_BYTES), bounds the bytes
// on disk of everything the node keeps about past writes: the node's local
// margins (`reservedBytes`: the Raft log's compaction window, SQLite's
// write-ahead logs and kept free pages, from its configuration), the
// de-duplication rows (their retry floor first) and the history, which gets
// what the others leave (historyBudget below). So the data dir stays within
// the live data plus that one budget, whatever the write rate and count.
//
// The retention settings must therefore be the same on every node (like the
// rest of the state machine's code), and so must the log's byte settings
// reservedBytes is computed from (config.ts). During a rolling change of them
// replicas may keep different amounts of history for a while; a retried
// write inside the de-duplication floor (below) is answered alike everywhere.

/** Estimated stored bytes of a changes row beyond its text: integers, B-tree cells, the changes_key index entry. */
export const CHANGE_ROW_OVERHEAD_BYTES = 48;
/** Estimated stored bytes of a client_requests row beyond its text (the revision index repeats the key). */
export const DEDUP_ROW_OVERHEAD_BYTES = 32;
/**
 * Estimates are scaled by (1 + 1/PAGE_SLACK_DIVISOR) for the B-tree pages'
 * unused space, so they bound the rows' bytes on disk, not just their
 * content: SQLite's dbstat measured the changes table and its index at
 * 1.18x the unscaled estimate with 11,600 rows and ~1.24x with 600 (the
 * interior pages and the last, part-filled ones weigh more), de-duplication
 * at 1.06x (bench/disk/state-disk.mjs prints both ratios).
 */
export const PAGE_SLACK_DIVISOR = 4;
/** The same for de-duplication rows: (1 + 1/10) over the measured 1.06. */
export const DEDUP_PAGE_SLACK_DIVISOR = 10;

/** The share of the budget history always keeps, however much de-duplication and the local margins take (its Watch resume window never vanishes). */
export const HISTORY_MIN_SHARE_DIVISOR = 16;

/** How far past the history budget unpublished changes are kept for the outbox during an SNS outage. */
export const OUTBOX_HOLD_FACTOR = 10;

export interface RetentionOptions {
  /**
   * Bytes on disk for everything kept about past writes: `reservedBytes`,
   * the de-duplication rows and the history (changes rows, oldest revisions
   * pruned first), which gets the rest (historyBudget).
   */
  historyMaxBytes: number;
  /**
   * The node's local margins inside historyMaxBytes (config.ts localMarginBytes: the log's compaction window, the WALs, kept free pages).
   * From configuration only, so the same on every node with the same settings (0: none, as in unit tests).
   */
  reservedBytes: number;
  /** History older than this on the replicated clock is pruned (ms; 0 = no age limit). */
  historyMaxAgeMs: number;
  /** Optional extra cap: only the changes of the last N revisions (0 = off; FLAGRAFT_CHANGES_RETENTION). */
  changesRetentionRevisions: number;
  /**
   * A (clientId, requestId) is never pruned before it is this old (ms): the
   * de-duplication guarantee. It must exceed the longest client retry window
   * (cluster-client retryDeadlineMs, default 10 s; plus the proposal timeout)
   * plus the clock skew between leaders. Wins over dedupMaxBytes.
   */
  dedupMinAgeMs: number;
  /** A (clientId, requestId) older than this is pruned (ms, >= dedupMinAgeMs). */
  dedupMaxAgeMs: number;
  /** De-duplication rows past their minimum age are pruned, oldest first, while they hold more than this (estimated bytes; counted inside historyMaxBytes). */
  dedupMaxBytes: number;
  /** Pruning (and a clock sample) runs at revisions that are multiples of this (deterministic on every replica). */
  pruneEveryRevisions: number;
}

export const DEFAULT_RETENTION: RetentionOptions = {
  historyMaxBytes: 8 * 1024 * 1024,
  reservedBytes: 0,
  historyMaxAgeMs: 7 * 24 * 3600 * 1000,
  changesRetentionRevisions: 0,
  dedupMinAgeMs: 30_000,
  dedupMaxAgeMs: 5 * 60_000,
  dedupMaxBytes: 1024 * 1024,
  // Between two prune points history grows past its budget by their rows (the file keeps that high-water mark as free pages): 250 keeps it small.
  pruneEveryRevisions: 250,
};

/** Prune often enough that a revision cap is honoured within a quarter of its size. */
export function defaultPruneEvery(changesRetentionRevisions: number): number {
  if (changesRetentionRevisions <= 0) return DEFAULT_RETENTION.pruneEveryRevisions;
  return Math.max(1, Math.min(DEFAULT_RETENTION.pruneEveryRevisions, Math.floor(changesRetentionRevisions / 4)));
}

/** The first problem with a set of retention options, naming the setting; undefined when they are usable. */
export function retentionProblem(o: RetentionOptions): string | undefined {
  if (o.dedupMaxAgeMs < o.dedupMinAgeMs) return `FLAGRAFT_DEDUP_MAX_AGE_MS (${o.dedupMaxAgeMs}) must be >= FLAGRAFT_DEDUP_MIN_AGE_MS (${o.dedupMinAgeMs})`;
  if (o.pruneEveryRevisions < 1) return `FLAGRAFT_PRUNE_EVERY (${o.pruneEveryRevisions}) must be >= 1`;
  return undefined;
}

/**
 * The revision at or below which changes may be pruned at `index` under the
 * revision cap. Once an outbox has published anything (published > 0,
 * replicated state, so every replica decides alike), changes not yet
 * acknowledged by SNS are kept so a new leader can still publish them — but
 * never more than OUTBOX_HOLD_FACTOR x retention, so disk stays bounded in a
 * very long outage (the relay then tells clients to resync: never a silent gap).
 */
export function changesPruneBelow(index: number, retention: number, published: number): number {
  const byRetention = index - retention;
  if (published <= 0) return byRetention;
  return Math.max(Math.min(byRetention, published), index - retention * OUTBOX_HOLD_FACTOR);
}

/**
 * The estimated bytes history may keep: what the budget leaves after the
 * local margins and the de-duplication rows (`dedupBytes`, replicated: every
 * replica computes the same), but never less than 1/HISTORY_MIN_SHARE_DIVISOR
 * of the budget. Only when the de-duplication floor (rate x
 * dedupMinAgeMs) and the margins take more than 15/16 of the budget does the
 * data dir pass it.
 */
export function historyBudget(o: Pick<RetentionOptions, 'historyMaxBytes' | 'reservedBytes'>, dedupBytes: number): number {
  return Math.max(o.historyMaxBytes - o.reservedBytes - dedupBytes, Math.ceil(o.historyMaxBytes / HISTORY_MIN_SHARE_DIVISOR));
}

/**
 * Through which revision history goes by size and age: `byAge` (revision
 * older than the age limit), `overBudget(bytes)` (the revision through which
 * the oldest rows must go to leave at most `bytes`). Unpublished changes
 * (above `published`, once an outbox publishes) stay unless they exceed
 * `holdBytes` (the state machine: OUTBOX_HOLD_FACTOR x the whole budget,
 * historyMaxBytes, not x history's share of it, which a busy de-dup table
 * may shrink to a sixteenth).
 */
export function historyPruneThrough(byAge: number, overBudget: (bytes: number) => number, maxBytes: number, published: number, holdBytes = maxBytes * OUTBOX_HOLD_FACTOR): number {
  const through = Math.max(byAge, overBudget(maxBytes));
  if (published <= 0 || through <= published) return through;
  return Math.max(published, overBudget(holdBytes));
}

/**
 * Through which revision de-duplication rows go: everything past the maximum
 * age; by size only rows past the minimum age (`floor`), so a retry inside
 * the retry window is always recognised, whatever the write rate (the
 * trade-off: at W writes/s the table holds at least W x dedupMinAgeMs rows).
 */
export function dedupPruneThrough(byMaxAge: number, floor: number, overBudget: number): number {
  return Math.max(byMaxAge, Math.min(floor, overBudget));
}
