// The dashboard server's client for the gateway REST API (/api/v1). Every
// call carries the signed-in user's token, so the gateway enforces roles
// and records the right actor; the dashboard never holds a token of its own.
import { randomUUID } from 'node:crypto';
import type { FlagDefinition, SegmentDefinition, StoredFlag, StoredSegment } from '~/lib/types';
import { noteWrite } from './write-marks';

/** Largest gateway answer we read, in bytes (10,000 flags fit comfortably). */
export const MAX_GATEWAY_RESPONSE_BYTES = 64 * 1024 * 1024;
/** Page size used when the dashboard walks the whole flag list. */
export const LIST_PAGE_LIMIT = 1000;
/** Pages walked at most for one list (LIST_PAGE_LIMIT * this = flags). */
export const MAX_LIST_PAGES = 200;

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  issues?: { path: string; message: string }[];
  currentRevision?: number;
  [k: string]: unknown;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.title || `gateway answered ${problem.status}`);
    this.name = 'GatewayError';
    this.status = problem.status;
    this.problem = problem;
  }
}

export interface HistoryEntry {
  revision: number;
  key: string;
  kind?: 'flag' | 'segment';
  op: 'put' | 'delete';
  actor: string;
  time: number | string;
  before: StoredFlag | null;
  after: StoredFlag | null;
}

export interface ClusterMember {
  id: number | string;
  address?: string;
  role?: string;
  matchIndex?: number;
  lag?: number;
  reachable?: boolean;
  [k: string]: unknown;
}
export interface ClusterStatus {
  clusterId?: string;
  leaderId?: number | string;
  term?: number;
  commitIndex?: number;
  appliedIndex?: number;
  /** The flag revision applied; differs from appliedIndex after a restore. */
  appliedRevision?: number;
  publishedRevision?: number;
  publishLag?: number;
  members: ClusterMember[];
  [k: string]: unknown;
}

interface Req {
  body?: unknown;
  ifMatch?: number;
  ifNoneMatch?: '*';
}

/** A fresh Idempotency-Key: one per logical write, reused by that write's retries. */
export function newIdempotencyKey(): string {
  return randomUUID();
}

/** Attempts of a read or a keyed write when Caddy answers its own 502 (see isProxy502). */
export const PROXY_502_ATTEMPTS = 3;

/**
 * Caddy's own 502 (the Caddyfile's handle_errors): the request met a broken
 * connection to a gateway (a keep-alive connection to one that just died);
 * Caddy 2.6 cannot send a body to the other gateway itself. Repeating is
 * harmless for reads and for writes with an Idempotency-Key (applied once).
 */
function isProxy502(status: number, body: unknown): boolean {
  const detail = (body as { detail?: unknown } | undefined)?.detail;
  return status === 502 && typeof detail === 'string' && detail.startsWith('proxy: 502');
}

function etagRevision(etag: string | null): number | undefined {
  if (!etag) return undefined;
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(etag.trim());
  return m ? Number(m[1]) : undefined;
}

/** Accepts the StoredFlag itself or a `{flag: StoredFlag}`-style wrapper. */
function asStoredFlag(body: unknown): StoredFlag {
  const b = body as Record<string, unknown>;
  if (b && typeof b === 'object' && b.flag && typeof (b.flag as Record<string, unknown>).key === 'string' && 'modRevision' in b) {
    return b as unknown as StoredFlag;
  }
  if (b && typeof b === 'object' && b.flag && typeof b.flag === 'object' && 'modRevision' in (b.flag as object)) {
    return b.flag as StoredFlag;
  }
  throw new GatewayError({ status: 502, title: 'Bad gateway answer', detail: 'expected a stored flag' });
}

function asStoredSegment(body: unknown): StoredSegment {
  const b = body as Record<string, unknown>;
  if (b && typeof b === 'object' && b.segment && 'modRevision' in b) return b as unknown as StoredSegment;
  if (b && typeof b === 'object' && b.segment && typeof b.segment === 'object' && 'modRevision' in (b.segment as object)) {
    return b.segment as StoredSegment;
  }
  throw new GatewayError({ status: 502, title: 'Bad gateway answer', detail: 'expected a stored segment' });
}

function listOf<T>(body: unknown, field: string): T[] {
  if (Array.isArray(body)) return body as T[];
  const b = body as Record<string, unknown>;
  for (const f of [field, 'items', 'changes', 'history']) {
    if (b && Array.isArray(b[f])) return b[f] as T[];
  }
  return [];
}

export class GatewayClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 10_000,
  ) {}

  private async call(method: string, path: string, req: Req = {}): Promise<{ status: number; body: unknown; etag?: number; headers: Headers }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    if (req.ifMatch !== undefined) headers['if-match'] = `"${req.ifMatch}"`;
    if (req.ifNoneMatch) headers['if-none-match'] = req.ifNoneMatch;
    // Every write this client makes is a flag or segment write, which the gateway applies once per key.
    if (method !== 'GET' && method !== 'HEAD') headers['idempotency-key'] = newIdempotencyKey();
    for (let attempt = 1; ; attempt++) {
      const out = await this.send(method, path, headers, req);
      if (attempt < PROXY_502_ATTEMPTS && isProxy502(out.status, out.body)) continue;
      if (out.status < 200 || out.status >= 300) {
        const p = (out.body && typeof out.body === 'object' ? out.body : {}) as Problem;
        throw new GatewayError({ ...p, status: out.status, title: p.title ?? out.statusText });
      }
      return { status: out.status, body: out.body, etag: etagRevision(out.headers.get('etag')), headers: out.headers };
    }
  }

  private async send(method: string, path: string, headers: Record<string, string>, req: Req): Promise<{ status: number; statusText: string; body: unknown; headers: Headers }> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new GatewayError({
        status: 503,
        title: 'Gateway unreachable',
        detail: `could not reach the gateway (${(err as Error).name === 'TimeoutError' ? `no answer in ${this.timeoutMs} ms` : (err as Error).message})`,
      });
    }
    const len = Number(res.headers.get('content-length') ?? 0);
    if (len > MAX_GATEWAY_RESPONSE_BYTES) {
      await res.body?.cancel();
      throw new GatewayError({ status: 502, title: 'Gateway answer too large', detail: `over ${MAX_GATEWAY_RESPONSE_BYTES} bytes` });
    }
    const text = res.status === 204 ? '' : await res.text();
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = { detail: text.slice(0, 500) };
      }
    }
    return { status: res.status, statusText: res.statusText, body, headers: res.headers };
  }

  async listFlagsPage(
    opts: { prefix?: string; limit?: number; pageToken?: string; stale?: boolean } = {},
  ): Promise<{ flags: StoredFlag[]; nextPageToken?: string; revision?: number }> {
    const q = new URLSearchParams();
    if (opts.stale) q.set('consistency', 'stale');
    if (opts.prefix) q.set('prefix', opts.prefix);
    q.set('limit', String(opts.limit ?? LIST_PAGE_LIMIT));
    if (opts.pageToken) q.set('pageToken', opts.pageToken);
    const { body, headers } = await this.call('GET', `/api/v1/flags?${q}`);
    const b = body as Record<string, unknown>;
    const revision = typeof b?.revision === 'number' ? b.revision : Number(headers.get('x-flagraft-revision') ?? '') || undefined;
    return {
      flags: listOf<StoredFlag>(body, 'flags'),
      nextPageToken: typeof b?.nextPageToken === 'string' && b.nextPageToken ? b.nextPageToken : undefined,
      revision,
    };
  }

  /**
   * Walks every page; `revision` is the highest revision any page reported.
   * `stale` reads come from the gateway's replica (milliseconds behind the
   * cluster, and the gateway answers a write only once its replica has it):
   * the list page uses them, because live events patch the rows afterwards
   * and a linearizable read of 10,000 flags costs a cluster round trip per page.
   */
  async listAllFlags(opts: { stale?: boolean } = {}): Promise<{ flags: StoredFlag[]; revision: number }> {
    const flags: StoredFlag[] = [];
    let revision = 0;
    let pageToken: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const p = await this.listFlagsPage({ pageToken, stale: opts.stale });
      flags.push(...p.flags);
      revision = Math.max(revision, p.revision ?? 0);
      if (!p.nextPageToken) break;
      pageToken = p.nextPageToken;
    }
    for (const f of flags) revision = Math.max(revision, f.modRevision);
    return { flags, revision };
  }

  async getFlag(key: string): Promise<StoredFlag> {
    const { body } = await this.call('GET', `/api/v1/flags/${encodeURIComponent(key)}`);
    return asStoredFlag(body);
  }

  /** Create (expectedRevision 0 -> If-None-Match: *) or replace with If-Match. */
  async putFlag(flag: FlagDefinition, expectedRevision: number | undefined): Promise<StoredFlag> {
    const req: Req = { body: flag };
    if (expectedRevision === 0) req.ifNoneMatch = '*';
    else if (expectedRevision !== undefined) req.ifMatch = expectedRevision;
    const { body } = await this.call('PUT', `/api/v1/flags/${encodeURIComponent(flag.key)}`, req);
    const stored = asStoredFlag(body);
    noteWrite(stored.modRevision);
    return stored;
  }

  async patchFlag(key: string, patch: Partial<FlagDefinition>, expectedRevision?: number): Promise<StoredFlag> {
    const { body } = await this.call('PATCH', `/api/v1/flags/${encodeURIComponent(key)}`, { body: patch, ifMatch: expectedRevision });
    const stored = asStoredFlag(body);
    noteWrite(stored.modRevision);
    return stored;
  }

  async deleteFlag(key: string, expectedRevision?: number): Promise<void> {
    const { body } = await this.call('DELETE', `/api/v1/flags/${encodeURIComponent(key)}`, { ifMatch: expectedRevision });
    const revision = (body as { revision?: unknown } | undefined)?.revision;
    if (typeof revision === 'number') noteWrite(revision);
  }

  async history(key: string, limit = 100): Promise<HistoryEntry[]> {
    const { body } = await this.call('GET', `/api/v1/flags/${encodeURIComponent(key)}/history?limit=${limit}`);
    return listOf<HistoryEntry>(body, 'history');
  }

  async listSegments(): Promise<StoredSegment[]> {
    const { body } = await this.call('GET', `/api/v1/segments?limit=${LIST_PAGE_LIMIT}`);
    return listOf<StoredSegment>(body, 'segments');
  }

  async getSegment(name: string): Promise<StoredSegment> {
    const { body } = await this.call('GET', `/api/v1/segments/${encodeURIComponent(name)}`);
    return asStoredSegment(body);
  }

  async putSegment(segment: SegmentDefinition, expectedRevision: number | undefined): Promise<StoredSegment> {
    const req: Req = { body: segment };
    if (expectedRevision === 0) req.ifNoneMatch = '*';
    else if (expectedRevision !== undefined) req.ifMatch = expectedRevision;
    const { body } = await this.call('PUT', `/api/v1/segments/${encodeURIComponent(segment.name)}`, req);
    return asStoredSegment(body);
  }

  async deleteSegment(name: string, expectedRevision?: number): Promise<void> {
    await this.call('DELETE', `/api/v1/segments/${encodeURIComponent(name)}`, { ifMatch: expectedRevision });
  }

  async cluster(): Promise<ClusterStatus> {
    const { body } = await this.call('GET', '/api/v1/cluster');
    const b = (body ?? {}) as ClusterStatus;
    return { ...b, members: Array.isArray(b.members) ? b.members : [] };
  }

  /** A GET used to check the token at sign-in: resolves, or throws 401/403. */
  async probeRead(): Promise<void> {
    await this.call('GET', '/api/v1/flags?limit=1');
  }

  /** Raw call for identity discovery. */
  async raw(method: string, path: string, body?: unknown) {
    return this.call(method, path, { body });
  }
}
