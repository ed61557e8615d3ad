import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EntryType, ErrCompacted, ErrUnavailable, type Entry } from '@flagraft/raft-core';
import { openStorage, type NodeStorage, type StorageOptions } from './open.js';
import { StoreCorruptError, StoreOpenError } from './sqlite.js';

const ent = (index: number, term: number, s = `e${index}`): Entry => ({ index, term, type: EntryType.Normal, data: Buffer.from(s) });

/** The node's storage as its tests drive it: the log store and the state store of one data dir. */
class Stores {
  constructor(readonly s: NodeStorage) {}
  get log() { return this.s.log; }
  get state() { return this.s.state; }
  /** One fsynced log transaction, as durability.ts writes a Ready. */
  write(fn: () => void) { this.s.log.write(true, fn); }
  compact(index: number) { this.s.log.write(true, () => this.s.log.compactThrough(index)); }
  close() { this.s.log.close(); this.s.state.close(); }
}

describe('log store and state store', () => {
  let dir: string;
  let path: string;
  const open = (over: Partial<StorageOptions> = {}) =>
    new Stores(openStorage({ statePath: path, clusterId: 'c1', nodeId: 1, bootstrap: { members: [{ id: 1, address: 'a:1' }, { id: 2, address: 'a:2' }, { id: 3, address: 'a:3' }] }, tailCacheEntries: 4, ...over }));

  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'store-')); path = join(dir, 'n.db'); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('bootstraps membership and recovers log and hard state after reopen', () => {
    const s = open();
    expect(s.state.confState().voters).toEqual([1, 2, 3]);
    s.write(() => { s.log.append([ent(1, 1), ent(2, 1), ent(3, 2)]); s.log.setHardState({ term: 2, vote: 3, commit: 2 }); });
    s.close();
    const r = open({ bootstrap: undefined });
    expect(r.log.hardState()).toEqual({ term: 2, vote: 3, commit: 2 });
    expect(r.log.lastIndex()).toBe(3);
    expect(r.log.firstIndex()).toBe(1);
    expect(r.log.term(3)).toBe(2);
    expect(r.log.entries(1, 4, 1e9).map((e) => Buffer.from(e.data).toString())).toEqual(['e1', 'e2', 'e3']);
    r.close();
  });

  it('truncates a conflicting suffix, reads beyond the tail cache, compacts', () => {
    const s = open();
    s.write(() => s.log.append(Array.from({ length: 10 }, (_, i) => ent(i + 1, 1))));
    s.write(() => s.log.append([ent(6, 2, 'x6'), ent(7, 2, 'x7')]));
    expect(s.log.lastIndex()).toBe(7);
    expect(s.log.term(6)).toBe(2);
    expect(s.log.term(5)).toBe(1);
    expect(s.log.entries(2, 8, 1e9).map((e) => e.index)).toEqual([2, 3, 4, 5, 6, 7]);
    // maxSize bounds the result but always returns at least one entry
    expect(s.log.entries(2, 8, 1).length).toBe(1);
    expect(() => s.log.entries(2, 9, 1e9)).toThrow(ErrUnavailable);
    s.compact(4);
    expect(s.log.firstIndex()).toBe(5);
    expect(s.log.term(4)).toBe(1);
    expect(() => s.log.term(3)).toThrow(ErrCompacted);
    expect(() => s.log.entries(4, 6, 1e9)).toThrow(ErrCompacted);
    s.close();
    const r = open({ bootstrap: undefined });
    expect(r.log.firstIndex()).toBe(5);
    expect(r.log.entries(5, 8, 1e9).map((e) => Buffer.from(e.data).toString())).toEqual(['e5', 'x6', 'x7']);
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
    s.write(() => s.log.append([ent(1, 1), ent(2, 1)]));
    s.close();
    const db = new Database(join(dir, 'raft-log.db'));
    db.prepare('UPDATE log SET data = ? WHERE idx = 1').run(Buffer.from('tampered'));
    db.close();
    expect(() => open({ bootstrap: undefined })).toThrow(StoreCorruptError);
    expect(existsSync(path)).toBe(true);
  });

  it('detects missing log entries', () => {
    const s = open();
    s.write(() => s.log.append([ent(1, 1), ent(2, 1), ent(3, 1)]));
    s.close();
    const db = new Database(join(dir, 'raft-log.db'));
    db.prepare('DELETE FROM log WHERE idx = 2').run();
    db.close();
    expect(() => open({ bootstrap: undefined })).toThrow(/missing/);
  });

  it('after a crash between installing a snapshot and cutting the log, finishes the cut on open', () => {
    const s = open();
    s.write(() => { s.log.append([ent(1, 1), ent(2, 1), ent(3, 1)]); s.log.setHardState({ term: 1, vote: 1, commit: 3 }); });
    // the state file says a snapshot at index 50 (term 4) was installed; the log never heard of it
    s.state.durableTransaction(() => s.state.setApplied(50, 4));
    s.close();
    const r = open({ bootstrap: undefined });
    expect(r.log.firstIndex()).toBe(51);
    expect(r.log.lastIndex()).toBe(50);
    expect(r.log.term(50)).toBe(4);
    expect(r.log.hardState().commit).toBe(50);
    r.close();
  });

  it('refuses a state file older than the compacted log', () => {
    const s = open();
    s.write(() => s.log.append(Array.from({ length: 10 }, (_, i) => ent(i + 1, 1))));
    s.state.durableTransaction(() => s.state.setApplied(8, 1));
    s.compact(8);
    s.state.durableTransaction(() => s.state.setApplied(5, 1));
    s.close();
    expect(() => open({ bootstrap: undefined })).toThrow(/older than the log/);
  });
});
