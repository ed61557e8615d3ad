// The healing phase of a simulated run (TigerBeetle's VOPR does the same):
// every fault stops, the network heals, crashed nodes restart, and the
// cluster must elect a leader, commit a write, serve a linearizable read and
// bring every member up to that write within a bound that grows with the
// backlog the fault phase left. Then, where the seed kept removed servers
// running, the healthy cluster must not be disrupted by them (thesis §4.2.3).
import { StateType } from '../../src/index.js';
import { ELECTION_TICK, TICK_UNITS, type SimNode } from './sim-types.js';
import type { Simulation } from './simulator.js';

/** After healing, a leader, a commit and a read must happen within this. Unit: time units (= 500 ticks). */
export const DEFAULT_LIVENESS_UNITS = 5000;
/** In the liveness phase a client retries a read that got no answer within this. Unit: time units (= 50 ticks). */
export const LIVENESS_READ_RETRY_UNITS = 500;
/** Message delay bound while the liveness phase runs (the healed network). Unit: time units. */
export const LIVENESS_MAX_DELAY_UNITS = 5;
/** Slack factor on the time the backlog needs at the seed's replication and apply limits. */
export const LIVENESS_BACKLOG_SLACK = 2;
/** The liveness bound never exceeds this, however large the backlog. Unit: time units. */
export const MAX_LIVENESS_UNITS = 500_000;
/** Bytes one simulator entry takes against the size limits (16-byte header + a small JSON command). */
const SIM_ENTRY_BYTES = 48;
/** A healed cluster with removed servers still running must keep its leader and term this long. Unit: time units (= 100 ticks, 10 election timeouts). */
export const STABILITY_UNITS = 1000;

/**
 * The liveness bound: `base`, plus the time the backlog needs at this
 * seed's limits (a seed with one entry per message, one message in flight
 * and a slow apply moves a few entries per round trip, and a long fault
 * phase leaves thousands behind: it is still progressing, not stuck).
 * backlog = highest last index of any running member - lowest applied index;
 * per entry: a round trip (2 * delay + 2) / (entries per message * messages
 * in flight), plus the apply (entries per Ready at maxCommittedSizePerReady,
 * one Ready per node per time unit); times LIVENESS_BACKLOG_SLACK.
 */
export function livenessBound(sim: Simulation, base: number): { bound: number; backlog: number } {
  let maxLast = 0;
  let minApplied = Infinity;
  for (const n of sim.nodes.values()) {
    if (n.decommissioned || n.removed) continue;
    maxLast = Math.max(maxLast, n.storage.lastIndex());
    minApplied = Math.min(minApplied, n.applied);
  }
  const backlog = Math.max(0, maxLast - (minApplied === Infinity ? maxLast : minApplied));
  const p = sim.params;
  const perMsg = Math.max(1, Math.min(p.maxEntriesPerMsg, Math.floor(p.maxSizePerMsg / SIM_ENTRY_BYTES)));
  const readyEvery = p.slowNode > 0 ? p.slowReadyEvery : 1;
  const perReady = p.maxCommittedSizePerReady > 0 ? Math.max(1, Math.floor(p.maxCommittedSizePerReady / SIM_ENTRY_BYTES)) : Infinity;
  // The slow node also persists and answers only every readyEvery units: each round trip to it takes that much longer.
  const replicate = (2 * Math.min(p.maxDelay, LIVENESS_MAX_DELAY_UNITS) + 2 + readyEvery) / (perMsg * p.maxInflightMsgs);
  const apply = readyEvery / perReady;
  const extra = Math.ceil(backlog * (replicate + apply) * LIVENESS_BACKLOG_SLACK);
  return { bound: Math.min(MAX_LIVENESS_UNITS, base + extra), backlog };
}

/** Heal everything and require progress within the bound. */
export function checkLiveness(sim: Simulation, bound: number): boolean {
  sim.faultsOn = false;
  sim.net.healAll();
  sim.net.faults = { dropRate: 0, dupRate: 0, maxDelay: Math.min(sim.params.maxDelay, LIVENESS_MAX_DELAY_UNITS) };
  for (const n of sim.nodes.values()) if (!n.up && !n.decommissioned) n.restartAt = sim.now;
  // Each attempt writes its own value (a history names writes by value).
  let attempt = 0;
  let marker = '';
  let proposed: { index: number; node: SimNode } | undefined;
  let readCtx: { ctx: string; node: SimNode; at: number } | undefined;
  const until = sim.now + bound;
  while (sim.now < until) {
    sim.step();
    if (sim.checker.violations.length > 0) return true;
    const c = proposed && sim.checker.committed.get(proposed.index);
    if (c && proposed && c.data === JSON.stringify({ k: 'live', v: marker })) {
      // Committed; now a linearizable read through the leader must complete too.
      const l = sim.leader();
      if (!readCtx && l) {
        const ctx = sim.tryRead(l, 'live');
        if (ctx) readCtx = { ctx, node: l, at: sim.now };
      }
      if (readCtx && !readCtx.node.reads.has(readCtx.ctx)) {
        if (!readCtx.node.up) readCtx = undefined;
        else if (laggingMember(sim, proposed!.index) === undefined) return true;
      } else if (readCtx && sim.now - readCtx.at > LIVENESS_READ_RETRY_UNITS) {
        // The read was lost with a leader change: the client times out and retries.
        readCtx.node.reads.delete(readCtx.ctx);
        readCtx = undefined;
      }
      continue;
    }
    if (c || !proposed || !proposed.node.up || sim.now % 100 === 0) {
      const l = sim.leader();
      if (l && (!proposed || c || sim.now % 100 === 0)) {
        const v = `live${sim.opts.seed}.${++attempt}`;
        const idx = sim.tryWrite(l, { k: 'live', v });
        if (idx !== undefined) {
          proposed = { index: idx, node: l };
          marker = v;
        }
      }
    }
  }
  const l = sim.leader();
  const lag = proposed ? laggingMember(sim, proposed.index) : undefined;
  sim.checker.violate(
    'liveness',
    `after healing, no commit + read + every member caught up within ${bound} time units (leader: ${l ? `${l.id} term ${l.raw!.raft.term}` : 'none'}, marker proposed: ${proposed ? proposed.index : 'no'}${lag ? `, lagging: ${lag}` : ''})`,
  );
  return false;
}

/**
 * Thesis §4.2.3, disruptive servers: removed servers that keep running (and
 * campaigning, if they never learned they were removed) must not depose
 * the leader of a healthy cluster. The protection is the rule "a server
 * that heard from a leader within the minimum election timeout ignores vote
 * requests", which raft-core (like etcd) applies with CheckQuorum; PreVote
 * alone compares logs, and a removed server's log can be up to date (the
 * thesis says as much; 1 disruption in 150 such seeds here). apps/consensus-node
 * runs both. So: when the seed keeps removed servers running, after liveness
 * and with no conf change or transfer in flight, the leader and every
 * member's term must stay put for STABILITY_UNITS if CheckQuorum is on; a
 * disruption without CheckQuorum is only counted (stats.disruptionsWithoutCheckQuorum:
 * the proof that this check can fail).
 */
export function checkRemovedServersDoNotDisrupt(sim: Simulation): void {
  const p = sim.params;
  if (!p.keepRemovedRunning) return;
  if (![...sim.nodes.values()].some((n) => n.removed && n.up)) return;
  // Settle first: conf changes and transfers proposed before healing may still be in flight.
  const quiet = (): SimNode | undefined => {
    const l = sim.leader();
    if (!l) return undefined;
    const r = l.raw!.raft;
    const confPending = r.pendingConfIndex > r.raftLog.applied || r.trk.config.voters.isJoint();
    return confPending || r.leadTransferee !== 0 || r.raftLog.applied < r.raftLog.lastIndex() ? undefined : l;
  };
  const settleUntil = sim.now + 20 * ELECTION_TICK * TICK_UNITS;
  let l = quiet();
  while (!l && sim.now < settleUntil) {
    sim.step();
    if (sim.checker.violations.length > 0) return;
    l = quiet();
  }
  if (!l) return;
  const lead = l.id;
  const term = l.raw!.raft.term;
  const members = new Set(l.raw!.raft.trk.config.voters.ids());
  for (const id of l.raw!.raft.trk.config.learners) members.add(id);
  sim.stats.stabilityWindows++;
  const campaignsBefore = sim.stats.removedCampaignSteps;
  const until = sim.now + STABILITY_UNITS;
  while (sim.now < until) {
    sim.step();
    if (sim.checker.violations.length > 0) return;
    for (const n of sim.upNodes()) {
      const r = n.raw!.raft;
      if (n.removed && (r.state === StateType.PreCandidate || r.state === StateType.Candidate)) sim.stats.removedCampaignSteps++;
      if (!members.has(n.id)) continue;
      if (r.term !== term || (n.id === lead && r.state !== StateType.Leader)) {
        if (!p.checkQuorum) {
          sim.stats.disruptionsWithoutCheckQuorum++;
          return;
        }
        const running = [...sim.nodes.values()].filter((x) => x.removed && x.up).map((x) => `${x.id} (term ${x.raw!.raft.term}, ${x.raw!.raft.state})`);
        sim.checker.violate(
          'disruptive-server',
          `healthy cluster led by ${lead} in term ${term} was disrupted: member ${n.id} is now ${r.state} in term ${r.term} (removed servers running: ${running.join(', ')}; preVote ${p.preVote}, checkQuorum ${p.checkQuorum})`,
        );
        return;
      }
    }
  }
  if (sim.stats.removedCampaignSteps > campaignsBefore) sim.stats.stabilityWindowsWithCampaigns++;
}

/** A member of the leader's configuration that has not applied `index` yet (described), or undefined if all have. */
function laggingMember(sim: Simulation, index: number): string | undefined {
  const l = sim.leader();
  if (!l) return 'no leader';
  const cs = l.raw!.raft.trk.confState();
  for (const id of new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext])) {
    const n = sim.nodes.get(id);
    if (!n || n.decommissioned) continue;
    if (!n.up || n.applied < index) return `node ${id} applied ${n.applied}${n.up ? '' : ' (down)'}`;
  }
  return undefined;
}
