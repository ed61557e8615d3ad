// The state machine's restore path on real SQLite files: entries applied the
// way the driver applies them, a snapshot taken in the middle of a restore
// session installed on another replica, and the same commit on both.
import { describe, expect, it } from 'vitest';
import { chunkItems, encodeCommand, encodeRestoreCommand, type Command, type RestoreCommand } from '@flagraft/flag-model';
import { BackupReader, type BackupKind } from './backup-reader.js';
import { StateMachine } from './state-machine.js';
import { DEFAULT_RETENTION } from './retention.js';
import type { NodeStorage } from './storage/open.js';
import { tempStorages } from '../test/temp-storage.js';
import type { StateStore } from './storage/state-store.js';

const storages = tempStorages('flagraft-restore-');

function replica(opts = { ...DEFAULT_RETENTION, changesRetentionRevisions: 10_000, pruneEveryRevisions: 100 }): { storage: NodeStorage; store: StateStore; sm: StateMachine; dir: string } {
  const dir = storages.dir();
  const storage = storages.open(dir);
  const sm = new StateMachine(storage.state, opts);
  return { storage, store: storage.state, sm, dir };
}

const flag = (key: string, extra: Record<string, unknown> = {}) => ({ key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [], ...extra });

/** Writes through the real apply path; returns the changes made. */
function write(r: ReturnType<typeof replica>, index: number, body: Record<string, unknown>, actor = 'alice', time = 1_700_000_000_000 + index) {
  const cmd = { v: 1, actor, time, ...body } as Command;
  const out = r.sm.atomically({ index, term: 1 }, () => r.sm.applyCommandEntry(index, encodeCommand(cmd)));
  if (!out.outcome.ok) throw new Error(out.outcome.error.message);
  return out.outcome;
}

function restoreEntry(r: ReturnType<typeof replica>, index: number, body: Record<string, unknown>) {
  const cmd = { v: 1, restoreId: 'r1', actor: 'admin', time: 5, ...body } as RestoreCommand;
  return r.sm.atomically({ index, term: 1 }, () => r.sm.applyRestoreEntry(index, encodeRestoreCommand(cmd)));
}

/** A source cluster's state, as a backup would carry it. */
function sourceBackup() {
  const src = replica();
  write(src, 1, { op: 'putSegment', segment: { name: 'beta', conditions: [{ attribute: 'plan', op: 'equals', value: 'beta' }] } });
  for (let i = 2; i < 40; i++) write(src, i, { op: 'putFlag', flag: flag(`f${i % 7}`, { description: `v${i}` }) }, i % 2 ? 'alice' : 'bob');
  write(src, 40, { op: 'putFlag', flag: flag('b', { rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] }) });
  write(src, 41, { op: 'deleteFlag', key: 'f3' });
  const r = readAll(src.store);
  expect(r.revision).toBe(41);
  return { ...r, src };
}

/** A whole backup through BackupReader, parsed. */
function readAll(store: StateStore, between?: () => void) {
  const reader = new BackupReader(store.path);
  try {
    const h = reader.header();
    between?.();
    const items = (kind: BackupKind) => [...reader.pages(kind)].flat().map((j) => JSON.parse(j));
    return {
      revision: h.revision, header: h, segments: items('segments'), flags: items('flags'), changes: items('changes'), environments: items('environments'), envFlags: items('envFlags'),
      changeRequests: items('changeRequests'), schedules: items('schedules'),
    };
  } finally {
    reader.close();
  }
}

describe('backup reader', () => {
  it('reads one snapshot of the state while the node keeps applying on its own connection', () => {
    const r = replica();
    for (let i = 1; i <= 1200; i++) write(r, i, { op: 'putFlag', flag: flag(`k${i % 700}`, { description: `v${i}` }) }, i % 3 ? 'alice' : 'bob');
    const expected = { flags: r.sm.allItems('flag').map((j) => JSON.parse(j)), history: r.sm.history('flag', 'k5', Number.MAX_SAFE_INTEGER, 1000) };
    const got = readAll(r.store, () => {
      // Applied after the snapshot began: not in this backup.
      for (let i = 1201; i <= 1300; i++) write(r, i, { op: 'putFlag', flag: flag(`k${i % 700}`, { description: 'later' }) });
      write(r, 1301, { op: 'deleteFlag', key: 'k1' });
    });
    expect(got.revision).toBe(1200);
    expect(got.header.counts).toEqual({ segments: 0, flags: 700, changes: 1200, environments: 1, envFlags: 0, changeRequests: 0, schedules: 0 });
    expect(got.flags).toEqual(expected.flags); // more than one page of 500, in key order
    expect(got.changes.map((c) => c.revision)).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1));
    expect(got.changes.filter((c) => c.key === 'k5').reverse()).toEqual(expected.history);
    expect(got.header.itemBytes).toBe([...got.flags, ...got.changes, ...got.environments].reduce((n, x) => n + Buffer.byteLength(JSON.stringify(x)), 0));
    // The next backup sees the later writes.
    expect(readAll(r.store).revision).toBe(1301);
  });

  it('refuses a backup larger than its limit before streaming anything', () => {
    const r = replica();
    for (let i = 1; i <= 20; i++) write(r, i, { op: 'putFlag', flag: flag(`k${i}`) });
    const reader = new BackupReader(r.store.path, 1000);
    try {
      expect(() => reader.header()).toThrow(/more than maxBackupBytes 1000/);
    } finally {
      reader.close();
    }
  });
});

describe('restore in the state machine', () => {
  it('stages, survives a snapshot mid-session, commits the same on every replica, and continues revisions', () => {
    const doc = sourceBackup();
    const a = replica();
    let index = 0;
    const entry = (body: Record<string, unknown>) => restoreEntry(a, ++index, body);
    const begin = entry({ op: 'restoreBegin', force: false, source: { clusterId: 'src', revision: doc.revision, createdAt: '' }, counts: { segments: doc.segments.length, flags: doc.flags.length, changes: doc.changes.length } });
    expect(begin.outcome).toMatchObject({ ok: true, action: 'begin' });
    const chunks: { kind: string; items: unknown[] }[] = [];
    for (const kind of ['segments', 'flags', 'changes'] as const) for (const items of chunkItems(doc[kind], 1500)) chunks.push({ kind, items });
    expect(chunks.length).toBeGreaterThan(5);
    const half = Math.floor(chunks.length / 2);
    for (let i = 0; i < half; i++) expect(entry({ op: 'restoreChunk', seq: i, ...chunks[i] }).outcome.ok).toBe(true);
    // Nothing is visible while staging.
    expect(a.sm.allItems('flag')).toEqual([]);
    // A replica that joins now gets a snapshot with the open session in it.
    const snap = a.sm.snapshot();
    const b = replica();
    b.sm.restore({ metadata: { index: snap.index, term: 1, confState: snap.confState }, data: snap.data });
    let indexB = index;
    for (let i = half; i < chunks.length; i++) {
      expect(entry({ op: 'restoreChunk', seq: i, ...chunks[i] }).outcome.ok).toBe(true);
      expect(restoreEntry(b, ++indexB, { op: 'restoreChunk', seq: i, ...chunks[i] }).outcome.ok).toBe(true);
    }
    const commitA = entry({ op: 'restoreCommit' });
    const commitB = restoreEntry(b, ++indexB, { op: 'restoreCommit' });
    expect(commitA.outcome).toEqual({ ok: true, revision: doc.revision, action: 'commit', restoredRevision: doc.revision });
    expect(commitB.outcome).toEqual(commitA.outcome);
    expect(commitA.changed).toBe(true);
    for (const r of [a, b]) {
      expect(r.sm.allItems('flag').map((j) => JSON.parse(j))).toEqual(doc.flags);
      expect(r.sm.allItems('segment').map((j) => JSON.parse(j))).toEqual(doc.segments);
      expect(r.sm.history('flag', 'f2', Number.MAX_SAFE_INTEGER, 100)).toEqual(doc.src.sm.history('flag', 'f2', Number.MAX_SAFE_INTEGER, 100));
      expect(r.sm.view.segmentUsers('beta')).toEqual(['b']);
      // The Watch window starts after the restore; imported history is not "new".
      expect(r.sm.oldestRetainedRevision()).toBe(doc.revision + 1);
      expect(r.sm.changesAfter(0, 100)).toEqual([]);
    }
    // The next write on the restored cluster continues after the backup's revision.
    const next = write(a, ++index, { op: 'putFlag', flag: flag('f2', { description: 'after' }) }, 'carol');
    expect(next.revision).toBe(doc.revision + 1);
    expect(a.sm.history('flag', 'f2', Number.MAX_SAFE_INTEGER, 1)[0]).toMatchObject({ revision: doc.revision + 1, actor: 'carol' });
    expect(a.sm.changesAfter(doc.revision, 10).map((e) => e.revision)).toEqual([doc.revision + 1]);
    // A retried commit is answered with the restore's revision; a second restore is refused.
    expect(entry({ op: 'restoreCommit' }).outcome).toMatchObject({ ok: true, action: 'duplicate', revision: doc.revision });
    const again = restoreEntry(a, ++index, { op: 'restoreBegin', restoreId: 'r2', force: false, source: { clusterId: 'x', revision: 1, createdAt: '' }, counts: { segments: 0, flags: 0, changes: 0 } });
    expect(again.outcome).toMatchObject({ ok: false, error: { code: 'NOT_EMPTY' } });
  });

  it('carries change requests and schedules: staged rows survive a snapshot mid-session, every replica commits the same', () => {
    const src = replica();
    write(src, 1, { op: 'putEnvironment', environment: { name: 'staging' } });
    write(src, 2, { op: 'putFlag', flag: flag('f'), env: 'staging' });
    for (let i = 3; i < 9; i++) write(src, i, { op: 'changeRequest', action: 'create', env: 'staging', title: `cr ${i}`, ops: [{ op: 'putFlag', flag: flag('f', { enabled: i % 2 === 0 }) }], submit: i % 2 === 0 });
    for (let i = 9; i < 12; i++) write(src, i, { op: 'schedule', action: 'create', env: 'staging', title: `s ${i}`, steps: [{ at: 1_800_000_000_000 + i, ops: [{ op: 'putFlag', flag: flag('f', { enabled: false }) }] }] });
    const doc = readAll(src.store);
    expect(doc.header.counts).toMatchObject({ changeRequests: 6, schedules: 3 });
    expect(doc.changeRequests.map((c) => c.changeRequest.id)).toEqual(src.sm.records('change_requests').map((j) => JSON.parse(j).changeRequest.id));
    const a = replica();
    let index = 0;
    const counts = { environments: doc.environments.length, segments: 0, flags: doc.flags.length, envFlags: doc.envFlags.length, changes: doc.changes.length, changeRequests: 6, schedules: 3 };
    expect(restoreEntry(a, ++index, { op: 'restoreBegin', force: false, source: { clusterId: 'src', revision: doc.revision, createdAt: '' }, counts }).outcome.ok).toBe(true);
    const chunks: { kind: string; items: unknown[] }[] = [];
    for (const kind of ['environments', 'flags', 'envFlags', 'changes', 'changeRequests', 'schedules'] as const) for (const items of chunkItems(doc[kind], 1500)) chunks.push({ kind, items });
    // Snapshot once the change requests are staged and before the schedules are.
    const cut = chunks.findIndex((c) => c.kind === 'schedules');
    for (let i = 0; i < cut; i++) expect(restoreEntry(a, ++index, { op: 'restoreChunk', seq: i, ...chunks[i] }).outcome.ok).toBe(true);
    expect(a.sm.records('change_requests')).toEqual([]);
    const snap = a.sm.snapshot();
    const b = replica();
    b.sm.restore({ metadata: { index: snap.index, term: 1, confState: snap.confState }, data: snap.data });
    let indexB = index;
    for (let i = cut; i < chunks.length; i++) {
      expect(restoreEntry(a, ++index, { op: 'restoreChunk', seq: i, ...chunks[i] }).outcome.ok).toBe(true);
      expect(restoreEntry(b, ++indexB, { op: 'restoreChunk', seq: i, ...chunks[i] }).outcome.ok).toBe(true);
    }
    expect(restoreEntry(a, ++index, { op: 'restoreCommit' }).outcome).toMatchObject({ ok: true, action: 'commit' });
    expect(restoreEntry(b, ++indexB, { op: 'restoreCommit' }).outcome).toMatchObject({ ok: true, action: 'commit' });
    for (const r of [a, b]) {
      expect(r.sm.records('change_requests').map((j) => JSON.parse(j))).toEqual(doc.changeRequests);
      expect(r.sm.records('schedules').map((j) => JSON.parse(j))).toEqual(doc.schedules);
    }
    // A request in an environment the backup does not hold is refused, naming it.
    const c = replica();
    restoreEntry(c, 1, { op: 'restoreBegin', force: false, source: { clusterId: 'src', revision: doc.revision, createdAt: '' }, counts: { segments: 0, flags: 0, changes: 0, changeRequests: 1 } });
    const bad = restoreEntry(c, 2, { op: 'restoreChunk', seq: 0, kind: 'changeRequests', items: [doc.changeRequests[0]] });
    expect(bad.outcome).toMatchObject({ ok: false, error: { code: 'VALIDATION', message: expect.stringContaining('changeRequests[0].changeRequest.env: environment "staging" is not in the backup') } });
  });

  it('keeps the bookkeeping across a reopen of the file, and a forced restore never moves revisions backwards', () => {
    const doc = sourceBackup();
    const r = replica();
    for (let i = 1; i <= 60; i++) write(r, i, { op: 'putFlag', flag: flag(`live-${i}`) });
    let index = 60;
    const e = (body: Record<string, unknown>) => restoreEntry(r, ++index, { restoreId: 'force-1', ...body });
    expect(e({ op: 'restoreBegin', force: true, source: { clusterId: 'src', revision: doc.revision, createdAt: '' }, counts: { segments: doc.segments.length, flags: doc.flags.length, changes: doc.changes.length } }).outcome.ok).toBe(true);
    let seq = 0;
    for (const kind of ['segments', 'flags', 'changes'] as const) for (const items of chunkItems(doc[kind])) expect(e({ op: 'restoreChunk', seq: seq++, kind, items }).outcome.ok).toBe(true);
    const c = e({ op: 'restoreCommit' });
    // The cluster was at revision 60+, past the backup's 41: revisions go on from there.
    expect(c.outcome).toMatchObject({ ok: true, revision: index });
    expect(r.sm.allItems('flag').map((j) => JSON.parse(j).flag.key)).toEqual(doc.flags.map((f) => f.flag.key));
    expect(r.sm.history('flag', 'live-1', Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    // Reopen the same files: offset, floor and data are durable.
    storages.close(r.storage);
    const storage = storages.open(r.dir, false);
    const sm = new StateMachine(storage.state, { ...DEFAULT_RETENTION, changesRetentionRevisions: 10_000, pruneEveryRevisions: 100 });
    expect(sm.restoredRevision()).toBe(index);
    expect(sm.revisionAt(index + 1)).toBe(index + 1);
    expect(sm.allItems('flag').length).toBe(doc.flags.length);
  });

  it('keeps imported history for its retention when the cluster was already far past the backup', () => {
    const doc = sourceBackup();
    const r = replica({ ...DEFAULT_RETENTION, changesRetentionRevisions: 50, pruneEveryRevisions: 10 });
    for (let i = 1; i <= 200; i++) write(r, i, { op: 'putFlag', flag: flag(`live-${i % 5}`) });
    let index = 200;
    const e = (body: Record<string, unknown>) => restoreEntry(r, ++index, { restoreId: 'far', ...body });
    e({ op: 'restoreBegin', force: true, source: { clusterId: 'src', revision: doc.revision, createdAt: '' }, counts: { segments: doc.segments.length, flags: doc.flags.length, changes: doc.changes.length } });
    let seq = 0;
    for (const kind of ['segments', 'flags', 'changes'] as const) for (const items of chunkItems(doc[kind])) e({ op: 'restoreChunk', seq: seq++, kind, items });
    const c = e({ op: 'restoreCommit' });
    expect(c.outcome.ok && c.outcome.revision).toBe(index); // 200 + entries: far past the backup's 41
    const history = doc.src.sm.history('flag', 'f2', Number.MAX_SAFE_INTEGER, 100);
    // 10 live writes later pruning has run (every 10 revisions, window 50): the
    // imported rows are aged by 10 revisions, not by ~170, so f2's history stays.
    for (let i = 0; i < 10; i++) write(r, ++index, { op: 'putFlag', flag: flag('after') });
    expect(r.sm.history('flag', 'f2', Number.MAX_SAFE_INTEGER, 100)).toEqual(history);
    expect(r.sm.history('flag', 'after', Number.MAX_SAFE_INTEGER, 100)).toHaveLength(10);
    // Disk stays bounded: once 50 more revisions pass, the imported history ages out too.
    for (let i = 0; i < 60; i++) write(r, ++index, { op: 'putFlag', flag: flag('after') });
    expect(r.sm.history('flag', 'f2', Number.MAX_SAFE_INTEGER, 100)).toEqual([]);
    expect(r.sm.history('flag', 'after', Number.MAX_SAFE_INTEGER, 100).length).toBeLessThanOrEqual(60);
  });

  it('ages imported history from the restore under an age limit, not from when this cluster passed those revisions', () => {
    const doc = sourceBackup();
    const DAY = 24 * 3600 * 1000;
    const T = 1_700_000_000_000;
    const r = replica({ ...DEFAULT_RETENTION, historyMaxAgeMs: DAY, pruneEveryRevisions: 10 });
    // This cluster wrote revisions 1..60 ten days ago: its clock samples there are ten days old.
    for (let i = 1; i <= 60; i++) write(r, i, { op: 'putFlag', flag: flag(`live-${i % 5}`) }, 'alice', T + i);
    let index = 60;
    const e = (body: Record<string, unknown>) => restoreEntry(r, ++index, { restoreId: 'aged', time: T + 10 * DAY, ...body });
    e({ op: 'restoreBegin', force: true, source: { clusterId: 'src', revision: doc.revision, createdAt: '' }, counts: { segments: doc.segments.length, flags: doc.flags.length, changes: doc.changes.length } });
    let seq = 0;
    for (const kind of ['segments', 'flags', 'changes'] as const) for (const items of chunkItems(doc[kind])) e({ op: 'restoreChunk', seq: seq++, kind, items });
    expect(e({ op: 'restoreCommit' }).outcome.ok).toBe(true);
    const history = doc.src.sm.history('flag', 'f2', Number.MAX_SAFE_INTEGER, 100);
    expect(history.length).toBeGreaterThan(0);
    // Writes ten days later, past a prune point: the imported revisions (<= 41) are not judged by the old samples.
    for (let i = 0; i < 20; i++) write(r, ++index, { op: 'putFlag', flag: flag('after') }, 'alice', T + 10 * DAY + i);
    expect(r.sm.history('flag', 'f2', Number.MAX_SAFE_INTEGER, 100)).toEqual(history);
    // A day and more after that, the imported history ages out like any other.
    for (let i = 0; i < 20; i++) write(r, ++index, { op: 'putFlag', flag: flag('after') }, 'alice', T + 12 * DAY + i);
    expect(r.sm.history('flag', 'f2', Number.MAX_SAFE_INTEGER, 100)).toEqual([]);
    expect(r.sm.history('flag', 'after', Number.MAX_SAFE_INTEGER, 100).length).toBeGreaterThan(0);
  });

  it('answers bad restore entries with an error and leaves the state as it was', () => {
    const r = replica();
    write(r, 1, { op: 'putFlag', flag: flag('keep') });
    const bad = r.store.transaction(() => r.sm.applyRestoreEntry(2, new TextEncoder().encode('{"v":1,"op":"restoreBegin"')));
    expect(bad.outcome).toMatchObject({ ok: false, error: { code: 'BAD_COMMAND' } });
    const begin = restoreEntry(r, 3, { op: 'restoreBegin', force: true, source: { clusterId: 'x', revision: 10, createdAt: '' }, counts: { segments: 0, flags: 1, changes: 0 } });
    expect(begin.outcome.ok).toBe(true);
    const chunk = restoreEntry(r, 4, { op: 'restoreChunk', seq: 0, kind: 'flags', items: [{ flag: flag('x'), createRevision: 11, modRevision: 11, version: 1, updatedAt: 0, updatedBy: 'a' }] });
    expect(chunk.outcome).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
    expect(!chunk.outcome.ok && chunk.outcome.error.issues?.[0]).toMatchObject({ path: 'flags[0].createRevision' });
    expect(restoreEntry(r, 5, { op: 'restoreCommit' }).outcome).toMatchObject({ ok: false, error: { code: 'NO_RESTORE' } });
    expect(r.sm.allItems('flag').map((j) => JSON.parse(j).flag.key)).toEqual(['keep']);
    expect(r.sm.restoredRevision()).toBe(0);
  });
});
