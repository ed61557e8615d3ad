// eval-anchors adapter for flagraft's engine (@flagraft/flag-model), to time it
// side by side with flagd-core, Unleash and GrowthBook in the same harness.
// Install as <harness>/engines/flagraft.mjs (see README.md next to this file).
//
// Copy it (do not symlink: it imports the harness's ../lib/spec.mjs). It
// imports the package's built dist/ (run `pnpm --filter @flagraft/flag-model
// build` first) from FLAGRAFT_FLAG_MODEL_DIST = <repo>/packages/flag-model/dist/index.js.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { STATIC_FLAG, RULED_FLAG, VARIANTS, DEFAULT_VARIANT, RULES } from '../lib/spec.mjs';

export const name = 'flagraft';
export const packages = [];

function distEntry() {
  const entry = process.env.FLAGRAFT_FLAG_MODEL_DIST;
  if (!entry) throw new Error('set FLAGRAFT_FLAG_MODEL_DIST to <repo>/packages/flag-model/dist/index.js');
  if (!existsSync(resolve(entry))) throw new Error(`${entry} does not exist: build @flagraft/flag-model first`);
  return resolve(entry);
}

// The two flags of lib/spec.mjs in flagraft's own format.
export function nativeConfig() {
  return {
    [STATIC_FLAG]: { key: STATIC_FLAG, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [] },
    [RULED_FLAG]: {
      key: RULED_FLAG,
      type: 'string',
      variants: Object.fromEntries(VARIANTS.map((v) => [v, v])),
      defaultVariant: DEFAULT_VARIANT,
      enabled: true,
      rules: RULES.map((r) => ({
        conditions: [
          { attribute: 'country', op: 'in', value: r.country },
          { attribute: 'plan', op: 'equals', value: r.plan },
          { attribute: 'appVersion', op: 'semverGte', value: r.minVersion },
        ],
        ...(r.rollout
          ? { rollout: { weights: r.rollout.map(([variant, weight]) => ({ variant, weight })) } } // bucketBy: targetingKey
          : { variant: r.serve }),
      })),
    },
  };
}

export async function setup() {
  const fm = await import(pathToFileURL(distEntry()).href);
  const cfg = nativeConfig();
  // Validated once, as the gateway receives them from the cluster; evaluate()
  // compiles each flag object on first use and caches the compiled form by
  // identity (one entry per flag, not per user).
  const staticFlag = fm.validateFlag(cfg[STATIC_FLAG]);
  const ruledFlag = fm.validateFlag(cfg[RULED_FLAG]);
  const noSegments = () => undefined;
  return {
    // The context is the OpenFeature context as is (like flagd-core).
    evalStatic: (ctx) => fm.evaluate(staticFlag, STATIC_FLAG, ctx, noSegments).value,
    evalRuled: (ctx) => fm.evaluate(ruledFlag, RULED_FLAG, ctx, noSegments).value,
    details: (ctx) => fm.evaluate(ruledFlag, RULED_FLAG, ctx, noSegments),
  };
}
