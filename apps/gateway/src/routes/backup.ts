// GET /api/v1/admin/backup and POST /api/v1/admin/restore (admin role only).
//
// The backup is one consistent read on the Raft leader (every flag, segment
// and retained change at one revision), streamed to the client as the
// flagraft-backup document without re-parsing its items. The restore checks
// the whole document first (problems name their field), then imports it
// through Raft in bounded chunks that become visible at once (see
// packages/flag-model/src/restore.ts); the flags keep their revisions and
// their history, and the cluster's revision continues after the backup's.
import type { Response } from 'express';
import {
  BACKUP_FORMAT, LIMITS, backupIssues, type BackupDocument,
} from '@flagraft/flag-model';
import { HttpProblem, isClusterError } from '../problem.js';
import { refuseIdempotencyKey } from '../idempotency.js';
import type { ClusterPort } from '../types.js';
import { jsonBody, viaCluster, type RouteContext, type Routes } from './context.js';

/** Items written to the response per write() call while streaming a backup (count). */
const ITEMS_PER_WRITE = 500;

/** The part of @flagraft/cluster-client the backup routes use (the real client has both). */
interface BackupPort {
  backup(): Promise<{
    clusterId: string; revision: number; createdAt: string; oldestRetainedRevision: number; segmentsJson: string[]; flagsJson: string[]; changesJson: string[];
    /** Environments (issue 16): absent or empty from a cluster before them. */
    environmentsJson?: string[]; envFlagsJson?: string[];
    /** Change requests and schedules: absent or empty from a cluster that does not back them up. */
    changeRequestsJson?: string[]; schedulesJson?: string[];
  }>;
  restore(doc: BackupDocument, o: { actor: string; force?: boolean }): Promise<{ revision: number; restoredRevision: number; counts: { segments: number; flags: number; changes: number }; entries: number }>;
}

function write(res: Response, s: string): Promise<void> {
  return new Promise((resolve) => {
    if (res.write(s)) resolve();
    else res.once('drain', () => resolve());
  });
}

function forceParam(v: unknown): boolean {
  if (v === undefined || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1' || v === '') return true;
  throw new HttpProblem('bad-request', 'force: must be true or false', { issues: [{ path: 'force', message: 'must be true or false' }] });
}

export function registerBackupRoutes(r: Routes, ctx: RouteContext): void {
  const cluster = ctx.cluster as ClusterPort & Partial<BackupPort>;
  const port = (): BackupPort => {
    if (!cluster.backup || !cluster.restore) throw new HttpProblem('internal', 'this gateway\'s cluster client has no backup/restore support');
    return cluster as BackupPort;
  };

  r.add('get', '/api/v1/admin/backup', 'admin', async (req, res) => {
    let b: Awaited<ReturnType<BackupPort['backup']>>;
    try {
      b = await port().backup();
    } catch (err) {
      if (isClusterError(err) && err.details?.reason === 'BACKUP_TOO_LARGE') {
        throw new HttpProblem('conflict', err.message, { reason: 'backup-too-large', maxBackupBytes: LIMITS.maxBackupBytes });
      }
      return viaCluster(ctx, () => Promise.reject(err));
    }
    ctx.log.log('info', 'backup served', { revision: b.revision, flags: b.flagsJson.length, segments: b.segmentsJson.length, changes: b.changesJson.length, changeRequests: b.changeRequestsJson?.length ?? 0, schedules: b.schedulesJson?.length ?? 0 });
    res.status(200).type('application/json');
    res.set('etag', `"${b.revision}"`);
    res.set('content-disposition', `attachment; filename="flagraft-backup-r${b.revision}.json"`);
    if (req.method === 'HEAD') { res.end(); return; }
    const head = { format: BACKUP_FORMAT, v: 1, clusterId: b.clusterId, revision: b.revision, createdAt: b.createdAt, oldestRetainedRevision: b.oldestRetainedRevision };
    await write(res, JSON.stringify(head).slice(0, -1));
    // Environments only when the cluster has them: a backup of an older cluster keeps the shape it always had.
    // Change requests and schedules belong to environments: with them, and only when there are some.
    const envs = b.environmentsJson?.length ? [['environments', b.environmentsJson], ['envFlags', b.envFlagsJson ?? []]] as const : [];
    const records = b.environmentsJson?.length && (b.changeRequestsJson?.length || b.schedulesJson?.length)
      ? [['changeRequests', b.changeRequestsJson ?? []], ['schedules', b.schedulesJson ?? []]] as const : [];
    for (const [name, items] of [['flags', b.flagsJson], ['segments', b.segmentsJson], ...envs, ['changes', b.changesJson], ...records] as const) {
      await write(res, `,"${name}":[`);
      for (let i = 0; i < items.length; i += ITEMS_PER_WRITE) {
        await write(res, (i ? ',' : '') + items.slice(i, i + ITEMS_PER_WRITE).join(','));
      }
      await write(res, ']');
    }
    res.end('}\n');
  });

  r.add('post', '/api/v1/admin/restore', 'admin', async (req, res, who) => {
    refuseIdempotencyKey(req, 'POST /api/v1/admin/restore');
    const force = forceParam(req.query.force);
    const body = jsonBody(req);
    const issues = backupIssues(body);
    if (issues.length) {
      const first = issues[0];
      throw new HttpProblem('validation', `invalid backup: ${first.path ? `${first.path}: ` : ''}${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`, { issues });
    }
    const doc = body as BackupDocument;
    let out: Awaited<ReturnType<BackupPort['restore']>>;
    try {
      out = await port().restore(doc, { actor: who.name, force });
    } catch (err) {
      if (isClusterError(err) && err.code === 'FAILED_PRECONDITION' && err.details?.reason === 'NOT_EMPTY') {
        throw new HttpProblem('conflict', err.message, {
          reason: 'not-empty', liveCounts: err.details?.liveCounts ?? null,
          hint: 'restore into a new, empty cluster; or POST /api/v1/admin/restore?force=true to replace all flags, segments and history',
        });
      }
      return viaCluster(ctx, () => Promise.reject(err));
    }
    ctx.log.log('info', 'restored from a backup', { revision: out.revision, backupRevision: out.restoredRevision, ...out.counts, force, actor: who.name });
    // The gateway's own replica resyncs (its Watch is told the old revisions are gone): wait for it.
    await ctx.replica.waitFor(out.revision, ctx.config.writeVisibilityTimeoutMs);
    res.json({
      revision: out.revision, restoredRevision: out.restoredRevision, restored: out.counts,
      flags: out.counts.flags, segments: out.counts.segments, changes: out.counts.changes,
      historyPreserved: true, force, entries: out.entries,
    });
  }, {
    // A whole backup: every flag, segment and change in a few arrays. Its bytes bound the work; the shape limits
    // that stay are depth, string and key length (a flag's own limits are checked item by item).
    body: (c) => ({ name: 'maxRestoreBodyBytes', maxBytes: c.maxRestoreBodyBytes, json: { maxJsonArrayItems: c.maxRestoreBodyBytes, maxJsonObjectKeys: c.maxRestoreBodyBytes, maxJsonNodes: c.maxRestoreBodyBytes } }),
  });
}
