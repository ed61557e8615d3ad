// /api/v1/segments: reusable condition sets referenced by flag rules.
import type { Response } from 'express';
import type { SegmentDefinition, StoredSegment } from '@flagraft/flag-model';
import { validateSegment } from '@flagraft/flag-model';
import { HttpProblem } from '../problem.js';
import { writeIdempotency } from '../idempotency.js';
import { consistencyOf, etagOf, intParam, jsonBody, pageTokenParam, pathKey, viaCluster, writePrecondition, type RouteContext, type Routes } from './context.js';
import { checkNamed, historyEntry } from './flags.js';

export function checkSegment(body: unknown, name: string): SegmentDefinition {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpProblem('validation', 'the body must be a segment definition object', { issues: [{ path: '', message: 'must be an object' }] });
  }
  return checkNamed(body as Record<string, unknown>, 'name', name, validateSegment);
}

function sendSegment(res: Response, status: number, stored: StoredSegment): void {
  res.status(status).set('etag', etagOf(stored.modRevision)).json(stored);
}

export function registerSegmentRoutes(r: Routes, ctx: RouteContext): void {
  const { cluster, replica, config } = ctx;
  const waitVisible = (revision: number) => replica.waitFor(revision, config.writeVisibilityTimeoutMs);
  const getSegment = async (name: string, consistency: 'linearizable' | 'stale' = 'linearizable'): Promise<StoredSegment | undefined> => {
    if (cluster.getSegment) return viaCluster(ctx, () => cluster.getSegment!(name, { consistency }));
    const page = await viaCluster(ctx, () => cluster.listSegments({ prefix: name, limit: 1000, consistency }));
    return page.segments.find((s) => s.segment.name === name);
  };

  r.add('get', '/api/v1/segments', 'read', async (req, res) => {
    const prefix = req.query.prefix;
    if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length > 128)) throw new HttpProblem('bad-request', 'prefix: must be a string of at most 128 characters');
    const pageToken = pageTokenParam(req.query.pageToken);
    const limit = intParam(req.query.limit, 'limit', 1, 1000);
    const page = await viaCluster(ctx, () => cluster.listSegments({ prefix, limit, pageToken, consistency: consistencyOf(req) }));
    const body: Record<string, unknown> = { segments: page.segments, revision: page.revision };
    if (page.nextPageToken) body.nextPageToken = page.nextPageToken;
    res.json(body);
  });

  r.add('get', '/api/v1/segments/:name', 'read', async (req, res) => {
    const name = pathKey(req, 'name');
    const stored = await getSegment(name, consistencyOf(req));
    if (!stored) throw new HttpProblem('not-found', `segment ${name} does not exist`, { key: name });
    sendSegment(res, 200, stored);
  });

  r.add('put', '/api/v1/segments/:name', 'write', async (req, res, who) => {
    const name = pathKey(req, 'name');
    const pre = writePrecondition(req);
    const segment = checkSegment(jsonBody(req), name);
    const idempotency = writeIdempotency(req, who, req.body);
    let expectedRevision = pre.expectedRevision;
    if (pre.mustExist) {
      const current = await getSegment(name);
      if (!current) throw new HttpProblem('precondition-failed', `segment ${name} does not exist (If-Match: *)`, { key: name, currentRevision: 0 });
      expectedRevision = current.modRevision;
    }
    const out = await viaCluster(ctx, () => cluster.putSegment(segment, { expectedRevision, actor: who.name, idempotency }), {
      precondition: pre.expectedRevision !== undefined || pre.mustExist === true,
    });
    await waitVisible(out.revision);
    const stored = out.segment ?? (await getSegment(name));
    if (!stored) throw new HttpProblem('conflict', `segment ${name} was deleted right after this write`, { key: name });
    const created = stored.version === 1;
    if (created) res.location(`/api/v1/segments/${encodeURIComponent(name)}`);
    sendSegment(res, created ? 201 : 200, stored);
  });

  r.add('delete', '/api/v1/segments/:name', 'write', async (req, res, who) => {
    const name = pathKey(req, 'name');
    const pre = writePrecondition(req);
    if (pre.expectedRevision === 0) throw new HttpProblem('bad-request', 'If-None-Match: * makes no sense on DELETE');
    const idempotency = writeIdempotency(req, who, undefined);
    const out = await viaCluster(ctx, () => cluster.deleteSegment(name, { expectedRevision: pre.expectedRevision, actor: who.name, idempotency }), {
      precondition: pre.expectedRevision !== undefined,
    });
    await waitVisible(out.revision);
    res.json({ name, deleted: true, revision: out.revision });
  });

  r.add('get', '/api/v1/segments/:name/history', 'read', async (req, res) => {
    const name = pathKey(req, 'name');
    const limit = intParam(req.query.limit, 'limit', 1, 1000);
    const beforeRevision = intParam(req.query.before, 'before', 1, Number.MAX_SAFE_INTEGER);
    const changes = await viaCluster(ctx, () => cluster.history(name, { limit, beforeRevision, kind: 'segment' }));
    res.json({ name, changes: changes.map(historyEntry) });
  });
}
