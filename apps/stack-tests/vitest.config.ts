import { defineConfig } from 'vitest/config';

// One stack for the whole run: global-setup starts it (scripts/start.mjs, as
// `npm start` does) before the test workers exist, so they inherit
// NODE_EXTRA_CA_CERTS pointing at Caddy's internal root CA.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 240_000,
  },
});
