import { defineConfig } from 'vitest/config';

// One scenario at a time: each starts its own cluster of real processes on a 2-core machine.
export default defineConfig({
  test: { include: ['src/**/*.test.ts', 'test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000, fileParallelism: false },
});
