import { describe, expect, it } from 'vitest';
import { Inflights } from './inflights.js';
import { Progress, ProgressState } from './progress.js';

describe('inflights (pipelining window, thesis §10.2.2)', () => {
  it('is full at maxMsgs messages and frees everything acknowledged', () => {
    const f = new Inflights(3);
    f.add(10, 1);
    f.add(20, 1);
    expect(f.full()).toBe(false);
    f.add(30, 1);
    expect(f.full()).toBe(true);
    expect(() => f.add(40, 1)).toThrow();
    f.freeLE(20);
    expect(f.count).toBe(1);
    expect(f.full()).toBe(false);
    f.freeLE(5);
    expect(f.count).toBe(1);
    f.freeLE(100);
    expect(f.count).toBe(0);
  });

  it('honours a byte limit as well', () => {
    const f = new Inflights(100, 1000);
    f.add(1, 600);
    expect(f.full()).toBe(false);
    f.add(2, 600);
    expect(f.full()).toBe(true);
    f.freeLE(1);
    expect(f.inflightBytes).toBe(600);
    expect(f.full()).toBe(false);
  });

  it('stays correct across many add/free cycles (internal compaction)', () => {
    const f = new Inflights(4);
    let next = 1;
    for (let i = 0; i < 5000; i++) {
      while (!f.full()) f.add(next++, 1);
      f.freeLE(next - 3);
      expect(f.count).toBe(2);
    }
  });
});

describe('progress (the leader\'s view of a follower, §5.3)', () => {
  it('probe: one append at a time until acknowledged', () => {
    const p = new Progress(5, 10, 0);
    expect(p.state).toBe(ProgressState.Probe);
    expect(p.isPaused()).toBe(false);
    p.sentEntries(7, 100);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(7)).toBe(true);
    expect(p.isPaused()).toBe(false);
    expect(p.next).toBe(8);
  });

  it('replicate: next advances optimistically, paused when the window is full', () => {
    const p = new Progress(1, 2, 0);
    p.becomeReplicate();
    p.sentEntries(5, 1);
    expect(p.next).toBe(6);
    p.sentEntries(9, 1);
    expect(p.isPaused()).toBe(true);
  });

  it('§5.3 rejection in probe state moves next back using the follower hint (fast back-off)', () => {
    const p = new Progress(100, 10, 0);
    // The append we sent had prev index 99; the follower hints its log ends at 40.
    expect(p.maybeDecrTo(99, 40)).toBe(true);
    expect(p.next).toBe(41);
    // A stale rejection (not for the last probe) is ignored.
    expect(p.maybeDecrTo(99, 10)).toBe(false);
    expect(p.next).toBe(41);
  });

  it('rejection in replicate state falls back to match+1; stale rejections below match are ignored', () => {
    const p = new Progress(1, 10, 0);
    p.maybeUpdate(10);
    p.becomeReplicate();
    p.sentEntries(20, 1);
    expect(p.maybeDecrTo(5, 0)).toBe(false);
    expect(p.maybeDecrTo(15, 12)).toBe(true);
    expect(p.next).toBe(11);
  });

  it('snapshot state pauses replication; coming back probes after the snapshot', () => {
    const p = new Progress(1, 10, 0);
    p.becomeSnapshot(50);
    expect(p.isPaused()).toBe(true);
    p.becomeProbe();
    expect(p.next).toBe(51);
  });
});
