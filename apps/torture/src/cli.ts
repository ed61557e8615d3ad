// pnpm --filter @flagraft/torture torture -- --scenario S --seed N --duration 60s [--runs R] [--bug B] [--out DIR]
// --scenario all runs every scenario; --runs R runs seeds N..N+R-1. Exit code 1 when any run found an anomaly.
// --node-log-level L: FLAGRAFT_LOG_LEVEL of the nodes (debug, info, warn (default), error).
// --keep anomaly|always: keep the cluster's base dir (node-N.log per node, data dirs) of anomalous runs or of every run.
// --until-anomaly (with --bug: proving the harness catches an injected bug): stops at the first anomaly, prints
// how many runs it took, exit code 0 when one was found within --runs runs, 1 when none was.
import { appendFileSync } from 'node:fs';
import { NODE_LOG_LEVELS, type NodeLogLevel } from './cluster.js';
import { runScenario, type RunReport } from './run.js';
import { SCENARIOS } from './scenarios.js';
import { campaignRows, formatReport } from './report.js';

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) throw new Error(`--duration "${s}": expected e.g. 60s, 500ms, 2m`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') continue;
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    // A switch (--quiet, --until-anomaly) may stand alone: then its value is "1".
    else if (argv[i + 1] === undefined || argv[i + 1].startsWith('--')) out[a.slice(2)] = '1';
    else out[a.slice(2)] = argv[++i];
  }
  return out;
}

const KNOWN = new Set(['scenario', 'seed', 'duration', 'runs', 'bug', 'out', 'clients', 'jsonl', 'quiet', 'until-anomaly', 'node-log-level', 'keep']);

async function main(): Promise<number> {
  const a = parseArgs(process.argv.slice(2));
  for (const k of Object.keys(a)) if (!KNOWN.has(k)) throw new Error(`unknown option --${k} (known: ${[...KNOWN].join(', ')})`);
  const names = !a.scenario || a.scenario === 'all' ? SCENARIOS.map((s) => s.name) : a.scenario.split(',');
  const seed = Number(a.seed ?? 1);
  const runs = Number(a.runs ?? 1);
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(runs) || runs < 1) throw new Error('--seed and --runs must be integers (runs >= 1)');
  const durationMs = parseDuration(a.duration ?? '60s');
  const nodeLogLevel = a['node-log-level'];
  if (nodeLogLevel !== undefined && !(NODE_LOG_LEVELS as readonly string[]).includes(nodeLogLevel)) throw new Error(`--node-log-level "${nodeLogLevel}": expected one of ${NODE_LOG_LEVELS.join(', ')}`);
  // A bare --keep keeps the anomalous runs' dirs.
  const keep = a.keep === '1' ? 'anomaly' : a.keep;
  if (keep !== undefined && keep !== 'anomaly' && keep !== 'always') throw new Error(`--keep "${keep}": expected anomaly or always`);
  const reports: RunReport[] = [];
  for (let r = 0; r < runs; r++) {
    for (const scenario of names) {
      const report = await runScenario({
        scenario, seed: seed + r, durationMs, injectBug: a.bug || undefined, outDir: a.out,
        clients: a.clients ? Number(a.clients) : undefined,
        nodeLogLevel: nodeLogLevel as NodeLogLevel | undefined, keep,
        onLine: a.quiet ? undefined : (l) => process.stdout.write(`  ${l}\n`),
      });
      reports.push(report);
      process.stdout.write(formatReport(report) + '\n\n');
      if (a.jsonl) appendFileSync(a.jsonl, JSON.stringify({ ...report, schedule: undefined }) + '\n');
      if (a['until-anomaly'] && report.verdict !== 'ok') {
        process.stdout.write(`caught${a.bug ? ` ${a.bug}` : ''} after ${reports.length} run(s) (seed ${report.seed})\n`);
        return 0;
      }
    }
  }
  if (a['until-anomaly']) {
    process.stdout.write(`not caught in ${reports.length} run(s)\n`);
    return 1;
  }
  if (reports.length > 1) {
    process.stdout.write('| scenario | runs | operations | anomalies | seeds |\n| --- | --- | --- | --- | --- |\n');
    for (const row of campaignRows(reports)) process.stdout.write(`| ${row.scenario} | ${row.runs} | ${row.ops} | ${row.anomalies} | ${row.seeds} |\n`);
  }
  return reports.some((r) => r.verdict !== 'ok') ? 1 : 0;
}

// Ctrl-C / SIGTERM: leave through process.exit, so testkit's exit hooks stop
// every node and gateway by PID (a signal's default action ends this process
// without running them and left whole clusters running).
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`torture: ${sig}: stopping the cluster\n`);
    process.exit(130);
  });
}

main().then((code) => process.exit(code), (e: Error) => {
  process.stderr.write(`torture: ${e.message}\n`);
  process.exit(2);
});
