// A typed client of the gateway's HTTP API, written over the route table: one
// method per operationId, each returning the body its route documents, every
// refusal an ApiProblem carrying the problem document. Writes carry an
// Idempotency-Key, fresh per logical write and the same on this client's own
// retries, so a gateway that honours it applies a retried write once; one
// that ignores the header is unaffected (retries are off unless asked for).
import { FLAG_KIND, SEGMENT_KIND, type AnyItemKind } from '@flagraft/flag-model';
import { IDEMPOTENCY_KEY_HEADER } from './idempotency.js';
import { ApiProblem, PROBLEM_CONTENT_TYPE, type Problem } from './problem.js';
import { operationOf, ROUTES, type OperationId, type RouteSpec } from './routes.js';
import { DEFAULT_MAX_RESPONSE_BYTES, fetchTransport, type Transport, type TransportResponse } from './transport.js';
import type {
  BackupDocument, BatchOp, BatchResult, ChangePage, ChangeQuery, ClusterStatus, PrincipalInfo, Consistency, EvaluationCount, EvaluationCountsResult, FlagDefinition, FlagDeleted,
  FlagdExport, FlagdImportResult, FlagHistory, FlagPage, LeaderTransferred, LegacyValue, MemberAdded, MemberPromoted, MemberRemoved,
  OfrepBulk, OfrepRequest, OfrepSuccess, Readiness, RestoreResult, SegmentDefinition, SegmentDeleted, SegmentHistory, SegmentPage,
  Snapshot, StoredFlag, StoredSegment, StreamTicket,
  ChangeRequestCreate, ChangeRequestList, ChangeRequestOp, ChangeRequestQuery, EnvironmentCreate, EnvironmentDeleted, EnvironmentList, EnvironmentUpdate,
  PromotionPlan, PromotionRequest, PromotionResult, ScheduleCreate, ScheduleList, StoredChangeRequest, StoredEnvironment, StoredSchedule,
} from './types.js';

/** Default time limit of one request, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Longest wait between two attempts of one call, in milliseconds (a larger Retry-After is cut to this). */
export const MAX_RETRY_DELAY_MS = 5_000;
/** Most retries one call may be configured for. */
export const MAX_RETRIES = 10;
/** Attempts of a request that is safe to repeat (a read, an OFREP evaluation, a keyed write) while Caddy answers its own 502. */
export const PROXY_502_ATTEMPTS = 3;

/**
 * Caddy's own 502 (the Caddyfile's handle_errors): the request met a broken
 * connection to a gateway, for instance a keep-alive connection to one that
 * just died; Caddy 2.6 cannot re-send a body to the other gateway itself. A
 * gateway's own 502 does not say "proxy: 502".
 */
export function isProxy502(status: number, body: unknown): boolean {
  const detail = body !== null && typeof body === 'object' ? (body as { detail?: unknown }).detail : undefined;
  return status === 502 && typeof detail === 'string' && detail.startsWith('proxy: 502');
}

export interface ClientOptions {
  /** The gateway (or Caddy in front of it), e.g. https://localhost:8443; a path prefix is kept. */
  baseUrl: string;
  /** Sent as Authorization: Bearer; none = anonymous. */
  token?: string;
  /** Per request, in milliseconds (default DEFAULT_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Retries of a call that got no answer or a 503, 0 to MAX_RETRIES (default 0: one attempt). */
  retries?: number;
  /** First wait between attempts, in milliseconds, doubled each time (default 200); Retry-After wins when given. */
  retryDelayMs?: number;
  /** Largest answer read by the default transport, in bytes (default DEFAULT_MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
  /** How requests are sent (default: fetch). */
  transport?: Transport;
  /** Makes Idempotency-Keys (default: crypto.randomUUID). */
  newIdempotencyKey?: () => string;
}

export type QueryValue = string | number | boolean | undefined;

export interface CallOptions {
  /** Values of the path's {placeholders}, percent-encoded here. */
  params?: Record<string, string | number>;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /** This call's time limit, in milliseconds. */
  timeoutMs?: number;
  /** Statuses answered as results rather than thrown (GET /ready answers 503 with a body). */
  okStatuses?: number[];
}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** An answer whatever its status: what a raw request returns. */
export interface RawResponse {
  /** Requests sent for this call: more than 1 when Caddy's own 502 was repeated or a retry was made. */
  attempts: number;
  status: number;
  /** The status line's text, where the transport has it. */
  statusText?: string;
  headers: Headers;
  /** Parsed JSON when the answer is JSON, else its text ('' = none). */
  body: unknown;
  text: string;
}

/** Compare-and-set on a write: If-Match "<revision>" (or * = must exist), If-None-Match * (= create only). */
export interface WriteCondition {
  ifMatch?: number | '*';
  ifNoneMatch?: '*';
}

/** expectedRevision as the cluster means it: 0 = must not exist, n = must be at revision n, undefined = unconditional. */
export function expectedRevisionCondition(expectedRevision: number | undefined): WriteCondition {
  if (expectedRevision === undefined) return {};
  return expectedRevision === 0 ? { ifNoneMatch: '*' } : { ifMatch: expectedRevision };
}

/** A flag call's environment (absent = the default environment). */
export interface EnvironmentQuery { environment?: string }

export interface ListQuery extends EnvironmentQuery {
  prefix?: string;
  limit?: number;
  pageToken?: string;
  consistency?: Consistency;
}
export interface HistoryQuery extends EnvironmentQuery {
  limit?: number;
  /** Only changes with a smaller revision. */
  before?: number;
}

type ItemOf<K extends AnyItemKind> = K extends typeof FLAG_KIND ? StoredFlag : StoredSegment;
type DefOf<K extends AnyItemKind> = K extends typeof FLAG_KIND ? FlagDefinition : SegmentDefinition;

/** The operations of each item kind: the per-kind methods below are these, named. */
const ITEM_OPS = {
  flag: { list: 'listFlags', get: 'getFlag', put: 'putFlag', delete: 'deleteFlag', history: 'getFlagHistory' },
  segment: { list: 'listSegments', get: 'getSegment', put: 'putSegment', delete: 'deleteSegment', history: 'getSegmentHistory' },
} as const satisfies Record<AnyItemKind['kind'], Record<string, OperationId>>;

function opsOf(kind: AnyItemKind): (typeof ITEM_OPS)[AnyItemKind['kind']] {
  return ITEM_OPS[kind.kind as AnyItemKind['kind']];
}

function conditionHeaders(c: WriteCondition = {}): Record<string, string> {
  const h: Record<string, string> = {};
  if (c.ifMatch !== undefined) h['if-match'] = c.ifMatch === '*' ? '*' : `"${c.ifMatch}"`;
  if (c.ifNoneMatch) h['if-none-match'] = c.ifNoneMatch;
  return h;
}

const isJson = (contentType: string | null) => contentType !== null && /json/i.test(contentType);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class FlagraftClient {
  readonly baseUrl: string;
  private readonly base: URL;
  private readonly transport: Transport;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly newKey: () => string;

  constructor(private readonly options: ClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`baseUrl: must be an http(s) URL, got ${JSON.stringify(options.baseUrl)}`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`baseUrl: must be an http(s) URL, got ${JSON.stringify(options.baseUrl)}`);
    const retries = options.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) throw new RangeError(`retries: must be a whole number from 0 to ${MAX_RETRIES} (MAX_RETRIES), got ${retries}`);
    this.base = base;
    this.baseUrl = base.href.replace(/\/+$/, '');
    this.transport = options.transport ?? fetchTransport(options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retries = retries;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.newKey = options.newIdempotencyKey ?? (() => globalThis.crypto.randomUUID());
  }

  /** A copy of this client with other options (another token, a longer timeout...). */
  with(options: Partial<ClientOptions>): FlagraftClient {
    return new FlagraftClient({ ...this.options, ...options });
  }

  // ---- the generic call --------------------------------------------------

  /** Calls one operation of the route table; T is the body its success answers carry. */
  async call<T>(operationId: OperationId, o: CallOptions = {}): Promise<ApiResponse<T>> {
    const route: RouteSpec = ROUTES[operationId];
    const path = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
      const v = o.params?.[name];
      if (v === undefined) throw new TypeError(`${operationId}: missing path parameter ${name}`);
      return encodeURIComponent(String(v));
    });
    const res = await this.send(route.method.toUpperCase(), path, o, operationId);
    if (res.body !== undefined && res.text !== '' && !isJson(res.headers.get('content-type')) && jsonAnswer(route, res.status)) {
      throw new ApiProblem(
        { status: 502, title: 'Bad gateway answer', detail: `${operationId}: expected JSON, got ${res.headers.get('content-type') ?? 'no content type'}` },
        { operationId, method: route.method.toUpperCase(), path, headers: res.headers, body: res.text },
      );
    }
    return { status: res.status, headers: res.headers, body: res.body as T };
  }

  /**
   * Any request, answered whatever its status (for what the contract does not
   * cover, and for tests of refusals). A request that is one of the table's
   * idempotent operations gets its Idempotency-Key as a call would.
   */
  async raw(method: string, path: string, o: Omit<CallOptions, 'params' | 'okStatuses'> = {}): Promise<RawResponse> {
    return this.attempts(method.toUpperCase(), path, o);
  }

  /** Any request; a status other than 2xx (or okStatuses) is thrown as an ApiProblem. */
  async request(method: string, path: string, o: Omit<CallOptions, 'params'> = {}): Promise<RawResponse> {
    return this.send(method.toUpperCase(), path, o, undefined);
  }

  private async send(method: string, path: string, o: CallOptions, operationId: string | undefined): Promise<RawResponse> {
    const res = await this.attempts(method, path, o);
    const ok = (res.status >= 200 && res.status < 300) || (o.okStatuses ?? []).includes(res.status);
    if (!ok) throw problemOf(res, { operationId, method, path });
    return res;
  }

  /**
   * Sends one logical request. An idempotent operation carries an
   * Idempotency-Key, chosen here before the first attempt (unless the caller
   * named one), so every repeat below sends the same key. Repeated with the
   * same headers: up to `retries` times when no answer came or a 503 did, and
   * up to PROXY_502_ATTEMPTS times when Caddy answered its own 502 to a
   * request that is safe to repeat.
   */
  private async attempts(method: string, path: string, o: Omit<CallOptions, 'params' | 'okStatuses'>): Promise<RawResponse> {
    const url = new URL(this.base.href);
    url.pathname = this.base.pathname.replace(/\/+$/, '') + path;
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: `application/json, ${PROBLEM_CONTENT_TYPE}`, ...o.headers };
    const op = operationOf(method, path);
    const keyed = () => Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key');
    if (op && (ROUTES[op] as RouteSpec).idempotent && !keyed()) headers[IDEMPOTENCY_KEY_HEADER] = this.newKey();
    const repeatable = method === 'GET' || method === 'HEAD' || (method === 'POST' && path.startsWith('/ofrep/')) || keyed();
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    let proxy502s = 0;
    for (let attempt = 0, sent = 1; ; sent++) {
      let res: TransportResponse;
      try {
        res = await this.transport({ method, url, headers, body, timeoutMs: o.timeoutMs ?? this.timeoutMs });
      } catch (err) {
        if (attempt >= this.retries) throw err;
        await sleep(this.backoff(attempt++, undefined));
        continue;
      }
      const parsed = parseBody(res);
      if (repeatable && isProxy502(res.status, parsed) && ++proxy502s < PROXY_502_ATTEMPTS) continue;
      if (res.status === 503 && attempt < this.retries) {
        await sleep(this.backoff(attempt++, Number(res.headers.get('retry-after') ?? '')));
        continue;
      }
      return { status: res.status, statusText: res.statusText, headers: res.headers, body: parsed, text: res.text, attempts: sent };
    }
  }

  private backoff(attempt: number, retryAfterSeconds: number | undefined): number {
    const ms = retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0
      ? retryAfterSeconds * 1000
      : this.retryDelayMs * 2 ** attempt;
    return Math.min(ms, MAX_RETRY_DELAY_MS);
  }

  // ---- flags and segments, by kind --------------------------------------

  async listItems<K extends AnyItemKind>(kind: K, q: ListQuery = {}): Promise<{ items: ItemOf<K>[]; nextPageToken?: string; revision: number }> {
    const { body } = await this.call<Record<string, unknown> & { nextPageToken?: string; revision: number }>(opsOf(kind).list, { query: { ...q } });
    return { items: body[kind.plural] as ItemOf<K>[], nextPageToken: body.nextPageToken || undefined, revision: body.revision };
  }

  /**
   * Every item of a kind, page by page (at most `maxPages` pages of `pageSize`);
   * `revision` is the highest any page was read at.
   */
  async listAllItems<K extends AnyItemKind>(kind: K, q: Omit<ListQuery, 'pageToken' | 'limit'> & { pageSize?: number; maxPages?: number } = {}) {
    const items: ItemOf<K>[] = [];
    const revisions: number[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < (q.maxPages ?? Number.MAX_SAFE_INTEGER); page++) {
      const p = await this.listItems(kind, { prefix: q.prefix, consistency: q.consistency, limit: q.pageSize, pageToken, environment: q.environment });
      items.push(...p.items);
      revisions.push(p.revision);
      pageToken = p.nextPageToken;
      if (!pageToken) break;
    }
    return { items, revisions };
  }

  async getItem<K extends AnyItemKind>(kind: K, id: string, q: { consistency?: Consistency } & EnvironmentQuery = {}): Promise<ItemOf<K>> {
    return (await this.call<ItemOf<K>>(opsOf(kind).get, { params: { [kind.idField]: id }, query: { ...q } })).body;
  }

  /** Creates or replaces; `created` is true for a 201. */
  async putItem<K extends AnyItemKind>(kind: K, def: DefOf<K>, c: WriteCondition & EnvironmentQuery = {}): Promise<{ stored: ItemOf<K>; created: boolean }> {
    const id = (kind.idOf as (d: DefOf<K>) => unknown)(def);
    if (typeof id !== 'string') throw new TypeError(`put ${kind.kind}: the definition has no ${kind.idField}`);
    const res = await this.call<ItemOf<K>>(opsOf(kind).put, { params: { [kind.idField]: id }, body: def, headers: conditionHeaders(c), query: { environment: c.environment } });
    return { stored: res.body, created: res.status === 201 };
  }

  async deleteItem<K extends AnyItemKind>(kind: K, id: string, c: WriteCondition & EnvironmentQuery = {}) {
    return (await this.call<K extends typeof FLAG_KIND ? FlagDeleted : SegmentDeleted>(opsOf(kind).delete, { params: { [kind.idField]: id }, headers: conditionHeaders(c), query: { environment: c.environment } })).body;
  }

  async itemHistory<K extends AnyItemKind>(kind: K, id: string, q: HistoryQuery = {}) {
    return (await this.call<K extends typeof FLAG_KIND ? FlagHistory : SegmentHistory>(opsOf(kind).history, { params: { [kind.idField]: id }, query: { ...q } })).body;
  }

  // ---- one method per operation -------------------------------------------

  async listFlags(q: ListQuery = {}): Promise<FlagPage> { return (await this.call<FlagPage>('listFlags', { query: { ...q } })).body; }
  getFlag(key: string, q: { consistency?: Consistency } & EnvironmentQuery = {}): Promise<StoredFlag> { return this.getItem(FLAG_KIND, key, q); }
  async putFlag(flag: FlagDefinition, c: WriteCondition & EnvironmentQuery = {}): Promise<StoredFlag> { return (await this.putItem(FLAG_KIND, flag, c)).stored; }
  /** A JSON Merge Patch (object) or JSON Patch (array of operations). */
  async patchFlag(key: string, patch: Record<string, unknown> | Record<string, unknown>[], c: Pick<WriteCondition, 'ifMatch'> & EnvironmentQuery = {}): Promise<StoredFlag> {
    const contentType = Array.isArray(patch) ? 'application/json-patch+json' : 'application/merge-patch+json';
    return (await this.call<StoredFlag>('patchFlag', { params: { key }, body: patch, headers: { ...conditionHeaders(c), 'content-type': contentType }, query: { environment: c.environment } })).body;
  }
  deleteFlag(key: string, c: WriteCondition & EnvironmentQuery = {}): Promise<FlagDeleted> { return this.deleteItem(FLAG_KIND, key, c); }
  getFlagHistory(key: string, q: HistoryQuery = {}): Promise<FlagHistory> { return this.itemHistory(FLAG_KIND, key, q); }

  async listSegments(q: ListQuery = {}): Promise<SegmentPage> { return (await this.call<SegmentPage>('listSegments', { query: { ...q } })).body; }
  getSegment(name: string, q: { consistency?: Consistency } = {}): Promise<StoredSegment> { return this.getItem(SEGMENT_KIND, name, q); }
  async putSegment(segment: SegmentDefinition, c: WriteCondition = {}): Promise<StoredSegment> { return (await this.putItem(SEGMENT_KIND, segment, c)).stored; }
  deleteSegment(name: string, c: WriteCondition = {}): Promise<SegmentDeleted> { return this.deleteItem(SEGMENT_KIND, name, c); }
  getSegmentHistory(name: string, q: HistoryQuery = {}): Promise<SegmentHistory> { return this.itemHistory(SEGMENT_KIND, name, q); }

  /** The global audit log, newest first; follow nextPageToken for older pages. */
  async listChanges(q: ChangeQuery = {}): Promise<ChangePage> { return (await this.call<ChangePage>('listChanges', { query: { ...q } })).body; }

  async applyBatch(ops: BatchOp[]): Promise<BatchResult> { return (await this.call<BatchResult>('applyBatch', { body: { ops } })).body; }

  /** Who this client's token is (name = the actor its writes are recorded as). */
  async getCurrentPrincipal(): Promise<PrincipalInfo> { return (await this.call<PrincipalInfo>('getCurrentPrincipal')).body; }
  async getClusterStatus(): Promise<ClusterStatus> { return (await this.call<ClusterStatus>('getClusterStatus')).body; }
  /** Adds a learner; `address` is its Raft (peer) address, host:port. */
  async addClusterMember(id: number, address: string): Promise<MemberAdded> { return (await this.call<MemberAdded>('addClusterMember', { body: { id, address, role: 'learner' } })).body; }
  async promoteClusterMember(id: number): Promise<MemberPromoted> { return (await this.call<MemberPromoted>('promoteClusterMember', { params: { id } })).body; }
  async removeClusterMember(id: number): Promise<MemberRemoved> { return (await this.call<MemberRemoved>('removeClusterMember', { params: { id } })).body; }
  async transferLeadership(id: number): Promise<LeaderTransferred> { return (await this.call<LeaderTransferred>('transferLeadership', { body: { id } })).body; }

  async getBackup(o: { timeoutMs?: number } = {}): Promise<BackupDocument> { return (await this.call<BackupDocument>('getBackup', o)).body; }
  async restoreBackup(backup: unknown, o: { force?: boolean; timeoutMs?: number } = {}): Promise<RestoreResult> {
    return (await this.call<RestoreResult>('restoreBackup', { body: backup, query: { force: o.force ? 'true' : undefined }, timeoutMs: o.timeoutMs })).body;
  }

  // ---- environments, promotion, change requests, schedules (issue 16) -----

  async listEnvironments(): Promise<EnvironmentList> { return (await this.call<EnvironmentList>('listEnvironments')).body; }
  async createEnvironment(env: EnvironmentCreate): Promise<StoredEnvironment> { return (await this.call<StoredEnvironment>('createEnvironment', { body: env })).body; }
  async getEnvironment(name: string): Promise<StoredEnvironment> { return (await this.call<StoredEnvironment>('getEnvironment', { params: { name } })).body; }
  async updateEnvironment(name: string, change: EnvironmentUpdate): Promise<StoredEnvironment> { return (await this.call<StoredEnvironment>('updateEnvironment', { params: { name }, body: change })).body; }
  async deleteEnvironment(name: string, o: { force?: boolean } = {}): Promise<EnvironmentDeleted> {
    return (await this.call<EnvironmentDeleted>('deleteEnvironment', { params: { name }, query: { force: o.force ? 'true' : undefined } })).body;
  }
  async getPromotionPlan(q: PromotionRequest): Promise<PromotionPlan> {
    return (await this.call<PromotionPlan>('getPromotionPlan', { query: { from: q.from, to: q.to, keys: q.keys?.join(',') } })).body;
  }
  async planPromotion(q: PromotionRequest): Promise<PromotionPlan> { return (await this.call<PromotionPlan>('planPromotion', { body: q })).body; }
  async applyPromotion(q: PromotionRequest): Promise<PromotionResult> { return (await this.call<PromotionResult>('applyPromotion', { body: q })).body; }

  async listChangeRequests(q: ChangeRequestQuery = {}): Promise<ChangeRequestList> {
    return (await this.call<ChangeRequestList>('listChangeRequests', { query: { ...q, toReview: q.toReview === undefined ? undefined : String(q.toReview) } })).body;
  }
  async createChangeRequest(cr: ChangeRequestCreate): Promise<StoredChangeRequest> { return (await this.call<StoredChangeRequest>('createChangeRequest', { body: cr })).body; }
  async getChangeRequest(id: string): Promise<StoredChangeRequest> { return (await this.call<StoredChangeRequest>('getChangeRequest', { params: { changeRequestId: id } })).body; }
  async commentChangeRequest(id: string, comment: string): Promise<StoredChangeRequest> { return this.crStep('commentChangeRequest', id, { comment }); }
  submitChangeRequest(id: string, comment?: string): Promise<StoredChangeRequest> { return this.crStep('submitChangeRequest', id, comment === undefined ? {} : { comment }); }
  approveChangeRequest(id: string, comment?: string): Promise<StoredChangeRequest> { return this.crStep('approveChangeRequest', id, comment === undefined ? {} : { comment }); }
  rejectChangeRequest(id: string, comment?: string): Promise<StoredChangeRequest> { return this.crStep('rejectChangeRequest', id, comment === undefined ? {} : { comment }); }
  /** A conflicted apply is an ApiProblem 409 whose problem has reason CONFLICTED, conflicts and changeRequest. */
  applyChangeRequest(id: string): Promise<StoredChangeRequest> { return this.crStep('applyChangeRequest', id, {}); }
  withdrawChangeRequest(id: string): Promise<StoredChangeRequest> { return this.crStep('withdrawChangeRequest', id, {}); }
  rebaseChangeRequest(id: string, ops?: ChangeRequestOp[]): Promise<StoredChangeRequest> { return this.crStep('rebaseChangeRequest', id, ops === undefined ? {} : { ops }); }
  private async crStep(op: OperationId, id: string, body: object): Promise<StoredChangeRequest> {
    return (await this.call<StoredChangeRequest>(op, { params: { changeRequestId: id }, body })).body;
  }

  async listSchedules(q: { environment?: string; pending?: boolean } = {}): Promise<ScheduleList> {
    return (await this.call<ScheduleList>('listSchedules', { query: { environment: q.environment, pending: q.pending === undefined ? undefined : String(q.pending) } })).body;
  }
  async createSchedule(s: ScheduleCreate): Promise<StoredSchedule> { return (await this.call<StoredSchedule>('createSchedule', { body: s })).body; }
  async getSchedule(id: string): Promise<StoredSchedule> { return (await this.call<StoredSchedule>('getSchedule', { params: { scheduleId: id } })).body; }
  async cancelSchedule(id: string): Promise<StoredSchedule> { return (await this.call<StoredSchedule>('cancelSchedule', { params: { scheduleId: id } })).body; }

  /** The change stream (server-sent events) as a streaming fetch Response: read it, then cancel its body. */
  streamChanges(q: { since?: string; prefix?: string; kind?: 'flag' | 'segment' | 'environment' | 'changeRequest' | 'schedule'; environments?: 'all'; environment?: string; ticket?: string; lastEventId?: string } = {}): Promise<Response> {
    const { lastEventId, ...query } = q;
    return this.openStream('streamChanges', query, lastEventId === undefined ? {} : { 'last-event-id': lastEventId });
  }
  async getSnapshot(q: { prefix?: string; environment?: string } = {}): Promise<Snapshot> { return (await this.call<Snapshot>('getSnapshot', { query: { ...q } })).body; }
  async createStreamTicket(stream: 'ofrep-events' | 'changes'): Promise<StreamTicket> { return (await this.call<StreamTicket>('createStreamTicket', { query: { stream } })).body; }

  async importFlagd(document: unknown, q: { dryRun?: boolean; skipUnmappable?: boolean; environment?: string } = {}): Promise<FlagdImportResult> {
    const query = { dryRun: q.dryRun ? 'true' : undefined, skipUnmappable: q.skipUnmappable ? 'true' : undefined, environment: q.environment };
    return (await this.call<FlagdImportResult>('importFlagd', { body: document, query })).body;
  }
  async exportFlagd(q: { prefix?: string; environment?: string } = {}): Promise<FlagdExport> { return (await this.call<FlagdExport>('exportFlagd', { query: { ...q } })).body; }
  async reportEvaluationCounts(counts: EvaluationCount[]): Promise<EvaluationCountsResult> {
    return (await this.call<EvaluationCountsResult>('reportEvaluationCounts', { body: { counts } })).body;
  }

  /** The original API's write: a flag from a text value. */
  async legacySetFlag(key: string, value: string | number | boolean): Promise<LegacyValue> { return (await this.call<LegacyValue>('legacySetFlag', { body: { key, value } })).body; }
  async legacySetFlagV1(key: string, value: string | number | boolean): Promise<LegacyValue> { return (await this.call<LegacyValue>('legacySetFlagV1', { body: { key, value } })).body; }
  async legacyGetFlag(key: string, q: { consistency?: Consistency } = {}): Promise<LegacyValue> { return (await this.call<LegacyValue>('legacyGetFlag', { params: { key }, query: { ...q } })).body; }
  async legacyListFlags(q: { consistency?: Consistency } = {}): Promise<Record<string, string>> {
    return (await this.call<Record<string, string>>('legacyListFlags', { query: { ...q } })).body;
  }

  /** OFREP: one flag. OFREP errors are not problem documents: an ApiProblem's `body` holds the {errorCode, errorDetails} answer. */
  async evaluateFlag(key: string, request: OfrepRequest = {}, q: { flagConfigEtag?: string } = {}): Promise<OfrepSuccess> {
    return (await this.call<OfrepSuccess>('evaluateFlag', { params: { key }, body: request, query: { ...q } })).body;
  }
  async evaluateAllFlags(request: OfrepRequest = {}, q: { flagConfigEtag?: string } = {}): Promise<OfrepBulk> {
    return (await this.call<OfrepBulk>('evaluateAllFlags', { body: request, query: { ...q } })).body;
  }
  streamOfrepEvents(q: { ticket?: string; since?: string } = {}): Promise<Response> { return this.openStream('streamOfrepEvents', q, {}); }

  async getOpenApiDocument(): Promise<Record<string, unknown>> { return (await this.call<Record<string, unknown>>('getOpenApiDocument')).body; }
  async getHealth(): Promise<{ status: 'ok' }> { return (await this.call<{ status: 'ok' }>('getHealth')).body; }
  /** Ready or not: a 503 answer is a Readiness too. */
  async getReadiness(): Promise<Readiness> { return (await this.call<Readiness>('getReadiness', { okStatuses: [503] })).body; }
  async getMetrics(): Promise<string> { return (await this.call<string>('getMetrics')).body; }

  /** Streams bypass the transport (they do not end): fetch, answer checked, body left to the caller. */
  private async openStream(operationId: OperationId, query: Record<string, QueryValue>, extra: Record<string, string>): Promise<Response> {
    const route = ROUTES[operationId];
    const url = new URL(this.base.href);
    url.pathname = this.base.pathname.replace(/\/+$/, '') + route.path;
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'text/event-stream', ...extra };
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    const res = await fetch(url, { headers });
    if (!res.ok) {
      const text = await res.text();
      throw problemOf({ status: res.status, statusText: res.statusText, headers: res.headers, text, body: parseBody({ headers: res.headers, text }), attempts: 1 }, { operationId, method: 'GET', path: route.path });
    }
    return res;
  }
}

export function createClient(options: ClientOptions): FlagraftClient {
  return new FlagraftClient(options);
}

/** Whether a route's answer with this status is documented as JSON. */
function jsonAnswer(route: RouteSpec, status: number): boolean {
  const content = route.responses[String(status)]?.content as Record<string, unknown> | undefined;
  return content !== undefined && Object.keys(content).some((m) => m.includes('json'));
}

function parseBody(res: Pick<TransportResponse, 'headers' | 'text'>): unknown {
  if (!res.text) return undefined;
  if (!isJson(res.headers.get('content-type'))) return res.text;
  try {
    return JSON.parse(res.text) as unknown;
  } catch {
    return res.text;
  }
}

/** An error answer as an ApiProblem: its problem document, or one made from the status for anything else. */
function problemOf(res: RawResponse, context: { operationId?: string; method: string; path: string }): ApiProblem {
  const doc = res.body !== null && typeof res.body === 'object' && !Array.isArray(res.body) ? (res.body as Partial<Problem>) : {};
  const detail = typeof doc.detail === 'string' ? doc.detail : typeof res.body === 'string' && res.body ? res.body.slice(0, 500) : undefined;
  // A document without a title (or no document) is titled by the status line, as browsers show it.
  const title = typeof doc.title === 'string' ? doc.title : res.statusText || undefined;
  return new ApiProblem({ ...doc, status: res.status, title, ...(detail !== undefined ? { detail } : {}) }, { ...context, headers: res.headers, body: res.body ?? res.text });
}
