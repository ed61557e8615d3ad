// The leader's scheduler driven by an injected clock (clock.ts Clock, the
// interface the node's own clocks have) read through a ClusterClock, as on a
// node: nothing is proposed before a step is due on the voters' median
// clock, the due step is proposed once it is, stamped with the reading it
// was found due at, a follower proposes nothing, a leader whose own wall
// clock jumped ahead does not fire early, and a step proposed twice (two
// leaders) applies once. The state machine here is flag-model's
// applyCommand over a MemoryStateView; it reads no clock, only the entry's time.
import { describe, expect, it } from 'vitest';
import { applyCommand, MemoryStateView, type Command, type StoredSchedule } from '@flagraft/flag-model';
import { ClusterClock, type Clock } from './clock.js';
import { createLogger } from './log.js';
import type { CommandInput } from './proposer.js';
import { Scheduler } from './scheduler.js';
import type { WriteOutcome } from './state-machine.js';

const T0 = Date.UTC(2027, 0, 1, 9, 0, 0);
const DAY = 24 * 3600_000;
const flag = (enabled: boolean) => ({ key: 'k', type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: 'on', enabled, rules: [] });

function harness() {
  // The true time is `t`; this node's wall clock reads t + skew; monotonic = t - T0.
  const clock = { t: T0, skew: 0, now() { return this.t + this.skew; }, monotonic() { return this.t - T0; } } satisfies Clock & { t: number; skew: number };
  // Voters 1 (this node), 2 and 3; 2 and 3 report the true time on every batch (tick()).
  const cluster = new ClusterClock(clock, 1, () => [1, 2, 3]);
  const hearPeers = () => { cluster.observe(2, clock.t); cluster.observe(3, clock.t); };
  const view = new MemoryStateView();
  let revision = 0;
  const proposed: { cmd: CommandInput; time: number }[] = [];
  const apply = (cmd: CommandInput, time = cluster.now()): WriteOutcome => {
    const r = applyCommand(view, { ...cmd, v: 1, time } as Command, ++revision);
    if (r.ok) view.commit(r.changes);
    return r.ok ? { ok: true, revision, changes: r.changes } : { ok: false, revision, error: r.error };
  };
  let leader = true;
  const scheduler = new Scheduler({
    clock: cluster, pollMs: 1_000_000, log: createLogger({ app: 'test' }, 'error'),
    isLeader: () => leader,
    schedules: () => [...view.schedules.values()].map((s: StoredSchedule) => s.schedule),
    propose: async (cmd, time) => { proposed.push({ cmd, time }); return apply(cmd, time); },
  });
  const fires = () => proposed.filter((p) => p.cmd.op === 'schedule' && p.cmd.action === 'fire');
  const tick = async () => { hearPeers(); await scheduler.tick(); };
  return { clock, view, apply, proposed, fires, tick, setLeader: (v: boolean) => { leader = v; } };
}

describe('Scheduler', () => {
  it('proposes a step only once it is due on the injected clock, and only on the leader', async () => {
    const h = harness();
    h.apply({ actor: 'alice', op: 'putFlag', flag: flag(false) });
    const created = h.apply({ actor: 'alice', op: 'schedule', action: 'create', title: 'on at nine-thirty', steps: [{ at: T0 + 30 * 60_000, ops: [{ op: 'putFlag', flag: flag(true) }] }] });
    const id = created.ok ? created.changes[0].key : '';
    await h.tick();
    expect(h.fires()).toEqual([]);
    h.clock.t = T0 + 30 * 60_000;
    h.setLeader(false);
    await h.tick();
    expect(h.fires()).toEqual([]);
    h.setLeader(true);
    await h.tick();
    expect(h.proposed.at(-1)).toEqual({ cmd: expect.objectContaining({ op: 'schedule', action: 'fire', id, step: 0, actor: 'scheduler (alice)', requestId: `${id}/0` }), time: T0 + 30 * 60_000 });
    expect(h.view.getFlag('k')!.flag.enabled).toBe(true);
    expect(h.view.getSchedule(id)!.schedule.steps[0]).toMatchObject({ status: 'applied', revision: h.view.getFlag('k')!.modRevision });
    // Nothing pending any more: later looks propose nothing.
    const n = h.proposed.length;
    h.clock.t += 3_600_000;
    await h.tick();
    expect(h.proposed).toHaveLength(n);
  });

  it('a leader whose own wall clock jumped a day ahead fires on the voters\' median, with that time in the entry', async () => {
    const h = harness();
    h.apply({ actor: 'alice', op: 'putFlag', flag: flag(false) });
    const created = h.apply({ actor: 'alice', op: 'schedule', action: 'create', title: 'on at ten', steps: [{ at: T0 + 3_600_000, ops: [{ op: 'putFlag', flag: flag(true) }] }] });
    const id = created.ok ? created.changes[0].key : '';
    h.clock.skew = DAY; // its own clock says tomorrow: long past the step
    await h.tick();
    expect(h.fires()).toEqual([]);
    expect(h.view.getFlag('k')!.flag.enabled).toBe(false);
    h.clock.t = T0 + 3_600_000 + 5;
    await h.tick();
    expect(h.fires()).toEqual([{ cmd: expect.objectContaining({ id, step: 0 }), time: T0 + 3_600_000 + 5 }]);
    expect(h.view.getFlag('k')!.flag.enabled).toBe(true);
    expect(h.view.getSchedule(id)!.schedule.steps[0].status).toBe('applied');
  });

  it('a fire proposed again (a second leader) changes nothing', async () => {
    const h = harness();
    h.apply({ actor: 'alice', op: 'putFlag', flag: flag(false) });
    const created = h.apply({ actor: 'alice', op: 'schedule', action: 'create', title: 'x', steps: [{ at: T0, ops: [{ op: 'putFlag', flag: flag(true) }] }] });
    const id = created.ok ? created.changes[0].key : '';
    await h.tick();
    expect(h.fires()).toHaveLength(1);
    const mod = h.view.getFlag('k')!.modRevision;
    const again = h.apply({ actor: 'scheduler (alice)', op: 'schedule', action: 'fire', id, step: 0 });
    expect(again).toMatchObject({ ok: true, changes: [] });
    expect(h.view.getFlag('k')!.modRevision).toBe(mod);
  });
});
