import { describe, expect, it } from 'vitest';
import type { ChangeEvent, RelayEvent, ResetMarker } from './event.js';
import { Sequencer, type Delivery, type Gap } from './sequencer.js';

function ev(revision: number, prevRevision: number | undefined, key = 'k', part = 0, parts = 1): ChangeEvent {
  const e: ChangeEvent = { v: 1, revision, kind: 'flag', key, op: 'delete', flag: null, actor: 'a', time: new Date(0).toISOString() };
  if (prevRevision !== undefined) Object.assign(e, { prevRevision, part, parts });
  return e;
}

function marker(revision: number, prevRevision: number, timeMs = 0): ResetMarker {
  return { v: 1, kind: 'reset', reason: 'restore', revision, prevRevision, part: 0, parts: 1, actor: 'flagraft', time: new Date(timeMs).toISOString() };
}

function harness(opts: Partial<{ maxPendingEvents: number; gapTimeoutMs: number; maxTrackedKeys: number; maxRevisionGap: number }> = {}) {
  let now = 0;
  const released: ChangeEvent[] = [];
  const gaps: Gap[] = [];
  const drops: string[] = [];
  const acked: RelayEvent[] = [];
  const floors: number[] = [];
  const resets: { revision: number; skipped: number; releasedBefore: number }[] = [];
  const held: number[] = [];
  const rejected: { revision: number; detail: string }[] = [];
  const s = new Sequencer(
    { maxPendingEvents: 100, gapTimeoutMs: 1000, maxTrackedKeys: 1000, maxRevisionGap: 1000, signerClockSkewMs: 100, now: () => now, ...opts },
    { release: (e) => released.push(...e), gap: (g) => gaps.push(g), dropped: (r) => drops.push(r), established: (f) => floors.push(f),
      reset: (m, skipped) => resets.push({ revision: m.revision, skipped, releasedBefore: released.length }), held: (e) => held.push(e.revision) },
  );
  /** A delivery; `signedAtMs` as the relay's verification reports it (undefined: unsigned, as in the tests above). */
  const d = (e: RelayEvent, signedAtMs?: number): Delivery => ({
    event: e, signedAtMs, ack: () => acked.push(e), reject: (_r, detail) => rejected.push({ revision: e.revision, detail }),
  });
  const revs = () => released.map((e) => e.revision);
  return { s, d, released, revs, gaps, drops, acked, floors, resets, held, rejected, tick: (ms: number) => { now += ms; } };
}

describe('Sequencer', () => {
  it('de-duplicates unchained flag events per environment: one key written at one revision in two environments is two events', () => {
    const h = harness();
    const inEnv = (env: string | undefined, revision: number) => Object.assign(ev(revision, undefined, 'f'), env ? { env } : {});
    h.s.offer([h.d(inEnv(undefined, 4)), h.d(inEnv('staging', 4)), h.d(inEnv('staging', 4)), h.d(inEnv('staging', 3))]);
    expect(h.released.map((e) => `${e.revision}:${(e as { env?: string }).env ?? ''}`)).toEqual(['4:', '4:staging']);
    expect(h.drops).toEqual(['duplicate', 'stale']);
  });

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

describe('Sequencer: reset markers', () => {
  it('releases a marker in chain order through reset (not release), then the changes chained to it', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3))]);
    // The change after the restore arrives before the marker: held.
    h.s.offer([h.d(ev(30, 20))]);
    expect(h.released.map((e) => e.revision)).toEqual([5]);
    h.s.offer([h.d(marker(20, 5))]);
    expect(h.resets).toEqual([{ revision: 20, skipped: 0, releasedBefore: 1 }]);
    expect(h.released.map((e) => e.revision)).toEqual([5, 30]);
    expect(h.s.frontierRevision).toBe(30);
    expect(h.acked.map((e) => e.revision).sort((a, b) => a - b)).toEqual([5, 20, 30]);
    expect(h.gaps).toEqual([]);
  });

  it('drops duplicate markers (in one batch, held, and after release) and acks every copy', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3))]);
    h.s.offer([h.d(marker(20, 5)), h.d(marker(20, 5))]);
    expect(h.resets.map((r) => r.revision)).toEqual([20]);
    h.s.offer([h.d(marker(20, 5))]);
    expect(h.resets.map((r) => r.revision)).toEqual([20]);
    expect(h.drops).toEqual(['duplicate', 'duplicate']);
    expect(h.acked.filter((e) => e.revision === 20)).toHaveLength(3);
    h.s.offer([h.d(ev(21, 20))]);
    expect(h.released.map((e) => e.revision)).toEqual([5, 21]);
  });

  it('does not wait behind a hole: the marker is released at once, events held before it are dropped as stale', () => {
    const h = harness({ gapTimeoutMs: 60_000 });
    h.s.offer([h.d(ev(5, 3))]);
    // 6 never arrives; 7 waits for it; then the restore's marker names 7 as its predecessor.
    h.s.offer([h.d(ev(7, 6, 'x'))]);
    h.s.offer([h.d(marker(20, 7)), h.d(ev(22, 20, 'y'))]);
    expect(h.resets).toEqual([{ revision: 20, skipped: 1, releasedBefore: 1 }]);
    expect(h.released.map((e) => e.revision)).toEqual([5, 22]);
    expect(h.drops).toEqual(['stale']);
    expect(h.acked.map((e) => e.revision).sort((a, b) => a - b)).toEqual([5, 7, 20, 22]);
    expect(h.s.pendingCount).toBe(0);
    // The missing predecessor turns up late: it is before the restore, so a duplicate.
    h.s.offer([h.d(ev(6, 5))]);
    expect(h.released.map((e) => e.revision)).toEqual([5, 22]);
    h.tick(120_000);
    h.s.checkGaps();
    expect(h.gaps).toEqual([]);
  });

  it('a marker as the very first event starts the chain and is released', () => {
    const h = harness();
    h.s.offer([h.d(marker(40, 12))]);
    expect(h.floors).toEqual([12]);
    expect(h.resets.map((r) => r.revision)).toEqual([40]);
    expect(h.s.frontierRevision).toBe(40);
  });

  it('a cluster rebuilt from an older backup (revisions start below the frontier): its marker rewinds the chain', () => {
    const h = harness();
    h.s.offer([h.d(ev(505, 500, 'k'))]);
    h.s.offer([h.d(ev(510, 505, 'k'))]);
    expect(h.s.frontierRevision).toBe(510);
    // Every node wiped, a new cluster restored from the backup at 500: marker 500 (prev 0),
    // stamped after everything the old cluster did; then its own 501, 502 (key k again).
    h.s.offer([h.d(marker(500, 0, 60_000))]);
    expect(h.resets).toEqual([{ revision: 500, skipped: 0, releasedBefore: 2 }]);
    expect(h.s.frontierRevision).toBe(500);
    h.s.offer([h.d(ev(502, 501, 'k')), h.d(ev(501, 500, 'k'))]);
    expect(h.released.map((e) => e.revision)).toEqual([505, 510, 501, 502]);
    // Its copies are duplicates (remembered by revision), even re-published later in time.
    h.s.offer([h.d(marker(500, 0, 90_000))]);
    expect(h.resets).toHaveLength(1);
    expect(h.drops).toEqual(['duplicate']);
  });

  it('an old marker redelivered after newer events is a duplicate, not a rewind', () => {
    const h = harness();
    // This relay instance never saw marker 20 released (e.g. it started after it).
    h.s.offer([h.d(ev(25, 20, 'k'))]);
    h.s.offer([h.d({ ...ev(30, 25, 'k'), time: new Date(5000).toISOString() })]);
    h.s.offer([h.d(marker(20, 5, 1000))]);
    expect(h.resets).toEqual([]);
    expect(h.drops).toEqual(['duplicate']);
    expect(h.s.frontierRevision).toBe(30);
  });
});

// A signer with a bug (or a stolen key) can put any revision in a validly
// signed event. None of these may hold back the genuine events after it.
describe('Sequencer: implausible events', () => {
  it('never releases a change far above the frontier that names the right predecessor; the genuine next one wins, the far one is rejected', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3), 100)]);
    h.s.offer([h.d(ev(999_999_999, 5, 'k'), 200)]);
    expect(h.revs()).toEqual([5]);
    h.s.offer([h.d(ev(7, 5, 'k'), 300)]);
    expect(h.revs()).toEqual([5, 7]);
    h.s.checkGaps();
    expect(h.rejected.map((r) => r.revision)).toEqual([999_999_999]);
    expect(h.rejected[0]!.detail).toMatch(/fork/);
    h.s.offer([h.d(ev(9, 7, 'k'), 400)]);
    expect(h.revs()).toEqual([5, 7, 9]);
    expect(h.s.pendingCount).toBe(0);
    expect(h.gaps).toEqual([]);
  });

  it('a far change behind a hole is not jumped to at the gap timeout when the chain moved on: it is rejected, nothing else happens', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3))]);
    h.s.offer([h.d(ev(999_999_999, 999_999_998, 'k'))]);
    h.s.offer([h.d(ev(7, 5, 'k'))]);
    h.tick(1000);
    h.s.checkGaps();
    expect(h.rejected.map((r) => r.revision)).toEqual([999_999_999]);
    expect(h.gaps).toEqual([]);
    expect(h.held).toEqual([]);
    h.s.offer([h.d(ev(9, 7, 'k'))]);
    expect(h.revs()).toEqual([5, 7, 9]);
    expect(h.s.frontierRevision).toBe(9);
  });

  it('a far change the chain is stuck behind: clients resync once, it waits; an event chained to it releases both', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3))]);
    h.s.offer([h.d(ev(50_000, 49_999))]);
    h.tick(1000);
    h.s.checkGaps();
    expect(h.held).toEqual([50_000]);
    expect(h.revs()).toEqual([5]);
    h.tick(5000);
    h.s.checkGaps();
    expect(h.held).toEqual([50_000]);
    expect(h.gaps).toEqual([]);
    // The cluster really is there: the next change chains to it.
    h.s.offer([h.d(ev(50_002, 50_000))]);
    h.tick(1000);
    h.s.checkGaps();
    expect(h.gaps).toEqual([{ afterRevision: 5, resumeAfter: 49_999, reason: 'timeout' }]);
    expect(h.revs()).toEqual([5, 50_000, 50_002]);
    expect(h.rejected).toEqual([]);
  });

  it('a held far change is rejected once genuine changes move the chain on', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3))]);
    h.s.offer([h.d(ev(999_999_999, 999_999_998))]);
    h.tick(1000);
    h.s.checkGaps();
    expect(h.held).toEqual([999_999_999]);
    h.s.offer([h.d(ev(7, 5))]);
    h.s.checkGaps();
    expect(h.rejected.map((r) => r.revision)).toEqual([999_999_999]);
    expect(h.revs()).toEqual([5, 7]);
    expect(h.s.pendingCount).toBe(0);
  });

  it('a far reset marker: clients resync at once, but the frontier waits for a change chained to it (or rejects it)', () => {
    const genuine = harness();
    genuine.s.offer([genuine.d(ev(5, 3))]);
    genuine.s.offer([genuine.d(marker(5_000_000, 5))]);
    expect(genuine.held).toEqual([5_000_000]);
    expect(genuine.resets).toEqual([]);
    expect(genuine.s.frontierRevision).toBe(5);
    genuine.s.offer([genuine.d(ev(5_000_001, 5_000_000))]);
    expect(genuine.resets.map((r) => r.revision)).toEqual([5_000_000]);
    expect(genuine.revs()).toEqual([5, 5_000_001]);

    const bogus = harness();
    bogus.s.offer([bogus.d(ev(5, 3))]);
    bogus.s.offer([bogus.d(marker(999_999_999, 7))]);
    bogus.s.offer([bogus.d(ev(7, 5)), bogus.d(ev(8, 7))]);
    expect(bogus.held).toEqual([999_999_999]);
    bogus.s.checkGaps();
    expect(bogus.rejected.map((r) => r.revision)).toEqual([999_999_999]);
    expect(bogus.resets).toEqual([]);
    expect(bogus.revs()).toEqual([5, 7, 8]);
  });

  it('a change naming a predecessor below the frontier (a fork) is rejected as it arrives', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3)), h.d(ev(7, 5))]);
    h.s.offer([h.d(ev(8, 3, 'k'))]);
    expect(h.rejected.map((r) => r.revision)).toEqual([8]);
    expect(h.s.pendingCount).toBe(0);
    h.s.offer([h.d(ev(8, 7, 'k'))]);
    expect(h.revs()).toEqual([5, 7, 8]);
  });

  it('over the pending limit, a far lowest event is rejected instead of jumped to', () => {
    const h = harness({ maxPendingEvents: 1 });
    h.s.offer([h.d(ev(5, 3))]);
    h.s.offer([h.d(ev(999_999_999, 999_999_998)), h.d(ev(1_999_999_999, 1_999_999_998))]);
    expect(h.rejected.map((r) => r.revision)).toEqual([999_999_999]);
    expect(h.s.pendingCount).toBe(1);
    expect(h.gaps).toEqual([]);
    expect(h.s.frontierRevision).toBe(5);
  });

  it('an unchained event far above everything released is rejected; the key keeps flowing', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, undefined, 'a'))]);
    h.s.offer([h.d(ev(999_999_999, undefined, 'a'))]);
    h.s.offer([h.d(ev(6, undefined, 'a'))]);
    expect(h.revs()).toEqual([5, 6]);
    expect(h.rejected.map((r) => r.revision)).toEqual([999_999_999]);
  });
});

describe('Sequencer: new work below the head', () => {
  it('a bogus event that started the chain is undone by the first genuine change signed after it', () => {
    const h = harness();
    // Nothing to compare the very first event with: it starts the chain.
    h.s.offer([h.d(ev(999_999_999, 999_999_998, 'k'), 1_000)]);
    expect(h.revs()).toEqual([999_999_999]);
    // Signed within the clock-skew allowance: could be a late genuine event from before; dropped.
    h.s.offer([h.d(ev(6, 5, 'k'), 1_050)]);
    expect(h.drops).toEqual(['duplicate']);
    h.s.offer([h.d(ev(7, 6, 'k'), 2_000)]);
    expect(h.gaps).toEqual([{ afterRevision: 999_999_999, resumeAfter: 6, reason: 'rewind' }]);
    h.s.offer([h.d(ev(9, 7, 'k'), 3_000)]);
    expect(h.revs()).toEqual([999_999_999, 7, 9]);
    expect(h.s.frontierRevision).toBe(9);
  });

  it('a plausible bogus gap jump is undone the same way', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3), 1_000)]);
    h.s.offer([h.d(ev(500, 499, 'k'), 2_000)]);
    h.tick(1000);
    h.s.checkGaps();
    expect(h.revs()).toEqual([5, 500]);
    h.s.offer([h.d(ev(7, 5, 'k'), 3_000)]);
    expect(h.gaps.map((g) => g.reason)).toEqual(['timeout', 'rewind']);
    expect(h.revs()).toEqual([5, 500, 7]);
    h.s.offer([h.d(ev(9, 7, 'k'), 4_000)]);
    expect(h.revs()).toEqual([5, 500, 7, 9]);
  });

  it('copies and replays of released events, late older events and unsigned ones never rewind', () => {
    const h = harness();
    h.s.offer([h.d(ev(5, 3), 1_000), h.d(ev(7, 5), 2_000)]);
    h.s.offer([h.d(ev(5, 3), 1_000)]); // a replay: same signature
    h.s.offer([h.d(ev(5, 3), 9_000)]); // re-published by a new leader, signed later: its revision was released
    h.s.offer([h.d(ev(3, 2), 500)]); // backlog from before the chain started, signed earlier
    h.s.offer([h.d(ev(2, 1))]); // unsigned
    expect(h.drops).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect(h.gaps).toEqual([]);
    expect(h.revs()).toEqual([5, 7]);
  });
});
