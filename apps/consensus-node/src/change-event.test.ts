import { describe, expect, it } from 'vitest';
import type { Change, StoredFlag, StoredSegment } from '@flagraft/flag-model';
import { changeToEvent } from './state-machine.js';

const stored: StoredFlag = {
  flag: { key: 'f', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules: [] },
  createRevision: 3, modRevision: 7, version: 2, updatedAt: 1_700_000_000_000, updatedBy: 'alice',
};
const seg: StoredSegment = { segment: { name: 's', conditions: [] }, createRevision: 4, modRevision: 4, version: 1, updatedAt: 0, updatedBy: 'bob' };
const base = { actor: 'alice', time: 1_700_000_000_000, revision: 7 };

describe('changeToEvent', () => {
  it('puts the stored item under the field its kind names, with the time as ISO 8601', () => {
    const flagPut: Change = { ...base, kind: 'flag', key: 'f', op: 'put', before: null, after: stored };
    expect(changeToEvent(flagPut)).toEqual({ v: 1, revision: 7, kind: 'flag', key: 'f', op: 'put', actor: 'alice', time: '2023-11-14T22:13:20.000Z', flag: stored });
    const segPut: Change = { ...base, kind: 'segment', key: 's', op: 'put', before: null, after: seg };
    const ev = changeToEvent(segPut);
    expect(ev).toMatchObject({ kind: 'segment', op: 'put', segment: seg });
    expect(ev).not.toHaveProperty('flag');
  });

  it('gives a delete a null item', () => {
    expect(changeToEvent({ ...base, kind: 'flag', key: 'f', op: 'delete', before: stored, after: null })).toMatchObject({ op: 'delete', flag: null });
    expect(changeToEvent({ ...base, kind: 'segment', key: 's', op: 'delete', before: seg, after: null })).toMatchObject({ op: 'delete', segment: null });
  });

  it('refuses a put whose item is missing or of the other kind, naming the revision', () => {
    expect(() => changeToEvent({ ...base, kind: 'flag', key: 'f', op: 'put', before: null, after: null })).toThrow(/revision 7 \(flag f\)/);
    expect(() => changeToEvent({ ...base, kind: 'flag', key: 'f', op: 'put', before: null, after: seg })).toThrow(/stored flag/);
    expect(() => changeToEvent({ ...base, kind: 'segment', key: 's', op: 'put', before: null, after: stored })).toThrow(/stored segment/);
  });
});
