#!/usr/bin/env node
// The README's two Quick-start commands land here (`npm start`, `npm test`).
// A fresh machine has only Node.js 20 and npm: we put a pinned pnpm into
// .tools/ (no global install, no corepack signature trouble), install the
// workspace from the committed lockfile, then hand over to turbo.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PNPM_VERSION = '10.34.9';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const toolsBin = join(root, '.tools', 'node_modules', '.bin');
const env = {
  ...process.env,
  PATH: `${toolsBin}:${join(root, 'node_modules', '.bin')}:${process.env.PATH}`,
  TURBO_TELEMETRY_DISABLED: '1',
  DO_NOT_TRACK: '1',
  npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr',
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`quickstart: '${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

function ensurePnpm() {
  if (existsSync(join(toolsBin, 'pnpm'))) return;
  console.log(`quickstart: installing pnpm@${PNPM_VERSION} into .tools/`);
  run('npm', ['install', '--no-audit', '--no-fund', '--prefix', join(root, '.tools'), `pnpm@${PNPM_VERSION}`]);
}

const mode = process.argv[2] ?? 'test';
const extra = process.argv.slice(3);
ensurePnpm();
run('pnpm', ['install', '--frozen-lockfile']);
if (mode === 'test') {
  // The stack and dashboard tests need Debian's caddy and chromium; the
  // script installs them when missing (root) and is silent otherwise.
  run('bash', [join(root, 'scripts', 'install-system-deps.sh')]);
  run('pnpm', ['exec', 'turbo', 'run', 'test', '--concurrency=1', '--continue', '--log-order=grouped', ...extra]);
} else if (mode === 'start') {
  run('pnpm', ['exec', 'turbo', 'run', 'build']);
  run('node', [join(root, 'scripts', 'start.mjs'), ...extra]);
} else {
  console.error(`quickstart: unknown mode '${mode}' (use start or test)`);
  process.exit(2);
}
