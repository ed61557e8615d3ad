import { describe, expect, it } from 'vitest';
import { approvalsText, opViews, whyCannotApprove } from './change-request-view';
import type { StoredChangeRequest } from './types';

const flag = { key: 'checkout', type: 'boolean', enabled: false, variants: { on: true, off: false }, defaultVariant: 'off' } as never;
function cr(over: Partial<StoredChangeRequest['changeRequest']> = {}): StoredChangeRequest {
  return {
    changeRequest: {
      id: 'cr-1', env: 'production', title: 't', author: 'eddie', status: 'inReview',
      ops: [{ op: 'putFlag', flag: { ...(flag as object), enabled: true } as never }],
      bases: [{ kind: 'flag', key: 'checkout', env: 'production', revision: 3, item: { flag } as never }],
      approvals: [], rejections: [], comments: [], ...over,
    },
    createRevision: 4, modRevision: 4, version: 1, updatedAt: 0, updatedBy: 'eddie',
  };
}
const policy = { approvals: 2, authorCannotApprove: true, approverRoles: [], approvers: [] };

describe('change request view', () => {
  it('counts approvals against the policy', () => {
    expect(approvalsText(cr(), policy)).toBe('0 of 2 approvals');
    expect(approvalsText(cr({ approvals: [{ actor: 'erin', time: 1 }] }), { ...policy, approvals: 1 })).toBe('1 of 1 approval');
  });
  it('says why the current user cannot approve', () => {
    expect(whyCannotApprove(cr(), policy, { name: 'eddie', role: 'editor' })).toMatch(/author cannot approve/);
    expect(whyCannotApprove(cr(), policy, { name: 'erin', role: 'editor' })).toBeUndefined();
    expect(whyCannotApprove(cr(), { ...policy, authorCannotApprove: false }, { name: 'eddie', role: 'editor' })).toBeUndefined();
    expect(whyCannotApprove(cr({ approvals: [{ actor: 'erin', time: 1 }] }), policy, { name: 'erin', role: 'editor' })).toMatch(/already/);
    expect(whyCannotApprove(cr(), { ...policy, approverRoles: ['admin'] }, { name: 'erin', role: 'editor' })).toMatch(/only role admin/);
    expect(whyCannotApprove(cr({ status: 'applied' }), policy, { name: 'erin', role: 'editor' })).toMatch(/applied/);
    expect(whyCannotApprove(cr(), policy, { name: 'rita', role: 'reader' })).toMatch(/reader/);
  });
  it('diffs each op against its base', () => {
    const [v] = opViews(cr());
    expect(v.title).toBe('Change flag checkout');
    expect(v.diff).toEqual([{ path: 'enabled', kind: 'changed', before: 'false', after: 'true' }]);
    const created = opViews(cr({ bases: [] }))[0];
    expect(created.title).toBe('Create flag checkout');
    expect(opViews(cr({ ops: [{ op: 'promote', from: 'staging', to: 'production' }] }))[0].raw).toContain('"from": "staging"');
  });
});
