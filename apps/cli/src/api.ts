// The gateway REST endpoints the CLI uses (apps/gateway, /api/v1), in one
// place, with tolerant readers for the answers (a field added by the
// gateway must never break the CLI).
import type { ApiClient } from './http.js';
import { CliError, ExitCode } from './errors.js';

export interface StoredFlagView {
  flag: Record<string, unknown> & { key: string; type?: string; enabled?: boolean; defaultVariant?: string; tags?: string[] };
  createRevision?: number;
  modRevision?: number;
  version?: number;
  updatedAt?: number | string;
  updatedBy?: string;
}

export interface ChangeView {
  revision: number;
  key?: string;
  op?: string;
  kind?: string;
  actor?: string;
  time?: number | string;
  before?: unknown;
  after?: unknown;
}

/** Largest page the CLI asks for when listing, in flags. */
export const LIST_PAGE_SIZE = 500;

const enc = encodeURIComponent;

/** Accepts a StoredFlag, `{flag: StoredFlag}` or `{flag: StoredFlag, revision}` and returns the StoredFlag. */
export function asStoredFlag(x: unknown): StoredFlagView {
  let o = x as Record<string, unknown> | undefined;
  if (o && typeof o === 'object' && o.flag && typeof o.flag === 'object' && (o.flag as Record<string, unknown>).flag) {
    o = o.flag as Record<string, unknown>;
  }
  if (!o || typeof o !== 'object' || !o.flag || typeof o.flag !== 'object') {
    throw new CliError(`unexpected answer from the gateway (no flag in it): ${JSON.stringify(x).slice(0, 200)}`, ExitCode.ERROR);
  }
  return o as unknown as StoredFlagView;
}

export async function listFlags(api: ApiClient, q: { prefix?: string; limit?: number; stale?: boolean }) {
  const flags: StoredFlagView[] = [];
  let pageToken: string | undefined;
  let revision: number | undefined;
  do {
    const want = q.limit !== undefined ? Math.min(LIST_PAGE_SIZE, q.limit - flags.length) : LIST_PAGE_SIZE;
    const res = await api.request('GET', '/api/v1/flags', {
      query: { prefix: q.prefix, limit: want, pageToken, consistency: q.stale ? 'stale' : undefined },
    });
    const body = res.body as { flags?: unknown[]; items?: unknown[]; nextPageToken?: string; revision?: number };
    const page = Array.isArray(body) ? body : body.flags ?? body.items ?? [];
    for (const f of page) flags.push(asStoredFlag(f));
    revision ??= body.revision;
    pageToken = body.nextPageToken || undefined;
  } while (pageToken && (q.limit === undefined || flags.length < q.limit));
  return { flags, revision };
}

export async function getFlag(api: ApiClient, key: string, stale = false) {
  const res = await api.request('GET', `/api/v1/flags/${enc(key)}`, { query: { consistency: stale ? 'stale' : undefined } });
  return { stored: asStoredFlag(res.body), raw: res.body };
}

export interface WriteCondition { ifRevision?: number; createOnly?: boolean }

function conditionHeaders(c: WriteCondition): Record<string, string> {
  const h: Record<string, string> = {};
  if (c.ifRevision !== undefined) h['if-match'] = `"${c.ifRevision}"`;
  if (c.createOnly) h['if-none-match'] = '*';
  return h;
}

export async function putFlag(api: ApiClient, key: string, definition: Record<string, unknown>, c: WriteCondition) {
  const res = await api.request('PUT', `/api/v1/flags/${enc(key)}`, { body: definition, headers: conditionHeaders(c), idempotent: true });
  return res.body;
}

export async function patchFlag(api: ApiClient, key: string, patch: Record<string, unknown>, c: WriteCondition) {
  const res = await api.request('PATCH', `/api/v1/flags/${enc(key)}`, { body: patch, headers: conditionHeaders(c), idempotent: true });
  return res.body;
}

/** The original design's write (`{key, value}`), mapped by the gateway onto a typed flag. */
export async function setLegacyValue(api: ApiClient, key: string, value: string) {
  const res = await api.request('POST', '/api/v1/flags/set', { body: { key, value }, idempotent: true });
  return res.body;
}

export async function deleteFlag(api: ApiClient, key: string, c: WriteCondition) {
  const res = await api.request('DELETE', `/api/v1/flags/${enc(key)}`, { headers: conditionHeaders(c), idempotent: true });
  return res.body;
}

export async function flagHistory(api: ApiClient, key: string, limit?: number) {
  const res = await api.request('GET', `/api/v1/flags/${enc(key)}/history`, { query: { limit } });
  const b = res.body as { changes?: ChangeView[]; history?: ChangeView[]; items?: ChangeView[] } | ChangeView[];
  const changes = Array.isArray(b) ? b : b.changes ?? b.history ?? b.items ?? [];
  return { changes, raw: res.body };
}

export async function clusterStatus(api: ApiClient) {
  return (await api.request('GET', '/api/v1/cluster')).body as Record<string, unknown>;
}

export async function addLearner(api: ApiClient, id: number, address: string) {
  return (await api.request('POST', '/api/v1/cluster/members', { body: { id, address, role: 'learner' } })).body;
}

export async function promoteMember(api: ApiClient, id: number) {
  return (await api.request('POST', `/api/v1/cluster/members/${id}/promote`)).body;
}

export async function removeMember(api: ApiClient, id: number) {
  return (await api.request('DELETE', `/api/v1/cluster/members/${id}`)).body;
}

export async function transferLeader(api: ApiClient, id: number) {
  return (await api.request('POST', '/api/v1/cluster/leader', { body: { id } })).body;
}

/** Listing attempts when the cluster's revision moves between pages of an assembled backup. */
export const BACKUP_LIST_ATTEMPTS = 5;
/** Time a backup or restore may take on the server before the CLI gives up, in milliseconds (they move the whole data set). */
export const BACKUP_TIMEOUT_MS = 10 * 60_000;
/** Ops per POST /api/v1/batch when restoring without the server-side import (the gateway's MAX_BATCH_OPS). */
export const RESTORE_BATCH_OPS = 100;

const isNoRoute = (r: { status: number }) => r.status === 404 || r.status === 405;

/**
 * A consistent export of all flags, segments and their history at one
 * revision. Uses the gateway's export endpoint; a gateway without it gets
 * the export assembled from list + history reads that all saw the same
 * revision (retried while writes move it).
 */
export async function exportBackup(api: ApiClient): Promise<Record<string, unknown>> {
  const direct = await api.request('GET', '/api/v1/admin/backup', { okStatuses: [404, 405], timeoutMs: BACKUP_TIMEOUT_MS });
  if (!isNoRoute(direct)) return direct.body as Record<string, unknown>;
  for (let attempt = 1; attempt <= BACKUP_LIST_ATTEMPTS; attempt++) {
    const doc = await assembleBackup(api);
    if (doc) return doc;
  }
  throw new CliError(`the cluster kept changing during ${BACKUP_LIST_ATTEMPTS} export attempts; retry when writes are quieter`, ExitCode.UNAVAILABLE);
}

async function listAll(api: ApiClient, path: string, field: 'flags' | 'segments'): Promise<{ items: unknown[]; revisions: Set<number> }> {
  const items: unknown[] = [];
  const revisions = new Set<number>();
  let pageToken: string | undefined;
  do {
    const body = (await api.request('GET', path, { query: { limit: LIST_PAGE_SIZE, pageToken } })).body as Record<string, unknown>;
    items.push(...((body[field] as unknown[]) ?? []));
    if (typeof body.revision === 'number') revisions.add(body.revision);
    pageToken = (body.nextPageToken as string | undefined) || undefined;
  } while (pageToken);
  return { items, revisions };
}

async function historyUpTo(api: ApiClient, path: string, revision: number): Promise<ChangeView[]> {
  const out: ChangeView[] = [];
  let before: number | undefined;
  for (;;) {
    const body = (await api.request('GET', path, { query: { limit: 1000, before } })).body as { changes?: ChangeView[] };
    const page = body.changes ?? [];
    out.push(...page.filter((c) => c.revision <= revision));
    if (page.length < 1000) return out;
    before = Math.min(...page.map((c) => c.revision));
  }
}

async function assembleBackup(api: ApiClient): Promise<Record<string, unknown> | undefined> {
  const flags = await listAll(api, '/api/v1/flags', 'flags');
  const segments = await listAll(api, '/api/v1/segments', 'segments');
  const revisions = new Set([...flags.revisions, ...segments.revisions]);
  if (revisions.size !== 1) return undefined;
  const [revision] = [...revisions];
  const changes: ChangeView[] = [];
  for (const f of flags.items as StoredFlagView[]) changes.push(...await historyUpTo(api, `/api/v1/flags/${enc(f.flag.key)}/history`, revision));
  for (const s of segments.items as Array<{ segment: { name: string } }>) {
    changes.push(...await historyUpTo(api, `/api/v1/segments/${enc(s.segment.name)}/history`, revision));
  }
  // Nothing may have changed while history was read, or the lists are stale.
  const again = await api.request('GET', '/api/v1/flags', { query: { limit: 1 } });
  if ((again.body as { revision?: number }).revision !== revision) return undefined;
  changes.sort((a, b) => a.revision - b.revision);
  return {
    format: 'flagraft-backup', v: 1, revision, createdAt: new Date().toISOString(), source: 'gateway-api',
    flags: flags.items, segments: segments.items, changes,
  };
}

/**
 * Loads a backup into a cluster: the gateway's import endpoint when it has
 * one (flags keep their revisions and history; 409 when the cluster is not
 * empty and `force` is not set); otherwise segments then flags through
 * POST /api/v1/batch, each write create-only unless `force` (history then
 * starts at the restore).
 */
export async function importBackup(api: ApiClient, backup: Record<string, unknown>, force: boolean) {
  const direct = await api.request('POST', '/api/v1/admin/restore', { body: backup, query: { force: force ? 'true' : undefined }, okStatuses: [404, 405], timeoutMs: BACKUP_TIMEOUT_MS });
  if (!isNoRoute(direct)) return direct.body as Record<string, unknown>;
  const cond = force ? {} : { expectedRevision: 0 };
  const ops = [
    ...((backup.segments as Array<{ segment: unknown }>) ?? []).map((s) => ({ op: 'putSegment', segment: s.segment, ...cond })),
    ...((backup.flags as StoredFlagView[]) ?? []).map((f) => ({ op: 'putFlag', flag: f.flag, ...cond })),
  ];
  let revision: number | undefined;
  for (let i = 0; i < ops.length; i += RESTORE_BATCH_OPS) {
    const body = (await api.request('POST', '/api/v1/batch', { body: { ops: ops.slice(i, i + RESTORE_BATCH_OPS) }, idempotent: true })).body as { revision?: number };
    revision = body.revision;
  }
  return { revision, restored: ops.length, historyPreserved: false };
}
