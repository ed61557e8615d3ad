import { describe, expect, it } from 'vitest';
import { applyFrame, createReloadThrottle, MAX_LIVE_EVENTS, reconnectDelayMs, type LiveStore } from './live';

const store = (): LiveStore => ({ state: 'live', since: 10, seq: 0, events: [], resync: 0, resyncRevision: 0 });
const change = (revision: number, key = 'k') =>
  JSON.stringify({ type: 'change', event: { v: 1, revision, kind: 'flag', key, op: 'put', flag: null, actor: 'a', time: '' } });

describe('live frames', () => {
  it('applies changes above the resume point once, in order', () => {
    const s = store();
    expect(applyFrame(s, change(11))).toBe('event');
    expect(applyFrame(s, change(11))).toBe('ignored');
    expect(applyFrame(s, change(9))).toBe('ignored');
    expect(applyFrame(s, change(12))).toBe('event');
    expect(s.since).toBe(12);
    expect(s.events.map((e) => [e.seq, e.event.revision])).toEqual([
      [1, 11],
      [2, 12],
    ]);
  });
  it('asks for a reload on resync and ignores other frames and junk', () => {
    const s = store();
    expect(applyFrame(s, JSON.stringify({ type: 'resync', reason: 'gap', revision: 40 }))).toBe('resync');
    expect(s.since).toBe(40);
    expect(s.resync).toBe(1);
    expect(applyFrame(s, JSON.stringify({ type: 'hello', revision: 50 }))).toBe('ignored');
    expect(applyFrame(s, 'not json')).toBe('ignored');
  });
  it('keeps at most MAX_LIVE_EVENTS', () => {
    const s = store();
    for (let r = 11; r < 11 + MAX_LIVE_EVENTS + 5; r++) applyFrame(s, change(r));
    expect(s.events.length).toBe(MAX_LIVE_EVENTS);
    expect(s.events[0].event.revision).toBe(16);
  });
  it('backs off exponentially with jitter, capped at 10 s', () => {
    expect(reconnectDelayMs(0, 0)).toBe(125);
    expect(reconnectDelayMs(0, 1)).toBe(250);
    expect(reconnectDelayMs(3, 1)).toBe(2000);
    expect(reconnectDelayMs(50, 1)).toBe(10_000);
    expect(reconnectDelayMs(50, 0)).toBe(5000);
  });
  it('a restore resync (the relay\'s reason "restore") asks for a reload like a gap', () => {
    const s = store();
    expect(applyFrame(s, JSON.stringify({ type: 'resync', reason: 'restore', revision: 120 }))).toBe('resync');
    expect(s.since).toBe(120);
    expect(s.resyncRevision).toBe(120);
    expect(applyFrame(s, change(120))).toBe('ignored');
    expect(applyFrame(s, change(121))).toBe('event');
  });
  it('reload throttle: at most one reload per interval, and a request inside it is deferred, never dropped', () => {
    let now = 1000;
    const timers: { fn: () => void; at: number }[] = [];
    let reloads = 0;
    const t = createReloadThrottle(5000, () => reloads++, () => now, {
      set: (fn, ms) => { const e = { fn, at: now + ms }; timers.push(e); return e; },
      clear: (e) => { timers.splice(timers.indexOf(e as (typeof timers)[number]), 1); },
    });
    t.request(); // a gap resync
    expect(reloads).toBe(1);
    now += 2000;
    t.request(); // the restore's resync two seconds later
    t.request(); // and another: shares the deferred reload
    expect(reloads).toBe(1);
    expect(timers.map((e) => e.at)).toEqual([6000]);
    now = 6000;
    timers.shift()!.fn();
    expect(reloads).toBe(2);
    now += 10_000;
    t.request();
    expect(reloads).toBe(3);
    now += 1;
    t.request();
    t.cancel();
    expect(timers).toEqual([]);
    expect(reloads).toBe(3);
  });
});
