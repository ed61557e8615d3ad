import { describe, expect, it } from 'vitest';
import type { StoredFlag } from '@flagraft/flag-model';
import { FlagIndex, type FeedEvent } from './flag-index';
import { asFeedEvent, SseParser, type SseFrame } from './flag-feed';

const stored = (key: string, rev: number, enabled = true): StoredFlag =>
  ({
    flag: { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled, rules: [] },
    createRevision: rev,
    modRevision: rev,
    version: 1,
    updatedAt: 0,
    updatedBy: 'test',
  }) as StoredFlag;
const put = (key: string, rev: number, enabled = true): FeedEvent =>
  ({ v: 1, kind: 'flag', key, op: 'put', revision: rev, actor: 't', time: '', flag: stored(key, rev, enabled) }) as FeedEvent;
const del = (key: string, rev: number): FeedEvent => ({ v: 1, kind: 'flag', key, op: 'delete', revision: rev, actor: 't', time: '', flag: null }) as FeedEvent;
const seg = (key: string, rev: number): FeedEvent => ({ v: 1, kind: 'segment', key, op: 'delete', revision: rev, actor: 't', time: '', segment: null }) as FeedEvent;
const keys = (ix: FlagIndex) => ix.sorted().map((f) => `${f.flag.key}@${f.modRevision}`);

describe('FlagIndex', () => {
  it('is unusable until loaded, and events before the load are not applied', () => {
    const ix = new FlagIndex();
    expect(ix.valid).toBe(false);
    expect(ix.apply(put('a', 3), true)).toBe(false);
    ix.load([stored('b', 2), stored('a', 1)], 5);
    expect(ix.valid).toBe(true);
    expect(ix.revision).toBe(5);
    expect(keys(ix)).toEqual(['a@1', 'b@2']);
  });

  it('applies puts and deletes and keeps key order', () => {
    const ix = new FlagIndex();
    ix.load([stored('b', 2)], 2);
    expect(ix.apply(put('c', 3), true)).toBe(true);
    expect(ix.apply(put('a', 4, false), true)).toBe(true);
    expect(keys(ix)).toEqual(['a@4', 'b@2', 'c@3']);
    expect(ix.apply(del('b', 5), true)).toBe(true);
    expect(keys(ix)).toEqual(['a@4', 'c@3']);
    expect(ix.get('a')?.flag.enabled).toBe(false);
    expect(ix.revision).toBe(5);
  });

  it('ignores duplicates and replays of what the walk already held', () => {
    const ix = new FlagIndex();
    ix.load([stored('a', 7), stored('b', 3)], 6); // a page read later than the load revision holds a@7
    expect(ix.apply(put('a', 7), true)).toBe(false); // the stream replays it: no change
    expect(ix.apply(put('b', 3), true)).toBe(false);
    expect(ix.apply(put('b', 8), true)).toBe(true);
    expect(ix.apply(put('b', 8), true)).toBe(false); // duplicate
    expect(keys(ix)).toEqual(['a@7', 'b@8']);
    expect(ix.revision).toBe(8);
  });

  it('out of order: an older put never overwrites a newer one nor resurrects a deleted flag', () => {
    const ix = new FlagIndex();
    ix.load([stored('a', 2)], 2);
    ix.apply(put('a', 9, false), true);
    expect(ix.apply(put('a', 5, true), true)).toBe(false);
    expect(ix.get('a')?.modRevision).toBe(9);
    ix.apply(del('a', 10), true);
    expect(ix.apply(put('a', 9), true)).toBe(false);
    expect(ix.get('a')).toBeUndefined();
    expect(ix.apply(put('a', 11), true)).toBe(true); // re-created later: shown again
    expect(ix.get('a')?.modRevision).toBe(11);
    expect(ix.revision).toBe(11); // revision never goes back
  });

  it('a revision is complete only at its last event (atomic batches send several)', () => {
    const ix = new FlagIndex();
    ix.load([], 10);
    ix.apply(put('a', 12), false); // "12:0": everything before 12 is in
    expect(ix.revision).toBe(11);
    ix.apply(put('b', 12), true); // "12": revision 12 is complete
    expect(ix.revision).toBe(12);
    ix.apply(seg('s', 13), true); // segment changes move the revision, not the flags
    expect(ix.revision).toBe(13);
    expect(keys(ix)).toEqual(['a@12', 'b@12']);
  });

  it('reset / gap: invalidate makes it unusable until the next load replaces everything', () => {
    const ix = new FlagIndex();
    ix.load([stored('a', 1), stored('b', 2)], 2);
    ix.apply(del('a', 3), true);
    ix.invalidate('reset: compacted');
    expect(ix.valid).toBe(false);
    expect(ix.invalidReason).toMatch(/compacted/);
    expect(ix.apply(put('c', 4), true)).toBe(false);
    ix.advance(100);
    expect(ix.revision).toBe(3);
    ix.load([stored('a', 1), stored('z', 40)], 40); // e.g. a restore from an older backup: a comes back
    expect(ix.valid).toBe(true);
    expect(keys(ix)).toEqual(['a@1', 'z@40']);
    expect(ix.revision).toBe(40);
  });

  it('keeps 10,000 flags and applies a change without re-sorting everything on every read', () => {
    const ix = new FlagIndex();
    ix.load(Array.from({ length: 10_000 }, (_, i) => stored(`f-${String(i).padStart(5, '0')}`, i + 1)), 10_000);
    const first = ix.sorted();
    expect(ix.sorted()).toBe(first); // cached while nothing changes
    ix.apply(put('f-00042', 10_001, false), true);
    const second = ix.sorted();
    expect(second).not.toBe(first);
    expect(second).toHaveLength(10_000);
    expect(second[42].modRevision).toBe(10_001);
  });
});

describe('change stream parsing', () => {
  it('parses frames split across chunks, with ids, events and comments', () => {
    const got: SseFrame[] = [];
    const p = new SseParser((f) => got.push(f));
    p.push('retry: 1000\n\nid: 5\nevent: ready\ndata: {"revision":5}\n\n: heartbeat\n\nid: 6:0\nda');
    p.push('ta: {"a":1}\r\n\r\nid: 6\ndata: {"b":2}\n');
    expect(got).toEqual([
      { event: 'ready', data: '{"revision":5}', id: '5' },
      { event: 'message', data: '{"a":1}', id: '6:0' },
    ]);
    p.push('\n');
    expect(got[2]).toEqual({ event: 'message', data: '{"b":2}', id: '6' });
  });

  it('refuses a frame over the size limit instead of buffering without end', () => {
    const p = new SseParser(() => {});
    expect(() => p.push('data: ' + 'x'.repeat(3 * 1024 * 1024))).toThrow(/over .* characters/);
  });

  it('accepts well-formed change events and rejects malformed ones', () => {
    expect(asFeedEvent(put('a', 2))).toBeTruthy();
    expect(asFeedEvent(del('a', 3))).toBeTruthy();
    expect(asFeedEvent(seg('s', 3))).toBeTruthy();
    expect(asFeedEvent({ ...put('a', 2), flag: undefined })).toBeUndefined(); // a put without its flag
    expect(asFeedEvent({ ...put('a', 2), key: 'b' })).toBeUndefined(); // key differs from the flag's
    expect(asFeedEvent({ ...put('a', 2), revision: 0 })).toBeUndefined();
    expect(asFeedEvent({ kind: 'other', key: 'a', op: 'put', revision: 1 })).toBeUndefined();
    expect(asFeedEvent(null)).toBeUndefined();
  });
});
