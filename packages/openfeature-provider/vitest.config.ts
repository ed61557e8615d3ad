import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 90_000,
    hookTimeout: 120_000,
    // Integration files each start a real 3-node cluster; one at a time on a 2-core machine.
    fileParallelism: false,
  },
});
