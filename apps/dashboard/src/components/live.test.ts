import { describe, expect, it } from 'vitest';
import { applyFrame, MAX_LIVE_EVENTS, reconnectDelayMs, type LiveStore } from './live';

const store = (): LiveStore => ({ state: 'live', since: 10, seq: 0, events: [], resync: 0 });
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
});
