// `flagraft cr ...`: change requests, the way into a protected environment.
// List (the inbox: --mine, --to-review), show with the diff of every
// operation against the revision it was made from, create from an ops file,
// flag definitions or a promotion, and each review step. Who may approve or
// apply is decided by the cluster; the CLI shows its answer.
import { ApiProblem, type ChangeConflict, type ChangeRequestOp, type ChangeRequestStatus, type StoredChangeRequest, type StoredFlag } from '@flagraft/api';
import { gw } from './api.js';
import type { CommandContext, CommandSpec } from './cli.js';
import { envAndTitle, envOpt, intOpt, readDefinition, readJsonFile } from './commands.js';
import { flagChange, jsonDiff } from './diff.js';
import { listOpt, MAX_PROMOTION_KEYS } from './environments.js';
import { CliError, ExitCode, usageError } from './errors.js';
import { cliErrorOf } from './http.js';
import { formatFields, formatTable } from './table.js';
import { showTime } from './times.js';

/** Operations one change request may hold (the gateway's MAX_CHANGE_REQUEST_OPS). */
export const MAX_CHANGE_REQUEST_OPS = 100;
const STATES: readonly ChangeRequestStatus[] = ['draft', 'inReview', 'approved', 'applied', 'rejected', 'withdrawn', 'conflicted'];

/** `cr-12` (or just `12`). */
export function crId(raw: string): string {
  const id = /^\d{1,15}$/.test(raw) ? `cr-${raw}` : raw;
  if (!/^cr-\d{1,15}$/.test(id)) throw usageError(`change request id must be cr-<number> (as \`flagraft cr list\` shows), got ${JSON.stringify(raw)}`);
  return id;
}

function percent(w: number, total: number): string {
  return `${total ? Math.round((w / total) * 10000) / 100 : 0}%`;
}

/** One line per operation, for lists of steps: what it does, not how. */
export function describeOp(op: ChangeRequestOp): string {
  switch (op.op) {
    case 'putFlag': {
      const f = op.flag;
      const rollout = (f.rules ?? []).find((r) => r.rollout)?.rollout;
      const total = rollout ? rollout.weights.reduce((s, w) => s + w.weight, 0) : 0;
      const parts = [f.enabled === undefined ? undefined : f.enabled ? 'enabled' : 'disabled', rollout ? `rollout ${rollout.weights.map((w) => `${w.variant} ${percent(w.weight, total)}`).join(' / ')}` : undefined];
      return `set flag ${f.key}${parts.some(Boolean) ? ` (${parts.filter(Boolean).join(', ')})` : ''}`;
    }
    case 'deleteFlag': return `delete flag ${op.key}`;
    case 'putSegment': return `set segment ${op.segment.name}`;
    case 'deleteSegment': return `delete segment ${op.name}`;
    case 'promote': return `promote ${op.from} -> ${op.to} (${op.keys ? op.keys.join(', ') : 'every flag'})`;
    case 'putEnvironment': return `change environment ${op.environment.name}`;
  }
}

/** Each operation against what it was made from (the request's bases): the diff a reviewer reads. */
function opsDiff(cr: StoredChangeRequest['changeRequest']): string {
  const base = (kind: string, key: string, env?: string) => cr.bases.find((b) => b.kind === kind && b.key === key && (kind !== 'flag' || (b.env ?? cr.env) === (env ?? cr.env)));
  return cr.ops.map((op) => {
    switch (op.op) {
      case 'putFlag': return flagChange(op.flag.key, op.env ?? cr.env, base('flag', op.flag.key, op.env)?.item as StoredFlag | null, op.flag);
      case 'deleteFlag': return flagChange(op.key, op.env ?? cr.env, base('flag', op.key, op.env)?.item as StoredFlag | null, null);
      case 'putSegment': {
        const b = base('segment', op.segment.name)?.item as { segment: unknown; modRevision: number } | null | undefined;
        return `${b ? '~' : '+'} segment ${op.segment.name}${b ? ` (from revision ${b.modRevision})` : ': new'}\n${jsonDiff(b?.segment ?? {}, op.segment).map((l) => `    ${l}\n`).join('')}`;
      }
      case 'deleteSegment': return `- segment ${op.name}: deleted\n`;
      case 'putEnvironment': {
        const b = base('environment', op.environment.name)?.item as { environment: unknown; modRevision: number } | null | undefined;
        return `~ environment ${op.environment.name}${b ? ` (from revision ${b.modRevision})` : ''}\n${jsonDiff(b?.environment ?? {}, op.environment).map((l) => `    ${l}\n`).join('')}`;
      }
      case 'promote': return `~ ${describeOp(op)}; the flags it changes: flagraft promote --from ${op.from} --to ${op.to} --dry-run\n`;
    }
  }).join('');
}

/** A conflict found on apply: what changed since the request was made, then what the request would write over it. */
export function conflictText(c: ChangeConflict): string {
  const item = (v: unknown) => (v as { flag?: unknown; segment?: unknown; environment?: unknown } | null)?.[c.kind as 'flag'] ?? null;
  const meanwhile = jsonDiff(item(c.item) ?? {}, item(c.current) ?? {});
  const proposed = jsonDiff(item(c.current) ?? {}, c.proposed ?? {});
  return `! ${c.kind} ${c.key}${c.env ? ` in ${c.env}` : ''}: made against revision ${c.revision}, now at ${c.currentRevision}\n`
    + `    changed meanwhile:\n${meanwhile.map((l) => `      ${l}\n`).join('') || '      (deleted or re-created)\n'}`
    + `    this request would then change:\n${proposed.map((l) => `      ${l}\n`).join('') || '      nothing\n'}`;
}

function reviewLines(cr: StoredChangeRequest['changeRequest']): string {
  const events = [
    ...cr.approvals.map((e) => ({ ...e, what: 'approved' })),
    ...cr.rejections.map((e) => ({ ...e, what: 'rejected' })),
    ...cr.comments.map((e) => ({ ...e, what: 'commented' })),
  ].sort((a, b) => a.time - b.time);
  return events.map((e) => `  ${showTime(e.time)}  ${e.actor}${e.role ? ` (${e.role})` : ''} ${e.what}${e.text ? `: ${e.text}` : ''}\n`).join('');
}

export function showChangeRequest(s: StoredChangeRequest): string {
  const cr = s.changeRequest;
  return formatFields([
    ['id', cr.id], ['environment', cr.env], ['title', cr.title], ['description', cr.description], ['author', cr.author], ['state', cr.status],
    ['approvals', cr.approvals.map((a) => a.actor).join(', ') || '0'], ['applied at revision', cr.appliedRevision], ['revision', s.modRevision],
    ['updated', showTime(s.updatedAt)],
  ]) + `\nchanges:\n${opsDiff(cr)}`
    + (cr.conflicts?.length ? `\nconflicts (rebase with: flagraft cr rebase ${cr.id}):\n${cr.conflicts.map(conflictText).join('')}` : '')
    + (cr.applyError ? `\nlast apply: ${cr.applyError}\n` : '')
    + `\nreviews and comments:\n${reviewLines(cr) || '  none\n'}`;
}

/** Ops from a file: a JSON array of operations, or {"ops": [...]}. */
async function opsFromFile(ctx: CommandContext, file: string): Promise<ChangeRequestOp[]> {
  const v = await readJsonFile(ctx, file);
  const ops = Array.isArray(v) ? v : (v as { ops?: unknown } | null)?.ops;
  if (!Array.isArray(ops) || ops.length === 0 || ops.length > MAX_CHANGE_REQUEST_OPS) {
    throw new CliError(`${file}: expected a JSON array of 1 to ${MAX_CHANGE_REQUEST_OPS} operations (or {"ops": [...]}), e.g. [{"op": "putFlag", "flag": {...}}]`, ExitCode.INVALID);
  }
  return ops as ChangeRequestOp[];
}

/** A step's answer: the request's state and reviews, in a line. */
function stepSummary(verb: string, s: StoredChangeRequest): string {
  const cr = s.changeRequest;
  return `${verb} ${cr.id} (${cr.env}): now ${cr.status}, ${cr.approvals.length} approval(s)${cr.appliedRevision ? `, applied at revision ${cr.appliedRevision}` : ''}\n`;
}

function step(verb: string, usage: string, help: string, call: (c: import('@flagraft/api').FlagraftClient, id: string, ctx: CommandContext) => Promise<StoredChangeRequest>,
  o: { arity?: [number, number]; options?: string[] } = {}): CommandSpec {
  return {
    words: ['cr', verb], usage, help, arity: o.arity ?? [1, 1], options: o.options,
    async run(ctx) {
      const id = crId(ctx.args[0]);
      const s = await gw(ctx.api(), (c) => call(c, id, ctx));
      ctx.emit(s, () => stepSummary(`${verb === 'comment' ? 'commented on' : `${verb}${verb.endsWith('e') ? 'd' : 'ed'}`}`, s));
    },
  };
}

const comment = (ctx: CommandContext) => ctx.opts.comment as string | undefined;

export const changeRequestCommands: CommandSpec[] = [
  {
    words: ['cr', 'list'], usage: 'cr list [--state s] [--env e] [--mine|--author name] [--to-review] [--limit n]',
    help: 'change requests, newest first (--to-review: the ones you may still approve)',
    arity: [0, 0], options: ['state', 'env', 'mine', 'author', 'to-review', 'limit'],
    async run(ctx) {
      const state = ctx.opts.state as string | undefined;
      if (state !== undefined && !STATES.includes(state as ChangeRequestStatus)) throw usageError(`--state must be one of ${STATES.join(', ')}, got ${JSON.stringify(state)}`);
      let author = ctx.opts.author as string | undefined;
      if (ctx.opts.mine) {
        if (author !== undefined) throw usageError('--mine and --author exclude each other');
        // The gateway says whose token this is (the name its writes are recorded under).
        author = (await gw(ctx.api(), (c) => c.getCurrentPrincipal())).name;
      }
      const limit = intOpt(ctx, 'limit');
      const r = await gw(ctx.api(), (c) => c.listChangeRequests({
        state: state as ChangeRequestStatus | undefined, environment: envOpt(ctx), author, toReview: ctx.opts['to-review'] ? true : undefined, limit,
      }));
      ctx.emit(r, () => formatTable(['ID', 'ENV', 'STATE', 'TITLE', 'AUTHOR', 'APPROVALS', 'UPDATED'], r.changeRequests.map((s) => {
        const cr = s.changeRequest;
        return [cr.id, cr.env, cr.status, cr.title, cr.author, cr.approvals.length, showTime(s.updatedAt)];
      })) + `${r.changeRequests.length} change request(s)${r.more ? ' (more: raise --limit)' : ''}\n`);
    },
  },
  {
    words: ['cr', 'show'], usage: 'cr show <id>', help: 'a change request: each change against its base, reviews, comments, conflicts', arity: [1, 1],
    async run(ctx) {
      const s = await gw(ctx.api(), (c) => c.getChangeRequest(crId(ctx.args[0])));
      ctx.emit(s, () => showChangeRequest(s));
    },
  },
  {
    words: ['cr', 'create'],
    usage: 'cr create --env e --title t (--file ops.json | --flag-file flag.json… | --promote-from env [--flag key]…) [--description d] [--submit]',
    help: 'propose changes to an environment (--submit: straight to review)',
    arity: [0, 0], options: ['env', 'title', 'description', 'file', 'flag-file', 'promote-from', 'flag', 'submit'],
    async run(ctx) {
      const { env, title } = envAndTitle(ctx, { env: 'the environment the changes go to', title: 'what the change is, for its reviewers' });
      const file = ctx.opts.file as string | undefined;
      const flagFiles = listOpt(ctx, 'flag-file');
      const promoteFrom = envOpt(ctx, 'promote-from');
      const keys = listOpt(ctx, 'flag');
      if ([file, flagFiles, promoteFrom].filter((v) => v !== undefined).length !== 1) {
        throw usageError('give exactly one of --file ops.json, --flag-file flag.json (repeatable), or --promote-from <environment>');
      }
      if (keys && !promoteFrom) throw usageError('--flag goes with --promote-from (the flags to promote)');
      if (keys && keys.length > MAX_PROMOTION_KEYS) throw usageError(`--flag may be given at most ${MAX_PROMOTION_KEYS} times (MAX_PROMOTION_KEYS)`);
      let ops: ChangeRequestOp[];
      if (file !== undefined) ops = await opsFromFile(ctx, file);
      else if (promoteFrom !== undefined) ops = [{ op: 'promote', from: promoteFrom, to: env, ...(keys ? { keys } : {}) }];
      else {
        if (flagFiles!.length > MAX_CHANGE_REQUEST_OPS) throw usageError(`--flag-file may be given at most ${MAX_CHANGE_REQUEST_OPS} times (MAX_CHANGE_REQUEST_OPS)`);
        ops = [];
        for (const f of flagFiles!) {
          const def = await readDefinition(ctx, f);
          if (typeof def.key !== 'string') throw new CliError(`${f}: the flag definition needs its "key"`, ExitCode.INVALID);
          ops.push({ op: 'putFlag', flag: def as never });
        }
      }
      const description = ctx.opts.description as string | undefined;
      const s = await gw(ctx.api(), (c) => c.createChangeRequest({ environment: env, title, ops, ...(description ? { description } : {}), ...(ctx.opts.submit ? { submit: true } : {}) }));
      const cr = s.changeRequest;
      ctx.emit(s, () => `created change request ${cr.id} in ${cr.env} (${cr.status}) with ${cr.ops.length} change(s)\n`
        + (cr.status === 'draft' ? `next: flagraft cr submit ${cr.id}\n` : `next: a reviewer runs flagraft cr approve ${cr.id}; then flagraft cr apply ${cr.id}\n`));
    },
  },
  {
    words: ['cr', 'comment'], usage: 'cr comment <id> <text>', help: 'comment on a change request', arity: [2, 2],
    async run(ctx) {
      const id = crId(ctx.args[0]);
      if (!ctx.args[1].trim()) throw usageError('the comment text is empty');
      const s = await gw(ctx.api(), (c) => c.commentChangeRequest(id, ctx.args[1]));
      ctx.emit(s, () => stepSummary('commented on', s));
    },
  },
  step('submit', 'cr submit <id> [--comment text]', 'send a draft to review', (c, id, ctx) => c.submitChangeRequest(id, comment(ctx)), { options: ['comment'] }),
  {
    words: ['cr', 'approve'], usage: 'cr approve <id> [--comment text]', help: 'approve (as an eligible reviewer)', arity: [1, 1], options: ['comment'],
    async run(ctx) {
      const id = crId(ctx.args[0]);
      const api = ctx.api();
      const s = await gw(api, (c) => c.approveChangeRequest(id, comment(ctx)));
      // "1 of 2": the policy now (the cluster counts against it on apply).
      const required = ctx.json ? undefined : (await gw(api, (c) => c.getEnvironment(s.changeRequest.env))).environment.policy?.approvalsRequired;
      ctx.emit(s, () => stepSummary('approved', s).replace(/, (\d+) approval\(s\)/, (m, n) => (required ? `, ${n} of ${required} approval(s)` : m)));
    },
  },
  step('reject', 'cr reject <id> [--comment text]', 'reject (as an eligible reviewer)', (c, id, ctx) => c.rejectChangeRequest(id, comment(ctx)), { options: ['comment'] }),
  {
    words: ['cr', 'apply'], usage: 'cr apply <id>', help: 'apply an approved change request (refused with the diff if its base moved)', arity: [1, 1],
    async run(ctx) {
      const id = crId(ctx.args[0]);
      const api = ctx.api();
      let s: StoredChangeRequest;
      try {
        s = await api.gateway.applyChangeRequest(id);
      } catch (err) {
        if (err instanceof ApiProblem && err.status === 409 && err.problem.reason === 'CONFLICTED') {
          const conflicts = (err.problem.conflicts ?? []) as ChangeConflict[];
          throw new CliError(`${id} was not applied: ${conflicts.length ? `${conflicts.length} item(s) changed since it was made` : String(err.problem.applyError ?? 'its changes no longer apply')}; `
            + `it is now conflicted; its author rebases it with: flagraft cr rebase ${id}`, ExitCode.CONFLICT,
          conflicts.flatMap((c) => conflictText(c).trimEnd().split('\n')), err.body);
        }
        throw err instanceof ApiProblem ? cliErrorOf(err, api.baseUrl) : err;
      }
      ctx.emit(s, () => stepSummary('applied', s));
    },
  },
  step('withdraw', 'cr withdraw <id>', 'withdraw your change request', (c, id) => c.withdrawChangeRequest(id)),
  {
    words: ['cr', 'rebase'], usage: 'cr rebase <id> [--file ops.json]', help: 'remake a conflicted request on the current state (resets approvals)',
    arity: [1, 1], options: ['file'],
    async run(ctx) {
      const id = crId(ctx.args[0]);
      const file = ctx.opts.file as string | undefined;
      const ops = file === undefined ? undefined : await opsFromFile(ctx, file);
      const s = await gw(ctx.api(), (c) => c.rebaseChangeRequest(id, ops));
      ctx.emit(s, () => stepSummary('rebased', s));
    },
  },
];
