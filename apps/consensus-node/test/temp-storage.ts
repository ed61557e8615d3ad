// Single-node storage on real SQLite files in temporary folders, for the
// state-machine tests (audit log, retention, restore): every storage opened
// is closed and every folder removed after each test, even a failing one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { openStorage, type NodeStorage } from '../src/storage/open.js';

export interface TempStorages {
  /** A new empty folder (named prefix + random), removed after the test. */
  dir(): string;
  /** Opens node 1's storage in `dir`: a one-member cluster on first open (bootstrap), as it is on a reopen without. */
  open(dir: string, bootstrap?: boolean): NodeStorage;
  /** Closes a storage opened here before the test ends (to reopen its files). */
  close(storage: NodeStorage): void;
}

/** Registers the clean-up with afterEach: call it at a describe's or file's top level. */
export function tempStorages(prefix: string): TempStorages {
  const dirs: string[] = [];
  const open: NodeStorage[] = [];
  const shut = (s: NodeStorage) => { s.log.close(); s.state.close(); };
  afterEach(() => {
    for (const s of open.splice(0)) shut(s);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    dir() {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    open(dir, bootstrap = true) {
      const storage = openStorage({
        statePath: join(dir, 'flagraft.db'), clusterId: 'c', nodeId: 1,
        ...(bootstrap ? { bootstrap: { members: [{ id: 1, address: '127.0.0.1:1' }] } } : {}),
      });
      open.push(storage);
      return storage;
    },
    close(storage) {
      const i = open.indexOf(storage);
      if (i >= 0) open.splice(i, 1);
      shut(storage);
    },
  };
}
