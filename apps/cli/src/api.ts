// The gateway REST endpoints the CLI uses, through @flagraft/api's typed
// client (one contract with the gateway: no guessing at answer shapes). Its
// refusals become CliErrors with the CLI's words and exit codes.
import { ApiProblem, type BatchOp, type FlagDefinition, type HistoryEntry, type StoredFlag, type WriteCondition as ApiWriteCondition } from '@flagraft/api';
import { FLAG_KIND, ITEM_KINDS, SEGMENT_KIND, storedItemId, type AnyItemKind, type StoredSegment } from '@flagraft/flag-model';
import { cliErrorOf, type ApiClient } from './http.js';
import { CliError, ExitCode } from './errors.js';

export type StoredFlagView = StoredFlag;
export type ChangeView = HistoryEntry;

/** Largest page the CLI asks for when listing, in flags. */
export const LIST_PAGE_SIZE = 500;

/** Runs a typed call; a refusal becomes the CliError the CLI reports. */
export async function gw<T>(api: ApiClient, call: (c: ApiClient['gateway']) => Promise<T>): Promise<T> {
  try {
    return await call(api.gateway);
  } catch (err) {
    throw err instanceof ApiProblem ? cliErrorOf(err, api.baseUrl) : err;
  }
}

export async function listFlags(api: ApiClient, q: { prefix?: string; limit?: number; stale?: boolean; environment?: string }) {
  const flags: StoredFlag[] = [];
  let pageToken: string | undefined;
  let revision: number | undefined;
  do {
    const want = q.limit !== undefined ? Math.min(LIST_PAGE_SIZE, q.limit - flags.length) : LIST_PAGE_SIZE;
    const page = await gw(api, (c) => c.listFlags({ prefix: q.prefix, limit: want, pageToken, consistency: q.stale ? 'stale' : undefined, environment: q.environment }));
    flags.push(...page.flags);
    revision ??= page.revision;
    pageToken = page.nextPageToken || undefined;
  } while (pageToken && (q.limit === undefined || flags.length < q.limit));
  return { flags, revision };
}

export async function getFlag(api: ApiClient, key: string, stale = false, environment?: string) {
  const stored = await gw(api, (c) => c.getFlag(key, { consistency: stale ? 'stale' : undefined, environment }));
  return { stored, raw: stored };
}

/** `environment`: where the write goes (absent = the default environment). */
export interface WriteCondition { ifRevision?: number; createOnly?: boolean; environment?: string }

function condition(c: WriteCondition): ApiWriteCondition & { environment?: string } {
  return { ifMatch: c.ifRevision, ifNoneMatch: c.createOnly ? '*' : undefined, environment: c.environment };
}

/** `definition` is the user's file as read: the gateway validates it and names every bad field. */
export async function putFlag(api: ApiClient, key: string, definition: Record<string, unknown>, c: WriteCondition) {
  return gw(api, (g) => g.putFlag({ ...definition, key } as unknown as FlagDefinition, condition(c)));
}

export async function patchFlag(api: ApiClient, key: string, patch: Record<string, unknown>, c: WriteCondition) {
  return gw(api, (g) => g.patchFlag(key, patch, { ifMatch: c.ifRevision, environment: c.environment }));
}

/** The original design's write (`{key, value}`), mapped by the gateway onto a typed flag. */
export async function setLegacyValue(api: ApiClient, key: string, value: string) {
  return gw(api, (c) => c.legacySetFlagV1(key, value));
}

export async function deleteFlag(api: ApiClient, key: string, c: WriteCondition) {
  return gw(api, (g) => g.deleteFlag(key, condition(c)));
}

export async function flagHistory(api: ApiClient, key: string, limit?: number, environment?: string) {
  const raw = await gw(api, (c) => c.getFlagHistory(key, { limit, environment }));
  return { changes: raw.changes, raw };
}

export async function clusterStatus(api: ApiClient) {
  return gw(api, (c) => c.getClusterStatus());
}

export async function addLearner(api: ApiClient, id: number, address: string) {
  return gw(api, (c) => c.addClusterMember(id, address));
}

export async function promoteMember(api: ApiClient, id: number) {
  return gw(api, (c) => c.promoteClusterMember(id));
}

export async function removeMember(api: ApiClient, id: number) {
  return gw(api, (c) => c.removeClusterMember(id));
}

export async function transferLeader(api: ApiClient, id: number) {
  return gw(api, (c) => c.transferLeadership(id));
}

/** The import/export endpoints of the flagd format. */
export async function importFlagd(api: ApiClient, doc: unknown, q: { dryRun?: boolean; skipUnmappable?: boolean; environment?: string }) {
  return gw(api, (c) => c.importFlagd(doc, q));
}

export async function exportFlagd(api: ApiClient, prefix?: string, environment?: string) {
  return gw(api, (c) => c.exportFlagd({ prefix, environment }));
}

/** Listing attempts when the cluster's revision moves between pages of an assembled backup. */
export const BACKUP_LIST_ATTEMPTS = 5;
/** Time a backup or restore may take on the server before the CLI gives up, in milliseconds (they move the whole data set). */
export const BACKUP_TIMEOUT_MS = 10 * 60_000;
/** Ops per POST /api/v1/batch when restoring without the server-side import (the gateway's MAX_BATCH_OPS). */
export const RESTORE_BATCH_OPS = 100;

/** A gateway older than the endpoint answers 404 (no route) or 405. */
const isNoRoute = (err: unknown) => err instanceof ApiProblem && (err.status === 404 || err.status === 405);

/**
 * A consistent export of all flags, segments and their history at one
 * revision. Uses the gateway's export endpoint; a gateway without it gets
 * the export assembled from list + history reads that all saw the same
 * revision (retried while writes move it).
 */
export async function exportBackup(api: ApiClient): Promise<Record<string, unknown>> {
  try {
    return (await api.gateway.getBackup({ timeoutMs: BACKUP_TIMEOUT_MS })) as unknown as Record<string, unknown>;
  } catch (err) {
    if (!isNoRoute(err)) throw err instanceof ApiProblem ? cliErrorOf(err, api.baseUrl) : err;
  }
  for (let attempt = 1; attempt <= BACKUP_LIST_ATTEMPTS; attempt++) {
    const doc = await assembleBackup(api);
    if (doc) return doc;
  }
  throw new CliError(`the cluster kept changing during ${BACKUP_LIST_ATTEMPTS} export attempts; retry when writes are quieter`, ExitCode.UNAVAILABLE);
}

async function historyUpTo(api: ApiClient, kind: AnyItemKind, id: string, revision: number): Promise<ChangeView[]> {
  const out: ChangeView[] = [];
  let before: number | undefined;
  for (;;) {
    const page = (await gw(api, (c) => c.itemHistory(kind, id, { limit: 1000, before }))).changes;
    out.push(...page.filter((c) => c.revision <= revision));
    if (page.length < 1000) return out;
    before = Math.min(...page.map((c) => c.revision));
  }
}

async function assembleBackup(api: ApiClient): Promise<Record<string, unknown> | undefined> {
  const lists = new Map<AnyItemKind, { items: (StoredFlag | StoredSegment)[]; revisions: number[] }>();
  for (const kind of ITEM_KINDS) lists.set(kind, await gw(api, (c) => c.listAllItems(kind, { pageSize: LIST_PAGE_SIZE })));
  const revisions = new Set([...lists.values()].flatMap((l) => l.revisions));
  if (revisions.size !== 1) return undefined;
  const [revision] = [...revisions];
  const changes: ChangeView[] = [];
  for (const [kind, list] of lists) {
    for (const item of list.items) changes.push(...await historyUpTo(api, kind, storedItemId(kind, item), revision));
  }
  // Nothing may have changed while history was read, or the lists are stale.
  const again = await gw(api, (c) => c.listFlags({ limit: 1 }));
  if (again.revision !== revision) return undefined;
  changes.sort((a, b) => a.revision - b.revision);
  return {
    format: 'flagraft-backup', v: 1, revision, createdAt: new Date().toISOString(), source: 'gateway-api',
    flags: lists.get(FLAG_KIND)!.items, segments: lists.get(SEGMENT_KIND)!.items, changes,
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
  try {
    return (await api.gateway.restoreBackup(backup, { force, timeoutMs: BACKUP_TIMEOUT_MS })) as unknown as Record<string, unknown>;
  } catch (err) {
    if (!isNoRoute(err)) throw err instanceof ApiProblem ? cliErrorOf(err, api.baseUrl) : err;
  }
  const cond = force ? {} : { expectedRevision: 0 };
  // The file was checked (checkBackup) for its shape; the gateway validates every definition.
  const ops = [
    ...((backup.segments as Array<{ segment: unknown }>) ?? []).map((s) => ({ op: 'putSegment', segment: s.segment, ...cond })),
    ...((backup.flags as Array<{ flag: unknown }>) ?? []).map((f) => ({ op: 'putFlag', flag: f.flag, ...cond })),
  ] as BatchOp[];
  let revision: number | undefined;
  for (let i = 0; i < ops.length; i += RESTORE_BATCH_OPS) {
    revision = (await gw(api, (c) => c.applyBatch(ops.slice(i, i + RESTORE_BATCH_OPS)))).revision;
  }
  return { revision, restored: ops.length, historyPreserved: false };
}
