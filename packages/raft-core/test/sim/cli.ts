// pnpm --filter @flagraft/raft-core sim -- --seeds 1000 [--start N] [--seed N] [--bug NAME] [--fault-units N] [--no-history] [--no-rule-checks] [--verbose] [--dump]
// Runs seeds, prints totals (faults by kind, elections, snapshots,
// membership changes, client ops checked for linearizability and the time
// that check took, violations) and, for any failing seed, the one command
// that replays it.
import { Simulation, type ClientBug, type SimStats } from './simulator.js';
import { newSimStats } from './sim-types.js';
import { BUGS, CLIENT_BUGS, type BugName } from './bugs.js';

interface Args {
  seeds: number;
  start: number;
  seed?: number;
  bug?: BugName | ClientBug;
  /** Skip the client-history linearizability check (to measure its cost). */
  noHistory: boolean;
  /** Skip the membership rule checks (only their consequences are checked). */
  noRuleChecks: boolean;
  faultUnits?: number;
  verbose: boolean;
  /** Print every node's final status (for replaying one seed). */
  dump: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { seeds: 100, start: 1, verbose: false, dump: false, noHistory: false, noRuleChecks: false };
  const bugNames = [...Object.keys(BUGS), ...CLIENT_BUGS];
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer, got ${String(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    if (f === '--') continue;
    if (f === '--seeds') a.seeds = num(f, argv[++i]);
    else if (f === '--start') a.start = num(f, argv[++i]);
    else if (f === '--seed') a.seed = num(f, argv[++i]);
    else if (f === '--fault-units') a.faultUnits = num(f, argv[++i]);
    else if (f === '--bug') {
      const b = argv[++i] as BugName | ClientBug;
      if (!bugNames.includes(b)) throw new Error(`--bug must be one of ${bugNames.join(', ')}, got ${String(b)}`);
      a.bug = b;
    } else if (f === '--no-history') a.noHistory = true;
    else if (f === '--no-rule-checks') a.noRuleChecks = true;
    else if (f === '--verbose') a.verbose = true;
    else if (f === '--dump') a.dump = true;
    else throw new Error(`unknown flag ${f} (use --seeds N, --start N, --seed N, --bug NAME, --fault-units N, --no-history, --no-rule-checks, --verbose, --dump)`);
  }
  return a;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const seeds = args.seed !== undefined ? [args.seed] : Array.from({ length: args.seeds }, (_, i) => args.start + i);
  const totals: SimStats = newSimStats();
  let historyMs = 0;
  const failures: { seed: number; time: number; kind: string; detail: string }[] = [];
  const t0 = performance.now();
  let done = 0;
  for (const seed of seeds) {
    const raftBug = args.bug && args.bug in BUGS ? BUGS[args.bug as BugName] : undefined;
    const clientBug = args.bug && (CLIENT_BUGS as readonly string[]).includes(args.bug) ? (args.bug as ClientBug) : undefined;
    const sim = new Simulation({ seed, faultUnits: args.faultUnits, makeRawNode: raftBug, clientBug, checkHistory: false, membershipRuleChecks: !args.noRuleChecks });
    const r = sim.run();
    if (!args.noHistory) {
      // Same check run() does by default, timed on its own so its cost per seed is reported.
      const h0 = performance.now();
      sim.checkClientHistory();
      historyMs += performance.now() - h0;
      totals.historyMaxKeySteps = Math.max(totals.historyMaxKeySteps, sim.stats.historyMaxKeySteps);
    }
    if (args.dump) {
      for (const n of sim.nodes.values()) {
        console.log(JSON.stringify({ node: n.id, up: n.up, decommissioned: n.decommissioned, status: n.raw?.status() }));
      }
    }
    for (const [k, v] of Object.entries(r.stats.faults)) totals.faults[k] = (totals.faults[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.stats.confChangesProposed)) totals.confChangesProposed[k] = (totals.confChangesProposed[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.stats.clientOps)) totals.clientOps[k] = (totals.clientOps[k] ?? 0) + v;
    for (const k of ['elections', 'snapshotsCreated', 'snapshotsInstalled', 'membershipChanges', 'writesCommitted', 'readsChecked', 'transfers', 'messagesDelivered', 'historyOps', 'historyPending', 'stabilityWindows', 'stabilityWindowsWithCampaigns', 'removedCampaignSteps', 'disruptionsWithoutCheckQuorum'] as const) {
      totals[k] += r.stats[k];
    }
    // Largest backlog a healed cluster had to catch up on, and the bound it got for it.
    if (r.stats.livenessBacklog > totals.livenessBacklog) {
      totals.livenessBacklog = r.stats.livenessBacklog;
      totals.livenessBound = r.stats.livenessBound;
    }
    if (args.verbose) console.log(JSON.stringify({ seed, params: r.params, stats: r.stats, violations: r.violations }));
    for (const v of r.violations) {
      failures.push({ seed, time: v.time, kind: v.kind, detail: v.detail });
      if (seeds.length >= 1000) console.error(`VIOLATION seed=${seed} time=${v.time} ${v.kind}: ${v.detail}`);
    }
    done++;
    if (seeds.length >= 1000 && done % 500 === 0) {
      console.error(JSON.stringify({ progress: done, of: seeds.length, violations: failures.length, seconds: Math.round((performance.now() - t0) / 1000) }));
    }
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify(
      {
        seedsRun: seeds.length,
        bug: args.bug ?? null,
        seconds: Number(secs.toFixed(1)),
        secondsPer1000Seeds: Number(((secs * 1000) / seeds.length).toFixed(1)),
        faultsInjected: totals.faults,
        elections: totals.elections,
        snapshotsCreated: totals.snapshotsCreated,
        snapshotsInstalled: totals.snapshotsInstalled,
        membershipChanges: totals.membershipChanges,
        membershipChangesProposed: totals.confChangesProposed,
        leaderTransfers: totals.transfers,
        largestLivenessBacklog: { entries: totals.livenessBacklog, boundUnits: totals.livenessBound },
        disruptiveServerWindows: {
          checked: totals.stabilityWindows,
          withRemovedServerCampaigning: totals.stabilityWindowsWithCampaigns,
          campaignSteps: totals.removedCampaignSteps,
          disruptedWithoutCheckQuorum: totals.disruptionsWithoutCheckQuorum,
        },
        committedEntries: totals.writesCommitted,
        linearizableReadsChecked: totals.readsChecked,
        historyCheck: args.noHistory
          ? 'off'
          : { clientOps: totals.historyOps, pendingOps: totals.historyPending, byKind: totals.clientOps, maxSearchStepsPerPartition: totals.historyMaxKeySteps, seconds: Number((historyMs / 1000).toFixed(2)), secondsPer100Seeds: Number(((historyMs / 10) / seeds.length).toFixed(2)) },
        messagesDelivered: totals.messagesDelivered,
        violations: failures.length,
      },
      null,
      2,
    ),
  );
  const failedSeeds = [...new Set(failures.map((f) => f.seed))];
  for (const f of failures.slice(0, 20)) console.log(`VIOLATION seed=${f.seed} time=${f.time} ${f.kind}: ${f.detail}`);
  for (const s of failedSeeds.slice(0, 20)) {
    console.log(`replay: pnpm --filter @flagraft/raft-core sim -- --seed ${s}${args.bug ? ` --bug ${args.bug}` : ''}${args.faultUnits ? ` --fault-units ${args.faultUnits}` : ''}${args.noRuleChecks ? ' --no-rule-checks' : ''} --verbose`);
  }
  console.log(`${seeds.length - failedSeeds.length} passed, ${failedSeeds.length} failed`);
  if (failures.length > 0 && !args.bug) process.exitCode = 1;
}

main();
