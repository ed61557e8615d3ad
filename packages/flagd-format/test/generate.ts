// Seeded generators: flagd documents built from the JSON Logic subset the
// import maps (every operator, negation, and/or, evaluators, nested ifs,
// fractional in its three forms), and typed contexts for them.
import { createRng } from '@flagraft/raft-core';

export type Rng = () => number;

/** A seeded PRNG (raft-core's), so every run of a seed is the same corpus. */
export function rngOf(seed: number): Rng {
  const r = createRng(seed);
  return () => r.next();
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const COUNTRIES = ['US', 'CA', 'DE', 'FR', 'JP'];
const TIERS = ['free', 'pro', 'enterprise'];
const EMAILS = ['ann@example.com', 'admin@corp.example', 'bob@corp.example', 'cy@faas.com', 'dee@x.org', ''];
const VERSIONS = ['1.0.0', '1.4.2', '1.9.0-beta.1', '2.0.0', '2.1.3', 'v2.6.0', '3.0.0-rc.1', '10.2.0'];
const NUMS = [-5, 0, 1, 7.5, 18, 21, 50, 100];

const v = (a: string) => ({ var: a });

function atom(r: Rng, refs: string[]): unknown {
  switch (Math.floor(r() * 14)) {
    case 0: return { [pick(r, ['==', '===', '!=', '!=='])]: [v('country'), pick(r, COUNTRIES)] };
    case 1: return { [pick(r, ['==', '!='])]: r() < 0.5 ? [v('age'), pick(r, NUMS)] : [pick(r, NUMS), v('score')] };
    case 2: return { [pick(r, ['==', '!=', '===', '!=='])]: [v('beta'), r() < 0.5] };
    case 3: return { [pick(r, ['<', '<=', '>', '>='])]: r() < 0.5 ? [v('age'), pick(r, NUMS)] : [pick(r, NUMS), v('score')] };
    case 4: { const lo = pick(r, NUMS); return { [pick(r, ['<', '<='])]: [lo, v('score'), lo + pick(r, [1, 10, 40])] }; }
    case 5: return { in: [v('country'), COUNTRIES.filter(() => r() < 0.4).concat(pick(r, COUNTRIES))] };
    case 6: return { in: [pick(r, ['@corp.example', 'ann', 'x']), v('email')] };
    case 7: return { [pick(r, ['starts_with', 'ends_with'])]: [v('email'), pick(r, ['admin', 'a', '.org', '@corp.example', 'b'])] };
    case 8: return { sem_ver: [v('version'), pick(r, ['=', '!=', '<', '<=', '>', '>=', '^', '~']), pick(r, ['1.4', '2.0.0', 'v2.1.3', '1.9.0-beta.1', '3'])] };
    case 9: return v(pick(r, ['beta', 'country', 'age', 'email']));
    case 10: return { missing: [pick(r, ['email', 'tier'])] };
    case 11: return { in: [v('tier'), [pick(r, TIERS)]] };
    case 12: return refs.length > 0 ? { $ref: pick(r, refs) } : { '===': [v('tier'), 'pro'] };
    default: return { '!': atom(r, refs) };
  }
}

function cond(r: Rng, refs: string[], depth = 0): unknown {
  const x = r();
  if (depth < 1 && x < 0.2) return { and: [cond(r, refs, depth + 1), cond(r, refs, depth + 1)] };
  if (depth < 1 && x < 0.35) return { or: [atom(r, refs), atom(r, refs)] };
  if (depth < 1 && x < 0.45) return { '!': { and: [atom(r, refs), atom(r, refs)] } };
  return atom(r, refs);
}

function fractional(r: Rng, variants: string[]): unknown {
  const buckets = variants.map((name) => (r() < 0.15 ? [name] : [name, Math.floor(r() * 60)]));
  if ((buckets[0] as unknown[]).length === 2) (buckets[0] as [string, number])[1] += 1;
  const form = r();
  if (form < 0.5) return { fractional: buckets };
  if (form < 0.85) return { fractional: [{ cat: [v('$flagd.flagKey'), v(pick(r, ['email', 'targetingKey', 'country']))] }, ...buckets] };
  return { fractional: [pick(r, ['seed-a', 'seed-b', 'x']), ...buckets] };
}

function outcome(r: Rng, variants: string[], refs: string[], depth: number): unknown {
  const x = r();
  if (x < 0.15) return null;
  if (x < 0.35) return fractional(r, variants);
  if (depth < 1 && x < 0.5) return targeting(r, variants, refs, depth + 1);
  return pick(r, variants);
}

function targeting(r: Rng, variants: string[], refs: string[], depth = 0): unknown {
  const pairs = 1 + Math.floor(r() * 3);
  const args: unknown[] = [];
  for (let i = 0; i < pairs; i++) args.push(cond(r, refs), outcome(r, variants, refs, depth));
  if (r() < 0.6) args.push(outcome(r, variants, refs, depth));
  return { if: args };
}

export function generateDocument(r: Rng, n: number): Record<string, unknown> {
  const evaluators: Record<string, unknown> = {};
  const refs: string[] = [];
  for (let i = 0; i < Math.floor(r() * 3); i++) {
    const name = `ev${n}x${i}`;
    evaluators[name] = r() < 0.6 ? { and: [atom(r, []), atom(r, [])] } : atom(r, []);
    refs.push(name);
  }
  const flags: Record<string, unknown> = {};
  for (let i = 0; i < 1 + Math.floor(r() * 3); i++) {
    const type = pick(r, ['boolean', 'string', 'number', 'object'] as const);
    const names = type === 'boolean' ? ['on', 'off'] : ['a', 'b', 'c', 'd'].slice(0, 2 + Math.floor(r() * 3));
    const variants = Object.fromEntries(names.map((name, j) => [name, type === 'boolean' ? name === 'on' : type === 'string' ? `s${j}` : type === 'number' ? j * 2.5 : { j }]));
    const flag: Record<string, unknown> = { state: r() < 0.9 ? 'ENABLED' : 'DISABLED', variants, defaultVariant: pick(r, names) };
    if (r() < 0.85) flag.targeting = r() < 0.15 ? fractional(r, names) : targeting(r, names, refs);
    if (r() < 0.3) flag.metadata = { team: 'x', n: i };
    flags[`g${n}-f${i}`] = flag;
  }
  const doc: Record<string, unknown> = { flags };
  if (refs.length > 0) doc.$evaluators = evaluators;
  if (r() < 0.2) doc.metadata = { flagSetId: `set-${n}` };
  return doc;
}

/** Contexts whose attributes are absent or of the type the rules compare them with. */
export function typedContexts(r: Rng, n: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const c: Record<string, unknown> = {};
    const tk = r();
    if (tk < 0.85) c.targetingKey = `user-${Math.floor(r() * 1e6)}`;
    else if (tk < 0.9) c.targetingKey = '';
    if (r() < 0.8) c.country = pick(r, COUNTRIES);
    if (r() < 0.7) c.tier = pick(r, TIERS);
    if (r() < 0.7) c.plan = pick(r, TIERS);
    if (r() < 0.7) c.email = pick(r, EMAILS);
    if (r() < 0.6) c.beta = r() < 0.5;
    if (r() < 0.7) c.age = pick(r, NUMS);
    if (r() < 0.7) c.score = pick(r, NUMS) + (r() < 0.3 ? 0.5 : 0);
    if (r() < 0.7) c.version = pick(r, VERSIONS);
    out.push(c);
  }
  return out;
}
