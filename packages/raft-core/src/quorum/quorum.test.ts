import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EMPTY_CONFIG_COMMIT, JointConfig, MajorityConfig, VoteResult } from './quorum.js';

const acked = (m: Record<number, number>) => (id: number) => m[id];

describe('majority quorum (§5.3: an entry is committed once a majority stores it)', () => {
  it('committed index is the largest index a majority has acknowledged', () => {
    const c = new MajorityConfig([1, 2, 3]);
    expect(c.committedIndex(acked({ 1: 5, 2: 3, 3: 9 }))).toBe(5);
    expect(c.committedIndex(acked({ 1: 5 }))).toBe(0);
    expect(new MajorityConfig([1, 2, 3, 4]).committedIndex(acked({ 1: 4, 2: 3, 3: 2, 4: 1 }))).toBe(2);
    expect(new MajorityConfig([1]).committedIndex(acked({ 1: 7 }))).toBe(7);
  });

  it('an empty config does not constrain (joint semantics)', () => {
    expect(new MajorityConfig().committedIndex(acked({}))).toBe(EMPTY_CONFIG_COMMIT);
    expect(new MajorityConfig().voteResult(new Map())).toBe(VoteResult.Won);
  });

  it('property: a majority of voters acked at least the committed index, and no larger index has a majority', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(100), { minLength: 1, maxLength: 7 }), (idx) => {
        const ids = idx.map((_, i) => i + 1);
        const c = new MajorityConfig(ids);
        const ci = c.committedIndex((id) => idx[id - 1]);
        const q = Math.floor(ids.length / 2) + 1;
        expect(idx.filter((x) => x >= ci).length).toBeGreaterThanOrEqual(q);
        expect(idx.filter((x) => x >= ci + 1).length).toBeLessThan(q);
      }),
    );
  });

  it('§5.2 a candidate wins with a majority of votes, loses once a majority is out of reach', () => {
    const c = new MajorityConfig([1, 2, 3, 4, 5]);
    const v = (m: Record<number, boolean>) => new Map(Object.entries(m).map(([k, b]) => [Number(k), b]));
    expect(c.voteResult(v({ 1: true, 2: true }))).toBe(VoteResult.Pending);
    expect(c.voteResult(v({ 1: true, 2: true, 3: true }))).toBe(VoteResult.Won);
    expect(c.voteResult(v({ 1: true, 2: false, 3: false, 4: false }))).toBe(VoteResult.Lost);
    expect(c.voteResult(v({ 1: true, 2: false, 3: false }))).toBe(VoteResult.Pending);
  });
});

describe('joint quorum (§4.3: decisions need a majority of both C_old and C_new)', () => {
  it('committed index is the minimum of both halves', () => {
    const j = new JointConfig(new MajorityConfig([1, 2, 3]), new MajorityConfig([3, 4, 5]));
    expect(j.committedIndex(acked({ 1: 10, 2: 10, 3: 4, 4: 2, 5: 1 }))).toBe(2);
  });

  it('a vote is won only when both halves are won, lost when either is lost', () => {
    const j = new JointConfig(new MajorityConfig([1, 2, 3]), new MajorityConfig([3, 4, 5]));
    const v = (m: Record<number, boolean>) => new Map(Object.entries(m).map(([k, b]) => [Number(k), b]));
    expect(j.voteResult(v({ 1: true, 2: true }))).toBe(VoteResult.Pending);
    expect(j.voteResult(v({ 1: true, 2: true, 4: true, 5: true }))).toBe(VoteResult.Won);
    expect(j.voteResult(v({ 1: true, 2: true, 4: false, 5: false }))).toBe(VoteResult.Lost);
  });
});
