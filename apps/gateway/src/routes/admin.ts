// POST /api/v1/batch (atomic multi-flag change) and /api/v1/cluster (status,
// membership: admin only).
import { FLAG_KIND, KEY_PATTERN, LIMITS, MAX_REPORTED_ISSUES, SEGMENT_KIND, safeIntegerViolation, type AnyItemKind, type SubCommand } from '@flagraft/flag-model';
import { HttpProblem } from '../problem.js';
import { refuseIdempotencyKey, writeIdempotency } from '../idempotency.js';
import { intParam, jsonBody, viaCluster, type RouteContext, type Routes } from './context.js';
import { checkItem, historyEntry, writeScope } from './items.js';
import { requireAllEnvironments, scopedEnvironment } from '../env-scope.js';

/** Operations in one batch (flag-model's maxBatchOps). */
export const MAX_BATCH_OPS = 100;

function prefixIssues(err: unknown, prefix: string): never {
  if (err instanceof HttpProblem && Array.isArray(err.extensions.issues)) {
    const issues = (err.extensions.issues as { path: string; message: string }[]).map((i) => ({ path: prefix + (i.path ? '.' + i.path : ''), message: i.message }));
    throw new HttpProblem(err.kind, `${prefix}: ${err.message}`, { ...err.extensions, issues });
  }
  throw err;
}

/** Batch operations by name, each on its item kind. */
const PUT_OPS = new Map<string, AnyItemKind>([['putFlag', FLAG_KIND], ['putSegment', SEGMENT_KIND]]);
const DELETE_OPS = new Map<string, AnyItemKind>([['deleteFlag', FLAG_KIND], ['deleteSegment', SEGMENT_KIND]]);

/** One batch (or change request) operation, checked; every problem names its path (ops[i].field). */
export function checkOp(raw: unknown, i: number, field = 'ops'): SubCommand {
  const at = `${field}[${i}]`;
  const issue = (path: string, message: string) => new HttpProblem('validation', `${path}: ${message}`, { issues: [{ path, message }] });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw issue(at, 'must be an object');
  const op = raw as Record<string, unknown>;
  const expected = op.expectedRevision;
  // A revision is a safe integer: 1e300 passes Number.isInteger and would reach the cluster as garbage.
  if (expected !== undefined && safeIntegerViolation(expected, ['expectedRevision'])) {
    throw issue(`${at}.expectedRevision`, `must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER} (0 = must not exist; jsonSafeInteger)`);
  }
  const exp = expected === undefined ? {} : { expectedRevision: expected as number };
  const keyLike = (v: unknown, field: string): string => {
    if (typeof v !== 'string' || !KEY_PATTERN.test(v) || v.length > LIMITS.maxKeyChars) throw issue(`${at}.${field}`, 'must be a valid key');
    return v;
  };
  // A flag op may name its environment (absent = the default one); segments are shared by every environment.
  const envOf = (kind: AnyItemKind) => {
    if (op.env === undefined) return {};
    if (kind !== FLAG_KIND) throw issue(`${at}.env`, 'segments are shared by every environment: a segment op takes no env');
    return { env: keyLike(op.env, 'env') };
  };
  // putFlag / putSegment carry a definition under the kind's name; deleteFlag / deleteSegment its id.
  const put = PUT_OPS.get(op.op as string);
  if (put) {
    const def = op[put.kind] as Record<string, unknown> | undefined;
    if (!def || typeof def !== 'object') throw issue(`${at}.${put.kind}`, `must be a ${put.kind} definition`);
    let checked;
    try {
      checked = checkItem(put, def, keyLike(def[put.idField], `${put.kind}.${put.idField}`));
    } catch (err) {
      prefixIssues(err, `${at}.${put.kind}`);
    }
    return { op: op.op, [put.kind]: checked, ...exp, ...envOf(put) } as SubCommand;
  }
  const del = DELETE_OPS.get(op.op as string);
  if (del) return { op: op.op, [del.idField]: keyLike(op[del.idField], del.idField), ...exp, ...envOf(del) } as SubCommand;
  throw issue(`${at}.op`, 'must be putFlag, deleteFlag, putSegment or deleteSegment');
}

export function registerAdminRoutes(r: Routes, ctx: RouteContext): void {
  const { cluster, replica, config } = ctx;

  r.add('post', '/api/v1/batch', 'write', async (req, res, who) => {
    const body = jsonBody(req) as { ops?: unknown };
    if (body === null || typeof body !== 'object' || !Array.isArray(body.ops)) {
      throw new HttpProblem('validation', 'the body must be {"ops": [...]}', { issues: [{ path: 'ops', message: 'must be an array' }] });
    }
    if (body.ops.length === 0 || body.ops.length > MAX_BATCH_OPS) {
      throw new HttpProblem('validation', `ops: between 1 and ${MAX_BATCH_OPS} operations`, { issues: [{ path: 'ops', message: `must hold 1 to ${MAX_BATCH_OPS} operations` }] });
    }
    // Every op is checked, and every problem of every op is answered at once.
    const ops: SubCommand[] = [];
    const issues: unknown[] = [];
    const details: string[] = [];
    body.ops.forEach((raw, i) => {
      try {
        ops.push(checkOp(raw, i));
      } catch (err) {
        if (!(err instanceof HttpProblem) || !Array.isArray(err.extensions.issues)) throw err;
        issues.push(...err.extensions.issues);
        details.push(err.message);
      }
    });
    if (issues.length > 0) {
      throw new HttpProblem('validation', details.length > 1 ? `${details.length} operations are invalid: ${details.join('; ').slice(0, 1000)}` : details[0]!, {
        issues: issues.slice(0, MAX_REPORTED_ISSUES),
      });
    }
    // An environment-limited token: every flag op in its environments, no segment op (shared by all).
    for (const op of ops) {
      if (op.op === 'putFlag' || op.op === 'deleteFlag') scopedEnvironment(replica, who, op.env);
      else requireAllEnvironments(who, 'a segment write');
    }
    const idempotency = writeIdempotency(req, who, body);
    const out = await viaCluster(ctx, () => cluster.batch(ops, { actor: who.name, ...writeScope(ctx, who), idempotency }));
    await replica.waitFor(out.revision, config.writeVisibilityTimeoutMs);
    res.json({ revision: out.revision, changes: out.changes.map(historyEntry) });
  }, { body: (c) => ({ name: 'maxBatchBodyBytes', maxBytes: c.maxBatchBodyBytes }), scope: 'own' });

  r.add('get', '/api/v1/cluster', 'read', async (_req, res) => {
    const status = await viaCluster(ctx, () => cluster.status());
    res.json({ ...status, gateway: { replicaRevision: replica.revision, replicaLoaded: replica.loaded, flags: replica.flags.size } });
  });

  const memberId = (v: unknown, field: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new HttpProblem('validation', `${field}: must be a positive integer node id`, { issues: [{ path: field, message: 'must be a positive integer' }] });
    }
    return v;
  };
  const pathId = (v: unknown): number => intParam(v, 'id', 1, Number.MAX_SAFE_INTEGER)!;

  r.add('post', '/api/v1/cluster/members', 'admin', async (req, res) => {
    refuseIdempotencyKey(req, 'POST /api/v1/cluster/members');
    const body = jsonBody(req) as { id?: unknown; address?: unknown };
    const id = memberId(body?.id, 'id');
    const address = body?.address;
    if (typeof address !== 'string' || !/^[\w.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) {
      throw new HttpProblem('validation', 'address: must be host:port', { issues: [{ path: 'address', message: 'must be host:port' }] });
    }
    const out = await viaCluster(ctx, () => cluster.addLearner(id, address));
    res.status(201).json({ added: { id, address, role: 'learner' }, result: out ?? null });
  });

  r.add('post', '/api/v1/cluster/members/:id/promote', 'admin', async (req, res) => {
    refuseIdempotencyKey(req, 'POST /api/v1/cluster/members/:id/promote');
    const id = pathId(req.params.id);
    const out = await viaCluster(ctx, () => cluster.promoteLearner(id));
    res.json({ promoted: id, result: out ?? null });
  });

  r.add('delete', '/api/v1/cluster/members/:id', 'admin', async (req, res) => {
    refuseIdempotencyKey(req, 'DELETE /api/v1/cluster/members/:id');
    const id = pathId(req.params.id);
    const out = await viaCluster(ctx, () => cluster.removeMember(id));
    res.json({ removed: id, result: out ?? null });
  });

  r.add('post', '/api/v1/cluster/leader', 'admin', async (req, res) => {
    refuseIdempotencyKey(req, 'POST /api/v1/cluster/leader');
    const body = jsonBody(req) as { id?: unknown };
    const id = memberId(body?.id, 'id');
    const out = await viaCluster(ctx, () => cluster.transferLeader(id));
    res.json({ transferredTo: id, result: out ?? null });
  });
}
