// Stale reads: what a stale read may return (any committed state, not from
// the future), what it may not, and the optional per-client monotonicity.
import { describe, expect, it } from 'vitest';
import { checkHistory, type Op } from './index.js';
import { del, put, putFailed, read } from './test-ops.js';

const failures = (ops: Op[], monotonicStaleReads = false): string[] => checkHistory(ops, { monotonicStaleReads }).failures.map((f) => f.kind);

describe('stale reads: the state at some committed revision', () => {
  it('may return an old value, even after a newer one was read (no lower bound, no monotonicity)', () => {
    const ops = [put('a', 0, 1, { rev: 1 }), put('b', 2, 3, { rev: 2 }), read('b', 4, 5, { rev: 2, stale: true }), read('a', 6, 7, { rev: 1, stale: true }), read(undefined, 8, 9, { stale: true })];
    expect(failures(ops)).toEqual([]);
    // The same order through linearizable reads is a violation.
    expect(failures(ops.map((o) => (o.kind === 'read' ? { ...o, stale: false } : o)))).toContain('not-linearizable');
  });

  it('may not return a value never written, or one before its write was invoked', () => {
    expect(failures([put('a', 0, 1, { rev: 1 }), read('zzz', 2, 3, { stale: true })])).toEqual(['stale-read']);
    expect(failures([read('a', 0, 1, { stale: true }), put('a', 2, 3, { rev: 1 })])).toEqual(['stale-read']);
  });

  it('may not return the value of a refused write', () => {
    const ops = [put('a', 0, 1, { rev: 1 }), putFailed('b', 2, 3, { ok: false, error: 'revision-mismatch', currentRevision: 1 }, { expect: 9 }), read('b', 4, 5, { stale: true })];
    expect(failures(ops)).toEqual(['stale-read']);
  });

  it('reveals that a pending write committed: linearizable reads must then agree', () => {
    // The stale read saw b (pending put): b committed before the stale read returned, so a linearizable read after it cannot see a.
    const ops = [put('a', 0, 1, { rev: 1 }), put('b', 2, Infinity), read('b', 3, 4, { stale: true }), read('a', 5, 6)];
    expect(failures(ops)).toEqual(['not-linearizable']);
    expect(failures([put('a', 0, 1, { rev: 1 }), put('b', 2, Infinity), read('a', 5, 6)])).toEqual([]);
  });

  it('absence: fine for a key that did not exist at the start, needs a delete for one that did', () => {
    expect(failures([put('a', 0, 1, { rev: 5 }), read(undefined, 2, 3, { stale: true })])).toEqual([]);
    const initial = new Map([['x', { value: 'init', modRevision: 1 }]]);
    expect(checkHistory([read(undefined, 2, 3, { stale: true })], { initial }).failures.map((f) => f.kind)).toEqual(['stale-read']);
    expect(checkHistory([del(0, Infinity), read(undefined, 2, 3, { stale: true })], { initial }).ok).toBe(true);
  });

  it('must report the modRevision of the write it saw', () => {
    expect(failures([put('a', 0, 1, { rev: 4 }), read('a', 2, 3, { rev: 4, stale: true })])).toEqual([]);
    expect(failures([put('a', 0, 1, { rev: 4 }), read('a', 2, 3, { rev: 3, stale: true })])).toEqual(['revision-conflict']);
  });

  it('monotonicStaleReads: one client never goes back in revision on a key (opt-in)', () => {
    const ops = [put('a', 0, 1, { rev: 1 }), put('b', 2, 3, { rev: 2 }), read('b', 4, 5, { rev: 2, stale: true, client: 'c1' }), read('a', 6, 7, { rev: 1, stale: true, client: 'c1' })];
    expect(failures(ops)).toEqual([]);
    expect(failures(ops, true)).toEqual(['stale-read']);
    // Another client may be behind: each client is on its own.
    const two = [ops[0], ops[1], ops[2], { ...ops[3], client: 'c2' }];
    expect(failures(two, true)).toEqual([]);
    // Overlapping reads are not ordered.
    const overlap = [ops[0], ops[1], read('b', 4, 8, { rev: 2, stale: true, client: 'c1' }), read('a', 6, 7, { rev: 1, stale: true, client: 'c1' })];
    expect(failures(overlap, true)).toEqual([]);
  });
});
