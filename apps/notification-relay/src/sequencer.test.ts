import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from './event.js';
import { Sequencer, type Delivery, type Gap } from './sequencer.js';

function ev(revision: number, prevRevision: number | undefined, key = 'k', part = 0, parts = 1): ChangeEvent {
  const e: ChangeEvent = { v: 1, revision, kind: 'flag', key, op: 'put', flag: null, actor: 'a', time: new Date(0).toISOString() };
  if (prevRevision !== undefined) Object.assign(e, { prevRevision, part, parts });
  return e;
}

function harness(opts: Partial<{ maxPendingEvents: number; gapTimeoutMs: number; maxTrackedKeys: number }> = {}) {
  let now = 0;
  const released: ChangeEvent[] = [];
  const gaps: Gap[] = [];
  const drops: string[] = [];
  const acked: ChangeEvent[] = [];
  const floors: number[] = [];
  const s = new Sequencer(
    { maxPendingEvents: 100, gapTimeoutMs: 1000, maxTrackedKeys: 1000, now: () => now, ...opts },
    { release: (e) => released.push(...e), gap: (g) => gaps.push(g), dropped: (r) => drops.push(r), established: (f) => floors.push(f) },
  );
  const d = (e: ChangeEvent): Delivery => ({ event: e, ack: () => acked.push(e) });
  return { s, d, released, gaps, drops, acked, floors, tick: (ms: number) => { now += ms; } };
}

describe('Sequencer', () => {
  it('releases chained events in revision order whatever order they arrive in', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3))]);
    expect(h.floors).toEqual([3]);
    h.s.offer([h.d(ev(9, 7)), h.d(ev(12, 9))]);
    expect(h.released.map((e) => e.revision)).toEqual([5]);
    h.s.offer([h.d(ev(7, 5))]);
    expect(h.released.map((e) => e.revision)).toEqual([5, 7, 9, 12]);
    expect(h.acked.map((e) => e.revision).sort((a, b) => a - b)).toEqual([5, 7, 9, 12]);
    expect(h.s.pendingCount).toBe(0);
  });

  it('does not ack held events until they are released', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3))]);
    h.s.offer([h.d(ev(9, 7))]);
    expect(h.acked.map((e) => e.revision)).toEqual([5]);
    expect(h.s.heldDeliveries().map((d) => d.event.revision)).toEqual([9]);
  });

  it('drops duplicates, including a redelivered copy of a held event (acked with the original)', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3)), h.d(ev(5, 3))]);
    h.s.offer([h.d(ev(9, 7)), h.d(ev(9, 7))]);
    expect(h.drops).toEqual(['duplicate', 'duplicate']);
    h.s.offer([h.d(ev(7, 5))]);
    expect(h.released.map((e) => e.revision)).toEqual([5, 7, 9]);
    expect(h.acked.filter((e) => e.revision === 9)).toHaveLength(2);
  });

  it('waits for every part of a batch revision and releases them in part order', () => {
    const h = harness();
    h.s.offer([h.d(ev(4, 2))]);
    h.s.offer([h.d(ev(6, 4, 'b', 1, 2))]);
    expect(h.released.map((e) => e.key)).toEqual(['k']);
    h.s.offer([h.d(ev(6, 4, 'a', 0, 2))]);
    expect(h.released.map((e) => `${e.revision}${e.key}`)).toEqual(['4k', '6a', '6b']);
  });

  it('declares a gap after the timeout, then continues after it', () => {
    const h = harness({ gapTimeoutMs: 1000 });
    h.s.offer([h.d(ev(2, 1))]);
    h.s.offer([h.d(ev(5, 4)), h.d(ev(6, 5))]);
    h.tick(999);
    h.s.checkGaps();
    expect(h.gaps).toEqual([]);
    h.tick(1);
    h.s.checkGaps();
    expect(h.gaps).toEqual([{ afterRevision: 2, resumeAfter: 4, reason: 'timeout' }]);
    expect(h.released.map((e) => e.revision)).toEqual([2, 5, 6]);
    // The lost event turning up late is now a duplicate.
    h.s.offer([h.d(ev(4, 2))]);
    expect(h.released.map((e) => e.revision)).toEqual([2, 5, 6]);
  });

  it('declares a gap at once when too many events are held', () => {
    const h = harness({ maxPendingEvents: 3 });
    h.s.offer([h.d(ev(2, 1))]);
    h.s.offer([h.d(ev(10, 9)), h.d(ev(11, 10)), h.d(ev(12, 11))]);
    expect(h.gaps).toEqual([]);
    h.s.offer([h.d(ev(13, 12))]);
    expect(h.gaps[0]).toMatchObject({ reason: 'pending-limit', afterRevision: 2, resumeAfter: 9 });
    expect(h.released.map((e) => e.revision)).toEqual([2, 10, 11, 12, 13]);
  });

  it('de-duplicates unchained events per key: equal is duplicate, lower is stale', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, undefined, 'a')), h.d(ev(5, undefined, 'a')), h.d(ev(3, undefined, 'a')), h.d(ev(3, undefined, 'b'))]);
    expect(h.released.map((e) => `${e.key}${e.revision}`)).toEqual(['a5', 'b3']);
    expect(h.drops).toEqual(['duplicate', 'stale']);
    expect(h.acked).toHaveLength(4);
  });

  it('forgets the oldest keys beyond maxTrackedKeys', () => {
    const h = harness({ maxTrackedKeys: 2 });
    h.s.offer([h.d(ev(1, undefined, 'a')), h.d(ev(2, undefined, 'b')), h.d(ev(3, undefined, 'c'))]);
    // 'a' was forgotten, so its duplicate passes (at least once); 'c' is still known.
    h.s.offer([h.d(ev(1, undefined, 'a')), h.d(ev(3, undefined, 'c'))]);
    expect(h.released.map((e) => e.key)).toEqual(['a', 'b', 'c', 'a']);
  });
});
