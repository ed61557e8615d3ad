// /api/v1/schedules: changes at a given time (UTC). A schedule is a list of
// steps in time order, each either operations (an unprotected environment
// only) or an approved change request (the way to schedule into a protected
// one); a rollout of 5 % -> 25 % -> 100 % is three steps. `toggle` and
// `rollout` are the short forms of a step that switches one flag on or off
// or sets the weights of its rollout. The leader fires
// each step when due, exactly once (consensus-node scheduler.ts); a step
// whose base moved is marked conflicted, not applied.
import type { Principal } from '@flagraft/auth';
import { LIMITS, type ChangeRequestOp, type StoredFlag, type StoredSchedule } from '@flagraft/flag-model';
import { environmentParam, requireEnvironment, scopedEnvironment } from '../env-scope.js';
import { HttpProblem } from '../problem.js';
import { viaCluster, type RouteContext, type Routes } from './context.js';
import { checkChangeRequestOps } from './change-requests.js';
import { boolParam, invalid, keyField, MAX_TITLE_CHARS, objectBody, propose, query, recordId, stringField, written } from './records.js';

const COLLECTION = '/api/v1/schedules';
const ONE = `${COLLECTION}/:scheduleId`;
/** Latest accepted step time: year 9999 (a typo like 20260 is refused, not scheduled for ever). */
const MAX_AT_MS = Date.UTC(9999, 11, 31, 23, 59, 59);
/** An RFC 3339 date-time with its offset (Z or +hh:mm): a time without a zone would be read in the gateway's local zone. */
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)$/i;

/** `at`: an RFC 3339 time with a zone, or ms since the epoch (UTC). */
function atField(v: unknown, path: string): number {
  let ms: number;
  if (typeof v === 'number' && Number.isSafeInteger(v)) ms = v;
  else if (typeof v === 'string' && RFC3339.test(v)) ms = Date.parse(v);
  else throw invalid(path, 'must be an RFC 3339 time with its zone (2026-12-24T09:00:00Z) or ms since the epoch');
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_AT_MS) throw invalid(path, 'must be between 1970 and 9999');
  return ms;
}

export function registerScheduleRoutes(r: Routes, ctx: RouteContext): void {
  const get = (id: string) => query<StoredSchedule>(ctx, 'schedule', { id });

  /** The short form {flag, enabled}: the flag's current configuration in the environment, switched. */
  const toggleOp = async (raw: unknown, env: string, path: string): Promise<ChangeRequestOp> => {
    const t = raw as Record<string, unknown> | null;
    if (!t || typeof t !== 'object' || typeof t.enabled !== 'boolean') throw invalid(path, 'must be {"flag": "<key>", "enabled": true|false}');
    const key = keyField(t.flag, `${path}.flag`);
    const current: StoredFlag | undefined = await viaCluster(ctx, () => ctx.cluster.getFlag(key, { environment: env }));
    if (!current) throw new HttpProblem('not-found', `${path}.flag: flag ${key} does not exist in environment ${env}`, { key, environment: env });
    return { op: 'putFlag', flag: { ...current.flag, enabled: t.enabled }, env };
  };

  /**
   * The short form of a rollout step {flag, weights: [{variant, weight}], rule?}:
   * the flag's configuration in the environment with that rollout in the rule
   * named by id, else its first rule with a rollout, else a new last rule for
   * everyone. Each step is made from the configuration at creation; the
   * schedule's bases make a step conflicted if the flag moved meanwhile.
   */
  const rolloutOp = async (raw: unknown, env: string, path: string): Promise<ChangeRequestOp> => {
    const t = raw as Record<string, unknown> | null;
    if (!t || typeof t !== 'object' || !Array.isArray(t.weights) || t.weights.length === 0) throw invalid(path, 'must be {"flag": "<key>", "weights": [{"variant", "weight"}], "rule"?: "<rule id>"}');
    const key = keyField(t.flag, `${path}.flag`);
    const weights = t.weights.map((w, i) => {
      const x = w as Record<string, unknown> | null;
      if (!x || typeof x.variant !== 'string' || !Number.isSafeInteger(x.weight) || (x.weight as number) < 0) throw invalid(`${path}.weights[${i}]`, 'must be {"variant": "<name>", "weight": <whole number >= 0>}');
      return { variant: x.variant, weight: x.weight as number };
    });
    const current = await viaCluster(ctx, () => ctx.cluster.getFlag(key, { environment: env }));
    if (!current) throw new HttpProblem('not-found', `${path}.flag: flag ${key} does not exist in environment ${env}`, { key, environment: env });
    const rules = structuredClone(current.flag.rules);
    let at = t.rule === undefined ? rules.findIndex((r) => r.rollout !== undefined) : rules.findIndex((r) => r.id === t.rule);
    if (t.rule !== undefined && at < 0) throw invalid(`${path}.rule`, `flag ${key} has no rule with id ${JSON.stringify(String(t.rule)).slice(0, 80)} in environment ${env}`);
    if (at < 0) at = rules.push({ conditions: [] }) - 1;
    const { variant: _fixed, ...rule } = rules[at];
    rules[at] = { ...rule, rollout: { ...rules[at].rollout, weights } };
    return { op: 'putFlag', flag: { ...current.flag, rules }, env };
  };

  r.add('get', COLLECTION, 'read', async (req, res, who) => {
    const environment = environmentParam(req);
    if (environment !== undefined) requireEnvironment(who, environment);
    const pending = boolParam(req, 'pending');
    const all = await query<StoredSchedule[]>(ctx, 'schedules');
    const out = all
      .filter(({ schedule: s }) => (who.environments === undefined || who.environments.includes(s.env))
        && (environment === undefined || s.env === environment)
        && (pending === undefined || s.steps.some((st) => st.status === 'pending') === pending))
      .sort((a, b) => b.createRevision - a.createRevision);
    res.json({ schedules: out });
  }, { scope: 'own' });

  r.add('get', ONE, 'read', async (req, res, who) => {
    const stored = await get(recordId(req, 'sch'));
    requireEnvironment(who, stored.schedule.env);
    res.json(stored);
  }, { scope: 'own' });

  r.add('post', COLLECTION, 'write', async (req, res, who: Principal) => {
    const body = objectBody(req);
    const env = scopedEnvironment(ctx.replica, who, body.environment === undefined ? undefined : keyField(body.environment, 'environment'));
    const title = stringField(body, 'title', { required: true, max: MAX_TITLE_CHARS })!;
    if (!Array.isArray(body.steps) || body.steps.length === 0 || body.steps.length > LIMITS.maxScheduleSteps) {
      throw invalid('steps', `must hold 1 to ${LIMITS.maxScheduleSteps} steps (maxScheduleSteps)`);
    }
    const steps: { at: number; ops?: ChangeRequestOp[]; changeRequest?: string }[] = [];
    for (const [i, raw] of (body.steps as unknown[]).entries()) {
      const at = `steps[${i}]`;
      const st = raw as Record<string, unknown> | null;
      if (!st || typeof st !== 'object' || Array.isArray(st)) throw invalid(at, 'must be an object');
      const forms = ['ops', 'changeRequest', 'toggle', 'rollout'].filter((k) => st[k] !== undefined);
      if (forms.length !== 1) throw invalid(at, 'must have exactly one of ops, changeRequest, toggle, rollout');
      const time = atField(st.at, `${at}.at`);
      if (st.changeRequest !== undefined) {
        if (typeof st.changeRequest !== 'string' || !/^cr-\d{1,15}$/.test(st.changeRequest)) throw invalid(`${at}.changeRequest`, 'must be a change request id (cr-<number>)');
        steps.push({ at: time, changeRequest: st.changeRequest });
      } else if (st.toggle !== undefined) steps.push({ at: time, ops: [await toggleOp(st.toggle, env, `${at}.toggle`)] });
      else if (st.rollout !== undefined) steps.push({ at: time, ops: [await rolloutOp(st.rollout, env, `${at}.rollout`)] });
      else steps.push({ at: time, ops: checkChangeRequestOps(st.ops, `${at}.ops`) });
    }
    const out = await propose(ctx, req, who, { op: 'schedule', action: 'create', env, title, steps });
    const stored = written<StoredSchedule>(out.changes, 'schedule')!;
    res.status(201).location(`${COLLECTION}/${stored.schedule.id}`).json(stored);
  }, { scope: 'own' });

  r.add('post', `${ONE}/cancel`, 'write', async (req, res, who) => {
    const id = recordId(req, 'sch');
    const before = await get(id);
    requireEnvironment(who, before.schedule.env);
    const out = await propose(ctx, req, who, { op: 'schedule', action: 'cancel', id });
    res.json(written<StoredSchedule>(out.changes, 'schedule', id) ?? (await get(id)));
  }, { scope: 'own' });
}
