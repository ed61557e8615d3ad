// The leader's side of scheduled changes (flag-model schedules.ts): every
// pollMs it reads the cluster clock (clock.ts ClusterClock: the voters'
// median, so a leader whose own wall clock jumped does not fire early or
// late), looks for schedules whose next pending step is due at that reading
// and proposes `fire` for it, stamped with that same reading: the state
// machine checks "due" against the entry's time, never a clock of its own,
// so every replica decides alike. Firing is idempotent in the state machine
// (by schedule id and step), so it does not matter if a leader dies after
// proposing, or a new leader proposes the same step again: the step applies
// exactly once. Followers do nothing; a new leader picks up what is due.
import { dueStep, type Schedule } from '@flagraft/flag-model';
import type { Clock } from './clock.js';
import type { Logger } from './log.js';
import type { CommandInput } from './proposer.js';
import type { WriteOutcome } from './state-machine.js';

/** Who the audit log shows for a step the scheduler applied (with the schedule's author). */
export const SCHEDULER_ACTOR = 'scheduler';

export interface SchedulerDeps {
  /** The leader's cluster clock (node-core: its ClusterClock); tests pass one over an injected Clock. */
  clock: Pick<Clock, 'now'>;
  /** ms between looks (config schedulerPollMs). */
  pollMs: number;
  isLeader(): boolean;
  /** Every schedule as applied on this node. */
  schedules(): Schedule[];
  /** Proposes `cmd` stamped with `time` (Proposer.propose). */
  propose(cmd: CommandInput, time: number): Promise<WriteOutcome>;
  log: Logger;
}

export class Scheduler {
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly d: SchedulerDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.d.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look: proposes every due step, one at a time (exported for tests that drive the clock). */
  async tick(): Promise<void> {
    if (this.running || !this.d.isLeader()) return;
    this.running = true;
    try {
      for (const s of this.d.schedules()) {
        const now = this.d.clock.now();
        const step = dueStep(s, now);
        if (step === undefined) continue;
        this.d.log.info('schedule step due: proposing', { schedule: s.id, step, at: new Date(s.steps[step].at).toISOString() });
        // The (clientId, requestId) also lets the de-duplication table answer a retry; the state machine's idempotency is what guarantees once.
        const out = await this.d.propose({
          actor: `${SCHEDULER_ACTOR} (${s.createdBy})`.slice(0, 256), clientId: 'flagraft-scheduler', requestId: `${s.id}/${step}`,
          op: 'schedule', action: 'fire', id: s.id, step,
        }, now);
        this.report(s.id, step, out);
      }
    } catch (e) {
      // Not the leader any more, a timeout: the next look (here or on the new leader) tries again.
      this.d.log.warn('schedule step not proposed', { error: (e as Error).message });
    } finally {
      this.running = false;
    }
  }

  private report(id: string, step: number, out: WriteOutcome): void {
    if (!out.ok) {
      this.d.log.warn('schedule step refused', { schedule: id, step, code: out.error.code, error: out.error.message });
      return;
    }
    const after = out.changes.find((c) => c.kind === 'schedule')?.after as { schedule: Schedule } | undefined;
    const st = after?.schedule.steps[step];
    if (!st) return; // already fired (a duplicate): nothing changed
    const fields = { schedule: id, step, status: st.status, revision: out.revision, ...(st.error ? { error: st.error } : {}) };
    if (st.status === 'applied') this.d.log.info('schedule step applied', fields);
    else this.d.log.warn('schedule step not applied', fields);
  }
}
