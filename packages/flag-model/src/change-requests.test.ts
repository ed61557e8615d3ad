import { describe, expect, it } from 'vitest';
import { MemoryStateView } from './apply.js';
import { boolFlag, cmd, segment, errOf, revisions } from './test-fixtures.js';
import type { ChangeRequest, Command, StoredChangeRequest } from './types.js';

const revs = revisions();
const run = revs.run;
const as = (actor: string, body: object, role?: string): Command => ({ ...cmd(body, actor), ...(role ? { actorRole: role } : {}) }) as Command;
const crOf = (v: MemoryStateView, id: string): ChangeRequest => (v.getChangeRequest(id) as StoredChangeRequest).changeRequest;

/** production protected: 2 approvals, author cannot approve; a flag and a segment used by it. */
function protectedProduction(policy: object = { approvalsRequired: 2, authorCannotApprove: true }): MemoryStateView {
  const v = new MemoryStateView();
  expect(run(v, cmd({ op: 'putSegment', segment: segment('beta') })).ok).toBe(true);
  expect(run(v, cmd({ op: 'putFlag', flag: boolFlag('checkout', { rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] }) })).ok).toBe(true);
  expect(run(v, cmd({ op: 'putEnvironment', environment: { name: 'staging' } })).ok).toBe(true);
  expect(run(v, cmd({ op: 'putEnvironment', environment: { name: 'production', production: true, policy } })).ok).toBe(true);
  return v;
}

function create(v: MemoryStateView, actor: string, ops: object[], submit = true): string {
  const r = run(v, as(actor, { op: 'changeRequest', action: 'create', env: 'production', title: 'turn it off', ops, submit }));
  expect(errOf(r)).toBeUndefined();
  return r.ok ? r.changes[0].key : '';
}

describe('protected environments', () => {
  it('every direct write that reaches a protected environment is refused with a pointer to change requests', () => {
    const v = protectedProduction();
    const refused: object[] = [
      { op: 'putFlag', flag: boolFlag('checkout', { enabled: false }) },
      { op: 'putFlag', env: 'production', flag: boolFlag('checkout', { enabled: false }) },
      { op: 'deleteFlag', key: 'checkout' },
      { op: 'batch', ops: [{ op: 'putFlag', env: 'staging', flag: boolFlag('other') }, { op: 'putFlag', flag: boolFlag('checkout', { enabled: false }) }] },
      // the segment is used by a production flag
      { op: 'putSegment', segment: segment('beta', { description: 'changed' }) },
      // a definition change reaches production too
      { op: 'putFlag', env: 'staging', flag: boolFlag('checkout', { description: 'x' }) },
      { op: 'promote', from: 'staging', to: 'production' },
      // lowering the policy is itself protected
      { op: 'putEnvironment', environment: { name: 'production', production: true, policy: { approvalsRequired: 0 } } },
    ];
    run(v, cmd({ op: 'putFlag', env: 'staging', flag: boolFlag('checkout', { enabled: false, rules: [] }) }));
    for (const body of refused) {
      const e = errOf(run(v, cmd(body)));
      expect(e, JSON.stringify(body)).toMatchObject({ code: 'PROTECTED', env: 'production' });
      expect(e!.message).toContain('change request');
    }
    expect(v.getFlag('checkout')!.flag.enabled).toBe(true);
    // Not protected: staging configuration, a new flag (arrives off in production), an unused segment, renaming.
    expect(run(v, cmd({ op: 'putFlag', env: 'staging', flag: boolFlag('checkout', { enabled: true }) })).ok).toBe(true);
    expect(run(v, cmd({ op: 'putFlag', env: 'staging', flag: boolFlag('brand-new') })).ok).toBe(true);
    expect(v.getFlag('brand-new')!.flag.enabled).toBe(false);
    expect(run(v, cmd({ op: 'putSegment', segment: segment('unused') })).ok).toBe(true);
    expect(run(v, cmd({ op: 'putEnvironment', environment: { name: 'production', displayName: 'Prod', production: true, policy: { approvalsRequired: 2, authorCannotApprove: true } } })).ok).toBe(true);
  });
});

describe('change requests', () => {
  it('draft -> in review -> approved (N approvals, not the author) -> applied, each step audited with its actor', () => {
    const v = protectedProduction();
    const base = v.getFlag('checkout')!.modRevision;
    const id = create(v, 'alice', [{ op: 'putFlag', flag: boolFlag('checkout', { enabled: false, rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] }) }], false);
    expect(crOf(v, id)).toMatchObject({ status: 'draft', author: 'alice', env: 'production', bases: [{ kind: 'flag', key: 'checkout', revision: base }] });
    expect(errOf(run(v, as('bob', { op: 'changeRequest', action: 'submit', id })))).toMatchObject({ code: 'FORBIDDEN' });
    expect(run(v, as('alice', { op: 'changeRequest', action: 'submit', id })).ok).toBe(true);
    expect(errOf(run(v, as('alice', { op: 'changeRequest', action: 'approve', id })))).toMatchObject({ code: 'FORBIDDEN' });
    expect(errOf(run(v, as('bob', { op: 'changeRequest', action: 'apply', id })))).toMatchObject({ code: 'INVALID_STATE' });
    const a1 = run(v, as('bob', { op: 'changeRequest', action: 'approve', id, comment: 'ok' }));
    expect(a1.ok && a1.changes[0]).toMatchObject({ kind: 'changeRequest', key: id, actor: 'bob' });
    expect(errOf(run(v, as('bob', { op: 'changeRequest', action: 'approve', id })))).toMatchObject({ code: 'INVALID_STATE' });
    expect(crOf(v, id).status).toBe('inReview');
    run(v, as('carol', { op: 'changeRequest', action: 'comment', id, comment: 'looks fine' }));
    run(v, as('carol', { op: 'changeRequest', action: 'approve', id }));
    expect(crOf(v, id).status).toBe('approved');
    const applied = run(v, as('dave', { op: 'changeRequest', action: 'apply', id }));
    expect(applied.ok && applied.changes.map((c) => `${c.kind}:${c.key}:${c.actor}`)).toEqual(['flag:checkout:dave', `changeRequest:${id}:dave`]);
    expect(v.getFlag('checkout')!.flag.enabled).toBe(false);
    expect(crOf(v, id)).toMatchObject({ status: 'applied', appliedRevision: revs.rev, comments: [{ actor: 'carol', text: 'looks fine' }] });
    expect(crOf(v, id).approvals.map((a) => a.actor)).toEqual(['bob', 'carol']);
    expect(errOf(run(v, as('dave', { op: 'changeRequest', action: 'apply', id })))).toMatchObject({ code: 'INVALID_STATE' });
  });

  it('approvers limited by role or by name', () => {
    const v = protectedProduction({ approvalsRequired: 1, approverRoles: ['admin'], approvers: ['erin'] });
    const id = create(v, 'alice', [{ op: 'deleteFlag', key: 'checkout' }]);
    expect(errOf(run(v, as('bob', { op: 'changeRequest', action: 'approve', id }, 'editor')))).toMatchObject({ code: 'FORBIDDEN' });
    expect(errOf(run(v, as('bob', { op: 'changeRequest', action: 'approve', id })))!.message).toContain('not an approver');
    expect(run(v, as('root', { op: 'changeRequest', action: 'approve', id }, 'admin')).ok).toBe(true);
    expect(crOf(v, id).status).toBe('approved');
    const id2 = create(v, 'alice', [{ op: 'putFlag', flag: boolFlag('x') }]);
    expect(run(v, as('erin', { op: 'changeRequest', action: 'approve', id: id2 })).ok).toBe(true);
    expect(crOf(v, id2).status).toBe('approved');
  });

  it('a policy raised after approval is re-checked on apply', () => {
    const v = protectedProduction({ approvalsRequired: 1 });
    const id = create(v, 'alice', [{ op: 'putFlag', flag: boolFlag('checkout', { enabled: false }) }]);
    run(v, as('bob', { op: 'changeRequest', action: 'approve', id }));
    const raise = create(v, 'alice', [{ op: 'putEnvironment', environment: { name: 'production', production: true, policy: { approvalsRequired: 2 } } }]);
    run(v, as('bob', { op: 'changeRequest', action: 'approve', id: raise }));
    expect(run(v, as('bob', { op: 'changeRequest', action: 'apply', id: raise })).ok).toBe(true);
    expect(errOf(run(v, as('bob', { op: 'changeRequest', action: 'apply', id })))).toMatchObject({ code: 'INVALID_STATE' });
  });

  it('apply on a stale base -> conflicted with three-way data; rebase by the author resets approvals', () => {
    const v = protectedProduction({ approvalsRequired: 1 });
    const base = v.getFlag('checkout')!.modRevision;
    const id = create(v, 'alice', [{ op: 'putFlag', flag: boolFlag('checkout', { enabled: false }) }]);
    const other = create(v, 'carol', [{ op: 'putFlag', flag: boolFlag('checkout', { description: 'meanwhile' }) }]);
    run(v, as('bob', { op: 'changeRequest', action: 'approve', id }));
    run(v, as('bob', { op: 'changeRequest', action: 'approve', id: other }));
    run(v, as('bob', { op: 'changeRequest', action: 'apply', id: other }));
    const r = run(v, as('bob', { op: 'changeRequest', action: 'apply', id }));
    expect(r.ok && r.changes.map((c) => c.kind)).toEqual(['changeRequest']);
    const cr = crOf(v, id);
    expect(cr.status).toBe('conflicted');
    expect(cr.conflicts![0]).toMatchObject({ kind: 'flag', key: 'checkout', revision: base, item: { flag: { enabled: true } }, current: { flag: { description: 'meanwhile' } }, proposed: { enabled: false } });
    expect(v.getFlag('checkout')!.flag.enabled).toBe(true);
    expect(errOf(run(v, as('bob', { op: 'changeRequest', action: 'rebase', id })))).toMatchObject({ code: 'FORBIDDEN' });
    run(v, as('alice', { op: 'changeRequest', action: 'rebase', id, ops: [{ op: 'putFlag', flag: boolFlag('checkout', { enabled: false, description: 'meanwhile' }) }] }));
    expect(crOf(v, id)).toMatchObject({ status: 'inReview', approvals: [] });
    expect(crOf(v, id).conflicts).toBeUndefined();
    run(v, as('bob', { op: 'changeRequest', action: 'approve', id }));
    expect(run(v, as('bob', { op: 'changeRequest', action: 'apply', id })).ok).toBe(true);
    expect(v.getFlag('checkout')!.flag).toMatchObject({ enabled: false, description: 'meanwhile' });
  });

  it('reject and withdraw end a request; ops of another environment are refused at creation', () => {
    const v = protectedProduction({ approvalsRequired: 1 });
    const id = create(v, 'alice', [{ op: 'deleteFlag', key: 'checkout' }]);
    expect(errOf(run(v, as('alice', { op: 'changeRequest', action: 'reject', id })))).toMatchObject({ code: 'FORBIDDEN' });
    run(v, as('bob', { op: 'changeRequest', action: 'reject', id, comment: 'no' }));
    expect(crOf(v, id)).toMatchObject({ status: 'rejected', rejections: [{ actor: 'bob', text: 'no' }] });
    expect(errOf(run(v, as('bob', { op: 'changeRequest', action: 'approve', id })))).toMatchObject({ code: 'INVALID_STATE' });
    const id2 = create(v, 'alice', [{ op: 'deleteFlag', key: 'checkout' }]);
    run(v, as('alice', { op: 'changeRequest', action: 'withdraw', id: id2 }));
    expect(crOf(v, id2).status).toBe('withdrawn');
    expect(errOf(run(v, as('alice', { op: 'changeRequest', action: 'create', env: 'production', title: 't', ops: [{ op: 'putFlag', env: 'staging', flag: boolFlag('checkout') }] })))).toMatchObject({ code: 'BAD_COMMAND' });
    expect(errOf(run(v, as('alice', { op: 'changeRequest', action: 'create', env: 'production', title: 't', ops: [{ op: 'putFlag', flag: { key: 'bad' } }] })))).toMatchObject({ code: 'VALIDATION' });
  });
});
