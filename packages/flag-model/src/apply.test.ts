import { describe, expect, it } from 'vitest';
import { applyCommand, MemoryStateView } from './apply.js';
import { decodeCommand, encodeCommand } from './commands.js';
import { boolFlag, cmd, segment } from './test-fixtures.js';
import type { ApplyResult, Command, StoredFlag, StoredSegment } from './types.js';

function run(view: MemoryStateView, c: Command, revision: number): ApplyResult {
  // Every command goes through the wire encoding, as on a real node.
  const r = applyCommand(view, decodeCommand(encodeCommand(c)), revision);
  if (r.ok) view.commit(r.changes);
  return r;
}
const errOf = (r: ApplyResult) => (r.ok ? undefined : r.error);

describe('applyCommand', () => {
  it('creates, updates and deletes a flag with revisions and versions', () => {
    const v = new MemoryStateView();
    const r1 = run(v, cmd({ op: 'putFlag', flag: boolFlag() }, 'alice', 1000), 5);
    expect(r1).toEqual({ ok: true, changes: [{ kind: 'flag', key: 'new-checkout', op: 'put', before: null, after: { flag: boolFlag(), createRevision: 5, modRevision: 5, version: 1, updatedAt: 1000, updatedBy: 'alice' }, actor: 'alice', time: 1000, revision: 5 }] });
    const r2 = run(v, cmd({ op: 'putFlag', flag: boolFlag('new-checkout', { enabled: false }), expectedRevision: 5 }, 'bob', 2000), 9);
    expect(r2.ok).toBe(true);
    const stored = v.getFlag('new-checkout')!;
    expect(stored).toMatchObject({ createRevision: 5, modRevision: 9, version: 2, updatedAt: 2000, updatedBy: 'bob' });
    expect(stored.flag.enabled).toBe(false);
    const r3 = run(v, cmd({ op: 'deleteFlag', key: 'new-checkout', expectedRevision: 9 }), 10);
    expect(r3.ok && r3.changes[0]).toMatchObject({ op: 'delete', after: null, before: { modRevision: 9 }, revision: 10 });
    expect(v.getFlag('new-checkout')).toBeUndefined();
  });

  it('REVISION_MISMATCH carries currentRevision and expectedRevision; 0 means create-only', () => {
    const v = new MemoryStateView();
    expect(run(v, cmd({ op: 'putFlag', flag: boolFlag(), expectedRevision: 0 }), 3).ok).toBe(true);
    expect(errOf(run(v, cmd({ op: 'putFlag', flag: boolFlag(), expectedRevision: 0 }), 4)))
      .toEqual({ code: 'REVISION_MISMATCH', key: 'new-checkout', currentRevision: 3, expectedRevision: 0, message: 'flag "new-checkout" already exists (revision 3); expected it not to exist' });
    expect(errOf(run(v, cmd({ op: 'putFlag', flag: boolFlag(), expectedRevision: 2 }), 4))).toMatchObject({ code: 'REVISION_MISMATCH', currentRevision: 3, expectedRevision: 2 });
    expect(errOf(run(v, cmd({ op: 'putFlag', flag: boolFlag('other'), expectedRevision: 7 }), 4))).toMatchObject({ code: 'REVISION_MISMATCH', currentRevision: 0, expectedRevision: 7 });
    expect(errOf(run(v, cmd({ op: 'deleteFlag', key: 'new-checkout', expectedRevision: 1 }), 4))).toMatchObject({ code: 'REVISION_MISMATCH', currentRevision: 3 });
    expect(v.getFlag('new-checkout')!.modRevision).toBe(3); // nothing changed
  });

  it('NOT_FOUND for deleting what does not exist', () => {
    const v = new MemoryStateView();
    expect(errOf(run(v, cmd({ op: 'deleteFlag', key: 'nope' }), 1))).toMatchObject({ code: 'NOT_FOUND', key: 'nope' });
    expect(errOf(run(v, cmd({ op: 'deleteSegment', name: 'nope' }), 1))).toMatchObject({ code: 'NOT_FOUND', key: 'nope' });
  });

  it('VALIDATION with issues and the key', () => {
    const v = new MemoryStateView();
    const bad = { ...boolFlag(), defaultVariant: 'maybe' };
    expect(errOf(run(v, cmd({ op: 'putFlag', flag: bad }), 1))).toMatchObject({ code: 'VALIDATION', key: 'new-checkout', issues: [{ path: 'defaultVariant', message: 'unknown variant "maybe"' }] });
    expect(errOf(run(v, cmd({ op: 'putSegment', segment: { name: 'x', conditions: 'no' } }), 1))).toMatchObject({ code: 'VALIDATION', key: 'x', issues: [{ path: 'conditions' }] });
  });

  it('SEGMENT_MISSING and SEGMENT_IN_USE keep references intact', () => {
    const v = new MemoryStateView();
    const flag = boolFlag('f', { rules: [{ conditions: [], segments: ['beta'], excludeSegments: ['staff'], variant: 'on' }] });
    expect(errOf(run(v, cmd({ op: 'putFlag', flag }), 1))).toMatchObject({ code: 'SEGMENT_MISSING', key: 'f', message: expect.stringContaining('beta, staff') });
    expect(run(v, cmd({ op: 'putSegment', segment: segment('beta') }), 2).ok).toBe(true);
    expect(run(v, cmd({ op: 'putSegment', segment: segment('staff') }), 3).ok).toBe(true);
    expect(run(v, cmd({ op: 'putFlag', flag }), 4).ok).toBe(true);
    expect(errOf(run(v, cmd({ op: 'deleteSegment', name: 'staff' }), 5))).toMatchObject({ code: 'SEGMENT_IN_USE', key: 'staff', usedBy: ['f'] });
    expect(run(v, cmd({ op: 'deleteFlag', key: 'f' }), 6).ok).toBe(true);
    expect(run(v, cmd({ op: 'deleteSegment', name: 'staff' }), 7).ok).toBe(true);
    const seg = v.getSegment('beta') as StoredSegment;
    expect(seg).toMatchObject({ createRevision: 2, modRevision: 2, version: 1 });
  });

  it('batch is atomic and ordered: later ops see earlier ones', () => {
    const v = new MemoryStateView();
    const flag = boolFlag('f', { rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] });
    const ok = run(v, cmd({ op: 'batch', ops: [{ op: 'putSegment', segment: segment('beta') }, { op: 'putFlag', flag, expectedRevision: 0 }] }), 8);
    expect(ok.ok && ok.changes.map((c) => [c.kind, c.key, c.revision])).toEqual([['segment', 'beta', 8], ['flag', 'f', 8]]);
    // failing last op: nothing of the batch applies
    const r = run(v, cmd({ op: 'batch', ops: [
      { op: 'putFlag', flag: boolFlag('g') },
      { op: 'deleteFlag', key: 'f' },
      { op: 'deleteSegment', name: 'beta' },
      { op: 'putFlag', flag: boolFlag('h'), expectedRevision: 3 },
    ] }), 9);
    expect(errOf(r)).toMatchObject({ code: 'REVISION_MISMATCH', key: 'h', opIndex: 3, currentRevision: 0, message: expect.stringMatching(/^ops\[3\]: /) });
    expect(v.getFlag('g')).toBeUndefined();
    expect(v.getFlag('f')).toBeDefined();
    // deleting the user and the segment in one batch is fine (the overlay sees the delete)
    const r2 = run(v, cmd({ op: 'batch', ops: [{ op: 'deleteFlag', key: 'f' }, { op: 'deleteSegment', name: 'beta' }] }), 10);
    expect(r2.ok).toBe(true);
    expect(v.getSegment('beta')).toBeUndefined();
  });

  it('batch: the overlay counts a new user of a segment, prefixes issue paths, rejects duplicates', () => {
    const v = new MemoryStateView();
    run(v, cmd({ op: 'putSegment', segment: segment('beta') }), 1);
    const flag = boolFlag('f', { rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] });
    expect(errOf(run(v, cmd({ op: 'batch', ops: [{ op: 'putFlag', flag }, { op: 'deleteSegment', name: 'beta' }] }), 2)))
      .toMatchObject({ code: 'SEGMENT_IN_USE', usedBy: ['f'], opIndex: 1 });
    const bad = { ...boolFlag('x'), rules: [{ conditions: [], rollout: { weights: [{ variant: 'on', weight: 0 }] } }] };
    expect(errOf(run(v, cmd({ op: 'batch', ops: [{ op: 'putFlag', flag: bad }] }), 2)))
      .toMatchObject({ code: 'VALIDATION', opIndex: 0, issues: [{ path: 'ops[0].flag.rules[0].rollout.weights', message: 'must sum to more than 0' }] });
    expect(errOf(run(v, cmd({ op: 'batch', ops: [{ op: 'deleteFlag', key: 'a' }, { op: 'putFlag', flag: boolFlag('a') }] }), 2)))
      .toMatchObject({ code: 'BAD_COMMAND', opIndex: 1 });
  });

  it('BAD_COMMAND for malformed commands and revisions, without throwing', () => {
    const v = new MemoryStateView();
    expect(errOf(applyCommand(v, { v: 1, actor: 'a', time: 1, op: 'nope' } as unknown as Command, 1))).toMatchObject({ code: 'BAD_COMMAND' });
    expect(errOf(applyCommand(v, null as unknown as Command, 1))).toMatchObject({ code: 'BAD_COMMAND' });
    expect(errOf(applyCommand(v, cmd({ op: 'deleteFlag', key: 'a' }), 0))).toMatchObject({ code: 'BAD_COMMAND' });
  });

  it('is pure: the view is only read, and the same input gives the same output', () => {
    const v = new MemoryStateView();
    run(v, cmd({ op: 'putFlag', flag: boolFlag() }), 1);
    const snapshot = structuredClone([...v.flags]);
    const c = cmd({ op: 'putFlag', flag: boolFlag('new-checkout', { enabled: false }) });
    const a = applyCommand(v, c, 2);
    const b = applyCommand(v, c, 2);
    expect(a).toEqual(b);
    expect([...v.flags]).toEqual(snapshot);
    expect((a.ok && (a.changes[0].after as StoredFlag).version)).toBe(2);
  });
});
