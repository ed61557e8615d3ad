// The leader's scheduler driven by an injected clock: nothing is proposed
// before a step is due, the due step is proposed once it is, a follower
// proposes nothing, and a step proposed twice (two leaders) applies once.
// The state machine here is flag-model's applyCommand over a MemoryStateView
// with the proposer's time stamped from the same clock, as on a node.
import { describe, expect, it } from 'vitest';
import { applyCommand, MemoryStateView, type Command, type StoredSchedule } from '@flagraft/flag-model';
import type { Clock } from './clock.js';
import { createLogger } from './log.js';
import type { CommandInput } from './proposer.js';
import { Scheduler } from './scheduler.js';
import type { WriteOutcome } from './state-machine.js';

const T0 = Date.UTC(2027, 0, 1, 9, 0, 0);
const flag = (enabled: boolean) => ({ key: 'k', type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: 'on', enabled, rules: [] });

function harness() {
  const clock = { t: T0, now() { return this.t; } } satisfies Clock & { t: number };
  const view = new MemoryStateView();
  let revision = 0;
  const proposed: CommandInput[] = [];
  const apply = (cmd: CommandInput): WriteOutcome => {
    const r = applyCommand(view, { ...cmd, v: 1, time: clock.now() } as Command, ++revision);
    if (r.ok) view.commit(r.changes);
    return r.ok ? { ok: true, revision, changes: r.changes } : { ok: false, revision, error: r.error };
  };
  let leader = true;
  const scheduler = new Scheduler({
    clock, pollMs: 1_000_000, log: createLogger({ app: 'test' }, 'error'),
    isLeader: () => leader,
    schedules: () => [...view.schedules.values()].map((s: StoredSchedule) => s.schedule),
    propose: async (cmd) => { proposed.push(cmd); return apply(cmd); },
  });
  return { clock, view, apply, proposed, scheduler, setLeader: (v: boolean) => { leader = v; } };
}

describe('Scheduler', () => {
  it('proposes a step only once it is due on the injected clock, and only on the leader', async () => {
    const h = harness();
    h.apply({ actor: 'alice', op: 'putFlag', flag: flag(false) });
    const created = h.apply({ actor: 'alice', op: 'schedule', action: 'create', title: 'on at nine-thirty', steps: [{ at: T0 + 30 * 60_000, ops: [{ op: 'putFlag', flag: flag(true) }] }] });
    const id = created.ok ? created.changes[0].key : '';
    await h.scheduler.tick();
    expect(h.proposed.filter((c) => c.op === 'schedule' && c.action === 'fire')).toEqual([]);
    h.clock.t = T0 + 30 * 60_000;
    h.setLeader(false);
    await h.scheduler.tick();
    expect(h.proposed.filter((c) => c.op === 'schedule' && c.action === 'fire')).toEqual([]);
    h.setLeader(true);
    await h.scheduler.tick();
    expect(h.proposed.at(-1)).toMatchObject({ op: 'schedule', action: 'fire', id, step: 0, actor: 'scheduler (alice)', requestId: `${id}/0` });
    expect(h.view.getFlag('k')!.flag.enabled).toBe(true);
    expect(h.view.getSchedule(id)!.schedule.steps[0]).toMatchObject({ status: 'applied', revision: h.view.getFlag('k')!.modRevision });
    // Nothing pending any more: later looks propose nothing.
    const n = h.proposed.length;
    h.clock.t += 3_600_000;
    await h.scheduler.tick();
    expect(h.proposed).toHaveLength(n);
  });

  it('a fire proposed again (a second leader) changes nothing', async () => {
    const h = harness();
    h.apply({ actor: 'alice', op: 'putFlag', flag: flag(false) });
    const created = h.apply({ actor: 'alice', op: 'schedule', action: 'create', title: 'x', steps: [{ at: T0, ops: [{ op: 'putFlag', flag: flag(true) }] }] });
    const id = created.ok ? created.changes[0].key : '';
    await h.scheduler.tick();
    const mod = h.view.getFlag('k')!.modRevision;
    const again = h.apply({ actor: 'scheduler (alice)', op: 'schedule', action: 'fire', id, step: 0 });
    expect(again).toMatchObject({ ok: true, changes: [] });
    expect(h.view.getFlag('k')!.modRevision).toBe(mod);
  });
});
