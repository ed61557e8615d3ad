// /api/v1/change-requests: the way into a protected environment. List (by
// state, environment, author, or "to review by me"), read, create, comment,
// submit, approve, reject, apply, withdraw, rebase. Who may do what (author
// cannot approve, approver roles and names, the approvals an apply needs,
// the base revisions it re-checks) is decided by the state machine on every
// replica; the gateway names the actor and vouches for its role, and limits
// an environment-scoped token to its environments (a reviewer limited to
// staging cannot approve or apply a production request).
import type { Request, Response } from 'express';
import type { Principal } from '@flagraft/auth';
import {
  validateEnvironment, type ChangeRequestAction, type ChangeRequestOp, type ChangeRequestStatus, type StoredChangeRequest, type StoredEnvironment,
} from '@flagraft/flag-model';
import { environmentParam, requireEnvironment, scopedEnvironment } from '../env-scope.js';
import { HttpProblem } from '../problem.js';
import { intParam, type RouteContext, type Routes } from './context.js';
import { checkOp } from './admin.js';
import {
  boolParam, invalid, keyField, MAX_COMMENT_CHARS, MAX_TITLE_CHARS, objectBody, propose, query, recordId, stringField, validationOf, written,
} from './records.js';

/** Operations one change request may hold (as a batch). */
export const MAX_CHANGE_REQUEST_OPS = 100;
/** Change requests one list answer holds at most (newest first). */
export const MAX_LIST = 1000;

const STATES: readonly ChangeRequestStatus[] = ['draft', 'inReview', 'approved', 'applied', 'rejected', 'withdrawn', 'conflicted'];
const COLLECTION = '/api/v1/change-requests';
const ONE = `${COLLECTION}/:changeRequestId`;

/**
 * A change request's operations: flag and segment writes (flag ops act in
 * the request's environment), a promotion into it, or a change of the
 * environment itself. Every problem names its path (ops[i]...).
 */
export function checkChangeRequestOps(raw: unknown, field = 'ops'): ChangeRequestOp[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_CHANGE_REQUEST_OPS) {
    throw invalid(field, `must hold 1 to ${MAX_CHANGE_REQUEST_OPS} operations (MAX_CHANGE_REQUEST_OPS)`);
  }
  return raw.map((op, i): ChangeRequestOp => {
    const o = op as Record<string, unknown> | null;
    const at = `${field}[${i}]`;
    if (o && typeof o === 'object' && o.op === 'promote') {
      const keys = o.keys === undefined ? undefined : Array.isArray(o.keys) ? o.keys.map((k, j) => keyField(k, `${at}.keys[${j}]`)) : (() => { throw invalid(`${at}.keys`, 'must be an array of flag keys'); })();
      return { op: 'promote', from: keyField(o.from, `${at}.from`), to: keyField(o.to, `${at}.to`), ...(keys ? { keys } : {}) };
    }
    if (o && typeof o === 'object' && o.op === 'putEnvironment') {
      try {
        return { op: 'putEnvironment', environment: validateEnvironment(o.environment) };
      } catch (err) {
        validationOf(err, `${at}.environment`);
      }
    }
    return checkOp(op, i, field);
  });
}

/** Whether `who` may still review the request under its environment's policy (the "to review by me" inbox). */
function toReviewBy(who: Principal, cr: StoredChangeRequest['changeRequest'], env: StoredEnvironment | undefined): boolean {
  if (cr.status !== 'inReview') return false;
  const policy = env?.environment.policy;
  if (cr.author === who.name && (policy?.authorCannotApprove ?? false)) return false;
  if (cr.approvals.some((a) => a.actor === who.name)) return false;
  const roles = policy?.approverRoles;
  const names = policy?.approvers;
  if (roles === undefined && names === undefined) return true;
  return (roles?.includes(who.role) ?? false) || (names?.includes(who.name) ?? false);
}

export function registerChangeRequestRoutes(r: Routes, ctx: RouteContext): void {
  const get = (id: string) => query<StoredChangeRequest>(ctx, 'changeRequest', { id });

  r.add('get', COLLECTION, 'read', async (req, res, who) => {
    const state = req.query.state;
    if (state !== undefined && (typeof state !== 'string' || !STATES.includes(state as ChangeRequestStatus))) {
      throw new HttpProblem('bad-request', `state: must be one of ${STATES.join(', ')}`, { issues: [{ path: 'state', message: `must be one of ${STATES.join(', ')}` }] });
    }
    const environment = environmentParam(req);
    if (environment !== undefined) requireEnvironment(who, environment);
    const author = req.query.author;
    if (author !== undefined && (typeof author !== 'string' || author === '' || author.length > 128)) throw new HttpProblem('bad-request', 'author: a token name of at most 128 characters');
    const toReview = boolParam(req, 'toReview') ?? false;
    const limit = intParam(req.query.limit, 'limit', 1, MAX_LIST) ?? 100;
    const [all, envs] = await Promise.all([
      query<StoredChangeRequest[]>(ctx, 'changeRequests'),
      toReview ? query<StoredEnvironment[]>(ctx, 'environments') : Promise.resolve([] as StoredEnvironment[]),
    ]);
    const envByName = new Map(envs.map((e) => [e.environment.name, e]));
    const out = all
      .filter(({ changeRequest: cr }) => (who.environments === undefined || who.environments.includes(cr.env))
        && (state === undefined || cr.status === state)
        && (environment === undefined || cr.env === environment)
        && (author === undefined || cr.author === author)
        && (!toReview || toReviewBy(who, cr, envByName.get(cr.env))))
      .sort((a, b) => b.createRevision - a.createRevision);
    res.json({ changeRequests: out.slice(0, limit), ...(out.length > limit ? { more: true } : {}) });
  }, { scope: 'own' });

  r.add('get', ONE, 'read', async (req, res, who) => {
    const stored = await get(recordId(req, 'cr'));
    requireEnvironment(who, stored.changeRequest.env);
    res.json(stored);
  }, { scope: 'own' });

  r.add('post', COLLECTION, 'write', async (req, res, who) => {
    const body = objectBody(req);
    const explicit = body.environment === undefined ? undefined : keyField(body.environment, 'environment');
    const env = scopedEnvironment(ctx.replica, who, explicit);
    const title = stringField(body, 'title', { required: true, max: MAX_TITLE_CHARS })!;
    const description = stringField(body, 'description', { max: MAX_COMMENT_CHARS });
    const submit = body.submit === undefined ? undefined : body.submit === true ? true : body.submit === false ? false : (() => { throw invalid('submit', 'must be true or false'); })();
    const ops = checkChangeRequestOps(body.ops);
    const out = await propose(ctx, req, who, { op: 'changeRequest', action: 'create', env, title, ops, ...(description ? { description } : {}), ...(submit ? { submit } : {}) });
    const stored = written<StoredChangeRequest>(out.changes, 'changeRequest')!;
    res.status(201).location(`${COLLECTION}/${stored.changeRequest.id}`).json(stored);
  }, { scope: 'own' });

  /** A step on an existing request: its environment checked for the token first, then proposed. */
  const step = (path: string, action: 'submit' | 'approve' | 'reject' | 'apply' | 'withdraw' | 'comment' | 'rebase') => {
    r.add('post', `${ONE}/${path}`, 'write', async (req: Request, res: Response, who: Principal) => {
      const id = recordId(req, 'cr');
      const body = objectBody(req, action !== 'comment');
      let cmd: ChangeRequestAction;
      if (action === 'comment') cmd = { action, id, comment: stringField(body, 'comment', { required: true, max: MAX_COMMENT_CHARS })! };
      else if (action === 'rebase') cmd = { action, id, ...(body.ops === undefined ? {} : { ops: checkChangeRequestOps(body.ops) }) };
      else {
        const comment = stringField(body, 'comment', { max: MAX_COMMENT_CHARS });
        cmd = { action, id, ...(comment ? { comment } : {}) };
      }
      // The request's environment, for a token limited to some (a staging reviewer cannot approve production).
      const before = await get(id);
      requireEnvironment(who, before.changeRequest.env);
      const out = await propose(ctx, req, who, { op: 'changeRequest', ...cmd });
      const stored = written<StoredChangeRequest>(out.changes, 'changeRequest', id) ?? (await get(id));
      if (action === 'apply' && stored.changeRequest.status === 'conflicted') {
        // Not applied: what it was made against moved. The three-way data lets a client show the diff; the author rebases.
        const cr = stored.changeRequest;
        throw new HttpProblem('conflict', `change request ${id} was not applied: ${cr.conflicts?.length ? `${cr.conflicts.length} item(s) changed since it was made` : cr.applyError ?? 'its operations no longer apply'}; its author may rebase it (POST ${COLLECTION}/${id}/rebase)`, {
          reason: 'CONFLICTED', changeRequest: stored, conflicts: cr.conflicts ?? [], ...(cr.applyError ? { applyError: cr.applyError } : {}),
        });
      }
      res.json(stored);
    }, { scope: 'own' });
  };
  step('comments', 'comment');
  step('submit', 'submit');
  step('approve', 'approve');
  step('reject', 'reject');
  step('apply', 'apply');
  step('withdraw', 'withdraw');
  step('rebase', 'rebase');
}
