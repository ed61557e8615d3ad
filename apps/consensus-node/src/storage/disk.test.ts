// Disk bounded by live data, the storage half: the Raft log compacted by size
// as well as by count (through the real durability path), freed pages handed
// back to the file system in short steps, an older data dir converted to
// auto_vacuum=INCREMENTAL on open, and the retention settings' configuration.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand, type Command } from '@flagraft/flag-model';
import { ConfigError, DEFAULTS, loadConfigFromEnv } from '../config.js';
import { Durability } from '../durability.js';
import { TAG_COMMAND } from '../entries.js';
import { createLogger } from '../log.js';
import { DEFAULT_RETENTION } from '../retention.js';
import { StateMachine } from '../state-machine.js';
import { openStorage, spaceReclaimer, type NodeStorage } from './open.js';
import { RaftStorage } from './raft-storage.js';
import { STATE_KEEP_FREE_PAGES, STATE_RECLAIM_ABOVE_PAGES, localMarginBytes } from './reclaim.js';

const dirs: string[] = [];
const open: NodeStorage[] = [];
afterEach(() => {
  for (const s of open.splice(0)) { s.log.close(); s.state.close(); }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function storageIn(dir: string, bootstrap = true): NodeStorage {
  const s = openStorage({ statePath: join(dir, 'flagraft.db'), clusterId: 'c', nodeId: 1, bootstrap: bootstrap ? { members: [{ id: 1, address: 'a:1' }] } : undefined });
  open.push(s);
  return s;
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'flagraft-disk-'));
  dirs.push(d);
  return d;
}

const quiet = createLogger({}, 'error', () => undefined);

function entry(index: number, pad = 200) {
  const cmd = { v: 1, actor: 'a', time: 1_700_000_000_000 + index, clientId: 'c', requestId: `r${index}`, op: 'putFlag',
    flag: { key: `k${index % 10}`, type: 'string', variants: { v: 'x'.repeat(pad) }, defaultVariant: 'v', enabled: true, rules: [] } } as Command;
  const body = encodeCommand(cmd);
  const data = new Uint8Array(body.length + 1);
  data[0] = TAG_COMMAND;
  data.set(body, 1);
  return { term: 1, index, type: 0, data };
}

/** The durability path as the node runs it, for a one-node log: each call is one Ready of `entries`, persisted, applied and compacted. */
function driveReadies(s: NodeStorage, fsm: StateMachine, opts: { everyEntries: number; catchUpEntries: number; everyBytes: number; catchUpBytes: number }) {
  const d = new Durability({
    log: s.log, storage: new RaftStorage(s.log, fsm), fsm, logger: quiet,
    metrics: { readies: 0, fsyncs: 0, txMs: 0, entriesPersisted: 0, entriesApplied: 0, messagesSent: 0 },
    node: { applyConfChange: () => { throw new Error('none here'); }, advance: () => undefined },
    send: () => undefined,
    // Nothing is sent here and this node is never a leader, so every Ready completes within handle().
    stopped: () => false,
    snapshotEveryEntries: opts.everyEntries, snapshotCatchUpEntries: opts.catchUpEntries, snapshotEveryBytes: opts.everyBytes, snapshotCatchUpBytes: opts.catchUpBytes,
    dataBytes: () => 0,
  });
  const hooks = { answer: () => undefined, afterAdvance: () => undefined };
  return (entries: ReturnType<typeof entry>[]) => d.handle({
    entries, committedEntries: entries, hardState: { term: 1, vote: 1, commit: entries[entries.length - 1].index }, messages: [], mustSync: false, readStates: [],
  } as never, false, hooks);
}

describe('log compaction by size', () => {
  it('bounds the log by bytes when the count threshold is far away, keeping a catch-up margin in bytes, never past the applied state', () => {
    const dir = tempDir();
    const s = storageIn(dir);
    const fsm = new StateMachine(s.state, DEFAULT_RETENTION);
    const ready = driveReadies(s, fsm, { everyEntries: 1e9, catchUpEntries: 1e9, everyBytes: 30_000, catchUpBytes: 10_000 });
    const oneEntry = entry(1).data.length + 24;
    for (let i = 1; i <= 2000; i += 10) ready(Array.from({ length: 10 }, (_, j) => entry(i + j)));
    expect(s.log.firstIndex()).toBeGreaterThan(1500);
    // At most one interval + the margin + one Ready beyond it.
    expect(s.log.entriesBytes()).toBeLessThanOrEqual(30_000 + 10_000 + 10 * oneEntry);
    expect(s.log.compactedThrough().index).toBeLessThanOrEqual(fsm.applied().index);
    const kept = s.log.entries(s.log.firstIndex(), s.log.lastIndex() + 1, 1e9);
    // Right after a compaction the margin holds at most catchUpBytes (checked on a fresh compaction point below).
    expect(kept.length).toBeGreaterThan(10_000 / oneEntry - 1);
    // The running count matches the rows, also across a reopen and after a conflicting suffix is replaced.
    const last = s.log.lastIndex();
    s.log.write(false, () => s.log.append([entry(last + 1), entry(last + 2), entry(last + 3)]));
    s.log.write(false, () => s.log.append([entry(last + 2, 5)]));
    const counted = s.log.entriesBytes();
    s.log.close(); s.state.close(); open.splice(open.indexOf(s), 1);
    expect(storageIn(dir, false).log.entriesBytes()).toBe(counted);
  });

  it('picks a compaction point that leaves at most the catch-up bytes, or the entry-count margin when that is smaller', () => {
    const s = storageIn(tempDir());
    s.log.write(true, () => s.log.append(Array.from({ length: 100 }, (_, i) => ({ ...entry(i + 1), data: new Uint8Array(76) }))));
    // 100 bytes per entry (76 + 24): keeping 1,000 bytes through 100 keeps 91..100, so 90 goes.
    expect(s.log.compactionPointKeeping(100, 1000, 0)).toBe(90);
    expect(s.log.compactionPointKeeping(100, 1000, 95)).toBe(95);
    expect(s.log.compactionPointKeeping(100, 1e6, 0)).toBe(0);
  });
});

describe('giving freed pages back', () => {
  it('shrinks the state file after pruning in steps of at most stepPages, each short', () => {
    const dir = tempDir();
    const s = storageIn(dir);
    const fsm = new StateMachine(s.state, { ...DEFAULT_RETENTION, historyMaxBytes: 1e12, pruneEveryRevisions: 100 });
    for (let i = 1; i <= 3000; i += 50) fsm.atomically({ index: i + 49, term: 1 }, () => { for (let j = i; j < i + 50; j++) fsm.apply(entry(j, 1000)); });
    const checkpoint = () => new Database(join(dir, 'flagraft.db')).pragma('wal_checkpoint(TRUNCATE)');
    checkpoint();
    const before = s.state.bytes();
    // A tighter budget from here on (as after a configuration change): the next prune drops most of the history.
    const small = new StateMachine(s.state, { ...DEFAULT_RETENTION, historyMaxBytes: 50_000, pruneEveryRevisions: 100 });
    small.atomically({ index: 3100, term: 1 }, () => { for (let j = 3001; j <= 3100; j++) small.apply(entry(j, 1000)); });
    const reclaimer = spaceReclaimer(s, { reclaim: { intervalMs: 0, stepPages: 64 }, snapshotEveryBytes: 1 << 20 });
    let steps = 0;
    while (reclaimer.step()) steps++;
    checkpoint();
    expect(steps).toBeGreaterThan(5);
    expect(reclaimer.stats.pages).toBeLessThanOrEqual(steps * 64 * 2);
    expect(s.state.bytes()).toBeLessThan(before / 3);
    expect(reclaimer.stats.maxStepMs).toBeLessThan(500);
    // Nothing readable changed.
    expect(small.allItems('flag')).toHaveLength(10);
    expect(small.history('flag', 'k0', Number.MAX_SAFE_INTEGER, 1000).length).toBeGreaterThan(0);
    // The state file keeps at least STATE_KEEP_FREE_PAGES; steps stop once no more than STATE_RECLAIM_ABOVE_PAGES are free.
    const freePages = (s.state as unknown as { db: Database.Database }).db.pragma('freelist_count', { simple: true }) as number;
    expect(freePages).toBeGreaterThanOrEqual(STATE_KEEP_FREE_PAGES);
    expect(freePages).toBeLessThanOrEqual(STATE_RECLAIM_ABOVE_PAGES);
  });

  it('releases nothing until more than startAbovePages are free, then down to keepFreePages', () => {
    const dir = tempDir();
    const s = storageIn(dir);
    const fsm = new StateMachine(s.state, { ...DEFAULT_RETENTION, historyMaxBytes: 1e12, pruneEveryRevisions: 100 });
    fsm.atomically({ index: 400, term: 1 }, () => { for (let j = 1; j <= 400; j++) fsm.apply(entry(j, 1000)); });
    s.state.pruneChangesThrough(400);
    const free = (s.state as unknown as { db: Database.Database }).db.pragma('freelist_count', { simple: true }) as number;
    expect(free).toBeGreaterThan(20);
    expect(s.state.reclaim(10_000, 10, free)).toBe(0);
    expect(s.state.reclaim(10_000, 10, free - 1)).toBe(free - 10);
    expect(s.state.reclaim(10_000, 0, 10)).toBe(0);
  });
});

describe('a data dir from before auto_vacuum=INCREMENTAL', () => {
  it('is converted once on open (one VACUUM, logged) and keeps its data', () => {
    const fixture = new URL('../../test/fixtures/data-dir-v2/', import.meta.url).pathname;
    const dir = tempDir();
    for (const f of ['flagraft.db', 'raft-log.db']) copyFileSync(join(fixture, f), join(dir, f));
    const autoVacuum = (f: string) => {
      const db = new Database(join(dir, f), { readonly: true });
      try { return db.pragma('auto_vacuum', { simple: true }); } finally { db.close(); }
    };
    expect(autoVacuum('flagraft.db')).toBe(0);
    const lines: string[] = [];
    // Read from the copy (opening the fixture itself would leave -wal/-shm files beside it).
    const before = new Database(join(dir, 'flagraft.db'), { readonly: true });
    const expected = { applied: before.prepare("SELECT v FROM meta WHERE k = 'applied'").pluck().get() as string, flags: before.prepare('SELECT COUNT(*) FROM flags').pluck().get(), changes: before.prepare('SELECT COUNT(*) FROM changes').pluck().get() };
    const clusterId = before.prepare("SELECT v FROM meta WHERE k = 'cluster_id'").pluck().get() as string;
    before.close();
    const s = openStorage({ statePath: join(dir, 'flagraft.db'), clusterId, nodeId: 1, logger: createLogger({}, 'info', (l) => lines.push(l)) });
    open.push(s);
    expect(lines.filter((l) => l.includes('auto_vacuum=INCREMENTAL'))).toHaveLength(2);
    expect(String(s.state.applied().index)).toBe(expected.applied);
    expect(s.state.liveCounts()).toMatchObject({ flags: expected.flags, changes: expected.changes });
    s.log.close(); s.state.close(); open.splice(0);
    expect(autoVacuum('flagraft.db')).toBe(2);
    expect(autoVacuum('raft-log.db')).toBe(2);
    // Converted once: the next open has nothing to do.
    const again: string[] = [];
    open.push(openStorage({ statePath: join(dir, 'flagraft.db'), clusterId, nodeId: 1, logger: createLogger({}, 'info', (l) => again.push(l)) }));
    expect(again.filter((l) => l.includes('auto_vacuum'))).toEqual([]);
  });
});

describe('retention configuration', () => {
  const base = { FLAGRAFT_NODE_ID: '1', FLAGRAFT_INSECURE: '1', FLAGRAFT_CLUSTER_ID: 'c' };
  it('reads sizes and ages, with defaults', () => {
    const c = loadConfigFromEnv({ ...base, FLAGRAFT_HISTORY_MAX_BYTES: '1000', FLAGRAFT_HISTORY_MAX_AGE_MS: '0', FLAGRAFT_DEDUP_MIN_AGE_MS: '5000', FLAGRAFT_DEDUP_MAX_AGE_MS: '9000', FLAGRAFT_DEDUP_MAX_BYTES: '77', FLAGRAFT_SNAPSHOT_EVERY_BYTES: '4096' });
    expect(c.retention).toMatchObject({ historyMaxBytes: 1000, historyMaxAgeMs: 0, dedupMinAgeMs: 5000, dedupMaxAgeMs: 9000, dedupMaxBytes: 77, changesRetentionRevisions: 0, pruneEveryRevisions: 250 });
    expect(c.snapshotEveryBytes).toBe(4096);
    // The local margins inside the budget follow the log settings.
    expect(c.retention.reservedBytes).toBe(localMarginBytes({ snapshotEveryBytes: 4096, snapshotCatchUpBytes: DEFAULTS.snapshotCatchUpBytes }));
    expect(c.retention.reservedBytes).toBeLessThan(DEFAULTS.retention.reservedBytes);
    expect(loadConfigFromEnv(base).retention).toEqual({ ...DEFAULT_RETENTION, reservedBytes: localMarginBytes(DEFAULTS) });
    expect(DEFAULTS.retention).toEqual(loadConfigFromEnv(base).retention);
    // With the defaults, the margins leave history and de-dup most of the 8 MiB.
    expect(DEFAULTS.retention.reservedBytes).toBeLessThan(DEFAULTS.retention.historyMaxBytes / 2);
    expect(loadConfigFromEnv({ ...base, FLAGRAFT_CHANGES_RETENTION: '8' }).retention).toMatchObject({ changesRetentionRevisions: 8, pruneEveryRevisions: 2 });
  });

  it('refuses settings that would break de-duplication or are gone, naming them', () => {
    expect(() => loadConfigFromEnv({ ...base, FLAGRAFT_DEDUP_MIN_AGE_MS: '60000', FLAGRAFT_DEDUP_MAX_AGE_MS: '1000' })).toThrow(/FLAGRAFT_DEDUP_MAX_AGE_MS \(1000\) must be >= FLAGRAFT_DEDUP_MIN_AGE_MS/);
    expect(() => loadConfigFromEnv({ ...base, FLAGRAFT_DEDUP_WINDOW: '50000' })).toThrow(ConfigError);
    expect(() => loadConfigFromEnv({ ...base, FLAGRAFT_HISTORY_MAX_BYTES: '-1' })).toThrow(/FLAGRAFT_HISTORY_MAX_BYTES/);
  });
});
