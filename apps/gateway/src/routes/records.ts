// What the routes of environments, promotion, change requests and schedules
// share: the cluster's Propose / Query (commands the state machine checks
// and enforces: policies, approvals, states), the record a command wrote,
// and the checks of ids and request bodies that name their field.
import type { Request } from 'express';
import type { Principal } from '@flagraft/auth';
import { KEY_PATTERN, LIMITS, ValidationError, type Change, type TopLevelOp } from '@flagraft/flag-model';
import { writeIdempotency } from '../idempotency.js';
import { HttpProblem } from '../problem.js';
import { viaCluster, type RouteContext } from './context.js';

/** Longest title of a change request or schedule, in characters (the cluster's own limit is checked there too). */
export const MAX_TITLE_CHARS = 200;
/** Longest comment, in characters. */
export const MAX_COMMENT_CHARS = LIMITS.maxDescriptionChars;

type ClusterWithRecords = Required<Pick<NonNullable<RouteContext['cluster']>, 'propose' | 'query'>>;

function recordsOf(ctx: RouteContext): ClusterWithRecords {
  const { cluster } = ctx;
  if (!cluster.propose || !cluster.query) {
    throw new HttpProblem('unavailable', 'this cluster has no environments, change requests or schedules (its client predates them)');
  }
  return cluster as unknown as ClusterWithRecords;
}

/**
 * Proposes a command as the token (its name the actor, its role vouched for
 * by the gateway as WriteMeta.actor_role) and answers once this gateway's
 * replica has the revision. An Idempotency-Key names the write as on every
 * other write route: the cluster applies it once and answers a repeat (on
 * any gateway) with the first outcome.
 */
export async function propose(ctx: RouteContext, req: Request, who: Principal, command: TopLevelOp): Promise<{ revision: number; changes: Change[] }> {
  const idempotency = writeIdempotency(req, who, req.body);
  const c = recordsOf(ctx);
  const out = await viaCluster(ctx, () => c.propose(command, { actor: who.name, actorRole: who.role, ...(idempotency ? { idempotency } : {}) }));
  await ctx.replica.waitFor(out.revision, ctx.config.writeVisibilityTimeoutMs);
  return out;
}

/** A linearizable Query (environments, changeRequests, changeRequest, schedules, schedule, promotionPlan). */
export function query<T>(ctx: RouteContext, what: string, args: Record<string, unknown> = {}): Promise<T> {
  const c = recordsOf(ctx);
  return viaCluster(ctx, () => c.query<T>(what, args));
}

/** The item a command wrote of a kind (the last such change), e.g. the change request after an approval. */
export function written<T>(changes: readonly Change[], kind: Change['kind'], key?: string): T | undefined {
  for (let i = changes.length - 1; i >= 0; i--) {
    const c = changes[i];
    if (c.kind === kind && (key === undefined || c.key === key)) return c.after as T;
  }
  return undefined;
}

/** The body as an object (415 when none was sent, 422 naming the body otherwise); `optional`: no body = {}. */
export function objectBody(req: Request, optional = false): Record<string, unknown> {
  const body = req.body as unknown;
  if (body === undefined && optional) return {};
  if (body === undefined) throw new HttpProblem('unsupported-media-type', 'send a JSON body (Content-Type: application/json)');
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpProblem('validation', 'the body must be a JSON object', { issues: [{ path: '', message: 'must be an object' }] });
  }
  return body as Record<string, unknown>;
}

/** A 422 naming one field. */
export function invalid(path: string, message: string): HttpProblem {
  return new HttpProblem('validation', `${path}: ${message}`, { issues: [{ path, message }] });
}

/** flag-model's ValidationError as a 422 with every issue, paths under `prefix`. */
export function validationOf(err: unknown, prefix: string): never {
  if (err instanceof ValidationError) {
    const issues = err.issues.map((i) => ({ path: prefix + (i.path ? `.${i.path}` : ''), message: i.message }));
    throw new HttpProblem('validation', `${prefix}: ${err.message}`, { issues });
  }
  throw err;
}

export function stringField(body: Record<string, unknown>, field: string, o: { required?: boolean; max: number }): string | undefined {
  const v = body[field];
  if (v === undefined && !o.required) return undefined;
  if (typeof v !== 'string' || v.trim() === '' || v.length > o.max) throw invalid(field, `must be a non-empty string of at most ${o.max} characters`);
  return v;
}

export function keyField(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length > LIMITS.maxKeyChars || !KEY_PATTERN.test(v)) throw invalid(path, `must match ${KEY_PATTERN.source} (at most ${LIMITS.maxKeyChars} characters)`);
  return v;
}

/** A record id in the path: cr-<n> / sch-<n> (400 naming the parameter otherwise). */
export function recordId(req: Request, prefix: 'cr' | 'sch'): string {
  const param = prefix === 'cr' ? 'changeRequestId' : 'scheduleId';
  const id = req.params[param];
  if (typeof id !== 'string' || !new RegExp(`^${prefix}-\\d{1,15}$`).test(id)) {
    throw new HttpProblem('bad-request', `${param}: must be ${prefix}-<number>, got ${JSON.stringify(String(id).slice(0, 40))}`, { issues: [{ path: param, message: `must be ${prefix}-<number>` }] });
  }
  return id;
}

/** A boolean query parameter: true / false only (400 naming it otherwise). */
export function boolParam(req: Request, name: string): boolean | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new HttpProblem('bad-request', `${name}: must be true or false`, { issues: [{ path: name, message: 'must be true or false' }] });
}
