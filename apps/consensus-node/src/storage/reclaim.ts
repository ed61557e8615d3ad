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

/** One incremental_vacuum step on `db`, leaving `keepFreePages` free pages for reuse; returns the pages released. */
export function reclaimPages(db: Database.Database, maxPages: number, keepFreePages: number): number {
  const free = db.pragma('freelist_count', { simple: true }) as number;
  const n = Math.min(maxPages, free - keepFreePages);
  if (n <= 0) return 0;
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
