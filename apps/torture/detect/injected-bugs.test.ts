// Each injected bug (FLAGRAFT_INJECT_BUG on every node) is caught by the
// scenario meant for it within MAX_RUNS runs of RUN_MS: the harness is shown
// to see lost acknowledged writes, reads that skip ReadIndex and phantom
// applies, not only to pass clean runs. The same as
// `node dist/cli.js --bug B --scenario S --runs 4 --duration 10s --until-anomaly`.
// Measured runs-to-detection: docs/TORTURE.md.
//
// Not part of `pnpm test` (CI): whether a run catches a bug depends on where
// real kills and partitions land in real time (ack-before-fsync is lost only
// when a majority dies inside its 1 s window), so a fixed number of runs
// catches it with high probability, not certainty, and CI must not be flaky.
// Run it as `pnpm --filter @flagraft/torture detect-bugs` (about 5 minutes).
import { describe, expect, it } from 'vitest';
import { formatReport, runScenario, type RunReport } from '../src/index.js';

const MAX_RUNS = 4;
const RUN_MS = 10_000;
const PLAN: [bug: string, scenario: string][] = [
  ['ack-before-fsync', 'kill-loop'],
  ['read-without-readindex', 'leader-isolation'],
  ['apply-uncommitted', 'flip-flop'],
];

describe(`injected bugs are caught within ${MAX_RUNS} runs of ${RUN_MS / 1000} s`, () => {
  for (const [bug, scenario] of PLAN) {
    it(`${bug} by ${scenario}`, async () => {
      const seen: RunReport[] = [];
      for (let seed = 1; seed <= MAX_RUNS; seed++) {
        const r = await runScenario({ scenario, seed, durationMs: RUN_MS, injectBug: bug });
        seen.push(r);
        // Caught = the history or a stream is wrong (not merely a harness complaint about progress).
        if (r.failures.length) return;
      }
      expect.fail(`${bug} not caught by ${scenario} in ${MAX_RUNS} runs:\n${seen.map(formatReport).join('\n\n')}`);
    }, MAX_RUNS * 90_000);
  }
});
