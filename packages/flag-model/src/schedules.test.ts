import { describe, expect, it } from 'vitest';
import { MemoryStateView } from './apply.js';
import { dueStep } from './schedules.js';
import { boolFlag, cmd, errOf, revisions } from './test-fixtures.js';
import type { Command, FlagDefinition, Schedule } from './types.js';

const revs = revisions();
const run = revs.run;
const T0 = 1_800_000_000_000;
const at = (actor: string, time: number, body: object): Command => cmd(body, actor, time);
const scheduleOf = (v: MemoryStateView, id: string): Schedule => v.getSchedule(id)!.schedule;
const rollout = (on: number): FlagDefinition => boolFlag('checkout', { rules: [{ conditions: [], rollout: { weights: [{ variant: 'on', weight: on }, { variant: 'off', weight: 100 - on }] } }] });

describe('schedules', () => {
  it('a rollout of steps fires in order, each exactly once, only when due on the replicated clock', () => {
    const v = new MemoryStateView();
    run(v, at('alice', T0, { op: 'putFlag', flag: rollout(0) }));
    const c = run(v, at('alice', T0, { op: 'schedule', action: 'create', title: 'ramp', steps: [5, 25, 100].map((p, i) => ({ at: T0 + (i + 1) * 60_000, ops: [{ op: 'putFlag', flag: rollout(p) }] })) }));
    const id = c.ok ? c.changes[0].key : '';
    expect(dueStep(scheduleOf(v, id), T0 + 59_999)).toBeUndefined();
    expect(errOf(run(v, at('leader', T0 + 59_999, { op: 'schedule', action: 'fire', id, step: 0 })))).toMatchObject({ code: 'INVALID_STATE' });
    expect(errOf(run(v, at('leader', T0 + 200_000, { op: 'schedule', action: 'fire', id, step: 1 })))!.message).toContain('fire in order');
    expect(dueStep(scheduleOf(v, id), T0 + 60_000)).toBe(0);
    const f = run(v, at('leader', T0 + 60_000, { op: 'schedule', action: 'fire', id, step: 0 }));
    expect(f.ok && f.changes.map((x) => x.kind)).toEqual(['flag', 'schedule']);
    expect(v.getFlag('checkout')!.flag.rules[0].rollout!.weights[0].weight).toBe(5);
    // The same fire again (a new leader that proposed it too): nothing happens.
    const again = run(v, at('leader2', T0 + 60_001, { op: 'schedule', action: 'fire', id, step: 0 }));
    expect(again).toEqual({ ok: true, changes: [] });
    run(v, at('leader', T0 + 120_000, { op: 'schedule', action: 'fire', id, step: 1 }));
    run(v, at('leader', T0 + 180_000, { op: 'schedule', action: 'fire', id, step: 2 }));
    expect(v.getFlag('checkout')!.flag.rules[0].rollout!.weights[0].weight).toBe(100);
    expect(scheduleOf(v, id).steps.map((s) => s.status)).toEqual(['applied', 'applied', 'applied']);
    expect(dueStep(scheduleOf(v, id), T0 + 1e9)).toBeUndefined();
  });

  it('a step whose base moved is not applied but marked conflicted', () => {
    const v = new MemoryStateView();
    run(v, at('alice', T0, { op: 'putFlag', flag: rollout(0) }));
    const c = run(v, at('alice', T0, { op: 'schedule', action: 'create', title: 'on', steps: [{ at: T0 + 1000, ops: [{ op: 'putFlag', flag: rollout(50) }] }] }));
    const id = c.ok ? c.changes[0].key : '';
    run(v, at('bob', T0 + 500, { op: 'putFlag', flag: rollout(10) }));
    const f = run(v, at('leader', T0 + 1000, { op: 'schedule', action: 'fire', id, step: 0 }));
    expect(f.ok && f.changes.map((x) => x.kind)).toEqual(['schedule']);
    expect(scheduleOf(v, id).steps[0]).toMatchObject({ status: 'conflicted', conflicts: [{ key: 'checkout', currentRevision: revs.rev - 1 }] });
    expect(v.getFlag('checkout')!.flag.rules[0].rollout!.weights[0].weight).toBe(10);
  });

  it('in a protected environment only approved change requests can be scheduled', () => {
    const v = new MemoryStateView();
    run(v, at('alice', T0, { op: 'putFlag', flag: rollout(0) }));
    run(v, at('alice', T0, { op: 'putEnvironment', environment: { name: 'production', production: true, policy: { approvalsRequired: 1 } } }));
    expect(errOf(run(v, at('alice', T0, { op: 'schedule', action: 'create', title: 'x', steps: [{ at: T0 + 1, ops: [{ op: 'putFlag', flag: rollout(5) }] }] })))).toMatchObject({ code: 'PROTECTED' });
    const cr = run(v, at('alice', T0, { op: 'changeRequest', action: 'create', title: 'ramp', ops: [{ op: 'putFlag', flag: rollout(5) }], submit: true }));
    const crId = cr.ok ? cr.changes[0].key : '';
    const s = run(v, at('alice', T0, { op: 'schedule', action: 'create', title: 'x', steps: [{ at: T0 + 1000, changeRequest: crId }, { at: T0 + 2000, changeRequest: crId }] }));
    const id = s.ok ? s.changes[0].key : '';
    run(v, at('bob', T0 + 10, { op: 'changeRequest', action: 'approve', id: crId }));
    const f = run(v, at('leader', T0 + 1000, { op: 'schedule', action: 'fire', id, step: 0 }));
    expect(f.ok && f.changes.map((x) => x.kind)).toEqual(['flag', 'changeRequest', 'schedule']);
    expect(v.getFlag('checkout')!.flag.rules[0].rollout!.weights[0].weight).toBe(5);
    // The second step names a request that is applied now: failed, reported, nothing written.
    run(v, at('leader', T0 + 2000, { op: 'schedule', action: 'fire', id, step: 1 }));
    expect(scheduleOf(v, id).steps[1]).toMatchObject({ status: 'failed' });
    expect(scheduleOf(v, id).steps[1].error).toContain('not approved');
  });

  it('cancel stops pending steps', () => {
    const v = new MemoryStateView();
    run(v, at('alice', T0, { op: 'putFlag', flag: rollout(0) }));
    const c = run(v, at('alice', T0, { op: 'schedule', action: 'create', title: 'x', steps: [{ at: T0 + 1000, ops: [{ op: 'putFlag', flag: rollout(50) }] }] }));
    const id = c.ok ? c.changes[0].key : '';
    run(v, at('alice', T0 + 1, { op: 'schedule', action: 'cancel', id }));
    expect(run(v, at('leader', T0 + 1000, { op: 'schedule', action: 'fire', id, step: 0 }))).toEqual({ ok: true, changes: [] });
    expect(v.getFlag('checkout')!.flag.rules[0].rollout!.weights[0].weight).toBe(0);
  });
});
