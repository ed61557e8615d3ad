// Starts the stack once, before any test worker exists, and exports
// NODE_EXTRA_CA_CERTS = Caddy's internal root CA so that every worker (and
// every process it spawns, like the CLI) trusts https://localhost:<port>
// the way a user's shell would after `export NODE_EXTRA_CA_CERTS=...`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { readStackInfo, startStack, stopPid, isAlive, type RunningStack } from '../src/stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: { dataDir: string; adminToken: string };
  }
}

let stack: RunningStack | undefined;
let dataDir: string | undefined;

export async function setup(project: TestProject) {
  dataDir = mkdtempSync(join(tmpdir(), 'flagraft-stack-'));
  const adminToken = `fr_test_${randomBytes(18).toString('base64url')}`;
  stack = await startStack({ dataDir, adminToken });
  if (!stack.info.caFile) {
    await stack.stop();
    throw new Error('Caddy did not start (is it installed? scripts/install-system-deps.sh installs it)');
  }
  process.env.NODE_EXTRA_CA_CERTS = stack.info.caFile;
  project.provide('stack', { dataDir, adminToken });
}

export async function teardown() {
  await stack?.stop();
  // Tests restart the stack: stop whatever launcher is running now, then its children.
  if (dataDir) {
    const info = readStackInfo(dataDir);
    if (info) {
      await stopPid(info.pid);
      for (const p of info.processes) if (isAlive(p.pid)) await stopPid(p.pid, 5_000);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}
