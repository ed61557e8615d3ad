import { describe, expect, it } from 'vitest';
import { MemoryStateView } from './apply.js';
import { encodeCommand } from './commands.js';
import { promotionPlan } from './environments.js';
import { boolFlag, cmd, segment, errOf, revisions } from './test-fixtures.js';
import type { Command, StoredEnvironment } from './types.js';

const revs = revisions();
const run = revs.run;

/** production (default) + staging + dev; staging copies production. */
function threeEnvs(): MemoryStateView {
  const v = new MemoryStateView();
  expect(run(v, cmd({ op: 'putEnvironment', environment: { name: 'staging', displayName: 'Staging' } })).ok).toBe(true);
  expect(run(v, cmd({ op: 'putEnvironment', environment: { name: 'dev' } })).ok).toBe(true);
  return v;
}

describe('environments', () => {
  it('a flag has one definition and a configuration per environment; a new flag is off in production', () => {
    const v = threeEnvs();
    const r = run(v, cmd({ op: 'putFlag', env: 'staging', flag: boolFlag('checkout', { enabled: true, defaultVariant: 'on', offVariant: 'on' }) }));
    expect(r.ok && r.changes.map((c) => [c.env ?? 'default', c.op])).toEqual([['staging', 'put'], ['dev', 'put'], ['default', 'put']]);
    expect(v.getFlagIn('staging', 'checkout')!.flag).toMatchObject({ enabled: true, offVariant: 'on' });
    expect(v.getFlagIn('dev', 'checkout')!.flag).toMatchObject({ enabled: true, offVariant: 'on' });
    // production: switched off, and no offVariant (so it serves false, not "on")
    expect(v.getFlag('checkout')!.flag.enabled).toBe(false);
    expect(v.getFlag('checkout')!.flag.offVariant).toBeUndefined();

    // Configuration changes stay in their environment.
    expect(run(v, cmd({ op: 'putFlag', env: 'dev', flag: boolFlag('checkout', { enabled: false, defaultVariant: 'on', offVariant: 'on' }) })).ok).toBe(true);
    expect(v.getFlagIn('staging', 'checkout')!.flag.enabled).toBe(true);
    const stagingRev = v.getFlagIn('staging', 'checkout')!.modRevision;

    // A definition change (description, variants) reaches every environment, each keeping its configuration.
    const r2 = run(v, cmd({ op: 'putFlag', env: 'dev', flag: boolFlag('checkout', { enabled: false, defaultVariant: 'on', offVariant: 'on', description: 'new checkout' }) }));
    expect(r2.ok && r2.changes).toHaveLength(3);
    for (const env of ['production', 'staging', 'dev']) expect(v.getFlagIn(env, 'checkout')!.flag.description).toBe('new checkout');
    expect(v.getFlagIn('staging', 'checkout')!.flag.enabled).toBe(true);
    expect(v.getFlagIn('staging', 'checkout')!.modRevision).toBeGreaterThan(stagingRev);
  });

  it('a definition change that breaks another environment\'s configuration is refused, naming it', () => {
    const v = threeEnvs();
    const f = { ...boolFlag('k'), variants: { on: true, off: false, maybe: false } as Record<string, boolean> };
    expect(run(v, cmd({ op: 'putFlag', flag: f })).ok).toBe(true);
    expect(run(v, cmd({ op: 'putFlag', env: 'staging', flag: { ...f, defaultVariant: 'maybe' } })).ok).toBe(true);
    const e = errOf(run(v, cmd({ op: 'putFlag', flag: { ...f, variants: { on: true, off: false } } })));
    expect(e).toMatchObject({ code: 'VALIDATION', env: 'staging' });
    expect(e!.message).toContain('environment "staging"');
  });

  it('deleting a flag deletes it everywhere; commands without env act on the default environment', () => {
    const v = threeEnvs();
    run(v, cmd({ op: 'putFlag', flag: boolFlag('k') }));
    expect(v.getFlag('k')!.flag.enabled).toBe(true); // written directly in production: as given
    const r = run(v, cmd({ op: 'deleteFlag', key: 'k' }));
    expect(r.ok && r.changes).toHaveLength(3);
    expect(r.ok && r.changes[0].env).toBeUndefined();
    for (const env of ['production', 'staging', 'dev']) expect(v.getFlagIn(env, 'k')).toBeUndefined();
  });

  it('create copies configurations; rename changes the display name; delete is refused while flags are configured unless forced', () => {
    const v = new MemoryStateView();
    run(v, cmd({ op: 'putFlag', flag: boolFlag('a') }));
    run(v, cmd({ op: 'putFlag', flag: boolFlag('b', { enabled: false }) }));
    const r = run(v, cmd({ op: 'putEnvironment', environment: { name: 'qa' } }));
    expect(r.ok && r.changes.map((c) => `${c.kind}:${c.key}:${c.env ?? ''}`)).toEqual(['environment:qa:', 'flag:a:qa', 'flag:b:qa']);
    expect(v.getFlagIn('qa', 'a')!.flag.enabled).toBe(true);
    expect(run(v, cmd({ op: 'putEnvironment', environment: { name: 'qa', displayName: 'Quality' }, expectedRevision: revs.rev })).ok).toBe(true);
    expect((v.getEnvironment('qa') as StoredEnvironment).environment.displayName).toBe('Quality');
    expect(v.flagKeysIn('qa')).toEqual(['a', 'b']);

    expect(errOf(run(v, cmd({ op: 'deleteEnvironment', name: 'qa' })))).toMatchObject({ code: 'ENVIRONMENT_IN_USE', usedBy: ['a', 'b'] });
    expect(errOf(run(v, cmd({ op: 'deleteEnvironment', name: 'production', force: true })))).toMatchObject({ code: 'ENVIRONMENT_IN_USE' });
    const d = run(v, cmd({ op: 'deleteEnvironment', name: 'qa', force: true }));
    expect(d.ok && d.changes.map((c) => `${c.kind}:${c.op}:${c.key}`)).toEqual(['flag:delete:a', 'flag:delete:b', 'environment:delete:qa']);
    expect(v.getEnvironment('qa')).toBeUndefined();
    expect(v.getFlag('a')).toBeDefined();
    expect(errOf(run(v, cmd({ op: 'putFlag', env: 'qa', flag: boolFlag('c') })))).toMatchObject({ code: 'NOT_FOUND', env: 'qa' });
  });

  it('delete is refused while change requests or schedules are open there unless forced, and takes every record of the environment with it', () => {
    const v = threeEnvs();
    const crId = (r: ReturnType<typeof run>) => (r.ok ? (r.changes.find((c) => c.kind === 'changeRequest')!.key) : 'none');
    const open = crId(run(v, cmd({ op: 'changeRequest', action: 'create', env: 'dev', title: 'open', ops: [{ op: 'putFlag', flag: boolFlag('x') }] })));
    const closed = crId(run(v, cmd({ op: 'changeRequest', action: 'create', env: 'dev', title: 'closed', ops: [{ op: 'putFlag', flag: boolFlag('y') }] })));
    expect(run(v, cmd({ op: 'changeRequest', action: 'withdraw', id: closed })).ok).toBe(true);
    const sch = run(v, cmd({ op: 'schedule', action: 'create', env: 'dev', title: 'later', steps: [{ at: 4_000_000_000_000, ops: [{ op: 'putFlag', flag: boolFlag('z') }] }] }));
    const schId = sch.ok ? sch.changes.find((c) => c.kind === 'schedule')!.key : 'none';
    const other = crId(run(v, cmd({ op: 'changeRequest', action: 'create', env: 'staging', title: 'elsewhere', ops: [{ op: 'putFlag', flag: boolFlag('w') }] })));
    expect(v.flagKeysIn('dev')).toEqual([]);
    const refused = errOf(run(v, cmd({ op: 'deleteEnvironment', name: 'dev' })));
    expect(refused).toMatchObject({ code: 'ENVIRONMENT_IN_USE', usedBy: [open, schId] });
    expect(refused?.message).toContain('open change requests or pending schedules');
    const d = run(v, cmd({ op: 'deleteEnvironment', name: 'dev', force: true }));
    expect(d.ok && d.changes.map((c) => `${c.kind}:${c.op}:${c.key}`)).toEqual([`changeRequest:delete:${open}`, `changeRequest:delete:${closed}`, `schedule:delete:${schId}`, 'environment:delete:dev']);
    expect(v.recordIds('changeRequest')).toEqual([other]);
    expect(v.recordIds('schedule')).toEqual([]);
    // With only closed records left, no force is needed, and they go too.
    expect(run(v, cmd({ op: 'changeRequest', action: 'withdraw', id: other })).ok).toBe(true);
    const s2 = run(v, cmd({ op: 'deleteEnvironment', name: 'staging' }));
    expect(s2.ok && s2.changes.map((c) => `${c.kind}:${c.op}:${c.key}`)).toEqual([`changeRequest:delete:${other}`, 'environment:delete:staging']);
    expect(v.recordIds('changeRequest')).toEqual([]);
  });

  it('promotion copies one or all configurations atomically, with the same plan as its dry run', () => {
    const v = threeEnvs();
    run(v, cmd({ op: 'putSegment', segment: segment('beta') }));
    run(v, cmd({ op: 'putFlag', env: 'staging', flag: boolFlag('a', { rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] }) }));
    run(v, cmd({ op: 'putFlag', env: 'staging', flag: boolFlag('b') }));
    run(v, cmd({ op: 'putFlag', env: 'staging', flag: boolFlag('c') }));
    run(v, cmd({ op: 'putFlag', flag: boolFlag('c') })); // already the same in production
    const plan = promotionPlan(v, 'staging', 'production');
    expect(Array.isArray(plan) && plan.map((p) => [p.key, p.before?.flag.enabled, p.after.enabled])).toEqual([['a', false, true], ['b', false, true]]);
    const r = run(v, cmd({ op: 'promote', from: 'staging', to: 'production' }));
    expect(r.ok && r.changes.map((c) => c.key)).toEqual(['a', 'b']);
    expect(v.getFlag('a')!.flag.rules[0].segments).toEqual(['beta']);
    expect(promotionPlan(v, 'staging', 'production')).toEqual([]);
    expect(errOf(run(v, cmd({ op: 'promote', from: 'staging', to: 'nowhere' })))).toMatchObject({ code: 'NOT_FOUND' });
    expect(errOf(run(v, cmd({ op: 'promote', from: 'staging', to: 'production', keys: ['missing'] })))!.message).toContain('"missing" is not configured');
  });

  it('segments are shared: in use in any environment blocks their delete', () => {
    const v = threeEnvs();
    run(v, cmd({ op: 'putSegment', segment: segment('beta') }));
    run(v, cmd({ op: 'putFlag', flag: boolFlag('a') }));
    run(v, cmd({ op: 'putFlag', env: 'dev', flag: boolFlag('a', { rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] }) }));
    expect(v.segmentUsersIn('dev', 'beta')).toEqual(['a']);
    expect(v.segmentUsersIn('production', 'beta')).toEqual([]);
    expect(errOf(run(v, cmd({ op: 'deleteSegment', name: 'beta' })))).toMatchObject({ code: 'SEGMENT_IN_USE', usedBy: ['a'] });
  });

  it('bad environment commands get clear errors naming the field', () => {
    const v = new MemoryStateView();
    expect(errOf(run(v, cmd({ op: 'putEnvironment', environment: { name: 'bad name' } })))).toMatchObject({ code: 'VALIDATION', issues: [{ path: 'name' }] });
    expect(errOf(run(v, cmd({ op: 'putEnvironment', environment: { name: 'x', policy: { approvalsRequired: -1 } } })))!.issues![0].path).toBe('policy.approvalsRequired');
    expect(() => encodeCommand(cmd({ op: 'promote', from: 'a' }))).toThrow(/promote needs from and to/);
  });
});
