// RFC 9457 problem documents: every error the gateway answers on /api/* is
// one, with a stable `type` per kind of problem so clients branch on the
// kind, never on `detail`. The kinds and their statuses are part of the
// contract: the gateway renders them from this table, clients read them back.

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_PREFIX = 'urn:flagraft:problem:';

/** Every kind of problem, with its HTTP status and title. */
export const PROBLEM_KINDS = Object.freeze({
  'bad-request': [400, 'Bad request'],
  'malformed-json': [400, 'Malformed JSON body'],
  'unsupported-media-type': [415, 'Unsupported media type'],
  'payload-too-large': [413, 'Request body too large'],
  unauthorized: [401, 'Authentication required'],
  forbidden: [403, 'Forbidden'],
  'not-found': [404, 'Not found'],
  'method-not-allowed': [405, 'Method not allowed'],
  conflict: [409, 'Conflict'],
  'precondition-failed': [412, 'Precondition failed'],
  'precondition-required': [428, 'Precondition required'],
  validation: [422, 'Validation failed'],
  'json-limit': [422, 'JSON shape limit exceeded'],
  // 422 as draft-ietf-httpapi-idempotency-key-header section 2.7 asks.
  'idempotency-key-reused': [422, 'Idempotency-Key reused for a different request'],
  gone: [410, 'Gone'],
  'too-many-requests': [429, 'Too many requests'],
  unavailable: [503, 'Cluster unavailable'],
  // 503, not 504: for clients both mean "cluster unavailable, retry later"; the type tells them apart.
  timeout: [503, 'Cluster did not answer in time'],
  internal: [500, 'Internal error'],
} as const satisfies Record<string, readonly [number, string]>);

export type ProblemKind = keyof typeof PROBLEM_KINDS;

/** One bad field of a 422 (validation, json-limit) or a restore/import refusal. */
export interface ProblemIssue {
  /** Field path for people: `rules[1].rollout.weights` ('' = the whole body). */
  path: string;
  /** RFC 6901 pointer to the same place, for programs: `/rules/1/rollout/weights`. */
  pointer?: string;
  /** json-limit: the limit this issue broke (maxJsonDepth...). */
  limit?: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Every problem at once (validation, json-limit). */
  issues?: ProblemIssue[];
  /** payload-too-large: the byte limit's name; json-limit: the first JSON shape limit hit. */
  limit?: string;
  limitBytes?: number;
  /** too-many-requests: as Retry-After. */
  retryAfterSeconds?: number;
  /** precondition-failed: the item's revision now (0 or null: it does not exist). */
  currentRevision?: number | null;
  key?: string;
  /** Route-specific extensions (usedBy of a segment in use, liveCounts of a non-empty restore...). */
  [extension: string]: unknown;
}

/** The kind of a problem document, when its type is one of ours. */
export function problemKind(p: Pick<Problem, 'type'>): ProblemKind | undefined {
  if (typeof p.type !== 'string' || !p.type.startsWith(PROBLEM_TYPE_PREFIX)) return undefined;
  const kind = p.type.slice(PROBLEM_TYPE_PREFIX.length);
  return Object.hasOwn(PROBLEM_KINDS, kind) ? (kind as ProblemKind) : undefined;
}

export interface ApiProblemContext {
  /** The operation and request that failed (absent for problems made outside a request). */
  operationId?: string;
  method?: string;
  /** The request path, without the query. */
  path?: string;
  /** The response headers (Retry-After...). */
  headers?: Headers;
  /** The response body as read: the parsed JSON, or its text when it was not JSON. */
  body?: unknown;
}

/**
 * A request the gateway (or the client itself: unreachable, answer too
 * large) refused, carrying the problem document. `problem` is always a full
 * Problem: a non-problem error answer gets type about:blank and the status's text.
 */
export class ApiProblem extends Error {
  readonly status: number;
  readonly problem: Problem;
  readonly kind: ProblemKind | undefined;
  readonly operationId: string | undefined;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly headers: Headers;
  readonly body: unknown;
  constructor(problem: Partial<Problem> & { status: number }, context: ApiProblemContext = {}) {
    const full: Problem = { ...problem, type: problem.type ?? 'about:blank', title: problem.title ?? `HTTP ${problem.status}`, status: problem.status };
    super(full.detail || problem.title || `gateway answered ${full.status}`);
    this.name = 'ApiProblem';
    this.status = full.status;
    this.problem = full;
    this.kind = problemKind(full);
    this.operationId = context.operationId;
    this.method = context.method;
    this.path = context.path;
    this.headers = context.headers ?? new Headers();
    this.body = context.body === undefined ? problem : context.body;
  }

  /** Seconds the server asked the client to wait (Retry-After), if it did. */
  get retryAfterSeconds(): number | undefined {
    const h = Number(this.headers.get('retry-after') ?? '');
    if (Number.isFinite(h) && h >= 0 && this.headers.get('retry-after') !== null) return h;
    return typeof this.problem.retryAfterSeconds === 'number' ? this.problem.retryAfterSeconds : undefined;
  }
}
