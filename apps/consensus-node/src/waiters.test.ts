import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Waiters } from './waiters.js';

describe('Waiters', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('answers every caller of a key, each joined caller keeps its own deadline', async () => {
    const w = new Waiters<string>(100, () => new Error('timed out'));
    const first = expect(w.wait('k')).rejects.toThrow('timed out');
    await vi.advanceTimersByTimeAsync(60);
    const joined = w.wait('k');
    expect(w.count('k')).toBe(2);
    await vi.advanceTimersByTimeAsync(50); // the first caller's deadline has passed, not the second's
    await first;
    expect(w.count('k')).toBe(1);
    w.settle('k', 'done');
    await expect(joined).resolves.toBe('done');
    expect(w.has('k')).toBe(false);
  });

  it('moves callers to another key, and callers without a deadline wait until failed', async () => {
    const w = new Waiters<void>(Infinity, () => new Error('never'));
    const a = expect(w.wait('batch-1')).rejects.toThrow('shutting down');
    const b = expect(w.wait('batch-2')).rejects.toThrow('shutting down');
    w.move('batch-1', 'batch-2');
    expect(w.count('batch-2')).toBe(2);
    expect(w.has('batch-1')).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000_000);
    w.failAll(new Error('shutting down'));
    await a;
    await b;
    expect(w.size).toBe(0);
  });

  it('drops callers without answering them, and their timers with them', async () => {
    const w = new Waiters<number>(100, () => new Error('timed out'));
    const p = w.wait('k');
    let settled = false;
    p.then(() => { settled = true; }, () => { settled = true; });
    w.drop('k');
    await vi.advanceTimersByTimeAsync(200);
    expect(settled).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});
