import { describe, expect, it } from 'vitest';
import { ErrCompacted } from '../errors.js';
import { MemoryStorage } from '../storage.js';
import type { Entry } from '../types.js';
import { RaftLog } from './raft-log.js';
import { Unstable } from './unstable.js';

const ent = (index: number, term: number, s = ''): Entry => ({ index, term, type: 0, data: new TextEncoder().encode(s) });
const terms = (es: Entry[]) => es.map((e) => e.term);

function logWith(ents: Entry[]): RaftLog {
  const s = new MemoryStorage({ voters: [1] });
  s.append(ents);
  return new RaftLog(s);
}

describe('unstable tail', () => {
  it('truncateAndAppend appends, replaces a conflicting suffix, or replaces everything', () => {
    const u = new Unstable(5);
    u.truncateAndAppend([ent(5, 1), ent(6, 1), ent(7, 1)]);
    expect(u.maybeLastIndex()).toBe(7);
    u.truncateAndAppend([ent(7, 2), ent(8, 2)]);
    expect(terms(u.entries)).toEqual([1, 1, 2, 2]);
    u.truncateAndAppend([ent(4, 3)]);
    expect(u.offset).toBe(4);
    expect(terms(u.entries)).toEqual([3]);
  });

  it('stableTo drops entries once persisted, but not if the tail was replaced meanwhile', () => {
    const u = new Unstable(1);
    u.truncateAndAppend([ent(1, 1), ent(2, 1)]);
    u.stableTo(1, 1);
    expect(u.offset).toBe(2);
    u.truncateAndAppend([ent(2, 2)]);
    u.stableTo(2, 1); // the term-1 entry at 2 was persisted, but it is gone from the tail
    expect(u.entries.length).toBe(1);
  });

  it('a snapshot resets the tail and answers for its own index', () => {
    const u = new Unstable(3);
    u.restore({ metadata: { index: 10, term: 4, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array() });
    expect(u.maybeFirstIndex()).toBe(11);
    expect(u.maybeTerm(10)).toBe(4);
    expect(u.maybeLastIndex()).toBe(10);
  });
});

describe('raft log (Figure 2: AppendEntries receiver rules)', () => {
  it('rule 2: reject when the log has no entry at prevLogIndex with prevLogTerm', () => {
    const l = logWith([ent(1, 1), ent(2, 2)]);
    expect(l.maybeAppend(2, 1, 0, [ent(3, 3)])).toBeUndefined();
    expect(l.maybeAppend(5, 2, 0, [ent(6, 3)])).toBeUndefined();
    expect(l.maybeAppend(2, 2, 0, [ent(3, 3)])).toBe(3);
  });

  it('rule 3: an existing entry that conflicts is deleted with all that follow', () => {
    const l = logWith([ent(1, 1), ent(2, 1), ent(3, 1)]);
    expect(l.maybeAppend(1, 1, 0, [ent(2, 2)])).toBe(2);
    expect(l.lastIndex()).toBe(2);
    expect(l.term(2)).toBe(2);
  });

  it('rule 4: entries already present are not touched (an old, shorter append does not truncate)', () => {
    const l = logWith([ent(1, 1), ent(2, 1), ent(3, 1)]);
    expect(l.maybeAppend(0, 0, 0, [ent(1, 1)])).toBe(1);
    expect(l.lastIndex()).toBe(3);
  });

  it('rule 5: commit = min(leaderCommit, index of last new entry)', () => {
    const l = logWith([ent(1, 1)]);
    l.maybeAppend(1, 1, 10, [ent(2, 1), ent(3, 1)]);
    expect(l.committed).toBe(3);
  });

  it('a conflict with a committed entry is an invariant violation, never silently accepted', () => {
    const l = logWith([ent(1, 1), ent(2, 1)]);
    l.commitTo(2);
    expect(() => l.maybeAppend(0, 0, 2, [ent(1, 1), ent(2, 5)])).toThrow(/conflicts with committed/);
  });

  it('§5.4.2 the leader commits only entries of its current term by counting replicas', () => {
    const l = logWith([ent(1, 1), ent(2, 2), ent(3, 4)]);
    expect(l.maybeCommit(2, 4)).toBe(false);
    expect(l.committed).toBe(0);
    expect(l.maybeCommit(3, 4)).toBe(true);
    expect(l.committed).toBe(3);
  });

  it('§5.4.1 up-to-date: later last term wins; same term, longer log wins', () => {
    const l = logWith([ent(1, 1), ent(2, 2), ent(3, 2)]);
    expect(l.isUpToDate(1, 3)).toBe(true);
    expect(l.isUpToDate(3, 2)).toBe(true);
    expect(l.isUpToDate(2, 2)).toBe(false);
    expect(l.isUpToDate(9, 1)).toBe(false);
  });

  it('findConflictByTerm gives the last index with term <= the given term (fast back-off hint)', () => {
    const l = logWith([ent(1, 1), ent(2, 1), ent(3, 3), ent(4, 3), ent(5, 5)]);
    expect(l.findConflictByTerm(5, 4)).toEqual({ index: 4, term: 3 });
    expect(l.findConflictByTerm(5, 2)).toEqual({ index: 2, term: 1 });
    expect(l.findConflictByTerm(5, 0)).toEqual({ index: 0, term: 0 });
  });

  it('slices across storage and the unstable tail, limited by bytes but at least one entry', () => {
    const l = logWith([ent(1, 1, 'aaaa'), ent(2, 1, 'bbbb')]);
    l.append([ent(3, 1, 'cccc'), ent(4, 1, 'dddd')]);
    expect(l.slice(1, 5, 1e9).map((e) => e.index)).toEqual([1, 2, 3, 4]);
    expect(l.slice(1, 5, 1).map((e) => e.index)).toEqual([1]);
    expect(l.slice(2, 4, 2 * 20).map((e) => e.index)).toEqual([2, 3]);
    expect(l.slice(2, 5, 1e9, 2).map((e) => e.index)).toEqual([2, 3]);
  });

  it('entries below the first index are reported as compacted', () => {
    const s = new MemoryStorage({ voters: [1] });
    s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    s.createSnapshot(2, { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, new Uint8Array());
    s.compact(2);
    const l = new RaftLog(s);
    expect(l.firstIndex()).toBe(3);
    expect(() => l.slice(1, 3, 1e9)).toThrow(ErrCompacted);
    expect(l.term(2)).toBe(1);
    expect(l.maybeTerm(1)).toBeUndefined();
  });
});
