/**
 * Base vite config (client build). The Node adapter build
 * (adapters/node-server/vite.config.ts) extends it for the server bundle.
 */
import { defineConfig, type UserConfig } from 'vite';
import { qwikVite } from '@builder.io/qwik/optimizer';
import { qwikCity } from '@builder.io/qwik-city/vite';
import { fileURLToPath } from 'node:url';
import pkg from './package.json';

// The Qwik starter insists: qwik packages must be devDependencies (they are
// bundled), never runtime dependencies of the server.
const deps = Object.keys((pkg as { dependencies?: Record<string, string> }).dependencies ?? {});
if (deps.some((d) => /qwik/i.test(d))) throw new Error('Move qwik packages to devDependencies');

export default defineConfig((): UserConfig => ({
  // trailingSlash false: /health and /flags/x, as the README and Caddy expect.
  // inlineStylesUpToBytes 0: global.css is served as a file, never inlined as a
  // <style> element Qwik would render without the CSP nonce (src/server/security-headers.ts).
  // entryStrategy 'segment': one chunk per Qwik segment. The default ('smart')
  // merged qwik-city with zod, live.ts and the whole flag editor into one
  // chunk that the flag list loaded for its live WebSocket: 143 KB of JS on
  // first load (57 KB gzip) against 99 KB (46 KB gzip) now, under the 50 KB
  // budget test/ux.e2e.test.ts holds (issue 16 item 5).
  plugins: [qwikCity({ trailingSlash: false }), qwikVite({ entryStrategy: { type: 'segment' }, optimizerOptions: { inlineStylesUpToBytes: 0 } })],
  resolve: { alias: { '~': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: { headers: { 'Cache-Control': 'public, max-age=0' } },
  preview: { headers: { 'Cache-Control': 'public, max-age=600' } },
}));
