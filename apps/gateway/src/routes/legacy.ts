// The original design's endpoints, kept for existing scripts and services:
//   POST /set, POST /api/v1/flags/set   {"key","value"}  -> {"key","value","revision"}
//   GET  /get/:key                                       -> {"key","value","revision"}
//   GET  /api/v1/flags/all                               -> {"<key>": "<value>", ...}
// Values map onto typed flags with flag-model's legacyFlagFromValue /
// legacyValueOf. Unlike the original, a write answers only after the change is
// committed (and visible on this gateway), with its revision.
import type { Request, Response } from 'express';
import type { Principal } from '@flagraft/auth';
import { KEY_PATTERN, LIMITS, legacyFlagFromValue, legacyValueOf, ValidationError } from '@flagraft/flag-model';
import { HttpProblem } from '../problem.js';
import { writeIdempotency } from '../idempotency.js';
import { consistencyOf, jsonBody, viaCluster, type RouteContext, type Routes } from './context.js';
import { validationProblem } from './flags.js';
import { writeScope } from './items.js';

/** Attempts when another writer changes the flag between our read and our compare-and-set. */
export const LEGACY_SET_ATTEMPTS = 5;
/** Page size when collecting every flag for /api/v1/flags/all. */
const ALL_PAGE = 1000;

export function registerLegacyRoutes(r: Routes, ctx: RouteContext): void {
  const { cluster, replica, config } = ctx;

  const set = async (req: Request, res: Response, who: Principal) => {
    const body = jsonBody(req) as { key?: unknown; value?: unknown };
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new HttpProblem('validation', 'the body must be {"key": "...", "value": "..."}', { issues: [{ path: '', message: 'must be an object' }] });
    }
    const { key, value } = body;
    const issues: { path: string; message: string }[] = [];
    if (typeof key !== 'string' || !KEY_PATTERN.test(key) || key.length > LIMITS.maxKeyChars) {
      issues.push({ path: 'key', message: `must be a string matching ${KEY_PATTERN.source} (at most ${LIMITS.maxKeyChars} characters)` });
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      issues.push({ path: 'value', message: 'must be a string (numbers and booleans are accepted and stored as text)' });
    }
    if (issues.length > 0) throw new HttpProblem('validation', issues.map((i) => `${i.path}: ${i.message}`).join('; '), { issues });
    const text = String(value);
    const idempotency = writeIdempotency(req, who, body);
    for (let attempt = 1; ; attempt++) {
      const existing = await viaCluster(ctx, () => cluster.getFlag(key as string));
      let flag;
      try {
        flag = legacyFlagFromValue(key as string, text, existing?.flag);
      } catch (err) {
        if (err instanceof ValidationError) throw validationProblem(err);
        throw err;
      }
      try {
        const out = await viaCluster(ctx, () => cluster.putFlag(flag, { expectedRevision: existing?.modRevision ?? 0, actor: who.name, ...writeScope(ctx, who), idempotency }), {
          precondition: true,
        });
        await replica.waitFor(out.revision, config.writeVisibilityTimeoutMs);
        res.json({ key, value: legacyValueOf(out.flag.flag), revision: out.revision });
        return;
      } catch (err) {
        // Last writer wins, as in the original API, but never by overwriting
        // blindly: re-read and re-apply on a concurrent change.
        if (!(err instanceof HttpProblem && err.status === 412 && attempt < LEGACY_SET_ATTEMPTS)) {
          if (err instanceof HttpProblem && err.status === 412) throw new HttpProblem('conflict', `flag ${key} kept changing; try again`, { key });
          throw err;
        }
      }
    }
  };
  r.add('post', '/set', 'write', set);
  r.add('post', '/api/v1/flags/set', 'write', set);

  r.add('get', '/get/:key', 'read', async (req, res) => {
    const key = req.params.key as string;
    if (!KEY_PATTERN.test(key) || key.length > LIMITS.maxKeyChars) throw new HttpProblem('bad-request', 'key: not a valid flag key');
    const stored = await viaCluster(ctx, () => cluster.getFlag(key, { consistency: consistencyOf(req) }));
    if (!stored) throw new HttpProblem('not-found', `flag ${key} does not exist`, { key });
    res.json({ key, value: legacyValueOf(stored.flag), revision: stored.modRevision });
  });

  r.add('get', '/api/v1/flags/all', 'read', async (req, res) => {
    const consistency = consistencyOf(req);
    // Keyed by flag keys: no prototype (a flag may be named "constructor").
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    let pageToken: string | undefined;
    let revision = 0;
    do {
      const page = await viaCluster(ctx, () => cluster.listFlags({ limit: ALL_PAGE, pageToken, consistency }));
      for (const f of page.flags) out[f.flag.key] = legacyValueOf(f.flag);
      revision = Math.max(revision, page.revision);
      pageToken = page.nextPageToken || undefined;
    } while (pageToken);
    res.set('x-flagraft-revision', String(revision)).json(out);
  });
}
