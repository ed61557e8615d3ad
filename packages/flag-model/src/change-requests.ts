// Change requests: a set of writes into one environment, made against the
// revisions of what they touch, reviewed under that environment's policy,
// and applied (atomically, all ops or none) only once approved and only if
// nothing they touch changed since (else: conflicted, with the three-way
// data, until its author rebases it, which resets its approvals).
//
//   draft -submit-> inReview -approve x N-> approved -apply-> applied
//                   inReview/approved -reject-> rejected
//   any open state -withdraw (author)-> withdrawn
//   apply on a stale base -> conflicted -rebase (author)-> inReview
//
// Every step is a change of kind "changeRequest" (the audit log, with its
// actor); applying also writes the request's own changes, in one revision.
import { LIMITS } from './limits.js';
import { isProtected } from './environments.js';
import { Overlay } from './overlay.js';
import { applyOp, change, fail, nextRecord, type Ctx } from './apply-ops.js';
import { protectionError } from './protection.js';
import type {
  ApplyResult, Change, ChangeConflict, ChangeRequest, ChangeRequestBase, ChangeRequestCommandOp, ChangeRequestOp, CommandError,
  StateView, StoredChangeRequest, StoredEnvironment, StoredFlag, StoredItem, StoredSegment,
} from './types.js';

const OPEN: ReadonlySet<string> = new Set(['draft', 'inReview', 'approved', 'conflicted']);

export function applyChangeRequestCommand(view: Overlay, cmd: ChangeRequestCommandOp, ctx: Ctx): ApplyResult {
  if (cmd.action === 'create') {
    const env = cmd.env ?? view.defaultEnvironment();
    if (!view.getEnvironment(env)) return fail({ code: 'NOT_FOUND', env, key: env, message: `environment "${env}" does not exist` });
    const ops = inEnv(cmd.ops, env);
    if (typeof ops === 'string') return fail({ code: 'BAD_COMMAND', env, message: ops });
    const dry = dryRun(view, ops, { ...ctx, unlocked: env });
    if (!dry.ok) return dry;
    const cr: ChangeRequest = {
      id: `cr-${ctx.revision}`, env, title: cmd.title, author: ctx.actor, status: 'draft', ops, bases: basesOf(dry.changes),
      approvals: [], rejections: [], comments: [],
    };
    if (cmd.description !== undefined) cr.description = cmd.description;
    if (cmd.submit) submit(view, cr);
    return save(view, null, cr, ctx);
  }
  const before = view.getChangeRequest(cmd.id);
  if (!before) return fail({ code: 'NOT_FOUND', key: cmd.id, message: `change request "${cmd.id}" does not exist` });
  const cr: ChangeRequest = structuredClone(before.changeRequest);
  const policy = view.getEnvironment(cr.env)?.environment.policy;
  const isAuthor = ctx.actor === cr.author;
  const need = (ok: boolean, code: CommandError['code'], message: string) => (ok ? undefined : fail({ code, key: cr.id, env: cr.env, message }));
  const state = (...allowed: string[]) => need(allowed.includes(cr.status), 'INVALID_STATE', `change request "${cr.id}" is ${cr.status}; ${cmd.action} needs it ${allowed.join(' or ')}`);
  let refused: ApplyResult | undefined;
  switch (cmd.action) {
    case 'submit':
      refused = need(isAuthor, 'FORBIDDEN', `only the author (${cr.author}) submits change request "${cr.id}"`) ?? state('draft');
      if (!refused) submit(view, cr);
      break;
    case 'approve':
    case 'reject': {
      refused = state('inReview', 'approved') ?? reviewerProblem(cr, ctx, policy, cmd.action);
      if (refused) break;
      const ev = { actor: ctx.actor, time: ctx.time, ...(ctx.actorRole ? { role: ctx.actorRole } : {}), ...(cmd.comment ? { text: cmd.comment } : {}) };
      if (cmd.action === 'reject') {
        cr.rejections.push(ev);
        cr.status = 'rejected';
      } else {
        cr.approvals.push(ev);
        settle(view, cr);
      }
      break;
    }
    case 'comment':
      refused = need(cr.comments.length < LIMITS.maxComments, 'INVALID_STATE', `change request "${cr.id}" has maxComments ${LIMITS.maxComments} comments`);
      if (!refused) cr.comments.push({ actor: ctx.actor, time: ctx.time, text: cmd.comment });
      break;
    case 'withdraw':
      refused = need(isAuthor, 'FORBIDDEN', `only the author (${cr.author}) withdraws change request "${cr.id}"`) ?? state(...OPEN);
      if (!refused) cr.status = 'withdrawn';
      break;
    case 'rebase': {
      refused = need(isAuthor, 'FORBIDDEN', `only the author (${cr.author}) rebases change request "${cr.id}"`) ?? state(...OPEN);
      if (refused) break;
      const ops = cmd.ops ? inEnv(cmd.ops, cr.env) : cr.ops;
      if (typeof ops === 'string') return fail({ code: 'BAD_COMMAND', env: cr.env, message: ops });
      const dry = dryRun(view, ops, { ...ctx, unlocked: cr.env });
      if (!dry.ok) return dry;
      cr.ops = ops;
      cr.bases = basesOf(dry.changes);
      cr.approvals = [];
      delete cr.conflicts;
      delete cr.applyError;
      cr.status = cr.status === 'draft' ? 'draft' : 'inReview';
      settle(view, cr);
      break;
    }
    case 'apply':
      refused = state('approved');
      if (refused) break;
      return applyApproved(view, before, cr, ctx);
  }
  return refused ?? save(view, before, cr, ctx);
}

/** Applies an approved request (also the step of a schedule): its changes plus the request marked applied, or the request marked conflicted. */
export function applyApproved(view: Overlay, before: StoredChangeRequest, cr: ChangeRequest, ctx: Ctx): ApplyResult {
  const policy = view.getEnvironment(cr.env)?.environment.policy;
  const have = validApprovals(cr, policy).length;
  const n = policy?.approvalsRequired ?? 0;
  // The policy may have been raised since the approvals were given.
  if (have < n) return fail({ code: 'INVALID_STATE', key: cr.id, env: cr.env, message: `change request "${cr.id}" has ${have} approval${have === 1 ? '' : 's'} valid under environment "${cr.env}"'s policy, which requires ${n}` });
  const conflicts = conflictsOf(view, cr.bases, cr.ops);
  const dry = conflicts.length ? undefined : dryRun(view, cr.ops, { ...ctx, unlocked: cr.env });
  if (conflicts.length || !dry || !dry.ok) {
    cr.status = 'conflicted';
    if (conflicts.length) cr.conflicts = conflicts;
    if (dry && !dry.ok) cr.applyError = dry.error.message;
    return save(view, before, cr, ctx);
  }
  for (const c of dry.changes) view.record(c);
  cr.status = 'applied';
  cr.appliedRevision = ctx.revision;
  const saved = save(view, before, cr, ctx);
  return saved.ok ? { ok: true, changes: [...dry.changes, ...saved.changes] } : saved;
}

/** Ops as they apply in `env`: flag ops are pinned to it; a promotion or environment change must target it. */
export function inEnv(ops: readonly ChangeRequestOp[], env: string): ChangeRequestOp[] | string {
  const out: ChangeRequestOp[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if ((op.op === 'putFlag' || op.op === 'deleteFlag') && op.env !== undefined && op.env !== env) return `ops[${i}] writes environment "${op.env}", not the request's environment "${env}"`;
    if (op.op === 'promote' && op.to !== env) return `ops[${i}] promotes into "${op.to}", not the request's environment "${env}"`;
    if (op.op === 'putEnvironment' && (op.environment as { name?: unknown }).name !== env) return `ops[${i}] changes another environment than the request's ("${env}")`;
    out.push(op.op === 'putFlag' || op.op === 'deleteFlag' ? { ...op, env } : op);
  }
  return out;
}

/** The ops applied on a scratch overlay: their changes, or why they cannot apply (protection of other environments included). */
export function dryRun(view: StateView, ops: readonly ChangeRequestOp[], ctx: Ctx): ApplyResult {
  const scratch = new Overlay(view);
  const changes: Change[] = [];
  for (let i = 0; i < ops.length; i++) {
    const r = applyOp(scratch, ops[i], ctx);
    if (!Array.isArray(r)) return fail({ ...r, opIndex: i, message: `ops[${i}]: ${r.message}` });
    for (const c of r) {
      scratch.record(c);
      changes.push(c);
    }
  }
  const refused = protectionError(view, changes, ctx);
  return refused ? fail(refused) : { ok: true, changes };
}

/** What the changes were made against: the first change of each item. */
export function basesOf(changes: readonly Change[]): ChangeRequestBase[] {
  const seen = new Set<string>();
  const out: ChangeRequestBase[] = [];
  for (const c of changes) {
    if (c.kind !== 'flag' && c.kind !== 'segment' && c.kind !== 'environment') continue;
    const id = `${c.kind}\u0000${c.env ?? ''}\u0000${c.key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const b: ChangeRequestBase = { kind: c.kind, key: c.key, revision: (c.before as { modRevision?: number } | null)?.modRevision ?? 0, item: c.before as ChangeRequestBase['item'] };
    if (c.env !== undefined) b.env = c.env;
    out.push(b);
  }
  return out;
}

export function currentOf(view: StateView, b: Pick<ChangeRequestBase, 'kind' | 'key' | 'env'>): StoredFlag | StoredSegment | StoredEnvironment | undefined {
  if (b.kind === 'flag') return view.getFlagIn(b.env ?? view.defaultEnvironment(), b.key);
  return b.kind === 'segment' ? view.getSegment(b.key) : view.getEnvironment(b.key);
}

/** Bases whose item changed since: each with its base, current and proposed content (the three-way diff). */
export function conflictsOf(view: StateView, bases: readonly ChangeRequestBase[], ops: readonly ChangeRequestOp[]): ChangeConflict[] {
  const out: ChangeConflict[] = [];
  for (const b of bases) {
    const cur = currentOf(view, b);
    const currentRevision = cur?.modRevision ?? 0;
    if (currentRevision === b.revision) continue;
    out.push({ ...b, currentRevision, current: cur ?? null, proposed: proposedFor(ops, b) });
  }
  return out;
}

function proposedFor(ops: readonly ChangeRequestOp[], b: ChangeRequestBase): ChangeConflict['proposed'] {
  for (const op of ops) {
    if (b.kind === 'flag' && op.op === 'putFlag' && (op.flag as { key?: unknown }).key === b.key) return op.flag;
    if (b.kind === 'segment' && op.op === 'putSegment' && (op.segment as { name?: unknown }).name === b.key) return op.segment;
    if (b.kind === 'environment' && op.op === 'putEnvironment') return op.environment;
  }
  return null;
}

/** Approvals that count under `policy` now (the author's not, when it forbids that; only listed approvers, when it lists them). */
export function validApprovals(cr: ChangeRequest, policy: StoredEnvironment['environment']['policy']): ChangeRequest['approvals'] {
  return cr.approvals.filter((a) => mayReview(policy, cr.author, a.actor, (a as { role?: string }).role) === undefined);
}

function mayReview(policy: StoredEnvironment['environment']['policy'], author: string, actor: string, role: string | undefined): string | undefined {
  if (policy?.authorCannotApprove && actor === author) return `the author of a change request cannot approve it in this environment`;
  const roles = policy?.approverRoles ?? [];
  const names = policy?.approvers ?? [];
  if ((roles.length || names.length) && !names.includes(actor) && !(role !== undefined && roles.includes(role))) {
    return `${actor}${role ? ` (role ${role})` : ''} is not an approver here (approvers: ${[...names, ...roles.map((r) => `role ${r}`)].join(', ')})`;
  }
  return undefined;
}

function reviewerProblem(cr: ChangeRequest, ctx: Ctx, policy: StoredEnvironment['environment']['policy'], action: 'approve' | 'reject'): ApplyResult | undefined {
  if (action === 'reject' && ctx.actor === cr.author) return fail({ code: 'FORBIDDEN', key: cr.id, env: cr.env, message: `the author withdraws a change request; rejecting is for reviewers` });
  const why = mayReview(policy, cr.author, ctx.actor, ctx.actorRole);
  if (why) return fail({ code: 'FORBIDDEN', key: cr.id, env: cr.env, message: `${action} of change request "${cr.id}" refused: ${why}` });
  if (action === 'approve' && cr.approvals.some((a) => a.actor === ctx.actor)) return fail({ code: 'INVALID_STATE', key: cr.id, env: cr.env, message: `${ctx.actor} already approved change request "${cr.id}"` });
  return undefined;
}

function submit(view: StateView, cr: ChangeRequest): void {
  cr.status = 'inReview';
  settle(view, cr);
}

/** inReview with enough valid approvals (none needed in an unprotected environment) -> approved. */
function settle(view: StateView, cr: ChangeRequest): void {
  const env = view.getEnvironment(cr.env);
  const n = isProtected(env) ? env!.environment.policy!.approvalsRequired : 0;
  if (cr.status === 'inReview' && validApprovals(cr, env?.environment.policy).length >= n) cr.status = 'approved';
}

function save(view: StateView, before: StoredChangeRequest | null, cr: ChangeRequest, ctx: Ctx): ApplyResult {
  const after: StoredChangeRequest = { changeRequest: cr, ...nextRecord(before, ctx) };
  return { ok: true, changes: [change(view, 'changeRequest', cr.id, 'put', before, after as StoredItem, ctx)] };
}
