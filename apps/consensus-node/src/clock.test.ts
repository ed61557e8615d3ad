import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_PEER_LIMITS, checkBatch } from './peer-messages.js';
import { CLOCK_CONTROL_POLL_MS, ClusterClock, FaultyWallClock, PEER_CLOCK_MAX_AGE_MS, installClockFault, parseClockFault, type Clock } from './clock.js';

const DAY = 24 * 3600_000;

/** A clock the test moves by hand. */
function manual(wall = 1_800_000_000_000, mono = 1000): Clock & { wall: number; mono: number; advance(ms: number): void } {
  return {
    wall, mono,
    now() { return this.wall; },
    monotonic() { return this.mono; },
    advance(ms) { this.wall += ms; this.mono += ms; },
  };
}

describe('ClusterClock: the voters\' lower median', () => {
  it('is not moved by one voter whose clock jumped, ahead or behind, leader or follower', () => {
    const c = manual();
    const leaderAhead = new ClusterClock({ now: () => c.now() + 8 * DAY, monotonic: () => c.monotonic() }, 1, () => [1, 2, 3]);
    leaderAhead.observe(2, c.now());
    leaderAhead.observe(3, c.now() + 5);
    expect(leaderAhead.now()).toBe(c.now() + 5);

    const followerBehind = new ClusterClock(c, 1, () => [1, 2, 3]);
    followerBehind.observe(2, c.now() - 3 * DAY);
    followerBehind.observe(3, c.now() + 10);
    expect(followerBehind.now()).toBe(c.now());
  });

  it('advances a peer\'s reading by this node\'s monotonic time, not by its wall clock', () => {
    const c = manual();
    const cc = new ClusterClock(c, 1, () => [1, 2, 3]);
    cc.observe(2, c.now());
    cc.observe(3, c.now());
    c.mono += 20_000; // 20 s pass; this node's wall clock jumps ahead a week meanwhile
    c.wall += 7 * DAY;
    expect(cc.now()).toBe(c.now() - 7 * DAY + 20_000);
  });

  it('with one voter silent, takes the reading behind; counts only voters and fresh samples', () => {
    const c = manual();
    const voters = [1, 2, 3];
    const cc = new ClusterClock({ now: () => c.now() + DAY, monotonic: () => c.monotonic() }, 1, () => voters);
    cc.observe(2, c.now());
    expect(cc.now()).toBe(c.now());
    cc.observe(4, c.now() + 2 * DAY); // not a voter
    cc.observe(3, 0); // an older node that does not say
    expect(cc.now()).toBe(c.now());
    c.advance(PEER_CLOCK_MAX_AGE_MS + 1);
    expect(cc.now()).toBe(c.now() + DAY); // node 2's sample is too old: only this node's clock is left
  });

  it('is this node\'s clock in a single-voter cluster', () => {
    const c = manual();
    expect(new ClusterClock(c, 1, () => [1]).now()).toBe(c.now());
  });
});

describe("a Send batch's wall_ms", () => {
  const convert = () => { throw new Error('no messages here'); };
  it('is handed over, defaults to 0 (an older node), and a bad one refuses the batch naming the field', () => {
    expect(checkBatch({ from: 2, messages: [], wallMs: 1_800_000_000_000 }, 2, 1, DEFAULT_PEER_LIMITS, convert)).toEqual({ messages: [], wallMs: 1_800_000_000_000 });
    expect(checkBatch({ from: 2, messages: [] }, 2, 1, DEFAULT_PEER_LIMITS, convert)).toEqual({ messages: [], wallMs: 0 });
    expect(checkBatch({ from: 2, messages: [], wallMs: -5 }, 2, 1, DEFAULT_PEER_LIMITS, convert)).toMatchObject({ reason: 'peer_bad_message', details: expect.stringContaining('wallMs') });
  });
});

describe('FaultyWallClock', () => {
  it('jumps by the offset, runs at the rate from then on, is the real time again after {0, 1}, leaves monotonic alone', () => {
    const c = manual();
    const f = new FaultyWallClock(c);
    f.set({ offsetMs: -2 * DAY, rate: 1 });
    expect(f.now()).toBe(c.now() - 2 * DAY);
    f.set({ offsetMs: 60_000, rate: 3 });
    const t0 = c.now();
    c.advance(1000);
    expect(f.now()).toBe(t0 + 60_000 + 3000);
    f.set({ offsetMs: 0, rate: 1 });
    c.advance(1000);
    expect(f.now()).toBe(c.now());
    expect(f.monotonic()).toBe(c.monotonic());
  });
});

describe('parseClockFault', () => {
  it('accepts offsetMs and rate, defaults both, and names what is wrong', () => {
    expect(parseClockFault('{"offsetMs": 60000, "rate": 2, "seq": 3}')).toEqual({ offsetMs: 60000, rate: 2 });
    expect(parseClockFault('{}')).toEqual({ offsetMs: 0, rate: 1 });
    expect(parseClockFault('nope')).toHaveProperty('error', expect.stringContaining('not JSON'));
    expect(parseClockFault('[1]')).toHaveProperty('error', expect.stringContaining('object'));
    expect(parseClockFault('{"offsetMs": "1"}')).toHaveProperty('error', expect.stringContaining('offsetMs'));
    expect(parseClockFault(`{"offsetMs": ${1000 * DAY}}`)).toHaveProperty('error', expect.stringContaining('offsetMs'));
    expect(parseClockFault('{"rate": 0}')).toHaveProperty('error', expect.stringContaining('rate'));
  });
});

describe('installClockFault', () => {
  let restore: (() => void) | undefined;
  let dir: string | undefined;
  afterEach(() => {
    restore?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shifts Date.now as the control file says, leaves performance.now alone, ignores a bad file, and restores', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flagraft-clock-'));
    const file = join(dir, 'clock.json');
    const lines: string[] = [];
    restore = installClockFault(file, (msg) => lines.push(msg));
    expect(Math.abs(Date.now() - new Date().getTime())).toBeLessThan(1000); // no file: no fault
    writeFileSync(file, JSON.stringify({ offsetMs: 3 * DAY, seq: 1 }));
    const mono = performance.now();
    await waitFor(() => Date.now() - new Date().getTime() > 3 * DAY - 1000);
    expect(performance.now() - mono).toBeLessThan(60_000);
    writeFileSync(file, 'garbage');
    await waitFor(() => lines.includes('clock control file ignored'));
    expect(Date.now() - new Date().getTime()).toBeGreaterThan(3 * DAY - 1000); // the last good fault stays
    restore();
    restore = undefined;
    expect(Math.abs(Date.now() - new Date().getTime())).toBeLessThan(1000);
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error('condition not reached within 5 s');
    await new Promise((r) => setTimeout(r, CLOCK_CONTROL_POLL_MS));
  }
}
