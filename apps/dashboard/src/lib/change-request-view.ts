// What the change request pages show, computed from the stored request, its
// environment's policy and who is looking (pure: unit-tested, run on the
// dashboard server). The gateway decides every step; this only explains.
import { diffJson, type DiffEntry } from './diff';
import type { ChangeRequestOp, StoredChangeRequest } from './types';

/** The approval policy of an environment as the pages need it. */
export interface PolicyView {
  approvals: number;
  authorCannotApprove: boolean;
  approverRoles: string[];
  approvers: string[];
}

export const STATUS_LABELS: ReadonlyMap<string, string> = new Map([
  ['draft', 'draft'],
  ['inReview', 'in review'],
  ['approved', 'approved'],
  ['applied', 'applied'],
  ['rejected', 'rejected'],
  ['withdrawn', 'withdrawn'],
  ['conflicted', 'conflicted'],
]);

export function statusLabel(s: string): string {
  return STATUS_LABELS.get(s) ?? s;
}

/** "n of N approvals" (N from the policy; at least 1 when the policy is missing or 0). */
export function approvalsText(cr: StoredChangeRequest, policy: PolicyView | undefined): string {
  const n = cr.changeRequest.approvals.length;
  const needed = Math.max(1, policy?.approvals ?? 0);
  return `${n} of ${needed} approval${needed === 1 ? '' : 's'}`;
}

/** Why `me` cannot approve (or reject) this request, or undefined when they may. */
export function whyCannotApprove(cr: StoredChangeRequest, policy: PolicyView | undefined, me: { name: string; role: string }): string | undefined {
  const c = cr.changeRequest;
  if (c.status !== 'inReview') return `It is ${statusLabel(c.status)}, not in review.`;
  if (me.role === 'reader') return 'Your role (reader) cannot approve.';
  if (policy?.authorCannotApprove && c.author === me.name) return `You wrote it, and the policy of ${c.env} says the author cannot approve (author-cannot-approve).`;
  if (c.approvals.some((a) => a.actor === me.name)) return 'You approved it already.';
  const roles = policy?.approverRoles ?? [];
  const names = policy?.approvers ?? [];
  if ((roles.length || names.length) && !roles.includes(me.role) && !names.includes(me.name)) {
    const who = [...roles.map((r) => `role ${r}`), ...names].join(', ');
    return `The policy of ${c.env} lets only ${who} approve.`;
  }
  return undefined;
}

/** One op of a request as shown: a title and its diff against the base it was made from. */
export interface OpView {
  title: string;
  diff: DiffEntry[];
  /** For ops without a per-field diff (promote): the op as JSON. */
  raw?: string;
}

function baseItem(cr: StoredChangeRequest, kind: 'flag' | 'segment' | 'environment', key: string): unknown {
  const b = cr.changeRequest.bases.find((x) => x.kind === kind && x.key === key);
  const item = b?.item as Record<string, unknown> | null | undefined;
  if (!item) return null;
  return kind === 'flag' ? item.flag : kind === 'segment' ? item.segment : item.environment;
}

export function opViews(cr: StoredChangeRequest): OpView[] {
  return cr.changeRequest.ops.map((op: ChangeRequestOp) => {
    switch (op.op) {
      case 'putFlag': {
        const before = baseItem(cr, 'flag', op.flag.key);
        return { title: `${before ? 'Change' : 'Create'} flag ${op.flag.key}`, diff: diffJson(before, op.flag) };
      }
      case 'deleteFlag':
        return { title: `Delete flag ${op.key}`, diff: diffJson(baseItem(cr, 'flag', op.key), null) };
      case 'putSegment': {
        const before = baseItem(cr, 'segment', op.segment.name);
        return { title: `${before ? 'Change' : 'Create'} segment ${op.segment.name}`, diff: diffJson(before, op.segment) };
      }
      case 'deleteSegment':
        return { title: `Delete segment ${op.name}`, diff: diffJson(baseItem(cr, 'segment', op.name), null) };
      case 'putEnvironment':
        return { title: `Change environment ${op.environment.name}`, diff: diffJson(baseItem(cr, 'environment', op.environment.name), op.environment) };
      default:
        return { title: `Promote ${op.keys?.join(', ') ?? 'every flag'} from ${op.from} to ${op.to}`, diff: [], raw: JSON.stringify(op, null, 2) };
    }
  });
}
