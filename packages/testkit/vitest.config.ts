import { defineConfig } from 'vitest/config';

// test/real-cluster.test.ts starts real node processes (apps/consensus-node
// must be built: turbo builds it before this package's tests).
export default defineConfig({
  test: { include: ['src/**/*.test.ts', 'test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 90_000 },
});
