// The conformance suite against the in-memory cluster, and what only it has.
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENVIRONMENT, type StoredSchedule } from '@flagraft/flag-model';
import { createMemoryCluster } from '../src/index.js';
import { clusterConformance, flag } from './conformance.js';

const cluster = createMemoryCluster({ clusterId: 'memory-conformance' });
afterAll(() => cluster.close());
clusterConformance('in-memory', () => cluster);

describe('in-memory cluster', () => {
  it('every command takes a revision, failed ones too (a log index each, as on a node)', async () => {
    const c = createMemoryCluster();
    const a = await c.putFlag(flag('rev-a'), { actor: 't' });
    await expect(c.deleteFlag('rev-missing', { actor: 't' })).rejects.toMatchObject({ code: 'NOT_FOUND', details: { revision: a.revision + 1 } });
    expect((await c.putFlag(flag('rev-b'), { actor: 't' })).revision).toBe(a.revision + 2);
    expect(c.revision).toBe(a.revision + 2);
  });

  it('answers are copies: changing one never changes the store', async () => {
    const c = createMemoryCluster();
    const a = await c.putFlag(flag('copy'), { actor: 't' });
    a.flag.flag.enabled = false;
    (await c.getFlag('copy'))!.flag.enabled = false;
    expect((await c.getFlag('copy'))!.flag.enabled).toBe(true);
  });

  it('a closed cluster refuses calls, as a closed client does', async () => {
    const c = createMemoryCluster();
    c.close();
    await expect(c.getFlag('x')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it("runSchedules is the leader's scheduler on the test's clock: a step fires when due, once, and a stale base is conflicted", async () => {
    let t = Date.parse('2026-12-07T10:00:00Z');
    const c = createMemoryCluster({ now: () => t });
    await c.propose({ op: 'putEnvironment', environment: { name: 'staging' } }, { actor: 't' });
    await c.putFlag(flag('ramp', { enabled: false }), { actor: 't', environment: 'staging' });
    const at = t + 60_000;
    const made = await c.propose({ op: 'schedule', action: 'create', env: 'staging', title: 'on at ten past', steps: [{ at, ops: [{ op: 'putFlag', flag: flag('ramp') }] }, { at: at + 60_000, ops: [{ op: 'putFlag', flag: flag('ramp', { description: 'late' }) }] }] }, { actor: 'planner' });
    const id = (made.changes.find((x) => x.kind === 'schedule')!.after as StoredSchedule).schedule.id;
    expect(await c.runSchedules()).toBe(0);
    expect((await c.getFlag('ramp', { environment: 'staging' }))?.flag.enabled).toBe(false);
    t = at;
    expect(await c.runSchedules()).toBe(1);
    expect(await c.runSchedules()).toBe(0);
    const fired = (await c.history('ramp', { environment: 'staging' }))[0];
    expect(fired).toMatchObject({ actor: 'scheduler (planner)', after: { flag: { enabled: true } } });
    expect((await c.query<StoredSchedule>('schedule', { id })).schedule.steps.map((s) => s.status)).toEqual(['applied', 'pending']);
    // Someone changes the flag by hand: the next step's base is stale.
    await c.putFlag(flag('ramp', { description: 'by hand' }), { actor: 'someone', environment: 'staging' });
    t = at + 60_000;
    expect(await c.runSchedules()).toBe(1);
    expect((await c.query<StoredSchedule>('schedule', { id })).schedule.steps.map((s) => s.status)).toEqual(['applied', 'conflicted']);
    expect((await c.getFlag('ramp', { environment: 'staging' }))?.flag.description).toBe('by hand');
    c.close();
  });

  it('the default environment by name is the same as none; unknown environments and queries are refused by name', async () => {
    const c = createMemoryCluster();
    await c.putFlag(flag('env-default'), { actor: 't', environment: DEFAULT_ENVIRONMENT });
    expect((await c.getFlag('env-default'))?.flag.key).toBe('env-default');
    expect((await c.history('env-default', { environment: DEFAULT_ENVIRONMENT })).length).toBe(1);
    await expect(c.putFlag(flag('env-x'), { actor: 't', environment: 'staging' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'environment "staging" does not exist' });
    await expect(c.query('promotionPlan', { from: DEFAULT_ENVIRONMENT })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'args_json.to must be a non-empty string' });
    await expect(c.propose({ op: 'changeRequest', action: 'approve', id: 'x', actor: 'me' } as never, { actor: 't' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('must not set actor') });
    c.close();
  });
});
