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
  const res = await api.request('PUT', `/api/v1/flags/${enc(key)}`, { body: definition, headers: conditionHeaders(c) });
  return res.body;
}

export async function patchFlag(api: ApiClient, key: string, patch: Record<string, unknown>, c: WriteCondition) {
  const res = await api.request('PATCH', `/api/v1/flags/${enc(key)}`, { body: patch, headers: conditionHeaders(c) });
  return res.body;
}

/** The original design's write (`{key, value}`), mapped by the gateway onto a typed flag. */
export async function setLegacyValue(api: ApiClient, key: string, value: string) {
  const res = await api.request('POST', '/api/v1/flags/set', { body: { key, value } });
  return res.body;
}

export async function deleteFlag(api: ApiClient, key: string, c: WriteCondition) {
  const res = await api.request('DELETE', `/api/v1/flags/${enc(key)}`, { headers: conditionHeaders(c) });
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
  return (await api.request('POST', '/api/v1/cluster/transfer-leader', { body: { id } })).body;
}

/** A consistent export of all flags, segments and their history at one revision. */
export async function exportBackup(api: ApiClient) {
  return (await api.request('GET', '/api/v1/admin/backup')).body;
}

/** Loads a backup into an empty cluster (the gateway refuses a non-empty one unless force). */
export async function importBackup(api: ApiClient, backup: unknown, force: boolean) {
  return (await api.request('POST', '/api/v1/admin/restore', { body: backup, query: { force: force ? 'true' : undefined } })).body;
}
