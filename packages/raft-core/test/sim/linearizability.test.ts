// The linearizability checker on hand-written histories: it must accept the
// legal ones (including tricky overlaps and pending ops) and reject each
// classic anomaly, naming the key and a small window.
import { describe, expect, it } from 'vitest';
import { checkHistory, checkKey, minimalWindow, type Op } from './linearizability.js';

let nextId = 1;
/** put(v) called at c, returning at r (r = Infinity: pending). */
const put = (v: string, c: number, r: number, key = 'x'): Op => ({ id: nextId++, key, kind: 'put', value: v, call: c, ret: r });
/** get observing v (undefined = absent). */
const get = (v: string | undefined, c: number, r: number, key = 'x'): Op => ({ id: nextId++, key, kind: 'get', value: v, call: c, ret: r });

const verdict = (ops: Op[]): string => checkKey(ops).verdict;

describe('linearizability checker: register model', () => {
  it('accepts a sequential history and reads of the initial (absent) value', () => {
    expect(verdict([get(undefined, 0, 1), put('a', 2, 3), get('a', 4, 5), put('b', 6, 7), get('b', 8, 9)])).toBe('ok');
  });

  it('rejects a stale read: a read that starts after a put returned sees the older value', () => {
    expect(verdict([put('a', 0, 1), put('b', 2, 3), get('a', 4, 5)])).toBe('fail');
  });

  it('rejects a lost write: an acknowledged put never becomes visible', () => {
    expect(verdict([put('a', 0, 1), get(undefined, 2, 3)])).toBe('fail');
  });

  it('rejects a read of a value never written', () => {
    expect(verdict([put('a', 0, 1), get('zzz', 2, 3)])).toBe('fail');
  });

  it('accepts either order of two overlapping puts, as seen by later reads', () => {
    expect(verdict([put('a', 0, 10), put('b', 1, 9), get('a', 11, 12)])).toBe('ok');
    expect(verdict([put('a', 0, 10), put('b', 1, 9), get('b', 11, 12)])).toBe('ok');
  });

  it('accepts a read concurrent with a put seeing the old or the new value', () => {
    expect(verdict([put('a', 0, 1), put('b', 2, 8), get('a', 3, 4), get('b', 5, 6)])).toBe('ok');
  });

  it('rejects a new-then-old flip: once a read saw the new value, a later read cannot see the old one', () => {
    // Both reads overlap the put, but the second starts after the first returned.
    expect(verdict([put('a', 0, 1), put('b', 2, 20), get('b', 3, 4), get('a', 5, 6)])).toBe('fail');
  });

  it('rejects two reads that need contradictory orders of two concurrent puts', () => {
    // After both puts returned, the register holds one of them for good: reads cannot alternate.
    expect(verdict([put('a', 0, 10), put('b', 0, 10), get('a', 11, 12), get('b', 13, 14), get('a', 15, 16)])).toBe('fail');
  });

  it('pending put: may take effect (a later read sees it) or not (reads see the old value), but not both ways', () => {
    expect(verdict([put('a', 0, 1), put('b', 2, Infinity), get('b', 5, 6)])).toBe('ok');
    expect(verdict([put('a', 0, 1), put('b', 2, Infinity), get('a', 5, 6)])).toBe('ok');
    expect(verdict([put('a', 0, 1), put('b', 2, Infinity), get('b', 5, 6), get('a', 7, 8)])).toBe('fail');
  });

  it('a pending put cannot be seen before it was called', () => {
    expect(verdict([put('a', 0, 1), get('b', 2, 3), put('b', 4, Infinity)])).toBe('fail');
  });

  it('pending gets constrain nothing', () => {
    expect(verdict([put('a', 0, 1), get('nonsense', 2, Infinity)])).toBe('ok');
  });

  it('checks keys independently and reports the failing key with a small window', () => {
    const ops: Op[] = [];
    // A long legal history on y; on x, a legal prefix and then one stale read.
    for (let i = 0; i < 50; i++) ops.push(put(`y${i}`, 100 * i, 100 * i + 50, 'y'), get(`y${i}`, 100 * i + 60, 100 * i + 70, 'y'));
    for (let i = 0; i < 30; i++) ops.push(put(`x${i}`, 100 * i + 1, 100 * i + 40, 'x'), get(`x${i}`, 100 * i + 45, 100 * i + 55, 'x'));
    const stale = get('x10', 5000, 5010, 'x');
    ops.push(stale);
    const { failures } = checkHistory(ops);
    expect(failures.map((f) => f.key)).toEqual(['x']);
    const w = failures[0].window;
    // The window holds the stale read and the put it contradicts, not the whole history of x.
    expect(w.some((o) => o.id === stale.id)).toBe(true);
    expect(w.length).toBeLessThanOrEqual(4);
    expect(failures[0].opsOfKey).toBe(61);
  });

  it('the window is self-contained: two sequential reads of different values with no write between', () => {
    // Every put returned before the reads began, so the register holds one value for both: they cannot differ.
    const gx = get('x1', 50, 51);
    const gy = get('y1', 52, 53);
    const ops = [put('a', 0, 1), put('x1', 10, 30), put('y1', 20, 40), gx, gy];
    expect(verdict(ops)).toBe('fail');
    expect(minimalWindow(ops).ops.map((o) => o.id)).toEqual([gx.id, gy.id]);
    // Without the last get it is linearizable (y1 then x1).
    expect(verdict(ops.slice(0, 4))).toBe('ok');
  });

  it('the window keeps an earlier op that overlaps it (it may be linearized inside the window)', () => {
    // put(y1) returned before the get began, but put(x1) overlaps the get: x1 may land after y1, so the
    // only true failure needs the later read of y1 too.
    const px = put('x1', 10, 45);
    const ops = [put('a', 0, 1), px, put('y1', 20, 30), get('x1', 40, 50), get('y1', 60, 61)];
    expect(verdict(ops)).toBe('fail');
    const w = minimalWindow(ops).ops;
    expect(w.map((o) => o.id)).toContain(px.id);
    expect(verdict(ops.slice(0, 4))).toBe('ok');
  });

  it('minimalWindow of a linearizable history is the history itself (nothing to blame)', () => {
    const ops = [put('a', 0, 1), get('a', 2, 3)];
    expect(minimalWindow(ops).ops).toEqual(ops);
  });

  it('the memo bounds wide concurrency: 12 overlapping ops cost about n*2^n steps, not n!', () => {
    // Every put is read by a concurrent get, so all 10! orders are candidates; the failing case must refute them all.
    const ops: Op[] = [];
    for (let i = 0; i < 6; i++) ops.push(put(`v${i}`, 0, 1000), get(`v${i}`, 1, 1000));
    expect(checkKey(ops).verdict).toBe('ok');
    ops.push(get('never', 1003, 1004));
    const bad = checkKey(ops);
    expect(bad.verdict).toBe('fail');
    expect(bad.steps).toBeLessThan(12 * 2 ** 12); // 12! = 479,001,600
  });

  it('unread puts are scheduled, not searched: 200 overlapping blind writes cost O(n^2) steps, not 2^n', () => {
    const ops: Op[] = [put('a', 0, 1)];
    // A staircase of puts nobody reads, all overlapping a read of the old value.
    for (let i = 0; i < 200; i++) ops.push(put(`blind${i}`, 10 + i, 500 + i));
    ops.push(get('a', 300, 310));
    const ok = checkKey(ops);
    expect(ok.verdict).toBe('ok');
    expect(ok.steps).toBeLessThan(200 * 200);
    // After all blind writes returned, the old value is gone for good.
    ops.push(get('a', 800, 810));
    expect(checkKey(ops).verdict).toBe('fail');
  });

  it('an exhausted step bound says unknown, never ok', () => {
    const ops: Op[] = [];
    for (let i = 0; i < 6; i++) ops.push(put(`v${i}`, 0, 1000), get(`v${i}`, 1, 1000));
    ops.push(get('missing', 1001, 1002));
    expect(checkKey(ops, undefined, 50).verdict).toBe('unknown');
  });
});
