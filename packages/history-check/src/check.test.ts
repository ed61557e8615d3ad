// The checker on hand-written histories: it must accept the legal ones
// (tricky overlaps, pending ops) and reject each classic anomaly, naming the
// keys and a small window. First the register cases the simulator's checker
// had (puts and reads without revisions), then what the real API adds.
import { describe, expect, it } from 'vitest';
import { checkHistory, minimalWindow, type Op } from './index.js';
import { batch, del, delFailed, put, putFailed, read } from './test-ops.js';

const verdict = (ops: Op[]): string => {
  const r = checkHistory(ops, { minimalWindows: false });
  return r.ok ? 'ok' : r.failures[0].kind;
};

describe('register model (put / read, no revisions)', () => {
  it('accepts a sequential history and reads of the initial (absent) value', () => {
    expect(verdict([read(undefined, 0, 1), put('a', 2, 3), read('a', 4, 5), put('b', 6, 7), read('b', 8, 9)])).toBe('ok');
  });

  it('rejects a stale read: a read that starts after a put returned sees the older value', () => {
    expect(verdict([put('a', 0, 1), put('b', 2, 3), read('a', 4, 5)])).toBe('not-linearizable');
  });

  it('rejects a lost write: an acknowledged put never becomes visible', () => {
    expect(verdict([put('a', 0, 1), read(undefined, 2, 3)])).toBe('not-linearizable');
  });

  it('rejects a read of a value never written', () => {
    expect(verdict([put('a', 0, 1), read('zzz', 2, 3)])).toBe('not-linearizable');
  });

  it('accepts either order of two overlapping puts, as seen by later reads', () => {
    expect(verdict([put('a', 0, 10), put('b', 1, 9), read('a', 11, 12)])).toBe('ok');
    expect(verdict([put('a', 0, 10), put('b', 1, 9), read('b', 11, 12)])).toBe('ok');
  });

  it('rejects a new-then-old flip: once a read saw the new value, a later read cannot see the old one', () => {
    expect(verdict([put('a', 0, 1), put('b', 2, 20), read('b', 3, 4), read('a', 5, 6)])).toBe('not-linearizable');
  });

  it('rejects two reads that need contradictory orders of two concurrent puts', () => {
    expect(verdict([put('a', 0, 10), put('b', 0, 10), read('a', 11, 12), read('b', 13, 14), read('a', 15, 16)])).toBe('not-linearizable');
  });

  it('pending put: may take effect (a later read sees it) or not, but not both ways', () => {
    expect(verdict([put('a', 0, 1), put('b', 2, Infinity), read('b', 5, 6)])).toBe('ok');
    expect(verdict([put('a', 0, 1), put('b', 2, Infinity), read('a', 5, 6)])).toBe('ok');
    expect(verdict([put('a', 0, 1), put('b', 2, Infinity), read('b', 5, 6), read('a', 7, 8)])).toBe('not-linearizable');
  });

  it('a pending put cannot be seen before it was called', () => {
    expect(verdict([put('a', 0, 1), read('b', 2, 3), put('b', 4, Infinity)])).toBe('not-linearizable');
  });

  it('pending reads constrain nothing', () => {
    expect(verdict([put('a', 0, 1), read('nonsense', 2, Infinity)])).toBe('ok');
  });

  it('the memo bounds wide concurrency: 12 overlapping ops cost about n*2^n steps, not n!', () => {
    const ops: Op[] = [];
    for (let i = 0; i < 6; i++) ops.push(put(`v${i}`, 0, 1000), read(`v${i}`, 1, 1000));
    expect(checkHistory(ops).ok).toBe(true);
    ops.push(read('never', 1003, 1004));
    const bad = checkHistory(ops, { minimalWindows: false });
    expect(bad.failures[0].kind).toBe('not-linearizable');
    expect(bad.stats.steps).toBeLessThan(12 * 2 ** 12);
  });

  it('an exhausted step bound says undecided, never ok', () => {
    const ops: Op[] = [];
    for (let i = 0; i < 6; i++) ops.push(put(`v${i}`, 0, 1000), read(`v${i}`, 1, 1000));
    ops.push(read('missing', 1001, 1002));
    const r = checkHistory(ops, { maxSteps: 20 });
    expect(r.ok).toBe(false);
    expect(r.failures[0].kind).toBe('undecided');
    expect(r.failures[0].message).toMatch(/search bound exceeded on 13 ops \(undecided\)/);
  });
});

describe('revisions: writes go in revision order, reads name the write they saw', () => {
  it('200 overlapping writes with revisions are never searched against each other (steps: events scanned, quadratic, not 2^n)', () => {
    const ops: Op[] = [put('a', 0, 1, { rev: 1 })];
    for (let i = 0; i < 200; i++) ops.push(put(`w${i}`, 10 + i, 500 + i, { rev: 2 + i }));
    ops.push(read('a', 300, 310, { rev: 1 }));
    const ok = checkHistory(ops);
    expect(ok.ok).toBe(true);
    expect(ok.stats.steps).toBeLessThan(200 * 200);
    // After every write returned, the last by revision is the value for good.
    expect(verdict([...ops, read('w199', 800, 810, { rev: 201 })])).toBe('ok');
    // Without revisions w3 could be last; with them it cannot.
    expect(verdict([...ops, read('w3', 800, 810, { rev: 5 })])).toBe('not-linearizable');
  });

  it('a pending put whose value was read takes the revision it was read at, and must precede later revisions', () => {
    // w2 (pending) was read at revision 7; w3 committed at 8 and returned before the read of w2: w2 came too late.
    expect(verdict([put('w1', 0, 1, { rev: 5 }), put('w2', 2, Infinity), put('w3', 3, 4, { rev: 8 }), read('w2', 5, 6, { rev: 7 })])).toBe('not-linearizable');
    expect(verdict([put('w1', 0, 1, { rev: 5 }), put('w2', 2, Infinity), put('w3', 3, 4, { rev: 8 }), read('w3', 5, 6, { rev: 8 })])).toBe('ok');
  });

  it('a write that returned before another was called must have the lower revision (commit order)', () => {
    const r = checkHistory([put('a', 0, 1, { rev: 9, key: 'x' }), put('b', 2, 3, { rev: 4, key: 'y' })]);
    expect(r.failures.map((f) => f.kind)).toEqual(['revision-order']);
    expect(r.failures[0].message).toMatch(/returned revision 9 before op \d+ was called, which got the lower revision 4/);
  });

  it('a read reporting the wrong modRevision for the value it saw is a revision conflict', () => {
    const r = checkHistory([put('a', 0, 1, { rev: 3 }), read('a', 2, 3, { rev: 4 })]);
    expect(r.failures[0].kind).toBe('revision-conflict');
  });

  it('two writes claiming one revision are a revision conflict', () => {
    const r = checkHistory([put('a', 0, 1, { rev: 3, key: 'x' }), put('b', 2, 3, { rev: 3, key: 'y' })]);
    expect(r.failures[0].kind).toBe('revision-conflict');
  });
});

describe('compare-and-set (If-Match)', () => {
  it('a CAS succeeds only on the revision it expects', () => {
    expect(verdict([put('a', 0, 1, { rev: 2 }), put('b', 2, 3, { rev: 3, expect: 2 }), read('b', 4, 5, { rev: 3 })])).toBe('ok');
    expect(verdict([put('a', 0, 1, { rev: 2 }), put('b', 2, 3, { rev: 3, expect: 1 })])).toBe('not-linearizable');
  });

  it('two CAS on the same revision cannot both succeed (a lost update)', () => {
    expect(verdict([put('a', 0, 1, { rev: 2 }), put('b', 2, 9, { rev: 3, expect: 2 }), put('c', 3, 8, { rev: 4, expect: 2 })])).toBe('not-linearizable');
  });

  it('a CAS refusal observes the state: it needs a write that moved the revision, and reports the current one', () => {
    const refused = (cur: number) => putFailed('z', 4, 5, { ok: false, error: 'revision-mismatch', currentRevision: cur }, { expect: 2 });
    expect(verdict([put('a', 0, 1, { rev: 2 }), put('b', 2, 3, { rev: 3 }), refused(3)])).toBe('ok');
    // Nothing moved revision 2 on: the refusal is wrong.
    expect(verdict([put('a', 0, 1, { rev: 2 }), refused(2)])).toBe('not-linearizable');
    // It reports revision 2 as current although 3 had committed before it began.
    expect(verdict([put('a', 0, 1, { rev: 2 }), put('b', 2, 3, { rev: 3 }), refused(2)])).toBe('not-linearizable');
  });

  it('create-only (expected revision 0) succeeds only on an absent key', () => {
    expect(verdict([put('a', 0, 1, { rev: 1, expect: 0 }), putFailed('b', 2, 3, { ok: false, error: 'revision-mismatch', currentRevision: 1 }, { expect: 0 })])).toBe('ok');
    expect(verdict([put('a', 0, 1, { rev: 1 }), put('b', 2, 3, { rev: 2, expect: 0 })])).toBe('not-linearizable');
  });

  it('a pending CAS may have taken effect: a later refusal at its revision is explained', () => {
    // The CAS to b timed out; a later CAS expecting 2 was refused with current 3: b committed at 3.
    const ops = [put('a', 0, 1, { rev: 2 }), put('b', 2, Infinity, { expect: 2 }), putFailed('c', 5, 6, { ok: false, error: 'revision-mismatch', currentRevision: 3 }, { expect: 2 })];
    expect(verdict(ops)).toBe('ok');
  });
});

describe('delete', () => {
  it('a delete makes the key absent; deleting it again is not-found', () => {
    expect(verdict([put('a', 0, 1, { rev: 1 }), del(2, 3, { rev: 2 }), read(undefined, 4, 5), delFailed(6, 7, { ok: false, error: 'not-found' })])).toBe('ok');
    expect(verdict([put('a', 0, 1, { rev: 1 }), delFailed(2, 3, { ok: false, error: 'not-found' })])).toBe('not-linearizable');
  });

  it('a delete of an absent key cannot succeed', () => {
    expect(verdict([del(0, 1, { rev: 1 })])).toBe('not-linearizable');
  });

  it('a delete with an expected revision is a CAS', () => {
    expect(verdict([put('a', 0, 1, { rev: 4 }), del(2, 3, { rev: 5, expect: 4 })])).toBe('ok');
    expect(verdict([put('a', 0, 1, { rev: 4 }), del(2, 3, { rev: 5, expect: 3 })])).toBe('not-linearizable');
  });

  it('a pending delete explains a later absence; nothing else does', () => {
    expect(verdict([put('a', 0, 1, { rev: 1 }), del(2, Infinity), read(undefined, 3, 4)])).toBe('ok');
    expect(verdict([put('a', 0, 1, { rev: 1 }), read(undefined, 3, 4)])).toBe('not-linearizable');
    // ... but not before it was called.
    expect(verdict([put('a', 0, 1, { rev: 1 }), read(undefined, 2, 3), del(4, Infinity)])).toBe('not-linearizable');
  });

  it('a pending put explains a delete that found the key', () => {
    expect(verdict([put('a', 0, Infinity), del(2, 3, { rev: 5 })])).toBe('ok');
    expect(verdict([del(2, 3, { rev: 5 }), put('a', 4, Infinity)])).toBe('not-linearizable');
  });

  it('300 overlapping pending puts and deletes (a partitioned leader) are pooled, not searched', () => {
    const ops: Op[] = [put('a', 0, 1, { rev: 1 })];
    for (let i = 0; i < 150; i++) ops.push(put(`p${i}`, 10 + 2 * i, Infinity), del(11 + 2 * i, Infinity));
    ops.push(read(undefined, 400, 401), del(402, 403, { rev: 900 }), read(undefined, 404, 405));
    const r = checkHistory(ops);
    expect(r.ok).toBe(true);
    expect(r.stats.steps).toBeLessThan(5000);
  });
});

describe('batch: atomic multi-key writes', () => {
  it('a batch is all or nothing: no read sees half of it', () => {
    const b = batch(
      [
        { type: 'put', key: 'x', value: 'x1' },
        { type: 'put', key: 'y', value: 'y1' },
      ],
      0,
      10,
      { ok: true, revision: 3 },
    );
    expect(verdict([b, read('x1', 1, 2, { key: 'x' }), read('y1', 3, 4, { key: 'y' })])).toBe('ok');
    // x shows the batch, then (later) y does not: fractured.
    expect(verdict([b, read('x1', 1, 2, { key: 'x' }), read(undefined, 3, 4, { key: 'y' })])).toBe('not-linearizable');
    // Each key alone is fine, so the keys must be checked together.
    expect(verdict([b, read(undefined, 3, 4, { key: 'y' })])).toBe('ok');
  });

  it('a refused batch changes nothing, and its refusal must be true of the write it names', () => {
    const x = put('x0', 0, 1, { key: 'x', rev: 1 });
    const bad = batch(
      [
        { type: 'put', key: 'y', value: 'y1' },
        { type: 'put', key: 'x', value: 'x1', expectedRevision: 7 },
      ],
      2,
      3,
      { ok: false, error: 'revision-mismatch', key: 'x', currentRevision: 1 },
    );
    expect(verdict([x, bad, read(undefined, 4, 5, { key: 'y' })])).toBe('ok');
    expect(verdict([x, bad, read('y1', 4, 5, { key: 'y' })])).toBe('not-linearizable');
    const wrongKey = { ...bad, id: 999, result: { ok: false as const, error: 'revision-mismatch' as const, key: 'y', currentRevision: 1 } };
    expect(verdict([x, wrongKey])).toBe('not-linearizable');
  });

  it('a batch with put and delete of one key: the last write wins', () => {
    const b = batch(
      [
        { type: 'put', key: 'x', value: 'x1' },
        { type: 'delete', key: 'x' },
      ],
      0,
      1,
      { ok: true, revision: 2 },
    );
    expect(verdict([b, read(undefined, 2, 3)])).toBe('ok');
  });
});

describe('the one relaxation: a pending batch nobody observed counts as independent writes', () => {
  it('a torn pending batch is accepted while nothing saw its values; once something did, it is atomic again', () => {
    // Pending batch: put x=x1, delete y. A delete of x that needs x present and a later read of y that needs y
    // present are only explained by half of the batch: accepted (its values were never read).
    const b = batch(
      [
        { type: 'put', key: 'x', value: 'x1' },
        { type: 'delete', key: 'y' },
      ],
      0,
      Infinity,
    );
    const torn = [put('y0', 1, 2, { key: 'y', rev: 1 }), b, del(3, 4, { rev: 7 }), read('y0', 5, 6, { key: 'y', rev: 1 })];
    expect(verdict(torn)).toBe('ok');
    // Read x1 (so the batch committed, atomically): y must be gone too from then on.
    const seen = [put('y0', 1, 2, { key: 'y', rev: 1 }), b, read('x1', 3, 4, { rev: 3 }), read('y0', 5, 6, { key: 'y', rev: 1 })];
    expect(verdict(seen)).toBe('not-linearizable');
  });
});

describe('failure reports', () => {
  it('names the failing key and a small self-contained window', () => {
    const ops: Op[] = [];
    let rev = 1;
    for (let i = 0; i < 50; i++) {
      ops.push(put(`y${i}`, 100 * i, 100 * i + 50, { key: 'y', rev: rev++ }), read(`y${i}`, 100 * i + 60, 100 * i + 70, { key: 'y' }));
      if (i < 30) ops.push(put(`x${i}`, 100 * i + 1, 100 * i + 40, { key: 'x', rev: rev++ }), read(`x${i}`, 100 * i + 45, 100 * i + 55, { key: 'x' }));
    }
    const stale = read('x10', 5000, 5010);
    ops.push(stale);
    const { failures } = checkHistory(ops);
    expect(failures.map((f) => f.keys)).toEqual([['x']]);
    const w = failures[0].window;
    expect(w.some((o) => o.id === stale.id)).toBe(true);
    expect(w.length).toBeLessThanOrEqual(4);
    expect(failures[0].message).toMatch(/^key x is not linearizable \(61 ops; minimal failing window of \d, cannot linearize op \d+ read\(x\) -> x10/);
  });

  it('the window keeps an earlier op that overlaps it (it may be linearized inside the window)', () => {
    const px = put('x1', 10, 45);
    const ops = [put('a', 0, 1), px, put('y1', 20, 30), read('x1', 40, 50), read('y1', 60, 61)];
    expect(verdict(ops)).toBe('not-linearizable');
    expect(minimalWindow(ops).ops.map((o) => o.id)).toContain(px.id);
    expect(verdict(ops.slice(0, 4))).toBe('ok');
  });

  it('with revisions, the window starts from the exact state the earlier writes left', () => {
    const ops: Op[] = [];
    for (let i = 1; i <= 20; i++) ops.push(put(`v${i}`, 10 * i, 10 * i + 5, { rev: i }));
    const stale = read('v19', 302, 303);
    ops.push(read('v20', 300, 301), stale);
    // v20 is the value once every write returned: the read of v19 fails on its own.
    expect(minimalWindow(ops).ops.map((o) => o.id)).toEqual([stale.id]);
    expect(minimalWindow(ops).start.get('x')).toEqual({ value: 'v20', modRevision: 20 });
    expect(checkHistory(ops).failures[0].message).toMatch(/minimal failing window of 1, cannot linearize op \d+ read\(x\) -> v19/);
  });

  it('a linearizable history is its own window (nothing to blame)', () => {
    const ops = [put('a', 0, 1), read('a', 2, 3)];
    expect(minimalWindow(ops).ops).toEqual(ops);
  });
});
