// flagd's flag-definition format in and out:
//
//   POST /api/v1/flagd/import?dryRun=true&skipUnmappable=true&environment=   (editor) body: a flagd document
//   GET  /api/v1/flagd/export?prefix=&environment=                           (reader)
//
// `environment` (absent: the default one) is whose flag configurations are
// compared, written or exported; segments are shared by every environment, so
// an import that changes one needs a token of every environment.
//
// Import plans against this gateway's replica (create / update / unchanged
// per flag and segment), then writes through the cluster in batches of at
// most LIMITS.maxBatchOps, segments first, each write conditioned on the
// revision the plan saw (a concurrent change is a 409, never overwritten).
// Anything that cannot be mapped is an issue with its JSON path: the import is
// refused (422) unless skipUnmappable, which imports the rest and still lists them.
import { LIMITS, type SubCommand } from '@flagraft/flag-model';
import { fromFlagd, planImport, toFlagd, type PlanEntry } from '@flagraft/flagd-format';
import { HttpProblem } from '../problem.js';
import { refuseIdempotencyKey } from '../idempotency.js';
import type { RouteContext, Routes } from './context.js';
import { environmentParam, requireAllEnvironments, scopedEnvironment } from '../env-scope.js';
import { jsonBody, viaCluster } from './context.js';

function flagParam(value: unknown, name: string): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true' || value === '') return true;
  throw new HttpProblem('bad-request', `${name}: must be true or false`);
}

export function registerFlagdRoutes(r: Routes, deps: RouteContext): void {
  r.add('post', '/api/v1/flagd/import', 'write', async (req, res, principal) => {
    refuseIdempotencyKey(req, 'POST /api/v1/flagd/import');
    const dryRun = flagParam(req.query.dryRun, 'dryRun');
    const skipUnmappable = flagParam(req.query.skipUnmappable, 'skipUnmappable');
    const environment = environmentParam(req);
    const inEnv = flagsOf(deps, scopedEnvironment(deps.replica, principal, environment));
    const doc = jsonBody(req);
    const imported = fromFlagd(doc);
    const replica = deps.replica;
    const plan = planImport(imported, {
      flag: (key) => inEnv.get(key)?.flag,
      segment: (name) => replica.segments.get(name)?.segment,
    });
    const errors = imported.issues.filter((i) => i.severity === 'error');
    const summary = {
      plan: plan.map((p) => ({ kind: p.kind, key: p.key, action: p.action })),
      counts: countActions(plan, errors.length),
      issues: imported.issues,
    };
    if (errors.length > 0 && !skipUnmappable && !dryRun) {
      throw new HttpProblem('validation', `${errors.length} flag(s) cannot be mapped (see issues); fix them or import the rest with ?skipUnmappable=true`, summary);
    }
    if (dryRun) {
      res.json({ dryRun: true, ...summary });
      return;
    }
    const ops: SubCommand[] = [];
    const env = environment === undefined ? {} : { env: environment };
    for (const p of plan) {
      if (p.action === 'unchanged') continue;
      if (p.kind === 'segment') requireAllEnvironments(principal, `importing segment ${p.key} (segments are shared by every environment)`);
      const expectedRevision = p.kind === 'flag' ? (inEnv.get(p.key)?.stored.modRevision ?? 0) : (replica.segments.get(p.key)?.modRevision ?? 0);
      ops.push(p.kind === 'flag'
        ? { op: 'putFlag', flag: p.definition as never, expectedRevision, ...env }
        : { op: 'putSegment', segment: p.definition as never, expectedRevision });
    }
    let revision = replica.revision;
    let batches = 0;
    for (let i = 0; i < ops.length; i += LIMITS.maxBatchOps) {
      const chunk = ops.slice(i, i + LIMITS.maxBatchOps);
      const out = await viaCluster(deps, () => deps.cluster.batch(chunk, { actor: principal.name }), { precondition: true });
      revision = out.revision;
      batches++;
    }
    if (batches > 0) await replica.waitFor(revision, deps.config.writeVisibilityTimeoutMs);
    res.json({ dryRun: false, revision, batches, ...summary });
  }, {
    scope: 'own', // ?environment= names it (absent = the default one), checked before the body
    // A flagd file holds every flag under one object: more keys than one definition.
    body: (config) => ({ name: 'maxFlagdImportBodyBytes', maxBytes: config.maxFlagdImportBodyBytes, json: { maxJsonObjectKeys: 100_000, maxJsonArrayItems: 100_000 } }),
  });

  r.add('get', '/api/v1/flagd/export', 'read', (req, res, principal) => {
    const inEnv = flagsOf(deps, scopedEnvironment(deps.replica, principal, environmentParam(req)));
    const prefix = req.query.prefix ?? '';
    if (typeof prefix !== 'string' || prefix.length > 128) throw new HttpProblem('bad-request', 'prefix: must be a string of at most 128 characters');
    const flags = [...inEnv.values()].filter((e) => e.flag.key.startsWith(prefix)).map((e) => e.flag);
    const used = new Set(flags.flatMap((f) => f.rules.flatMap((rule) => [...(rule.segments ?? []), ...(rule.excludeSegments ?? [])])));
    const segments = [...deps.replica.segments.values()].map((s) => s.segment).filter((s) => prefix === '' || used.has(s.name));
    const out = toFlagd(flags, segments);
    res.set('etag', `"${deps.replica.revision}"`).json({ revision: deps.replica.revision, document: out.document, issues: out.issues });
  }, { scope: 'own' });
}

/** An environment's flags on this gateway's replica (503 before it has loaded, 404 for an unknown environment). */
function flagsOf(deps: RouteContext, env: string) {
  if (!deps.replica.loaded) throw new HttpProblem('unavailable', 'the gateway has not loaded its replica yet', {}, { 'retry-after': '1' });
  const flags = deps.replica.flagsIn(env);
  if (!flags) throw new HttpProblem('not-found', `environment ${env} does not exist`, { environment: env });
  return flags;
}

function countActions(plan: PlanEntry[], unmappable: number) {
  const counts = { create: 0, update: 0, unchanged: 0, unmappable };
  for (const p of plan) counts[p.action]++;
  return counts;
}
