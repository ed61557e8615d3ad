// The dashboard server's client for the gateway REST API (/api/v1): the
// typed @flagraft/api client, with what the dashboard adds (its page sizes,
// read-your-writes marks). Every call carries the signed-in user's token, so
// the gateway enforces roles and records the right actor; the dashboard
// never holds a token of its own.
import { ApiProblem, FlagraftClient, expectedRevisionCondition } from '@flagraft/api';
import type { ChangeQuery, HistoryEntry as ApiHistoryEntry } from '@flagraft/api';
import { FLAG_KIND, type AnyItemKind, type FlagKind } from '@flagraft/flag-model';
import type { FlagDefinition, SegmentDefinition, StoredFlag, StoredSegment } from '~/lib/types';
import { noteWrite } from './write-marks';

export type { ClusterMember, ClusterStatus, Problem } from '@flagraft/api';

/** Largest gateway answer we read, in bytes (10,000 flags fit comfortably). */
export const MAX_GATEWAY_RESPONSE_BYTES = 64 * 1024 * 1024;
/** Page size used when the dashboard walks the whole flag list. */
export const LIST_PAGE_LIMIT = 1000;
/** Pages walked at most for one list (LIST_PAGE_LIMIT * this = flags). */
export const MAX_LIST_PAGES = 200;

/** A refusal of the gateway (or of the client: unreachable, answer too large): the contract's ApiProblem. */
export { ApiProblem as GatewayError };

export type HistoryEntry = ApiHistoryEntry<StoredFlag>;

/** A kind's definition and stored item (flag-model's descriptor picks them). */
export type DefOf<K extends AnyItemKind> = K extends FlagKind ? FlagDefinition : SegmentDefinition;
export type StoredOf<K extends AnyItemKind> = K extends FlagKind ? StoredFlag : StoredSegment;

/** Segments live outside environments: a segment call ignores `environment`. */
function envOf(kind: AnyItemKind, environment: string | undefined): { environment?: string } {
  return kind === FLAG_KIND ? { environment } : {};
}

/** The flag list's read-your-writes mark (write-marks.ts) follows flag writes only: the flag index is what waits for it. */
function noteItemWrite(kind: AnyItemKind, revision: number): void {
  if (kind === FLAG_KIND) noteWrite(revision);
}

export class GatewayClient {
  /** The typed client itself, for the calls the dashboard makes as they are (environments, change requests, schedules). */
  readonly api: FlagraftClient;

  constructor(baseUrl: string, token: string, timeoutMs = 10_000) {
    this.api = new FlagraftClient({ baseUrl, token, timeoutMs, maxResponseBytes: MAX_GATEWAY_RESPONSE_BYTES });
  }

  async listFlagsPage(
    opts: { prefix?: string; limit?: number; pageToken?: string; stale?: boolean; environment?: string } = {},
  ): Promise<{ flags: StoredFlag[]; nextPageToken?: string; revision?: number }> {
    const page = await this.api.listFlags({
      consistency: opts.stale ? 'stale' : undefined,
      prefix: opts.prefix || undefined,
      limit: opts.limit ?? LIST_PAGE_LIMIT,
      pageToken: opts.pageToken || undefined,
      environment: opts.environment,
    });
    return { flags: page.flags, nextPageToken: page.nextPageToken || undefined, revision: page.revision };
  }

  /**
   * Walks every page; `revision` is the highest revision any page reported.
   * `stale` reads come from the gateway's replica (milliseconds behind the
   * cluster, and the gateway answers a write only once its replica has it):
   * the list page uses them, because live events patch the rows afterwards
   * and a linearizable read of 10,000 flags costs a cluster round trip per page.
   */
  async listAllFlags(opts: { stale?: boolean; environment?: string } = {}): Promise<{ flags: StoredFlag[]; revision: number }> {
    const all = await this.api.listAllItems(FLAG_KIND, {
      consistency: opts.stale ? 'stale' : undefined, pageSize: LIST_PAGE_LIMIT, maxPages: MAX_LIST_PAGES, environment: opts.environment,
    });
    let revision = Math.max(0, ...all.revisions);
    for (const f of all.items) revision = Math.max(revision, f.modRevision);
    return { flags: all.items, revision };
  }

  /** One item of a kind. `environment`: undefined = the default environment (flags only, as every flag method). */
  getItem<K extends AnyItemKind>(kind: K, id: string, environment?: string): Promise<StoredOf<K>> {
    return this.api.getItem(kind, id, envOf(kind, environment)) as Promise<StoredOf<K>>;
  }

  /** Create (expectedRevision 0 -> If-None-Match: *) or replace with If-Match. */
  async putItem<K extends AnyItemKind>(kind: K, def: DefOf<K>, expectedRevision: number | undefined, environment?: string): Promise<StoredOf<K>> {
    const { stored } = await this.api.putItem(kind, def as never, { ...expectedRevisionCondition(expectedRevision), ...envOf(kind, environment) });
    noteItemWrite(kind, stored.modRevision);
    return stored as StoredOf<K>;
  }

  async deleteItem(kind: AnyItemKind, id: string, expectedRevision?: number, environment?: string): Promise<void> {
    noteItemWrite(kind, (await this.api.deleteItem(kind, id, { ifMatch: expectedRevision, ...envOf(kind, environment) })).revision);
  }

  getFlag(key: string, environment?: string): Promise<StoredFlag> {
    return this.getItem(FLAG_KIND, key, environment);
  }

  async patchFlag(key: string, patch: Partial<FlagDefinition>, expectedRevision?: number, environment?: string): Promise<StoredFlag> {
    const stored = await this.api.patchFlag(key, patch as Record<string, unknown>, { ifMatch: expectedRevision, environment });
    noteWrite(stored.modRevision);
    return stored;
  }

  async history(key: string, limit = 100, environment?: string): Promise<HistoryEntry[]> {
    return (await this.api.getFlagHistory(key, { limit, environment })).changes;
  }

  /** A page of the global audit log (GET /api/v1/changes), newest first. */
  listChanges(q: ChangeQuery) {
    return this.api.listChanges(q);
  }

  async listSegments(): Promise<StoredSegment[]> {
    return (await this.api.listSegments({ limit: LIST_PAGE_LIMIT })).segments;
  }

  /**
   * OFREP evaluation of one flag as this user (readers may evaluate).
   * `atRevision`: answer from a replica that has at least this revision
   * (OFREP's flagConfigEtag), so the answer is not older than a flag just read.
   */
  evaluate(key: string, context: Record<string, unknown>, atRevision?: number) {
    return this.api.evaluateFlag(key, { context }, atRevision === undefined ? {} : { flagConfigEtag: String(atRevision) });
  }

  cluster() {
    return this.api.getClusterStatus();
  }

  /** A GET used to check the token at sign-in: resolves, or throws 401/403. */
  async probeRead(): Promise<void> {
    await this.api.listFlags({ limit: 1 });
  }
}
