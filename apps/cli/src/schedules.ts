// `flagraft schedule ...`: changes at a given time, fired by the cluster's
// leader exactly once. A step is an approved change request (the way into a
// protected environment), a toggle of one flag, or one step of a rollout
// ("5%@2026-12-08T10:00Z,25%@...,100%@..." = three steps of the same flag).
import type { ScheduleStepCreate, StoredFlag, StoredSchedule } from '@flagraft/api';
import { gw } from './api.js';
import type { CommandContext, CommandSpec } from './cli.js';
import { envAndTitle, envOpt } from './commands.js';
import { crId, describeOp } from './change-requests.js';
import { usageError } from './errors.js';
import { formatFields, formatTable } from './table.js';
import { parseTime, showTime } from './times.js';

/** Steps one schedule may hold (flag-model LIMITS.maxScheduleSteps). */
export const MAX_SCHEDULE_STEPS = 20;
/** Rollout weights are out of this total: percentages keep two decimals (0.25 % is 25). */
export const ROLLOUT_WEIGHT_TOTAL = 10_000;

export function scheduleId(raw: string): string {
  const id = /^\d{1,15}$/.test(raw) ? `sch-${raw}` : raw;
  if (!/^sch-\d{1,15}$/.test(id)) throw usageError(`schedule id must be sch-<number> (as \`flagraft schedule list\` shows), got ${JSON.stringify(raw)}`);
  return id;
}

/** "5%@2026-12-08T10:00Z,25%@...": each step's percentage and time, in time order. */
export function parseRolloutSteps(spec: string): { percent: number; at: number }[] {
  const parts = spec.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0 || parts.length > MAX_SCHEDULE_STEPS) throw usageError(`--steps must hold 1 to ${MAX_SCHEDULE_STEPS} steps like 5%@2026-12-08T10:00Z, separated by commas`);
  const steps = parts.map((p, i) => {
    const at = p.indexOf('@');
    const pct = at < 0 ? '' : p.slice(0, at).replace(/%$/, '');
    if (at < 0 || !/^\d{1,3}(\.\d{1,2})?$/.test(pct) || Number(pct) > 100) {
      throw usageError(`--steps: step ${i + 1} ${JSON.stringify(p)} must be <percent 0-100>%@<RFC 3339 time>, e.g. 25%@2026-12-08T12:00Z`);
    }
    return { percent: Number(pct), at: parseTime(p.slice(at + 1), `--steps: step ${i + 1}'s time`) };
  });
  for (let i = 1; i < steps.length; i++) {
    if (steps[i].at < steps[i - 1].at) throw usageError(`--steps must be in time order: step ${i + 1} is before step ${i}`);
  }
  return steps;
}

/**
 * Which variant a rollout percentage goes to and which gets the rest:
 * --variant, else a boolean flag's true variant; the rest goes to its false
 * variant, else the default variant, else the only other one.
 */
export function rolloutVariants(flag: StoredFlag['flag'], variant: string | undefined): { target: string; rest: string } {
  const names = Object.keys(flag.variants ?? {});
  const byValue = (v: unknown) => names.find((n) => (flag.variants as Record<string, unknown>)[n] === v);
  const target = variant ?? (flag.type === 'boolean' ? byValue(true) : undefined);
  if (!target) throw usageError(`--variant is needed: flag ${flag.key} is not a boolean; name the variant the percentage goes to (one of ${names.join(', ')})`);
  if (!names.includes(target)) throw usageError(`--variant: flag ${flag.key} has no variant ${JSON.stringify(target)} (it has ${names.join(', ')})`);
  const others = names.filter((n) => n !== target);
  const fallback = flag.type === 'boolean' ? byValue(false) : undefined;
  const rest = fallback && fallback !== target ? fallback : flag.defaultVariant !== target && others.includes(flag.defaultVariant) ? flag.defaultVariant : others.length === 1 ? others[0] : undefined;
  if (!rest) throw usageError(`flag ${flag.key}: cannot tell which variant gets the rest of the rollout (variants ${names.join(', ')}); make the default variant the one that does`);
  return { target, rest };
}

function onOff(raw: string | undefined): boolean {
  if (raw === 'on' || raw === 'true') return true;
  if (raw === 'off' || raw === 'false') return false;
  throw usageError(`--toggle <key> needs on or off after it (flagraft schedule create ... --toggle my-flag on), got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`);
}

async function stepsFromOptions(ctx: CommandContext, env: string | undefined): Promise<ScheduleStepCreate[]> {
  const { opts, args } = ctx;
  const forms = (['cr', 'toggle', 'rollout'] as const).filter((k) => opts[k] !== undefined);
  if (forms.length !== 1) throw usageError('give exactly one of --cr <id>, --toggle <key> on|off, --rollout <key> --steps "5%@<time>,..."');
  const form = forms[0];
  if (form === 'rollout') {
    if (opts.at !== undefined) throw usageError('--rollout takes its times in --steps ("5%@2026-12-08T10:00Z,100%@..."), not --at');
    if (args.length > 0 && opts.steps !== undefined) throw usageError('give the rollout steps once: --steps "..." or after the key, not both');
    const spec = (opts.steps as string | undefined) ?? args[0];
    if (spec === undefined) throw usageError('--rollout <key> needs --steps "5%@2026-12-08T10:00Z,25%@...,100%@..."');
    const steps = parseRolloutSteps(spec);
    const key = opts.rollout as string;
    const flag = await gw(ctx.api(), (c) => c.getFlag(key, { environment: env }));
    const { target, rest } = rolloutVariants(flag.flag, opts.variant as string | undefined);
    return steps.map((s) => {
      const w = Math.round(s.percent * (ROLLOUT_WEIGHT_TOTAL / 100));
      return { at: s.at, rollout: { flag: key, weights: [{ variant: target, weight: w }, { variant: rest, weight: ROLLOUT_WEIGHT_TOTAL - w }] } };
    });
  }
  if (opts.steps !== undefined || opts.variant !== undefined) throw usageError('--steps and --variant go with --rollout');
  if (opts.at === undefined) throw usageError('--at <RFC 3339 time> is required, e.g. --at 2026-12-08T10:00Z');
  const at = parseTime(opts.at as string, '--at');
  if (form === 'cr') {
    if (args.length > 0) throw usageError(`unexpected argument ${JSON.stringify(args[0])}`);
    return [{ at, changeRequest: crId(opts.cr as string) }];
  }
  // --toggle key on|off, or --toggle key=on
  const raw = opts.toggle as string;
  const eq = raw.indexOf('=');
  const [key, state] = eq > 0 ? [raw.slice(0, eq), raw.slice(eq + 1)] : [raw, args[0]];
  if (eq > 0 && args.length > 0) throw usageError(`unexpected argument ${JSON.stringify(args[0])}`);
  return [{ at, toggle: { flag: key, enabled: onOff(state) } }];
}

function stepWhat(st: StoredSchedule['schedule']['steps'][number]): string {
  if (st.changeRequest) return `apply ${st.changeRequest}`;
  return (st.ops ?? []).map(describeOp).join('; ');
}

function stepOutcome(st: StoredSchedule['schedule']['steps'][number]): string {
  if (st.revision !== undefined) return `revision ${st.revision}`;
  if (st.conflicts?.length) return `${st.conflicts.map((c) => `${c.kind} ${c.key} moved to revision ${c.currentRevision}`).join('; ')}`;
  return st.error ?? '';
}

function showSchedule(s: StoredSchedule): string {
  const sc = s.schedule;
  return formatFields([['id', sc.id], ['environment', sc.env], ['title', sc.title], ['created by', sc.createdBy], ['revision', s.modRevision]])
    + `\n` + formatTable(['STEP', 'AT (LOCAL, UTC)', 'WHAT', 'STATUS', 'OUTCOME'], sc.steps.map((st, i) => [i + 1, showTime(st.at), stepWhat(st), st.status, stepOutcome(st)]));
}

export const scheduleCommands: CommandSpec[] = [
  {
    words: ['schedule', 'list'], usage: 'schedule list [--env e] [--pending]', help: 'schedules, newest first, with their next pending step',
    arity: [0, 0], options: ['env', 'pending'],
    async run(ctx) {
      const r = await gw(ctx.api(), (c) => c.listSchedules({ environment: envOpt(ctx), pending: ctx.opts.pending ? true : undefined }));
      ctx.emit(r, () => formatTable(['ID', 'ENV', 'TITLE', 'NEXT STEP (LOCAL, UTC)', 'STEPS DONE', 'CREATED BY'], r.schedules.map((s) => {
        const sc = s.schedule;
        const next = sc.steps.find((st) => st.status === 'pending');
        const done = sc.steps.filter((st) => st.status !== 'pending').length;
        return [sc.id, sc.env, sc.title, next ? showTime(next.at) : undefined, `${done}/${sc.steps.length}`, sc.createdBy];
      })) + `${r.schedules.length} schedule(s)\n`);
    },
  },
  {
    words: ['schedule', 'show'], usage: 'schedule show <id>', help: 'a schedule and the state of each step', arity: [1, 1],
    async run(ctx) {
      const s = await gw(ctx.api(), (c) => c.getSchedule(scheduleId(ctx.args[0])));
      ctx.emit(s, () => showSchedule(s));
    },
  },
  {
    words: ['schedule', 'create'],
    usage: 'schedule create --env e --title t (--at time (--cr id | --toggle key on|off) | --rollout key --steps "5%@time,…" [--variant v])',
    help: 'schedule an approved change request, a toggle, or a rollout in steps',
    arity: [0, 1], options: ['env', 'title', 'at', 'cr', 'toggle', 'rollout', 'steps', 'variant'],
    async run(ctx) {
      const { env, title } = envAndTitle(ctx, { env: 'the environment the schedule changes', title: 'what the schedule does, for the audit log' });
      const steps = await stepsFromOptions(ctx, env);
      const s = await gw(ctx.api(), (c) => c.createSchedule({ environment: env, title, steps }));
      ctx.emit(s, () => `scheduled ${s.schedule.id} in ${s.schedule.env}: ${s.schedule.steps.length} step(s)\n` + showSchedule(s));
    },
  },
  {
    words: ['schedule', 'cancel'], usage: 'schedule cancel <id>', help: 'cancel every pending step of a schedule', arity: [1, 1],
    async run(ctx) {
      const s = await gw(ctx.api(), (c) => c.cancelSchedule(scheduleId(ctx.args[0])));
      ctx.emit(s, () => `cancelled ${s.schedule.id}: ${s.schedule.steps.filter((st) => st.status === 'cancelled').length} step(s) will not run\n`);
    },
  },
];
