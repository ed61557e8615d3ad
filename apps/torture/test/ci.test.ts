// CI's fixed set: every scenario once, seed 1, a few seconds of faults each,
// against real processes. runScenario stops every process and unmounts every
// tmpfs in finally; disk-full fails (not skips) when a tmpfs cannot be mounted.
import { describe, expect, it } from 'vitest';
import { SCENARIOS, formatReport, runScenario } from '../src/index.js';

describe('torture scenarios (seed 1, 4 s each)', () => {
  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const r = await runScenario({ scenario: s.name, seed: 1, durationMs: 4000, minCompletedOps: 60 });
      expect(r.completed, formatReport(r)).toBeGreaterThanOrEqual(60);
      expect(r.verdict, formatReport(r)).toBe('ok');
    }, 90_000);
  }
});
