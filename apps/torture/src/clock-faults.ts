// Scenario clock-jump: process-local wall-clock faults on real nodes
// (consensus-node clock.ts, FLAGRAFT_CLOCK_CONTROL: the node's Date.now
// follows a control file; its monotonic clock and timers do not, as with a
// real `date -s`, NTP step or restored VM). One node at a time, the leader or
// a follower, jumps by ±minutes to ±days or runs 0.25-4x fast; the previous
// one jumps back to the real time (itself a jump) a second before. At most
// one node of three is off at a time, so the voters' majority clock is the
// real one.
//
// Checks besides the history and the streams:
//  - after a jump with no other fault, a leader serves a linearizable read
//    within SERVE_AFTER_JUMP_MS, and the term rises by at most
//    MAX_TERM_RISE_PER_JUMP (no election storm, no stall);
//  - after a jump under a partition, a leader serves within the same bound
//    of the heal;
//  - at the end, no node pruned any history (the age limit is an hour; the
//    run is minutes on the majority's clock; the size budget is out of
//    reach) and the fence write's change carries the real time (within an
//    hour): the replicated clock did not follow a jumped node.
import type { FaultContext } from './faults.js';
import { heal, hold, isolateLeader, majorityMinority, sleep, waitUntil } from './faults.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** History older than an hour on the replicated clock is pruned; pruning runs every 20 revisions; the size budget is out of reach. */
export const CLOCK_JUMP_ENV: Record<string, string> = {
  FLAGRAFT_HISTORY_MAX_AGE_MS: String(HOUR),
  FLAGRAFT_HISTORY_MAX_BYTES: String(512 * 1024 * 1024),
  FLAGRAFT_PRUNE_EVERY: '20',
};

/** After a jump (or the heal that follows one under a partition), a leader must serve a linearizable read within this (ms). */
export const SERVE_AFTER_JUMP_MS = 10_000;
/** Term rises allowed across a jump with no other fault: a loaded machine may cost an election, a storm is more. */
export const MAX_TERM_RISE_PER_JUMP = 2;
/** The control file is polled every 50 ms; a jump is in effect after this (ms). */
const JUMP_EFFECT_MS = 200;
/**
 * After a node goes back to the real time, the leader still holds its last
 * (wrong) reading until that node's next batch: the next jump waits this long
 * (ms; a 50 ms poll plus a heartbeat, with room for a loaded machine), so at
 * most one clock is off at any moment as the leader hears them. Without the
 * wait, seed 5008 jumped the leader +14 d while it still heard the follower
 * just put back at +13 d: two of three clocks, and the majority clock moved.
 */
const RESET_SETTLE_MS = 1000;

interface WallFault { offsetMs: number; rate: number; what: string }

function pickFault(x: FaultContext): WallFault {
  const sign = x.rng.next() < 0.5 ? -1 : 1;
  const roll = x.rng.next();
  const { unit, name, max } = roll < 0.35 ? { unit: MINUTE, name: 'min', max: 59 } : roll < 0.65 ? { unit: HOUR, name: 'h', max: 23 } : { unit: DAY, name: 'd', max: 30 };
  const n = x.rng.int(1, max);
  const rate = x.rng.next() < 0.25 ? x.rng.pick([0.25, 0.5, 2, 4]) : 1;
  return { offsetMs: sign * n * unit, rate, what: `${sign < 0 ? '-' : '+'}${n} ${name}${rate !== 1 ? `, running ${rate}x` : ''}` };
}

/** Ms until a leader answers a linearizable read (undefined: not within SERVE_AFTER_JUMP_MS). */
async function leaderServes(x: FaultContext): Promise<number | undefined> {
  const t0 = performance.now();
  const ok = await waitUntil(SERVE_AFTER_JUMP_MS, async () => {
    await x.c.admin.getFlag('k0', { consistency: 'linearizable' });
    return true;
  }, 50);
  return ok ? Math.round(performance.now() - t0) : undefined;
}

async function term(x: FaultContext): Promise<number | undefined> {
  try {
    return (await x.c.admin.status()).term;
  } catch {
    return undefined;
  }
}

export async function clockJump(x: FaultContext): Promise<void> {
  let jumped: number | undefined;
  while (!x.done()) {
    const l = await x.c.leaderId(3000);
    const live = x.c.live().map((n) => n.id);
    const followers = live.filter((id) => id !== l);
    const target = l && (x.rng.next() < 0.5 || !followers.length) ? l : x.rng.pick(followers.length ? followers : live);
    const fault = pickFault(x);
    const partitioned = x.rng.next() < 0.35;
    const before = await term(x);
    if (jumped !== undefined && jumped !== target) {
      x.c.setClock(jumped, 0, 1);
      x.log(`clock of node ${jumped} back to the real time`);
      await sleep(RESET_SETTLE_MS);
    }
    x.c.setClock(target, fault.offsetMs, fault.rate);
    jumped = target;
    x.log(`clock of node ${target}${target === l ? ' (leader)' : ''} ${fault.what}`);
    await sleep(JUMP_EFFECT_MS);
    if (partitioned) {
      await (x.rng.next() < 0.5 ? isolateLeader(x) : majorityMinority(x));
      await hold(x, 800, 2000);
      heal(x);
    }
    const ms = await leaderServes(x);
    await hold(x, 500, 1500);
    const after = await term(x);
    const terms = `term ${before ?? '?'} -> ${after ?? '?'}`;
    if (ms === undefined) x.anomaly(`clock-jump: no leader served a linearizable read within ${SERVE_AFTER_JUMP_MS} ms after ${partitioned ? 'the heal' : 'the jump'} (node ${target} ${fault.what})`);
    else x.log(`a leader serves ${ms} ms after ${partitioned ? 'the heal' : 'the jump'}; ${terms}`);
    if (!partitioned && before !== undefined && after !== undefined && after - before > MAX_TERM_RISE_PER_JUMP) {
      x.anomaly(`clock-jump: term rose from ${before} to ${after} across a jump with no other fault (election storm; node ${target} ${fault.what})`);
    }
  }
}

export async function clockJumpFinalCheck(x: FaultContext, fenceRevision: number): Promise<void> {
  let pruned = 0;
  for (const n of x.c.live()) {
    const s = await x.c.admin.status({ endpoint: n.address });
    if (s.oldestRetainedRevision > 1) {
      pruned++;
      x.anomaly(`clock-jump: node ${n.id} pruned history through revision ${s.oldestRetainedRevision - 1}, although the whole run is younger than FLAGRAFT_HISTORY_MAX_AGE_MS (${HOUR} ms) on the majority's clock`);
    }
  }
  if (pruned) {
    // Which changes carry a time far from the real one: the stamps that moved the replicated clock.
    const off: string[] = [];
    for (let i = 0; i < 6; i++) {
      for (const ch of await x.c.admin.history(`k${i}`, { limit: 1000 })) {
        const d = ch.time - Date.now();
        if (Math.abs(d) > 30 * MINUTE) off.push(`r${ch.revision} ${Math.round(d / MINUTE)} min`);
      }
    }
    x.log(`changes stamped more than 30 min off the real time: ${off.length ? off.slice(0, 20).join(', ') : 'none retained'}`);
  }
  const fence = (await x.c.admin.history('k0', { limit: 1 }))[0];
  if (!fence || fence.revision !== fenceRevision) return x.anomaly(`clock-jump: history of k0 does not end at the fence revision ${fenceRevision} (${fence?.revision})`);
  const off = fence.time - Date.now();
  if (Math.abs(off) > HOUR) x.anomaly(`clock-jump: the fence write's change carries a time ${Math.round(off / 60_000)} min off the real time: the replicated clock followed a jumped node`);
  else x.log(`retention check: ${pruned ? `${pruned} node(s) pruned history` : 'no node pruned history'}; the fence change's time is ${Math.round(off / 1000)} s off the real time`);
}
