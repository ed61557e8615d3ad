// Evaluation throughput on one thread: `pnpm --filter @flagraft/flag-model bench`.
// Options: --rounds N (default 5), --round-ms MS (default 1000).
//
// Flags are the ones of the eval-anchors harness (shared/bench/eval-anchors):
//   static: a boolean flag, on, no rules;
//   ruled:  5 rules x 3 conditions (country in list, plan equals, appVersion
//           semver >=) and a 50/30/20 rollout in rule 5. The benchmark context
//           fails rules 1-4 (on their 1st, 2nd, 3rd, 3rd condition) and reaches
//           the rollout: 12 condition checks, 3 semver comparisons, 1 hash.
// The timed loop cycles through 10,000 pre-built contexts with distinct user
// ids, through the public evaluate() (which looks the compiled flag up in its
// WeakMap on every call, as the gateway does). Prints the median of the rounds
// (wall clock) and evals per CPU-second of this process, which a busy machine
// distorts less; for a pinned, interleaved comparison use bench/eval-anchors.
import { loadavg } from 'node:os';
import { evaluate, validateFlag, type FlagDefinition, type EvaluationContext } from '../src/index.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ROUNDS = opt('--rounds', 5);
const ROUND_MS = opt('--round-ms', 1000);
const WARMUP_EVALS = 200_000;
const POOL = 10_000;

const RULES = [
  { country: ['US', 'CA', 'MX'], plan: 'enterprise', minVersion: '1.0.0', serve: 'blue' },
  { country: ['DE', 'FR', 'ES', 'IT'], plan: 'enterprise', minVersion: '2.0.0', serve: 'green' },
  { country: ['DE', 'AT', 'CH'], plan: 'pro', minVersion: '3.0.0', serve: 'blue' },
  { country: ['GB', 'IE', 'DE'], plan: 'pro', minVersion: '2.6.0', serve: 'green' },
  { country: ['DE', 'FR', 'GB', 'US', 'NL', 'AT'], plan: 'pro', minVersion: '2.0.0', rollout: [['red', 50], ['green', 30], ['blue', 20]] as [string, number][] },
];

const staticFlag: FlagDefinition = validateFlag({
  key: 'bench-static', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true,
});
const ruledFlag: FlagDefinition = validateFlag({
  key: 'bench-ruled', type: 'string', variants: { red: 'red', green: 'green', blue: 'blue' }, defaultVariant: 'red', enabled: true,
  rules: RULES.map((r) => ({
    conditions: [
      { attribute: 'country', op: 'in', value: r.country },
      { attribute: 'plan', op: 'equals', value: r.plan },
      { attribute: 'appVersion', op: 'semverGte', value: r.minVersion },
    ],
    ...(r.rollout ? { rollout: { weights: r.rollout.map(([variant, weight]) => ({ variant, weight })) } } : { variant: r.serve }),
  })),
});

function ids(n: number): string[] {
  let a = 0x5eed;
  const r = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return Array.from({ length: n }, () => [r(), r(), r(), r()].map((x) => x.toString(16).padStart(8, '0')).join('-'));
}
const contexts: EvaluationContext[] = ids(POOL).map((id, i) => ({ targetingKey: id, country: 'DE', plan: 'pro', appVersion: `2.${i % 6}.${(i * 7) % 10}` }));
const noSegments = () => undefined;

let sink = 0;
function run(flag: FlagDefinition, key: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const r = evaluate(flag, key, contexts[i % POOL], noSegments);
    sink += r.reason.length;
  }
}

interface Figures { median: number; min: number; max: number; perCpuSecond: number }

/** Rounds of ROUND_MS wall time; also evals per second of this process's own CPU time (robust to a busy machine). */
function measure(flag: FlagDefinition, key: string): Figures {
  run(flag, key, WARMUP_EVALS);
  const rates: number[] = [];
  const cpuRates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let n = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const end = t0 + BigInt(ROUND_MS) * 1_000_000n;
    let now = t0;
    while (now < end) {
      run(flag, key, 10_000);
      n += 10_000;
      now = process.hrtime.bigint();
    }
    const cpu = process.cpuUsage(cpu0);
    rates.push(n / (Number(now - t0) / 1e9));
    cpuRates.push(n / ((cpu.user + cpu.system) / 1e6));
  }
  const med = (a: number[]) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return { median: med(rates), min: Math.min(...rates), max: Math.max(...rates), perCpuSecond: med(cpuRates) };
}

// Sanity: the benchmark context reaches the rollout (reason SPLIT), so the work measured is the intended one.
const probe = evaluate(ruledFlag, 'bench-ruled', contexts[0], noSegments);
if (probe.reason !== 'SPLIT') throw new Error(`ruled flag did not reach the rollout: ${JSON.stringify(probe)}`);

const fmt = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(1)}k`);
console.log(`node ${process.version}, ${ROUNDS} rounds x ${ROUND_MS} ms, warm-up ${WARMUP_EVALS}, pool ${POOL} contexts, loadavg ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const [name, flag, key, target] of [['static', staticFlag, 'bench-static', 1_000_000], ['ruled (5 rules x 3 conditions + rollout)', ruledFlag, 'bench-ruled', 300_000]] as const) {
  const m = measure(flag, key);
  console.log(`${name}: ${fmt(m.median)} evals/s median (${Math.round(1e9 / m.median)} ns/eval; min ${fmt(m.min)}, max ${fmt(m.max)}; ` +
    `${fmt(m.perCpuSecond)} evals per CPU-second); target ${fmt(target)}: ${m.median >= target ? 'met' : 'NOT met'}`);
}
if (sink === 42) console.log(''); // keeps the results observable
