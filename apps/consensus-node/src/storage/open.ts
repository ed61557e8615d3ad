// Opens a node's two files (schema.ts says why there are two) as its log
// store and its state store, refusing what is not this node's data, and
// finishes what a crash interrupted (src/durability.ts, recoverAfterCrash).
import { dirname, join } from 'node:path';
import { recoverAfterCrash } from '../durability.js';
import { LogStore } from './log-store.js';
import { LOG_SCHEMA, STATE_SCHEMA } from './schema.js';
import { StateStore } from './state-store.js';
import { StoreCorruptError, checkIdentity, openDb } from './sqlite.js';

export interface StorageOptions {
  /** The state file (flagraft.db); the log file (raft-log.db) is beside it. */
  statePath: string;
  clusterId: string;
  nodeId: number;
  /** Only for a brand-new data dir: the initial voters and their addresses. Absent = joining node (empty membership). */
  bootstrap?: { members: { id: number; address: string }[] };
  /** Log entries kept in memory for fast reads (count). */
  tailCacheEntries?: number;
}

export interface NodeStorage { log: LogStore; state: StateStore }

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
    if (!state.fresh) checkIdentity(state.db, o.statePath, STATE_SCHEMA, id);
    if (!log.fresh) checkIdentity(log.db, logPath, LOG_SCHEMA, id);
    // Checked before either is written: a lost log must never be replaced by an empty one (votes and acknowledgements would be forgotten).
    if (state.fresh !== log.fresh) {
      throw new StoreCorruptError(`${state.fresh ? o.statePath : logPath} is missing or empty while ${state.fresh ? logPath : o.statePath} holds data: restore both files or wipe the data dir and rejoin`);
    }
    if (state.fresh) {
      LogStore.initialize(log.db, id);
      StateStore.initialize(state.db, id, o.bootstrap);
    }
    const stores = { log: new LogStore(log.db, logPath, o.tailCacheEntries), state: new StateStore(state.db, o.statePath) };
    recoverAfterCrash(stores.log, stores.state);
    return stores;
  } catch (e) {
    state.db.close();
    log.db.close();
    throw e;
  }
}
