// Change requests (issue 16 item 5): what a protected environment's refusal
// turns into, and the review page's steps. Every call goes through the
// gateway's typed client with the user's own token, so the gateway (and the
// state machine behind it) decides who may approve; the dashboard only words it.
import { routeAction$ } from '@builder.io/qwik-city';
import type { ChangeRequestOp, StoredChangeRequest } from '~/lib/types';
import { GatewayError } from './gateway';
import { gatewayFor, problemOf } from './request';
import { parseEditorJson } from './validation';

/** Longest title, in characters (the gateway's MAX_TITLE_CHARS). */
export const MAX_TITLE_CHARS = 200;
/** Longest comment sent from the review page, in characters. */
export const MAX_COMMENT_CHARS = 4000;

/** The environment a write was refused in because its policy needs approvals (409 reason PROTECTED), else undefined. */
export function protectedEnv(err: unknown, fallback: string): string | undefined {
  if (!(err instanceof GatewayError) || err.status !== 409 || err.problem.reason !== 'PROTECTED') return undefined;
  return typeof err.problem.environment === 'string' ? err.problem.environment : fallback;
}

/** What a refused write hands to the page: enough to propose the same change as a change request. */
export interface Proposal {
  env: string;
  title: string;
  /** JSON of the ops (ChangeRequestOp[]). */
  ops: string;
}

export function proposalOf(env: string, title: string, ops: ChangeRequestOp[]): Proposal {
  return { env, title: title.slice(0, MAX_TITLE_CHARS), ops: JSON.stringify(ops) };
}

function text(v: unknown): string {
  return typeof v === 'string' ? v.trim() : '';
}

/** Creates a change request (submitted for review) from a refused write's proposal, then opens it. */
export const useProposeChange = routeAction$(async (data, ev) => {
  const env = text(data.env);
  const title = text(data.title);
  if (!env) return ev.fail(400, { message: 'env is required' });
  if (!title || title.length > MAX_TITLE_CHARS) return ev.fail(400, { message: `title is required, at most ${MAX_TITLE_CHARS} characters` });
  const parsed = parseEditorJson(data.ops);
  if (!parsed.ok || !Array.isArray(parsed.value) || parsed.value.length === 0) {
    return ev.fail(400, { message: `ops must be a non-empty JSON array of changes${parsed.ok ? '' : `: ${parsed.issues[0]?.message}`}` });
  }
  let created: StoredChangeRequest;
  try {
    created = await gatewayFor(ev).api.createChangeRequest({ environment: env, title, ops: parsed.value as ChangeRequestOp[], submit: true });
  } catch (err) {
    const p = problemOf(err);
    return ev.fail(p.status, { message: p.message, issues: p.issues });
  }
  throw ev.redirect(303, `/change-requests/${encodeURIComponent(created.changeRequest.id)}?created=1`);
});

export const CR_STEPS = ['comment', 'approve', 'reject', 'apply', 'withdraw', 'rebase', 'submit'] as const;
export type CrStep = (typeof CR_STEPS)[number];

/** One step of the review page: comment, approve / reject (with a comment), apply, withdraw, rebase, submit. */
export const useChangeRequestStep = routeAction$(async (data, ev) => {
  const id = ev.params.id;
  const step = CR_STEPS.find((s) => s === data.step);
  if (!id || !step) return ev.fail(400, { message: `step must be one of ${CR_STEPS.join(', ')}` });
  const comment = text(data.comment);
  if (comment.length > MAX_COMMENT_CHARS) return ev.fail(400, { message: `comment longer than ${MAX_COMMENT_CHARS} characters` });
  if (step === 'comment' && !comment) return ev.fail(400, { message: 'Write a comment first.' });
  const api = gatewayFor(ev).api;
  const c = comment || undefined;
  try {
    const stored =
      step === 'comment' ? await api.commentChangeRequest(id, comment)
      : step === 'approve' ? await api.approveChangeRequest(id, c)
      : step === 'reject' ? await api.rejectChangeRequest(id, c)
      : step === 'apply' ? await api.applyChangeRequest(id)
      : step === 'withdraw' ? await api.withdrawChangeRequest(id)
      : step === 'rebase' ? await api.rebaseChangeRequest(id)
      : await api.submitChangeRequest(id, c);
    return { ok: true as const, step, status: stored.changeRequest.status };
  } catch (err) {
    const p = problemOf(err);
    // A 403 here is mostly the policy (author-cannot-approve, approvers), not the role: the gateway's own words.
    const message = err instanceof GatewayError && err.status === 403 && err.problem.detail ? `Refused: ${err.problem.detail}` : p.message;
    // A conflicted apply: the page reloads the request, which now holds the conflicts.
    return ev.fail(p.status, { step, message });
  }
});
