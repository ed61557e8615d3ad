import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EntryType, ErrCompacted, ErrUnavailable, type Entry } from '@flagraft/raft-core';
import { SqliteStore, StoreCorruptError, StoreOpenError } from './sqlite-store.js';

const ent = (index: number, term: number, s = `e${index}`): Entry => ({ index, term, type: EntryType.Normal, data: Buffer.from(s) });

describe('SqliteStore', () => {
  let dir: string;
  let path: string;
  const open = (over: Partial<ConstructorParameters<typeof SqliteStore>[0]> = {}) =>
    new SqliteStore({ path, clusterId: 'c1', nodeId: 1, bootstrap: { members: [{ id: 1, address: 'a:1' }, { id: 2, address: 'a:2' }, { id: 3, address: 'a:3' }] }, tailCacheEntries: 4, ...over });

  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'store-')); path = join(dir, 'n.db'); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('bootstraps membership and recovers log and hard state after reopen', () => {
    const s = open();
    expect(s.initialState().confState.voters).toEqual([1, 2, 3]);
    s.logTransaction(() => { s.append([ent(1, 1), ent(2, 1), ent(3, 2)]); s.setHardState({ term: 2, vote: 3, commit: 2 }); });
    s.close();
    const r = open({ bootstrap: undefined });
    expect(r.initialState().hardState).toEqual({ term: 2, vote: 3, commit: 2 });
    expect(r.lastIndex()).toBe(3);
    expect(r.firstIndex()).toBe(1);
    expect(r.term(3)).toBe(2);
    expect(r.entries(1, 4, 1e9).map((e) => Buffer.from(e.data).toString())).toEqual(['e1', 'e2', 'e3']);
    r.close();
  });

  it('truncates a conflicting suffix, reads beyond the tail cache, compacts', () => {
    const s = open();
    s.logTransaction(() => s.append(Array.from({ length: 10 }, (_, i) => ent(i + 1, 1))));
    s.logTransaction(() => s.append([ent(6, 2, 'x6'), ent(7, 2, 'x7')]));
    expect(s.lastIndex()).toBe(7);
    expect(s.term(6)).toBe(2);
    expect(s.term(5)).toBe(1);
    expect(s.entries(2, 8, 1e9).map((e) => e.index)).toEqual([2, 3, 4, 5, 6, 7]);
    // maxSize bounds the result but always returns at least one entry
    expect(s.entries(2, 8, 1).length).toBe(1);
    expect(() => s.entries(2, 9, 1e9)).toThrow(ErrUnavailable);
    s.compact(4);
    expect(s.firstIndex()).toBe(5);
    expect(s.term(4)).toBe(1);
    expect(() => s.term(3)).toThrow(ErrCompacted);
    expect(() => s.entries(4, 6, 1e9)).toThrow(ErrCompacted);
    s.close();
    const r = open({ bootstrap: undefined });
    expect(r.firstIndex()).toBe(5);
    expect(r.entries(5, 8, 1e9).map((e) => Buffer.from(e.data).toString())).toEqual(['e5', 'x6', 'x7']);
    r.close();
  });

  it('refuses a file of another cluster or node with a clear error', () => {
    open().close();
    expect(() => open({ clusterId: 'other' })).toThrow(/belongs to cluster "c1", not "other"/);
    expect(() => open({ nodeId: 2 })).toThrow(/belongs to node 1, not node 2/);
    expect(() => open({ clusterId: 'other' })).toThrow(StoreOpenError);
  });

  it('refuses a file that is not a flagraft database, and a data dir missing one of its two files', () => {
    writeFileSync(path, 'this is not sqlite at all'.repeat(100));
    expect(() => open()).toThrow(StoreOpenError);
    rmSync(path, { force: true });
    rmSync(join(dir, 'raft-log.db'), { force: true });
    open().close();
    rmSync(join(dir, 'raft-log.db'));
    rmSync(join(dir, 'raft-log.db-wal'), { force: true });
    expect(() => open({ bootstrap: undefined })).toThrow(/raft-log.db is missing or empty/);
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(join(tmpdir(), 'store-'));
    path = join(dir, 'n.db');
    const db = new Database(path);
    db.exec('CREATE TABLE x (a)');
    db.close();
    expect(() => open()).toThrow(/not a flagraft node database/);
  });

  it('detects a corrupted log entry by its checksum', () => {
    const s = open();
    s.logTransaction(() => s.append([ent(1, 1), ent(2, 1)]));
    s.close();
    const db = new Database(join(dir, 'raft-log.db'));
    db.prepare('UPDATE log SET data = ? WHERE idx = 1').run(Buffer.from('tampered'));
    db.close();
    expect(() => open({ bootstrap: undefined })).toThrow(StoreCorruptError);
    expect(existsSync(path)).toBe(true);
  });

  it('detects missing log entries', () => {
    const s = open();
    s.logTransaction(() => s.append([ent(1, 1), ent(2, 1), ent(3, 1)]));
    s.close();
    const db = new Database(join(dir, 'raft-log.db'));
    db.prepare('DELETE FROM log WHERE idx = 2').run();
    db.close();
    expect(() => open({ bootstrap: undefined })).toThrow(/missing/);
  });

  it('after a crash between installing a snapshot and cutting the log, finishes the cut on open', () => {
    const s = open();
    s.logTransaction(() => { s.append([ent(1, 1), ent(2, 1), ent(3, 1)]); s.setHardState({ term: 1, vote: 1, commit: 3 }); });
    // the state file says a snapshot at index 50 (term 4) was installed; the log never heard of it
    s.durableStateTransaction(() => { s.setMeta('applied', 50); s.setMeta('applied_term', 4); });
    s.close();
    const r = open({ bootstrap: undefined });
    expect(r.firstIndex()).toBe(51);
    expect(r.lastIndex()).toBe(50);
    expect(r.term(50)).toBe(4);
    expect(r.initialState().hardState.commit).toBe(50);
    r.close();
  });

  it('refuses a state file older than the compacted log', () => {
    const s = open();
    s.logTransaction(() => s.append(Array.from({ length: 10 }, (_, i) => ent(i + 1, 1))));
    s.durableStateTransaction(() => { s.setMeta('applied', 8); s.setMeta('applied_term', 1); });
    s.compact(8);
    s.durableStateTransaction(() => { s.setMeta('applied', 5); s.setMeta('applied_term', 1); });
    s.close();
    expect(() => open({ bootstrap: undefined })).toThrow(/older than the log/);
  });
});
