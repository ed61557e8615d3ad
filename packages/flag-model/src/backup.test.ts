import { describe, expect, it } from 'vitest';
import { MemoryStateView, applyCommand } from './apply.js';
import { backupIssues, validateBackup, type BackupDocument } from './backup.js';
import { CommandDecodeError, ValidationError } from './errors.js';
import { LIMITS } from './limits.js';
import {
  applyRestoreCommand, chunkItems, decodeRestoreCommand, encodeRestoreCommand, restoreItemsBytes,
  type RestoreCommand, type RestoreSession, type RestoreTarget,
} from './restore.js';
import { boolFlag, cmd, segment } from './test-fixtures.js';
import type { Change, Command } from './types.js';

/** A real history: commands applied by the state machine's own transition function. */
function sampleBackup(): BackupDocument {
  const view = new MemoryStateView();
  const changes: Change[] = [];
  const run = (c: Command, rev: number) => {
    const r = applyCommand(view, c, rev);
    if (!r.ok) throw new Error(r.error.message);
    view.commit(r.changes);
    changes.push(...r.changes);
  };
  run(cmd({ op: 'putSegment', segment: segment('beta') }, 'alice'), 3);
  run(cmd({ op: 'putFlag', flag: boolFlag('a') }, 'alice'), 4);
  run(cmd({ op: 'putFlag', flag: boolFlag('a', { enabled: false }) }, 'bob'), 7);
  run(cmd({ op: 'batch', ops: [{ op: 'putFlag', flag: boolFlag('b', { rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] }) }, { op: 'putFlag', flag: boolFlag('c') }] }, 'carol'), 9);
  run(cmd({ op: 'deleteFlag', key: 'c' }, 'dave'), 10);
  return {
    format: 'flagraft-backup', v: 1, clusterId: 'src', revision: 12, createdAt: new Date(0).toISOString(),
    flags: [...view.flags.values()], segments: [...view.segments.values()], changes,
  };
}

class Target implements RestoreTarget {
  live = { flags: 0, segments: 0, changes: 0 };
  staged = new Set<string>();
  liveCounts() { return this.live; }
  isStaged(kind: 'flag' | 'segment', key: string) { return this.staged.has(`${kind}:${key}`); }
}

const env = { v: 1 as const, restoreId: 'r-1', actor: 'admin', time: 1 };

/** Runs a whole restore through applyRestoreCommand, the way a node applies the entries. */
function drive(doc: BackupDocument, target = new Target(), chunkBytes = 2000) {
  const steps: ReturnType<typeof applyRestoreCommand>[] = [];
  let session: RestoreSession | undefined;
  const apply = (c: RestoreCommand) => {
    const s = applyRestoreCommand(session, c, target);
    steps.push(s);
    if (s.ok && (s.action === 'begin' || s.action === 'stage')) session = s.session;
    if (s.ok && s.action === 'stage') for (const r of s.rows) if (r.kind !== 'change') target.staged.add(`${r.kind}:${r.key}`);
    if (s.ok && (s.action === 'commit' || s.action === 'abort')) session = undefined;
    if (!s.ok && s.abort) session = undefined;
    return s;
  };
  apply({ ...env, op: 'restoreBegin', force: false, source: { clusterId: doc.clusterId, revision: doc.revision, createdAt: doc.createdAt }, counts: { segments: doc.segments.length, flags: doc.flags.length, changes: doc.changes.length } });
  let seq = 0;
  for (const kind of ['segments', 'flags', 'changes'] as const) {
    for (const items of chunkItems(doc[kind] as unknown[], chunkBytes)) apply({ ...env, op: 'restoreChunk', seq: seq++, kind, items });
  }
  apply({ ...env, op: 'restoreCommit' });
  return { steps, target, session: () => session, apply };
}

describe('backup document validation', () => {
  it('accepts a document made from real applied history', () => {
    const doc = sampleBackup();
    expect(backupIssues(doc)).toEqual([]);
    expect(validateBackup(doc)).toBe(doc);
  });

  it('names the bad field of each problem', () => {
    const doc = sampleBackup();
    const bad = JSON.parse(JSON.stringify(doc));
    bad.changes[2].revision = 1; // after revision 4
    bad.flags[0].modRevision = 99; // past the backup's revision 12
    bad.flags[1].flag.variants = {};
    bad.segments[0].updatedBy = '';
    const paths = backupIssues(bad).map((i) => `${i.path}: ${i.message}`);
    expect(paths).toContain('changes[2].revision: must be ascending (1 follows 4)');
    expect(paths.some((p) => p.startsWith('flags[0].modRevision:'))).toBe(true);
    expect(paths.some((p) => p.startsWith('flags[1].flag.variants'))).toBe(true);
    expect(paths.some((p) => p.startsWith('segments[0].updatedBy:'))).toBe(true);
    expect(() => validateBackup(bad)).toThrow(ValidationError);
  });

  it('refuses wrong format, duplicate keys, missing segments and malformed changes', () => {
    const doc = sampleBackup();
    expect(backupIssues({ ...doc, format: 'x', v: 2 }).map((i) => i.path)).toEqual(['format', 'v']);
    expect(backupIssues({ ...doc, flags: [...doc.flags, doc.flags[0]] }).some((i) => i.path === 'flags[2].flag.key' && /more than once/.test(i.message))).toBe(true);
    expect(backupIssues({ ...doc, segments: [] }).some((i) => i.path === 'flags[1].flag.rules' && /beta/.test(i.message))).toBe(true);
    const ch = JSON.parse(JSON.stringify(doc.changes));
    ch[0] = { ...ch[0], kind: 'flagg', op: 'upsert' };
    ch[4] = { ...ch[4], after: ch[4].before }; // a delete whose after is not null
    const issues = backupIssues({ ...doc, changes: ch }).map((i) => i.path);
    expect(issues).toEqual(expect.arrayContaining(['changes[0].kind', 'changes[0].op', 'changes[5].after'].slice(0, 2)));
    expect(backupIssues([])).toEqual([{ path: '', message: 'a backup must be a JSON object' }]);
    expect(backupIssues({ ...doc, revision: -1 }).map((i) => i.path)).toContain('revision');
  });

  it('checks change requests and schedules: their shape, an environment of the backup, unique ids; they need environments', () => {
    const stored = { createRevision: 8, modRevision: 9, version: 2, updatedAt: 1, updatedBy: 'bob' };
    const production = { environment: { name: 'production' }, isDefault: true, createRevision: 0, modRevision: 0, version: 1, updatedAt: 0, updatedBy: 'flagraft' };
    const cr = { ...stored, changeRequest: { id: 'cr-8', env: 'production', title: 't', author: 'alice', status: 'inReview', ops: [], bases: [], approvals: [], rejections: [], comments: [] } };
    const sch = { ...stored, schedule: { id: 'sch-9', env: 'production', title: 's', createdBy: 'alice', bases: [], steps: [{ at: 5, status: 'pending', ops: [] }] } };
    const base = { ...sampleBackup(), environments: [production] } as BackupDocument;
    expect(backupIssues({ ...base, changeRequests: [cr], schedules: [sch] })).toEqual([]);
    const paths = (d: unknown) => backupIssues(d).map((i) => `${i.path}: ${i.message}`);
    expect(paths({ ...sampleBackup(), changeRequests: [cr] })).toEqual(['changeRequests: needs environments (each belongs to one)']);
    expect(paths({ ...base, changeRequests: [cr, { ...cr, changeRequest: { ...cr.changeRequest, env: 'staging' } }] })).toEqual([
      'changeRequests[1].changeRequest.env: "staging" is not an environment of the backup', 'changeRequests[1].changeRequest.id: "cr-8" appears more than once',
    ]);
    expect(paths({ ...base, changeRequests: [{ ...cr, changeRequest: { ...cr.changeRequest, status: 'merged', id: 'x' } }] })).toEqual([
      'changeRequests[0].changeRequest.id: must be an id like cr-12', 'changeRequests[0].changeRequest.status: must be one of draft, inReview, approved, applied, rejected, withdrawn, conflicted',
    ]);
    expect(paths({ ...base, schedules: [{ ...sch, modRevision: 99, schedule: { ...sch.schedule, steps: [{ at: -1, status: 'pending' }] } }] })).toEqual([
      'schedules[0].schedule.steps[0]: must be {at: ms since the epoch, status: pending | applied | conflicted | failed | cancelled, ops | changeRequest}',
      "schedules[0].modRevision: must be an integer from 1 to the backup's revision 12",
    ]);
    expect(paths({ ...base, schedules: {} })).toEqual(['schedules: must be an array']);
  });

  it('caps the number of reported issues', () => {
    const doc = sampleBackup();
    const many = Array.from({ length: 500 }, () => ({ nope: true }));
    expect(backupIssues({ ...doc, changes: many }).length).toBe(50);
  });
});

describe('restore commands', () => {
  it('round-trip and refuse malformed input with a reason', () => {
    const c: RestoreCommand = { ...env, op: 'restoreChunk', seq: 0, kind: 'flags', items: [{ x: 1 }] };
    expect(decodeRestoreCommand(encodeRestoreCommand(c))).toEqual(c);
    expect(() => decodeRestoreCommand(new TextEncoder().encode('{'))).toThrow(CommandDecodeError);
    expect(() => decodeRestoreCommand(new TextEncoder().encode(JSON.stringify({ ...c, kind: 'users' })))).toThrow(/kind/);
    expect(() => decodeRestoreCommand(new TextEncoder().encode(JSON.stringify({ ...c, restoreId: 'a b' })))).toThrow(/restoreId/);
    expect(() => encodeRestoreCommand({ ...env, op: 'restoreChunk', seq: 0, kind: 'flags', items: [] })).toThrow(/items/);
  });

  it('stage a whole backup in bounded chunks and commit it', () => {
    const doc = sampleBackup();
    const { steps } = drive(doc);
    expect(steps.every((s) => s.ok)).toBe(true);
    expect(steps.map((s) => (s.ok ? s.action : 'error'))).toEqual(['begin', ...Array(steps.length - 2).fill('stage'), 'commit']);
    expect(steps.length).toBeGreaterThan(4); // 2000-byte chunks: more than one per kind
    const rows = steps.flatMap((s) => (s.ok && s.action === 'stage' ? s.rows : []));
    const changes = rows.filter((r) => r.kind === 'change') as { seq: number; change: Change }[];
    expect(changes.map((r) => [r.change.revision, r.seq])).toEqual([[3, 0], [4, 0], [7, 0], [9, 0], [9, 1], [10, 0]]);
    for (const chunk of chunkItems(doc.changes as unknown[], 2000)) expect(restoreItemsBytes(chunk)).toBeLessThanOrEqual(2000);
  });

  it('refuses a non-empty cluster unless forced, at begin and again at commit', () => {
    const doc = sampleBackup();
    const t = new Target();
    t.live = { flags: 1, segments: 0, changes: 1 };
    const begin = applyRestoreCommand(undefined, { ...env, op: 'restoreBegin', force: false, source: { clusterId: 'x', revision: 12, createdAt: '' }, counts: { segments: 0, flags: 0, changes: 0 } }, t);
    expect(begin).toMatchObject({ ok: false, error: { code: 'NOT_EMPTY', liveCounts: { flags: 1 } } });
    const forced = applyRestoreCommand(undefined, { ...env, op: 'restoreBegin', force: true, source: { clusterId: 'x', revision: 12, createdAt: '' }, counts: { segments: 0, flags: 0, changes: 0 } }, t);
    expect(forced).toMatchObject({ ok: true, action: 'begin' });
    // Written during the restore: the commit refuses and drops the session.
    const target = new Target();
    let session: RestoreSession | undefined;
    const b = applyRestoreCommand(undefined, { ...env, op: 'restoreBegin', force: false, source: { clusterId: 'x', revision: doc.revision, createdAt: '' }, counts: { segments: 0, flags: 0, changes: 0 } }, target);
    if (b.ok && b.action === 'begin') session = b.session;
    target.live = { flags: 1, segments: 0, changes: 1 };
    expect(applyRestoreCommand(session, { ...env, op: 'restoreCommit' }, target)).toMatchObject({ ok: false, abort: true, error: { code: 'NOT_EMPTY' } });
  });

  it('abort the session on a bad chunk, naming the field by its index in the document', () => {
    const doc = sampleBackup();
    const bad = JSON.parse(JSON.stringify(doc));
    bad.changes[3].revision = 2;
    const { steps } = drive(bad, new Target(), 600);
    const err = steps.find((s) => !s.ok) as Extract<ReturnType<typeof applyRestoreCommand>, { ok: false }>;
    expect(err.abort).toBe(true);
    expect(err.error.code).toBe('VALIDATION');
    expect(err.error.issues?.[0]?.path).toBe('changes[3].revision');
    // The commit then finds no session.
    expect(steps[steps.length - 1]).toMatchObject({ ok: false, error: { code: 'NO_RESTORE' } });
  });

  it('treat retried entries as done, refuse gaps and out-of-order kinds', () => {
    const doc = sampleBackup();
    const t = new Target();
    const b = applyRestoreCommand(undefined, { ...env, op: 'restoreBegin', force: false, source: { clusterId: 'x', revision: doc.revision, createdAt: '' }, counts: { segments: 1, flags: 2, changes: 0 } }, t);
    if (!b.ok || b.action !== 'begin') throw new Error('begin failed');
    expect(applyRestoreCommand(b.session, { ...env, op: 'restoreBegin', force: false, source: { clusterId: 'x', revision: 1, createdAt: '' }, counts: { segments: 0, flags: 0, changes: 0 } }, t)).toEqual({ ok: true, action: 'duplicate' });
    expect(applyRestoreCommand(b.session, { ...env, op: 'restoreChunk', seq: 1, kind: 'segments', items: doc.segments }, t)).toMatchObject({ ok: false, error: { code: 'BAD_COMMAND' } });
    const s1 = applyRestoreCommand(b.session, { ...env, op: 'restoreChunk', seq: 0, kind: 'flags', items: [doc.flags.find((f) => f.flag.key === 'a')] }, t);
    if (!s1.ok || s1.action !== 'stage') throw new Error('stage failed');
    expect(applyRestoreCommand(s1.session, { ...env, op: 'restoreChunk', seq: 0, kind: 'flags', items: doc.flags }, t)).toEqual({ ok: true, action: 'duplicate' });
    expect(applyRestoreCommand(s1.session, { ...env, op: 'restoreChunk', seq: 1, kind: 'segments', items: doc.segments }, t)).toMatchObject({ ok: false, error: { message: /segments must be sent before flags/ } });
    // A flag whose segment was not staged first.
    expect(applyRestoreCommand(s1.session, { ...env, op: 'restoreChunk', seq: 1, kind: 'flags', items: [doc.flags.find((f) => f.flag.key === 'b')] }, t)).toMatchObject({ ok: false, error: { issues: [{ path: 'flags[1].flag.rules' }] } });
    expect(applyRestoreCommand(undefined, { ...env, op: 'restoreCommit' }, t, 'r-1')).toEqual({ ok: true, action: 'duplicate' });
    expect(applyRestoreCommand(s1.session, { ...env, op: 'restoreCommit' }, t)).toMatchObject({ ok: false, abort: true, error: { code: 'VALIDATION', message: /0 of 1 segments/ } });
  });

  it('refuse an oversized chunk', () => {
    const doc = sampleBackup();
    const t = new Target();
    const b = applyRestoreCommand(undefined, { ...env, op: 'restoreBegin', force: false, source: { clusterId: 'x', revision: doc.revision, createdAt: '' }, counts: { segments: 0, flags: 0, changes: 5000 } }, t);
    if (!b.ok || b.action !== 'begin') throw new Error('begin failed');
    const items = Array.from({ length: 2 * Math.ceil(LIMITS.maxRestoreChunkBytes / restoreItemsBytes([doc.changes[0]])) }, () => doc.changes[0]);
    expect(applyRestoreCommand(b.session, { ...env, op: 'restoreChunk', seq: 0, kind: 'changes', items }, t)).toMatchObject({ ok: false, abort: true, error: { message: /maxRestoreChunkBytes/ } });
    // The whole session is bounded too: staging is replicated and snapshotted.
    const nearlyFull = { ...b.session, bytes: LIMITS.maxBackupBytes - 10 };
    expect(applyRestoreCommand(nearlyFull, { ...env, op: 'restoreChunk', seq: 0, kind: 'changes', items: [doc.changes[0]] }, t)).toMatchObject({ ok: false, abort: true, error: { message: /maxBackupBytes/ } });
    const ok = applyRestoreCommand(b.session, { ...env, op: 'restoreChunk', seq: 0, kind: 'changes', items: [doc.changes[0]] }, t);
    expect(ok.ok && ok.action === 'stage' && ok.session.bytes).toBe(restoreItemsBytes([doc.changes[0]]));
  });
});
