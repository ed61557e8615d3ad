import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from './event.js';
import { ReplayWindow } from './window.js';

const ev = (revision: number): ChangeEvent => ({ v: 1, revision, kind: 'flag', key: 'k', op: 'delete', flag: null, actor: 'a', time: '' });

describe('ReplayWindow', () => {
  it('cannot replay before coverage starts', () => {
    const w = new ReplayWindow(10);
    w.push(ev(5));
    expect(w.since(0)).toBeUndefined();
    expect(w.size).toBe(0);
  });

  it('replays events after since, and refuses since below the floor', () => {
    const w = new ReplayWindow(3);
    w.reset(1);
    for (const r of [2, 4, 4, 7]) w.push(ev(r));
    // 2 was evicted: the floor moved to 2.
    expect(w.floor).toBe(2);
    expect(w.since(1)).toBeUndefined();
    expect(w.since(2)!.map((e) => e.revision)).toEqual([4, 4, 7]);
    expect(w.since(4)!.map((e) => e.revision)).toEqual([7]);
    expect(w.since(7)).toEqual([]);
    expect(w.since(100)).toEqual([]);
  });

  it('stays bounded over many pushes', () => {
    const w = new ReplayWindow(5);
    w.reset(0);
    for (let r = 1; r <= 1000; r++) w.push(ev(r));
    expect(w.size).toBe(5);
    expect(w.floor).toBe(995);
    expect(w.since(995)!.map((e) => e.revision)).toEqual([996, 997, 998, 999, 1000]);
  });

  it('invalidate drops coverage', () => {
    const w = new ReplayWindow(5);
    w.reset(0);
    w.push(ev(1));
    w.invalidate();
    expect(w.since(0)).toBeUndefined();
  });

  it('rejects a non-positive size', () => {
    expect(() => new ReplayWindow(0)).toThrow(/maxEvents/);
  });
});
