// Environments: one flag definition (key, type, variants, description, tags,
// owner, metadata), and a configuration per environment (enabled, rules,
// default and off variants; a rollout lives in the rules). A stored flag of an
// environment is the whole FlagDefinition as evaluated there (definition +
// that environment's configuration), so evaluation, OFREP and the legacy
// endpoints read one row exactly as before environments existed.
//
// Segments are shared by every environment (docs/ENVIRONMENTS.md says why):
// what differs per environment is which flags target them, and a segment
// change used by a protected environment's flags needs a change request.
import { LIMITS } from './limits.js';
import { isPlainObject } from './json-util.js';
import { checkString, checkUnknown, guarded, key, opt, type Issues } from './validate-util.js';
import type { ApprovalPolicy, EnvironmentDefinition, FlagDefinition, StateView, StoredEnvironment, StoredFlag } from './types.js';

/** The default environment's name on a new cluster and on an upgraded one (FLAGRAFT_DEFAULT_ENVIRONMENT overrides it). */
export const DEFAULT_ENVIRONMENT = 'production';

const ENV_FIELDS = new Set(['name', 'displayName', 'production', 'policy']);
const POLICY_FIELDS = new Set(['approvalsRequired', 'authorCannotApprove', 'approverRoles', 'approvers']);

/** Validates an environment definition; returns a normalized copy or throws ValidationError. */
export function validateEnvironment(input: unknown): EnvironmentDefinition {
  return guarded('environment', (is) => checkEnvironment(input, is));
}

function checkEnvironment(input: unknown, is: Issues): EnvironmentDefinition | undefined {
  if (!isPlainObject(input)) {
    is.add('', 'must be an object');
    return undefined;
  }
  checkUnknown(input, ENV_FIELDS, '', is);
  const name = key(input.name, 'name', is);
  const out: EnvironmentDefinition = { name: name as string };
  const dn = opt(input, 'displayName');
  if (dn !== undefined) {
    const d = checkString(dn, 'displayName', is, LIMITS.maxDescriptionChars);
    if (d !== undefined) out.displayName = d;
  }
  const prod = opt(input, 'production');
  if (prod !== undefined) {
    if (typeof prod === 'boolean') out.production = prod;
    else is.add('production', 'must be a boolean');
  }
  const pol = opt(input, 'policy');
  if (pol !== undefined) {
    const p = checkPolicy(pol, is);
    if (p) out.policy = p;
  }
  return is.list.length === 0 ? out : undefined;
}

function checkPolicy(v: unknown, is: Issues): ApprovalPolicy | undefined {
  if (!isPlainObject(v)) {
    is.add('policy', 'must be an object');
    return undefined;
  }
  checkUnknown(v, POLICY_FIELDS, 'policy', is);
  const n = v.approvalsRequired;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > LIMITS.maxApprovals) {
    is.add('policy.approvalsRequired', `must be an integer from 0 (direct writes allowed) to maxApprovals ${LIMITS.maxApprovals}`);
  }
  const out: ApprovalPolicy = { approvalsRequired: n as number };
  const aca = opt(v, 'authorCannotApprove');
  if (aca !== undefined) {
    if (typeof aca === 'boolean') out.authorCannotApprove = aca;
    else is.add('policy.authorCannotApprove', 'must be a boolean');
  }
  for (const f of ['approverRoles', 'approvers'] as const) {
    const list = opt(v, f);
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length > LIMITS.maxApprovals * 4) {
      is.add(`policy.${f}`, `must be an array of at most ${LIMITS.maxApprovals * 4} names`);
      continue;
    }
    const names: string[] = [];
    list.forEach((x, i) => {
      const s = checkString(x, `policy.${f}[${i}]`, is, LIMITS.maxActorChars);
      if (s) names.push(s);
    });
    out[f] = names;
  }
  return out;
}

/** True when direct writes into the environment are refused (approvalsRequired > 0). */
export function isProtected(env: StoredEnvironment | undefined): boolean {
  return (env?.environment.policy?.approvalsRequired ?? 0) > 0;
}

/** The fields of a flag that are its configuration in one environment; every other field is its definition, shared by all. */
export const CONFIG_FIELDS = ['enabled', 'rules', 'defaultVariant', 'offVariant'] as const;

/** `def`'s definition with `cfg`'s configuration. */
export function withConfig(def: FlagDefinition, cfg: FlagDefinition): FlagDefinition {
  const out: FlagDefinition = { ...def, enabled: cfg.enabled, rules: cfg.rules, defaultVariant: cfg.defaultVariant };
  delete out.offVariant;
  if (cfg.offVariant !== undefined) out.offVariant = cfg.offVariant;
  return canonical(out);
}

/** Fields in the order validateFlag writes them, so equal flags have equal JSON. */
export function canonical(f: FlagDefinition): FlagDefinition {
  const o: FlagDefinition = { key: f.key, type: f.type, variants: f.variants, defaultVariant: f.defaultVariant, enabled: f.enabled, rules: f.rules };
  if (f.offVariant !== undefined) o.offVariant = f.offVariant;
  if (f.description !== undefined) o.description = f.description;
  if (f.tags !== undefined) o.tags = f.tags;
  if (f.owner !== undefined) o.owner = f.owner;
  if (f.metadata !== undefined) o.metadata = f.metadata;
  return o;
}

/** Whether two flags have the same definition (configuration ignored). */
export function sameDefinition(a: FlagDefinition, b: FlagDefinition): boolean {
  // On every flag write, once per other environment: scalars first, JSON only for the structured fields.
  if (a.key !== b.key || a.type !== b.type || a.description !== b.description || a.owner !== b.owner) return false;
  const j = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));
  return j(a.variants) === j(b.variants) && j(a.tags) === j(b.tags) && j(a.metadata) === j(b.metadata);
}

/**
 * The configuration a flag gets in an environment it was not written in (a
 * new flag, a new environment): the given one, but switched off and without
 * an offVariant in a production or protected environment, so a flag created in staging
 * changes nothing that production serves (a boolean serves false, anything
 * else the caller's code default).
 */
export function defaultConfigFor(env: StoredEnvironment | undefined, flag: FlagDefinition): FlagDefinition {
  if (!env?.environment.production && !isProtected(env)) return flag;
  const out = { ...flag, enabled: false };
  delete out.offVariant;
  return canonical(out);
}

/** One flag of a promotion: its configuration in the target now, and after. */
export interface PromotionItem { key: string; before: StoredFlag | null; after: FlagDefinition }

/**
 * What promoting `keys` (absent: every flag of `from`) from one environment
 * to another would change: only the flags whose configuration differs. The
 * dry run a user sees before the PromoteOp that applies exactly this.
 */
export function promotionPlan(view: StateView, from: string, to: string, keys?: string[]): PromotionItem[] | string {
  if (!view.getEnvironment(from)) return `environment "${from}" does not exist`;
  if (!view.getEnvironment(to)) return `environment "${to}" does not exist`;
  if (from === to) return 'promote needs two different environments';
  const out: PromotionItem[] = [];
  for (const k of keys ?? view.flagKeysIn(from)) {
    const src = view.getFlagIn(from, k);
    if (!src) return `flag "${k}" is not configured in environment "${from}"`;
    const dst = view.getFlagIn(to, k) ?? null;
    const after = dst ? withConfig(dst.flag, src.flag) : defaultConfigFor(undefined, src.flag);
    if (dst && JSON.stringify(canonical(dst.flag)) === JSON.stringify(after)) continue;
    out.push({ key: k, before: dst, after });
  }
  return out;
}
