// The named scenarios (docs/TORTURE.md describes each): a fault schedule run
// against the cluster while the clients work. A scenario runs faults until
// its time is up; the runner then heals everything, restarts stopped members
// and checks that the cluster makes progress and that the history holds.
import { join } from 'node:path';
import { readFileSync, rmSync } from 'node:fs';
import { CLOCK_JUMP_ENV, clockJump, clockJumpFinalCheck } from './clock-faults.js';
import {
  bridge, corruptFile, fillDisk, heal, hold, isolateLeader, killSome, majorityMinority, oneWayLeader, pauseLeader,
  replaceVoter, restartDead, rollingRestart, slowLinks, voters, waitUntil, type FaultContext,
} from './faults.js';

export interface Scenario {
  name: string;
  summary: string;
  /** Voters at the start. */
  size: number;
  /** Node ids whose data dir is a size-limited tmpfs. */
  tmpfsNodes?: number[];
  /** Extra environment for every node. */
  env?: Record<string, string>;
  /** Every node gets a clock control file (TortureCluster.setClock). */
  clockControl?: boolean;
  run(x: FaultContext): Promise<void>;
  /** Checks of its own once the fence write committed and the streams reached it (anomalies through x.anomaly). */
  finalCheck?(x: FaultContext, fenceRevision: number): Promise<void>;
}

/** Fault, hold, heal, hold; until the time is up. */
async function cycle(x: FaultContext, fault: (x: FaultContext) => Promise<void>, holdMs: [number, number], calmMs: [number, number]): Promise<void> {
  while (!x.done()) {
    await fault(x);
    await hold(x, ...holdMs);
    heal(x);
    await hold(x, ...calmMs);
  }
}

/** Waits until node `id` has applied close to the leader's commit index. */
async function caughtUp(x: FaultContext, id: number, timeoutMs: number): Promise<boolean> {
  const n = x.c.node(id);
  return !!(await waitUntil(timeoutMs, async () => {
    const lead = await x.c.admin.status();
    const mine = await x.c.admin.status({ endpoint: n.address });
    return mine.appliedIndex >= lead.commitIndex - 50;
  }, 250));
}

function lastLogLines(path: string, n = 3): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-n).join(' | ');
  } catch {
    return '';
  }
}

/**
 * The documented rebuild of a node whose data is lost or damaged (README
 * "Replacing a node whose data was lost"): remove it, wipe its data dir,
 * start it with FLAGRAFT_JOIN=1, add it as a learner, promote it once caught up.
 */
async function rebuild(x: FaultContext, id: number): Promise<void> {
  const n = x.c.node(id);
  const removed = await waitUntil(15_000, async () => !(await x.c.admin.removeMember(id)).some((m) => m.id === id), 300);
  if (!removed) return x.anomaly(`rebuild: could not remove node ${id} within 15 s`);
  await n.wipe();
  await n.restart({ join: true, wait: false });
  const added = await waitUntil(15_000, async () => (await x.c.admin.addLearner(id, n.peerAddress)).some((m) => m.id === id), 300);
  if (!added) return x.anomaly(`rebuild: could not add node ${id} back as a learner within 15 s`);
  if (!(await caughtUp(x, id, 30_000))) return x.anomaly(`rebuild: node ${id} did not catch up within 30 s`);
  const promoted = await waitUntil(20_000, async () => (await x.c.admin.promoteLearner(id)).find((m) => m.id === id)?.role === 'voter', 300);
  if (!promoted) return x.anomaly(`rebuild: node ${id} not promoted within 20 s`);
  x.log(`rebuilt node ${id} from its peers (remove, wipe, join, add learner, promote)`);
}

async function diskFull(x: FaultContext): Promise<void> {
  const id = 3;
  const n = x.c.node(id);
  while (!x.done()) {
    await hold(x, 500, 1500);
    const filler = fillDisk(n.dataDir);
    x.log(`disk full on node ${id}`);
    const exited = await waitUntil(4000, () => n.pid === 0);
    x.log(exited ? `node ${id} stopped: ${lastLogLines(n.logFile, 1).slice(0, 200)}` : `node ${id} still running with a full disk`);
    await hold(x, 500, 1500);
    rmSync(filler, { force: true });
    if (!n.pid) await n.restart({ wait: false });
    x.log(`space back on node ${id}${exited ? ', restarted' : ''}`);
    if (!(await caughtUp(x, id, 20_000))) x.anomaly(`disk-full: node ${id} did not catch up within 20 s after space returned (${lastLogLines(n.logFile, 2).slice(0, 300)})`);
  }
}

async function corruptFollower(x: FaultContext): Promise<void> {
  while (!x.done()) {
    await hold(x, 500, 1500);
    const l = await x.c.leaderId(5000);
    const followers = (await voters(x.c)).filter((id) => id !== l && x.c.node(id).pid);
    if (!l || !followers.length) continue;
    const id = x.rng.pick(followers);
    const n = x.c.node(id);
    await n.kill('SIGKILL');
    const file = join(n.dataDir, x.rng.next() < 0.5 ? 'flagraft.db' : 'raft-log.db');
    const damage = corruptFile(file, x.rng);
    x.log(`node ${id}: ${damage.what}`);
    await n.restart({ wait: false });
    const exited = await waitUntil(10_000, () => n.pid === 0);
    const why = lastLogLines(n.logFile, 1);
    if (exited) {
      if (!why.includes(file)) x.anomaly(`corrupt-follower: node ${id} refused to start without naming ${file}: ${why.slice(0, 300)}`);
      else x.log(`node ${id} refused to start: ${why.slice(0, 200)}`);
    } else if (damage.mustRefuse) {
      x.anomaly(`corrupt-follower: node ${id} started on a damaged file (${damage.what})`);
    } else {
      // Random flips that all missed live data (free pages, unused cell area): the history shows whether it serves wrong data.
      x.log(`node ${id} started: the random flips hit no live row`);
    }
    await rebuild(x, id);
  }
}

/**
 * Kills, restarts, and lets the clients work for a while once a leader
 * serves again: restarting takes seconds on a loaded machine, and kills that
 * come faster than that leave a cluster that is always down (runs of a few
 * dozen operations, writes never acknowledged, nothing for a lost
 * acknowledged write to show up in).
 */
async function killLoop(x: FaultContext): Promise<void> {
  while (!x.done()) {
    await killSome(x);
    heal(x);
    const l = await waitUntil(15_000, () => x.c.leaderId(1000));
    x.log(l ? `leader ${l} serves again` : 'no leader within 15 s of the restart');
    await hold(x, 500, 1500);
  }
}

async function membershipChurn(x: FaultContext): Promise<void> {
  while (!x.done() && x.spareIds.length) {
    // A fault during the change half the time.
    const roll = x.rng.next();
    if (roll < 0.25) await majorityMinority(x);
    else if (roll < 0.5) void killSome(x);
    await replaceVoter(x);
    heal(x);
    await restartDead(x, await voters(x.c));
    await hold(x, 500, 1500);
  }
  while (!x.done()) await hold(x, 200, 400);
}

async function nemesis(x: FaultContext): Promise<void> {
  const faults = [isolateLeader, majorityMinority, bridge, oneWayLeader, slowLinks, pauseLeader, killSome];
  while (!x.done()) {
    const n = x.rng.int(1, 2);
    for (let i = 0; i < n; i++) await x.rng.pick(faults)(x);
    if (x.rng.next() < 0.1 && x.spareIds.length) await replaceVoter(x);
    await hold(x, 300, 2000);
    heal(x);
    await restartDead(x, await voters(x.c));
    await hold(x, 300, 1500);
  }
}

const E = [800, 2000] as [number, number];
const CALM = [300, 1200] as [number, number];

export const SCENARIOS: Scenario[] = [
  { name: 'leader-isolation', summary: 'the leader cut off from every other node, then healed', size: 3, run: (x) => cycle(x, isolateLeader, E, CALM) },
  { name: 'flip-flop', summary: 'random majority/minority partitions, changing every 0.5-1.5 s', size: 5, run: async (x) => { while (!x.done()) { await majorityMinority(x); await hold(x, 500, 1500); } } },
  { name: 'bridge', summary: 'two halves that each reach one bridge node but not each other (nontransitive)', size: 5, run: (x) => cycle(x, bridge, E, CALM) },
  { name: 'one-way', summary: "the leader's outgoing links cut, its incoming links kept", size: 3, run: (x) => cycle(x, oneWayLeader, E, CALM) },
  { name: 'pause-leader', summary: 'SIGSTOP the leader for 2-5 election timeouts, then SIGCONT', size: 3, run: (x) => cycle(x, pauseLeader, [0, 0], CALM) },
  { name: 'kill-loop', summary: 'SIGKILL one node, the leader, a majority or all nodes; restart after 0-3 election timeouts; work again once a leader serves', size: 3, run: killLoop },
  { name: 'rolling-restart', summary: 'SIGTERM and restart each node in turn, waiting for a leader each time', size: 3, run: async (x) => { while (!x.done()) await rollingRestart(x); } },
  { name: 'membership-churn', summary: 'replace voters (the leader half the time): remove, add learner, promote; under partitions and kills', size: 3, run: membershipChurn },
  { name: 'disk-full', summary: "node 3's data dir (a tmpfs) filled to ENOSPC, then space returned", size: 3, tmpfsNodes: [3], run: diskFull },
  { name: 'corrupt-follower', summary: "a stopped follower's database truncated or with flipped bytes; it must refuse to start, then is rebuilt from its peers", size: 3, run: corruptFollower },
  { name: 'slow-links', summary: 'latency and jitter on every link (up to half an election timeout), sometimes lossy', size: 3, run: (x) => cycle(x, slowLinks, [1000, 3000], CALM) },
  { name: 'clock-jump', summary: "one node's wall clock (the leader's or a follower's) jumped by ±minutes to ±days or run 0.25-4x, repeatedly, sometimes under a partition; a leader must serve after each jump, and retention by age must not follow the jumped clock", size: 3, env: CLOCK_JUMP_ENV, clockControl: true, run: clockJump, finalCheck: clockJumpFinalCheck },
  { name: 'nemesis', summary: 'a random combined schedule: partitions, bridges, one-way, latency, pauses, kills, membership changes', size: 5, run: nemesis },
];

export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown scenario "${name}"; one of: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}
