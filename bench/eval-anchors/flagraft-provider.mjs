// eval-anchors adapter for @flagraft/openfeature-provider: the in-process
// provider's evaluation path (FlagraftProvider.resolve: the synced copy +
// flag-model + OpenFeature resolution details), to time it side by side with
// flagd-core in the same harness run.
// Install as <harness>/engines/flagraft-provider.mjs, next to flagraft-engine.mjs installed as
// engines/flagraft.mjs (whose two flags it uses; see README.md next to this file).
//
// The provider normally fills its copy from the gateway (snapshot + stream);
// the harness forbids the network, so setup() installs the same two flags as a
// snapshot directly, exactly what the provider holds after a sync. Evaluation
// is the provider's own synchronous resolve(), as flagd-core is called on
// FlagdCore directly: the OpenFeature SDK around either (hooks, promises,
// context merging) is not measured. It imports the built dist/ from
// FLAGRAFT_PROVIDER_DIST = <repo>/packages/openfeature-provider/dist/index.js.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { STATIC_FLAG, RULED_FLAG, DEFAULT_VARIANT } from '../lib/spec.mjs';
import { nativeConfig } from './flagraft.mjs';

export const name = 'flagraft-provider';
export const packages = [];

function distEntry() {
  const entry = process.env.FLAGRAFT_PROVIDER_DIST;
  if (!entry) throw new Error('set FLAGRAFT_PROVIDER_DIST to <repo>/packages/openfeature-provider/dist/index.js');
  if (!existsSync(resolve(entry))) throw new Error(`${entry} does not exist: build @flagraft/openfeature-provider first`);
  return resolve(entry);
}

// The two flags of lib/spec.mjs in flagraft's format: the engine adapter's, installed beside this one.
export { nativeConfig };

export async function setup() {
  const { FlagraftProvider } = await import(pathToFileURL(distEntry()).href);
  // Never initialized: no connection is made (the harness counts any attempt).
  const provider = new FlagraftProvider({ url: 'http://127.0.0.1:9', token: 'unused' });
  const stored = (flag) => ({ flag, createRevision: 1, modRevision: 1, version: 1, updatedAt: 0, updatedBy: 'bench' });
  const cfg = nativeConfig();
  provider.store.install({ revision: 1, flags: [stored(cfg[STATIC_FLAG]), stored(cfg[RULED_FLAG])], segments: [] });
  return {
    evalStatic: (ctx) => provider.resolve(STATIC_FLAG, false, ctx).value,
    evalRuled: (ctx) => provider.resolve(RULED_FLAG, DEFAULT_VARIANT, ctx).value,
    details: (ctx) => provider.resolve(RULED_FLAG, DEFAULT_VARIANT, ctx),
  };
}
