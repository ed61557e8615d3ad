// `flagraft env ...` (environments and their approval policies) and
// `flagraft promote` (copy flag configurations from one environment to
// another: the plan first, then one atomic change once confirmed).
import type { ApprovalPolicy, EnvironmentUpdate, StoredEnvironment } from '@flagraft/api';
import { gw } from './api.js';
import type { CommandContext, CommandSpec } from './cli.js';
import { envOpt, intOpt } from './commands.js';
import { CliError, usageError } from './errors.js';
import { flagChange } from './diff.js';
import { formatFields, formatTable, formatTime } from './table.js';

/** Flag keys one promotion may name (the gateway's MAX_PROMOTION_KEYS). */
export const MAX_PROMOTION_KEYS = 100;

function envName(raw: string, what = 'environment name'): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(raw)) throw usageError(`${what} must be letters, digits, . _ - (at most 128), got ${JSON.stringify(raw)}`);
  return raw;
}

/** A repeatable option's values (parseArgs gives an array for `multiple` options). */
export function listOpt(ctx: CommandContext, name: string): string[] | undefined {
  const v = ctx.opts[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v : [String(v)];
}

function policyText(p: ApprovalPolicy | undefined): string {
  if (!p || p.approvalsRequired === 0) return 'direct writes';
  const who = [...(p.approverRoles ?? []).map((r) => `role ${r}`), ...(p.approvers ?? [])];
  return `${p.approvalsRequired} approval(s)${p.authorCannotApprove ? ', not the author' : ''}${who.length ? `, by ${who.join(' or ')}` : ''}`;
}

function envRow(e: StoredEnvironment) {
  const d = e.environment;
  return [d.name, d.displayName, e.isDefault ? 'yes' : '', d.production ? 'yes' : '', policyText(d.policy), e.modRevision, e.updatedBy];
}

function envFields(e: StoredEnvironment): string {
  const d = e.environment;
  return formatFields([
    ['name', d.name], ['display name', d.displayName], ['default', String(e.isDefault)], ['production', String(d.production ?? false)],
    ['approvals required', d.policy?.approvalsRequired ?? 0], ['author cannot approve', String(d.policy?.authorCannotApprove ?? false)],
    ['approver roles', (d.policy?.approverRoles ?? []).join(', ')], ['approvers', (d.policy?.approvers ?? []).join(', ')],
    ['revision', e.modRevision], ['updated by', e.updatedBy], ['updated at', formatTime(e.updatedAt)],
  ]);
}

/** The policy an `env update` asks for: the current one with the options given applied; undefined = no policy option given. */
function policyUpdate(ctx: CommandContext, current: ApprovalPolicy | undefined): ApprovalPolicy | undefined {
  const approvals = intOpt(ctx, 'approvals');
  const roles = listOpt(ctx, 'approver-role');
  const names = listOpt(ctx, 'approver');
  const { opts } = ctx;
  if (opts['author-cannot-approve'] && opts['author-can-approve']) throw usageError('--author-cannot-approve and --author-can-approve exclude each other');
  if (opts['any-approver'] && (roles || names)) throw usageError('--any-approver excludes --approver-role and --approver');
  const touched = approvals !== undefined || roles || names || opts['author-cannot-approve'] || opts['author-can-approve'] || opts['any-approver'];
  if (!touched) return undefined;
  const next: ApprovalPolicy = { ...(current ?? { approvalsRequired: 0 }) };
  if (approvals !== undefined) next.approvalsRequired = approvals;
  if (opts['author-cannot-approve']) next.authorCannotApprove = true;
  if (opts['author-can-approve']) delete next.authorCannotApprove;
  if (roles) next.approverRoles = roles;
  if (names) next.approvers = names;
  if (opts['any-approver']) { delete next.approverRoles; delete next.approvers; }
  return next;
}

export const environmentCommands: CommandSpec[] = [
  {
    words: ['env', 'list'], usage: 'env list', help: 'environments, their policies, the default one', arity: [0, 0],
    async run(ctx) {
      const r = await gw(ctx.api(), (c) => c.listEnvironments());
      ctx.emit(r, () => formatTable(['NAME', 'DISPLAY NAME', 'DEFAULT', 'PRODUCTION', 'POLICY', 'REVISION', 'UPDATED BY'], r.environments.map(envRow))
        + `${r.environments.length} environment(s)${r.defaultEnvironment ? `; flag commands without --env act on ${r.defaultEnvironment}` : ''}\n`);
    },
  },
  {
    words: ['env', 'get'], usage: 'env get <name>', help: 'one environment and its approval policy', arity: [1, 1],
    async run(ctx) {
      const e = await gw(ctx.api(), (c) => c.getEnvironment(envName(ctx.args[0])));
      ctx.emit(e, () => envFields(e));
    },
  },
  {
    words: ['env', 'create'], usage: 'env create <name> [--display-name d] [--production] [--copy-from env]',
    help: 'a new environment; flags get their configuration from --copy-from (default: the default environment)',
    arity: [1, 1], options: ['display-name', 'production', 'copy-from'],
    async run(ctx) {
      const name = envName(ctx.args[0]);
      const copyFrom = envOpt(ctx, 'copy-from');
      const displayName = ctx.opts['display-name'] as string | undefined;
      const e = await withOptionNames(() => gw(ctx.api(), (c) => c.createEnvironment({
        name, ...(displayName !== undefined ? { displayName } : {}), ...(ctx.opts.production ? { production: true } : {}), ...(copyFrom ? { copyFrom } : {}),
      })));
      ctx.emit(e, () => `created environment ${name} at revision ${e.modRevision}${copyFrom ? ` (flags configured as in ${copyFrom})` : ''}\n`);
    },
  },
  {
    words: ['env', 'update'],
    usage: 'env update <name> [--display-name d] [--approvals n] [--author-cannot-approve|--author-can-approve] [--approver-role r]… [--approver name]… [--any-approver]',
    help: 'rename, or change who must approve changes (--approvals 0 = direct writes)',
    arity: [1, 1], options: ['display-name', 'approvals', 'author-cannot-approve', 'author-can-approve', 'approver-role', 'approver', 'any-approver'],
    async run(ctx) {
      const name = envName(ctx.args[0]);
      const api = ctx.api();
      const change: EnvironmentUpdate = {};
      if (ctx.opts['display-name'] !== undefined) change.displayName = ctx.opts['display-name'] as string;
      // The policy is one field: read it, apply the options, send it whole.
      const needsPolicy = ['approvals', 'author-cannot-approve', 'author-can-approve', 'approver-role', 'approver', 'any-approver'].some((o) => ctx.opts[o] !== undefined);
      if (!needsPolicy && change.displayName === undefined) throw usageError('nothing to change: give --display-name or a policy option (--approvals, --author-cannot-approve, --approver-role, --approver)');
      if (needsPolicy) {
        const current = await gw(api, (c) => c.getEnvironment(name));
        const policy = policyUpdate(ctx, current.environment.policy)!;
        change.policy = policy.approvalsRequired === 0 && !policy.authorCannotApprove && !policy.approverRoles && !policy.approvers ? null : policy;
      }
      const e = await withOptionNames(() => gw(api, (c) => c.updateEnvironment(name, change)));
      ctx.emit(e, () => `updated environment ${name} at revision ${e.modRevision}: ${policyText(e.environment.policy)}\n`);
    },
  },
  {
    words: ['env', 'delete'], usage: 'env delete <name> [--force]',
    help: 'delete an environment (--force: also when flags are configured in it, deleting their configurations)', arity: [1, 1], options: ['force'],
    async run(ctx) {
      const name = envName(ctx.args[0]);
      const r = await gw(ctx.api(), (c) => c.deleteEnvironment(name, { force: ctx.opts.force === true }));
      ctx.emit(r, () => `deleted environment ${name} at revision ${r.revision}${r.flagConfigurations ? ` with ${r.flagConfigurations} flag configuration(s)` : ''}\n`);
    },
  },
  {
    words: ['promote'], usage: 'promote --from env --to env [--flag key]… [--dry-run] [--yes]',
    help: 'copy flag configurations between environments: shows the plan, then applies it in one change',
    arity: [0, 0], options: ['from', 'to', 'flag', 'dry-run', 'yes'],
    async run(ctx) {
      const from = envOpt(ctx, 'from');
      const to = envOpt(ctx, 'to');
      if (!from) throw usageError('--from <environment> is required (where the configurations come from)');
      if (!to) throw usageError('--to <environment> is required (where they are copied to)');
      if (from === to) throw usageError('--to must differ from --from');
      const keys = listOpt(ctx, 'flag');
      if (keys && keys.length > MAX_PROMOTION_KEYS) throw usageError(`--flag may be given at most ${MAX_PROMOTION_KEYS} times (MAX_PROMOTION_KEYS); leave it out to promote every flag`);
      const api = ctx.api();
      const plan = await gw(api, (c) => c.planPromotion({ from, to, ...(keys ? { keys } : {}) }));
      const planText = `promote ${from} -> ${to}: ${plan.items.length} flag(s) would change\n`
        + plan.items.map((i) => flagChange(i.key, to, i.before, i.after)).join('');
      if (ctx.opts['dry-run'] || plan.items.length === 0) {
        ctx.emit({ dryRun: ctx.opts['dry-run'] === true, ...plan }, () => planText + (plan.items.length === 0 ? 'nothing to promote\n' : ''));
        return;
      }
      if (!ctx.json) ctx.out(planText);
      await confirmOrRefuse(ctx, `apply this promotion to ${to}?`);
      // Exactly the flags shown (unless there are more than one request may name: then all, as asked).
      const planned = plan.items.map((i) => i.key);
      const r = await gw(api, (c) => c.applyPromotion({ from, to, ...(planned.length <= MAX_PROMOTION_KEYS ? { keys: planned } : keys ? { keys } : {}) }));
      ctx.emit(r, () => `promoted ${r.flags.length} flag(s) from ${from} to ${to} at revision ${r.revision}\n`);
    },
  },
];

/** The option that sets each field of an environment, for the gateway's field-by-field refusals. */
const OPTION_OF_FIELD = new Map([
  ['displayName', '--display-name'], ['copyFrom', '--copy-from'], ['policy.approvalsRequired', '--approvals'],
  ['policy.approverRoles', '--approver-role'], ['policy.approvers', '--approver'], ['name', 'the environment name'],
]);

/** Runs a write; a refusal's field lines (`environment.policy.approvalsRequired: ...`) get the option that sets the field. */
async function withOptionNames<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    const details = err.details.map((d) => {
      const field = d.slice(0, d.indexOf(':')).replace(/^environment\./, '').replace(/\[\d+\]$/, '');
      const option = OPTION_OF_FIELD.get(field);
      return option ? `${d} (${option})` : d;
    });
    throw new CliError(err.message, err.exitCode, details, err.problem);
  }
}

/**
 * A change that needs a yes: --yes, or a question at the terminal. Without a
 * terminal (a script, CI) and without --yes it is refused, never assumed.
 */
export async function confirmOrRefuse(ctx: CommandContext, question: string): Promise<void> {
  if (ctx.opts.yes) return;
  if (!ctx.io.confirm) throw usageError(`${question.replace(/\?$/, '')}: not confirmed; standard input is not a terminal, so add --yes (or --dry-run to see the plan only)`);
  if (!(await ctx.io.confirm(question))) throw usageError('not confirmed: nothing was changed');
}
