// Opens a node's two files (schema.ts says why there are two) as its log
// store and its state store, refusing what is not this node's data, and
// finishes what a crash interrupted (src/durability.ts, recoverAfterCrash).
import { dirname, join } from 'node:path';
import { recoverAfterCrash } from '../durability.js';
import type { Logger } from '../log.js';
import { LogStore } from './log-store.js';
import { PAGE_BYTES, Reclaimer, STATE_KEEP_FREE_PAGES, STATE_RECLAIM_ABOVE_PAGES, type ReclaimOptions } from './reclaim.js';
import { LOG_CHECKED, LOG_SCHEMA, REBUILT_IN_FORMAT_4, STATE_CHECKED, STATE_SCHEMA } from './schema.js';
import { StateStore } from './state-store.js';
import { StoreCorruptError, checkIdentity, openDb } from './sqlite.js';
import { verifyTables, type VerifyResult } from './checksum.js';
import { DEFAULT_ENVIRONMENT } from '@flagraft/flag-model';

/**
 * The scan of every row's checksum on open stops after this long (ms): a
 * start must not wait on a huge file. Rows it did not reach are checked
 * whenever they are read; the node logs how far the scan got.
 */
export const DEFAULT_VERIFY_BUDGET_MS = 10_000;

export interface StorageOptions {
  /** The state file (flagraft.db); the log file (raft-log.db) is beside it. */
  statePath: string;
  clusterId: string;
  nodeId: number;
  /** Only for a brand-new data dir: the initial voters and their addresses. Absent = joining node (empty membership). */
  bootstrap?: { members: { id: number; address: string }[] };
  /** Log entries kept in memory for fast reads (count). */
  tailCacheEntries?: number;
  /** Told when an older file is converted to auto_vacuum=INCREMENTAL (one VACUUM at start). */
  logger?: Logger;
  /** Time allowed for the checksum scan on open (ms); default DEFAULT_VERIFY_BUDGET_MS. */
  verifyBudgetMs?: number;
  /**
   * The default environment's name, used once: when a new state file is
   * made, or an older one (no environments) becomes environment-aware. Every
   * node of a cluster must be given the same (FLAGRAFT_DEFAULT_ENVIRONMENT).
   */
  defaultEnvironment?: string;
}

export interface NodeStorage {
  log: LogStore;
  state: StateStore;
  /** What the checksum scan on open covered (complete = every row of both files). */
  verified: VerifyResult;
}

export function openStorage(o: StorageOptions): NodeStorage {
  const id = { clusterId: o.clusterId, nodeId: o.nodeId };
  const logPath = join(dirname(o.statePath), 'raft-log.db');
  const state = openDb(o.statePath, 'state', 'NORMAL');
  let log: ReturnType<typeof openDb>;
  try {
    log = openDb(logPath, 'log', 'FULL');
  } catch (e) {
    state.db.close();
    throw e;
  }
  try {
    if (!state.fresh) checkIdentity(state.db, o.statePath, STATE_SCHEMA, id, Object.values(STATE_CHECKED), REBUILT_IN_FORMAT_4);
    if (!log.fresh) checkIdentity(log.db, logPath, LOG_SCHEMA, id, Object.values(LOG_CHECKED));
    // Checked before either is written: a lost log must never be replaced by an empty one (votes and acknowledgements would be forgotten).
    if (state.fresh !== log.fresh) {
      throw new StoreCorruptError(`${state.fresh ? o.statePath : logPath} is missing or empty while ${state.fresh ? logPath : o.statePath} holds data: restore both files or wipe the data dir and rejoin`);
    }
    if (state.fresh) {
      LogStore.initialize(log.db, id);
      StateStore.initialize(state.db, id, o.bootstrap);
    }
    for (const [path, f] of [[o.statePath, state], [logPath, log]] as const) {
      if (f.vacuumedMs) o.logger?.info('converted to auto_vacuum=INCREMENTAL (one VACUUM)', { path, ms: f.vacuumedMs });
    }
    // Small tables first, the log's entries last: what the budget leaves out is then what is checked on read anyway.
    const deadline = performance.now() + (o.verifyBudgetMs ?? DEFAULT_VERIFY_BUDGET_MS);
    const parts = [verifyTables(log.db, logPath, Object.values(LOG_CHECKED), deadline), verifyTables(state.db, o.statePath, Object.values(STATE_CHECKED), deadline)];
    const stores = { log: new LogStore(log.db, logPath, o.tailCacheEntries), state: new StateStore(state.db, o.statePath) };
    if (parts.every((p) => p.complete)) parts.push(stores.log.verifyEntries(deadline));
    // A state file from before environments: its flags become the default environment (revisions and history kept).
    stores.state.ensureDefaultEnvironment(o.defaultEnvironment ?? DEFAULT_ENVIRONMENT);
    recoverAfterCrash(stores.log, stores.state);
    const verified = { rows: parts.reduce((a, p) => a + p.rows, 0), complete: parts.length === 3 && parts.every((p) => p.complete), ms: parts.reduce((a, p) => a + p.ms, 0) };
    return { ...stores, verified };
  } catch (e) {
    state.db.close();
    log.db.close();
    throw e;
  }
}

/**
 * The Reclaimer for a node's two files. The log keeps free pages for one
 * compaction interval (snapshotEveryBytes): the next entries fill them again,
 * so releasing them would only move pages back and forth.
 */
export function spaceReclaimer(s: NodeStorage, o: { reclaim: ReclaimOptions; snapshotEveryBytes: number }, logger?: Logger): Reclaimer {
  return new Reclaimer([
    { name: 'state', reclaim: (n, keep) => s.state.reclaim(n, keep, STATE_RECLAIM_ABOVE_PAGES), keepFreePages: STATE_KEEP_FREE_PAGES },
    { name: 'log', reclaim: (n, keep) => s.log.reclaim(n, keep), keepFreePages: Math.ceil(o.snapshotEveryBytes / PAGE_BYTES) },
  ], o.reclaim, logger);
}
