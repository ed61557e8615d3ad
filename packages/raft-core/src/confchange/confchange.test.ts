import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfChangeType, type ConfChange } from '../types.js';
import { emptyTrackerConfig, confStateOf } from '../tracker/tracker.js';
import { Changer, decodeConfChange, encodeConfChange, restoreConfState, type ChangeResult } from './confchange.js';

const base = { maxInflight: 8, maxInflightBytes: 0, lastIndex: 10 };
const start = (voters: number[], learners: number[] = []): ChangeResult =>
  restoreConfState(base, { voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false });
const ch = (r: ChangeResult) => new Changer({ ...base, config: r.config, progress: r.progress });
const add = (id: number) => ({ type: ConfChangeType.AddNode, nodeId: id });
const learner = (id: number) => ({ type: ConfChangeType.AddLearnerNode, nodeId: id });
const rm = (id: number) => ({ type: ConfChangeType.RemoveNode, nodeId: id });

describe('configuration changes (chapter 4)', () => {
  it('§4.1 a simple change adds or removes one voter and returns a new config (input untouched)', () => {
    const c0 = start([1, 2, 3]);
    const c1 = ch(c0).simple([add(4)]);
    expect(confStateOf(c1.config).voters).toEqual([1, 2, 3, 4]);
    expect(confStateOf(c0.config).voters).toEqual([1, 2, 3]);
    expect(c0.progress.has(4)).toBe(false);
    expect(confStateOf(ch(c1).simple([rm(2)]).config).voters).toEqual([1, 3, 4]);
  });

  it('§4.1 changing two voters without a joint config is refused', () => {
    expect(() => ch(start([1, 2, 3])).simple([add(4), rm(1)])).toThrow(/more than one voter changed/);
  });

  it('§4.2.1 learners (non-voting members) are added, then promoted', () => {
    const c1 = ch(start([1, 2, 3])).simple([learner(4)]);
    expect(confStateOf(c1.config)).toMatchObject({ voters: [1, 2, 3], learners: [4] });
    expect(c1.progress.get(4)!.isLearner).toBe(true);
    const c2 = ch(c1).simple([add(4)]);
    expect(confStateOf(c2.config)).toMatchObject({ voters: [1, 2, 3, 4], learners: [] });
    expect(c2.progress.get(4)!.isLearner).toBe(false);
    expect(c1.progress.get(4)!.isLearner).toBe(true); // the earlier config's progress is not mutated
  });

  it('removing every voter is refused', () => {
    expect(() => ch(start([1])).simple([rm(1)])).toThrow(/removed all voters/);
  });

  it('§4.3 joint consensus: enter C_old,new, then leave to C_new', () => {
    const j = ch(start([1, 2, 3])).enterJoint(true, [add(4), rm(1)]);
    expect(confStateOf(j.config)).toMatchObject({ voters: [2, 3, 4], votersOutgoing: [1, 2, 3], autoLeave: true });
    // 1 is still a voter of C_old: its progress stays until the joint config is left.
    expect(j.progress.has(1)).toBe(true);
    expect(() => ch(j).simple([add(5)])).toThrow(/joint/);
    expect(() => ch(j).enterJoint(false, [add(5)])).toThrow(/already joint/);
    const l = ch(j).leaveJoint();
    expect(confStateOf(l.config)).toMatchObject({ voters: [2, 3, 4], votersOutgoing: [], autoLeave: false });
    expect(l.progress.has(1)).toBe(false);
  });

  it('§4.3 demoting a voter to learner in a joint config goes through learnersNext', () => {
    const j = ch(start([1, 2, 3])).enterJoint(false, [learner(3)]);
    expect(confStateOf(j.config)).toMatchObject({ voters: [1, 2], votersOutgoing: [1, 2, 3], learnersNext: [3], learners: [] });
    const l = ch(j).leaveJoint();
    expect(confStateOf(l.config)).toMatchObject({ voters: [1, 2], learners: [3], learnersNext: [] });
  });

  it('restoring a ConfState (from storage or a snapshot) rebuilds the same config, joint ones too', () => {
    const j = ch(ch(start([1, 2, 3], [5])).simple([learner(4)])).enterJoint(true, [add(4), learner(3), rm(1)]);
    const cs = confStateOf(j.config);
    expect(confStateOf(restoreConfState(base, cs).config)).toEqual(cs);
  });

  it('property: any sequence of valid simple changes keeps the invariants and round-trips through ConfState', () => {
    const op = fc.record({ kind: fc.constantFrom(ConfChangeType.AddNode, ConfChangeType.AddLearnerNode, ConfChangeType.RemoveNode), id: fc.integer({ min: 1, max: 6 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        let cur = start([1, 2, 3]);
        for (const o of ops) {
          try {
            cur = ch(cur).simple([{ type: o.kind, nodeId: o.id }]);
          } catch {
            continue; // refused changes leave cur as it was
          }
          const cs = confStateOf(cur.config);
          expect(cs.voters.length).toBeGreaterThan(0);
          expect(cs.voters.filter((v) => cs.learners.includes(v))).toEqual([]);
          expect(confStateOf(restoreConfState(base, cs).config)).toEqual(cs);
        }
      }),
    );
  });

  it('encodes and decodes ConfChange (and refuses garbage with a named error)', () => {
    const cc: ConfChange = { changes: [add(4), rm(2)], transition: 'explicit', context: new Uint8Array([1, 2, 3]) };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    expect(decodeConfChange(encodeConfChange({ changes: [] }))).toEqual({ changes: [], transition: 'auto' });
    expect(() => decodeConfChange(new Uint8Array([9, 9, 9]))).toThrow(/cannot decode ConfChange/);
    expect(() => decodeConfChange(new Uint8Array(12).fill(1))).toThrow(/cannot decode ConfChange/);
  });

  it('an empty tracker config has no voters', () => {
    expect(confStateOf(emptyTrackerConfig()).voters).toEqual([]);
  });
});
