import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // vitest's default is one core less than the machine has: one worker on the
    // 2-core CI machine, so these pure-CPU files ran one after another. They
    // start no processes and share nothing: use every core.
    maxWorkers: availableParallelism(),
  },
});
