import { defineConfig } from 'vitest/config';

// The injected-bug detection runs (detect/): probabilistic on real timing, so
// kept out of `pnpm test`; see detect/injected-bugs.test.ts.
export default defineConfig({
  test: { include: ['detect/**/*.test.ts'], testTimeout: 400_000, hookTimeout: 60_000, fileParallelism: false },
});
