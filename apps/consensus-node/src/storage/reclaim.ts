// Giving freed space back to the file system. Pruning (retention.ts) and log
// compaction free pages inside the SQLite files; SQLite reuses them, but a
// file never shrinks by itself. Both files use auto_vacuum=INCREMENTAL
// (sqlite.ts), so `PRAGMA incremental_vacuum(N)` moves up to N pages to the
// end and truncates them (in WAL mode the file shrinks at the next
// checkpoint). Each step is short (~1-2 ms for 256 pages measured here); the
// Reclaimer runs one step at a time and yields to the event loop between
// them, so writes never wait behind a whole-file VACUUM. This is local
// housekeeping: it changes no row, so replicas need not agree on it.
import type Database from 'better-sqlite3';
import type { Logger } from '../log.js';

/** SQLite page size of the node's files (bytes): SQLite's default, which the node never changes. */
export const PAGE_BYTES = 4096;
/**
 * A WAL is checkpointed into its file once it holds this many pages.
 * SQLite's default is 1,000 (~4 MiB per file, the largest part of a small
 * data dir); 128 (512 KiB) keeps each WAL inside the budget's local margin
 * (localMarginBytes) and each checkpoint (which runs inside the commit that
 * crosses it) short.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 128;
/** WAL files are truncated to this after checkpoints (bytes); otherwise a WAL keeps its high-water mark (a snapshot install, a VACUUM) for good. */
export const JOURNAL_SIZE_LIMIT_BYTES = WAL_AUTOCHECKPOINT_PAGES * PAGE_BYTES;
/**
 * Room for one WAL: a checkpoint starts once it passes WAL_AUTOCHECKPOINT_PAGES, so it also holds the
 * commit that crossed it (a Ready's apply with a prune: up to ~100 pages measured; frame headers included).
 */
const WAL_ALLOWANCE_BYTES = 2 * WAL_AUTOCHECKPOINT_PAGES * (PAGE_BYTES + 24);
/** Free pages the state file keeps for reuse (pruning frees and the next rows refill them): 256 KiB; released only once twice that is free. */
export const STATE_KEEP_FREE_PAGES = 64;
export const STATE_RECLAIM_ABOVE_PAGES = 2 * STATE_KEEP_FREE_PAGES;

/**
 * Bytes a node's data dir may hold beyond its rows, from its configuration
 * alone (retention.ts reservedBytes, inside FLAGRAFT_HISTORY_MAX_BYTES): the
 * Raft log's entries up to a compaction (snapshotEveryBytes +
 * snapshotCatchUpBytes; the log's kept free pages are that same space), the
 * two WALs, and the state file's kept free pages.
 */
export function localMarginBytes(o: { snapshotEveryBytes: number; snapshotCatchUpBytes: number }): number {
  return o.snapshotEveryBytes + o.snapshotCatchUpBytes + 2 * WAL_ALLOWANCE_BYTES + STATE_RECLAIM_ABOVE_PAGES * PAGE_BYTES;
}

/**
 * One incremental_vacuum step on `db`, leaving `keepFreePages` free pages for
 * reuse; returns the pages released. Nothing until more than
 * `startAbovePages` are free: each step is a commit (and now and then a WAL
 * checkpoint), so fewer, larger steps cost less than one per prune's pages.
 */
export function reclaimPages(db: Database.Database, maxPages: number, keepFreePages: number, startAbovePages = keepFreePages): number {
  const free = db.pragma('freelist_count', { simple: true }) as number;
  const n = Math.min(maxPages, free - keepFreePages);
  if (n <= 0 || free <= startAbovePages) return 0;
  // exec, not a prepared statement's run(): run() steps a pragma once, releasing one page.
  db.exec(`PRAGMA incremental_vacuum(${Math.floor(n)})`);
  return free - (db.pragma('freelist_count', { simple: true }) as number);
}

/** A file the Reclaimer looks after. */
export interface ReclaimTarget {
  name: string;
  /** One step of at most `maxPages`, keeping `keepFreePages` free; returns the pages released. */
  reclaim(maxPages: number, keepFreePages: number): number;
  /** Free pages kept for reuse (they will be written again soon: reclaiming them would only move pages back and forth). */
  keepFreePages: number;
}

export interface ReclaimOptions {
  /** How often the files are checked for free pages (ms; 0 = never). */
  intervalMs: number;
  /** Pages released per step: the longest a write can wait behind reclaim (pages of 4 KiB). */
  stepPages: number;
}

export const DEFAULT_RECLAIM: ReclaimOptions = { intervalMs: 1000, stepPages: 256 };

/** Counters for the metrics line, tests and benchmarks. */
export interface ReclaimStats { steps: number; pages: number; maxStepMs: number }

export class Reclaimer {
  readonly stats: ReclaimStats = { steps: 0, pages: 0, maxStepMs: 0 };
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(private readonly targets: ReclaimTarget[], private readonly o: ReclaimOptions, private readonly log?: Logger) {}

  start(): void {
    if (this.o.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => this.pass(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One step on every target; true when any released pages (more may be left). */
  step(): boolean {
    let any = false;
    for (const t of this.targets) {
      const started = performance.now();
      const pages = t.reclaim(this.o.stepPages, t.keepFreePages);
      if (pages === 0) continue;
      const ms = performance.now() - started;
      any = true;
      this.stats.steps++;
      this.stats.pages += pages;
      if (ms > this.stats.maxStepMs) this.stats.maxStepMs = ms;
    }
    return any;
  }

  /** Steps until nothing is left, yielding to the event loop between steps (Readies and requests go first). */
  private pass(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    const next = () => {
      if (this.stopped) { this.running = false; return; }
      let more = false;
      try {
        more = this.step();
      } catch (e) {
        // A failed step changes nothing (its transaction rolls back); try again next interval.
        this.log?.warn('reclaiming free pages failed', { error: (e as Error).message });
      }
      if (more) setImmediate(next);
      else this.running = false;
    };
    next();
  }
}
