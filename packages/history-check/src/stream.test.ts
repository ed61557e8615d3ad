// The change-stream checker: in order, no gaps, no duplicates unless the
// contract allows them, whole revisions, explicit resyncs, and only what was
// committed.
import { describe, expect, it } from 'vitest';
import { checkStream, committedLog, type StreamEvent } from './index.js';
import { batch, del, put } from './test-ops.js';

// Revisions 1..5: x=a, y=b, batch(x=c, y deleted), x deleted, x=e.
const history = [
  put('a', 0, 1, { rev: 1 }),
  put('b', 2, 3, { rev: 2, key: 'y' }),
  batch(
    [
      { type: 'put', key: 'x', value: 'c' },
      { type: 'delete', key: 'y' },
    ],
    4,
    5,
    { ok: true, revision: 3 },
  ),
  del(6, 7, { rev: 4 }),
  put('e', 8, 9, { rev: 5 }),
];
const log = () => committedLog(history);
const ch = (revision: number, key: string, op: 'put' | 'delete', value?: string): StreamEvent => ({ type: 'change', revision, key, op, value });
const all: StreamEvent[] = [ch(1, 'x', 'put', 'a'), ch(2, 'y', 'put', 'b'), ch(3, 'x', 'put', 'c'), ch(3, 'y', 'delete'), ch(4, 'x', 'delete'), ch(5, 'x', 'put', 'e')];
const kinds = (events: StreamEvent[], opts: Partial<Parameters<typeof checkStream>[2]> = {}): string[] =>
  checkStream(events, log(), { from: 0, until: 5, delivery: 'exactly-once', ...opts }).failures.map((f) => f.kind);

describe('change streams', () => {
  it('accepts every committed revision, in order, whole', () => {
    const r = checkStream(all, log(), { from: 0, until: 5, delivery: 'exactly-once' });
    expect(r).toMatchObject({ ok: true, delivered: 6, repeats: 0 });
  });

  it('a gap: a committed revision never delivered', () => {
    expect(kinds([all[0], all[2], all[3], all[4], all[5]])).toEqual(['gap']);
    // ... also at the end: the stream stopped before `until`.
    expect(kinds(all.slice(0, 4))).toEqual(['gap']);
  });

  it('out of order: a lower revision after a higher one', () => {
    expect(kinds([all[1], all[0], ...all.slice(2)])).toContain('order');
  });

  it('a duplicate: exactly-once streams must not repeat; at-least-once streams may', () => {
    const dup = [...all.slice(0, 3), all[2], ...all.slice(3)];
    expect(kinds(dup)).toEqual(['duplicate']);
    expect(kinds(dup, { delivery: 'at-least-once' })).toEqual([]);
    // A repeat must still say what was committed.
    expect(kinds([...all, ch(3, 'x', 'put', 'WRONG')], { delivery: 'at-least-once' })).toEqual(['content']);
  });

  it('a revision delivered without all of its changes (a torn batch)', () => {
    expect(kinds([all[0], all[1], all[2], all[4], all[5]])).toEqual(['split-revision']);
  });

  it('wrong content, or a change nobody committed', () => {
    expect(kinds([all[0], ch(2, 'y', 'put', 'zzz'), ...all.slice(2)])).toEqual(['content']);
    expect(kinds([...all, ch(6, 'x', 'put', 'ghost')])).toEqual(['unknown-change']);
  });

  it('a reconnect resumes after the revision asked for; asking again for delivered revisions allows their repeat', () => {
    expect(kinds([...all.slice(0, 2), { type: 'reconnect', from: 2 }, ...all.slice(2)])).toEqual([]);
    expect(kinds([...all.slice(0, 3), all[3], { type: 'reconnect', from: 1 }, ...all.slice(1)])).toEqual([]);
    // Resuming past what was delivered skips revisions: a gap.
    expect(kinds([...all.slice(0, 2), { type: 'reconnect', from: 3 }, all[4], all[5]])).toEqual(['gap']);
  });

  it('an explicit resync restarts continuity at its revision', () => {
    expect(kinds([all[0], { type: 'resync', revision: 3 }, all[4], all[5]])).toEqual([]);
    expect(kinds([all[0], { type: 'resync', revision: 3 }, all[5]])).toEqual(['gap']);
  });

  it('a progress notification promises everything up to it was delivered', () => {
    expect(kinds([all[0], all[1], { type: 'progress', revision: 2 }, ...all.slice(2)])).toEqual([]);
    expect(kinds([all[0], { type: 'progress', revision: 2 }, ...all.slice(2)])).toEqual(['gap']);
  });

  it('a filtered subscription needs only its keys', () => {
    const onlyX = (c: { key: string }) => c.key === 'x';
    expect(kinds([all[0], all[2], all[4], all[5]], { filter: onlyX })).toEqual([]);
    expect(kinds([all[0], all[4], all[5]], { filter: onlyX })).toEqual(['gap']);
  });

  it('a pending write that appears in the stream is taken as committed; a change before its write was invoked is not', () => {
    const pending = [...history, put('p', 20, Infinity)];
    const r = checkStream([...all, ch(6, 'x', 'put', 'p')], committedLog(pending), { from: 0, until: 6, delivery: 'exactly-once' });
    expect(r.ok).toBe(true);
    const early = checkStream([...all, { ...ch(6, 'x', 'put', 'p'), at: 10 } as StreamEvent], committedLog(pending), { from: 0, delivery: 'exactly-once' });
    expect(early.failures.map((f) => f.kind)).toEqual(['unknown-change']);
    const future = checkStream([{ ...all[0], at: -1 } as StreamEvent, ...all.slice(1)], log(), { from: 0, delivery: 'exactly-once' });
    expect(future.failures.map((f) => f.kind)).toEqual(['from-the-future']);
  });
});
