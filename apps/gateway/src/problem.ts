// RFC 9457 problem documents for the REST API. Every error the gateway answers
// on /api/* is one of these, with a stable `type` URI per kind of problem so
// clients can branch on it without parsing `detail`.
import type { ServerResponse } from 'node:http';
import { pointerOfPath } from '@flagraft/flag-model';
import { PROBLEM_CONTENT_TYPE, PROBLEM_KINDS as TITLES, PROBLEM_TYPE_PREFIX as TYPE_PREFIX, type Problem, type ProblemKind } from '@flagraft/api';

// The kinds, their statuses and titles are @flagraft/api's contract.
export { PROBLEM_CONTENT_TYPE };
export type { ProblemKind };
export type ProblemDocument = Problem;

/** An error that maps onto one problem document. Thrown by handlers, rendered by the error middleware. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly kind: ProblemKind;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;
  constructor(kind: ProblemKind, detail: string, extensions: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    super(detail);
    this.name = 'HttpProblem';
    this.kind = kind;
    this.status = TITLES[kind][0];
    this.extensions = extensions;
    this.headers = headers;
  }
  toDocument(instance?: string): ProblemDocument {
    return problemDocument(this.kind, this.message, instance, this.extensions);
  }
}

export function problemDocument(kind: ProblemKind, detail: string, instance?: string, extensions: Record<string, unknown> = {}): ProblemDocument {
  const [status, title] = TITLES[kind];
  const doc: ProblemDocument = { type: TYPE_PREFIX + kind, title, status, detail };
  if (instance !== undefined) doc.instance = instance;
  Object.assign(doc, extensions);
  if (Array.isArray(doc.issues)) doc.issues = doc.issues.map(withPointer) as ProblemDocument['issues'];
  return doc;
}

/**
 * Every issue of a 422 is `{ path, pointer, message }` (plus `limit` when a
 * named limit was hit): `path` in the validator's style for people
 * (`rules[1].rollout.weights`), `pointer` (RFC 6901) for programs, such as
 * the dashboard placing the message next to its field.
 */
function withPointer(issue: unknown): unknown {
  if (issue === null || typeof issue !== 'object') return issue;
  const i = issue as { path?: unknown; pointer?: unknown };
  if (typeof i.path !== 'string' || i.pointer !== undefined) return issue;
  const pointer = pointerOfPath(i.path);
  return pointer === undefined ? issue : { ...i, pointer };
}

export function sendProblem(res: ServerResponse, problem: HttpProblem, instance?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(problem.toDocument(instance));
  const headers: Record<string, string | number> = {
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...problem.headers,
  };
  res.writeHead(problem.status, headers);
  res.end(body);
}

/** Codes of @flagraft/cluster-client's ClusterError (CONTRACTS.md). */
const CLUSTER_CODES = new Set([
  'REVISION_MISMATCH',
  'NOT_FOUND',
  'VALIDATION',
  'SEGMENT_MISSING',
  'SEGMENT_IN_USE',
  'UNAVAILABLE',
  'NOT_LEADER',
  'DEADLINE',
  'COMPACTED',
  'INVALID_ARGUMENT',
  'PERMISSION',
  'INTERNAL',
  'FAILED_PRECONDITION',
  'IDEMPOTENCY_KEY_REUSED',
  // Environments (issue 16): a write refused by an environment's approval policy, a change request step refused.
  'PROTECTED',
  'FORBIDDEN',
  'INVALID_STATE',
  'ENVIRONMENT_IN_USE',
]);

export interface ClusterErrorLike extends Error {
  code: string;
  currentRevision?: number;
  issues?: { path: string; message: string }[];
  usedBy?: string[];
  key?: string;
  opIndex?: number;
  /** cluster-client puts the node's extra fields here (usedBy, key, opIndex, ...). */
  details?: Record<string, unknown>;
}

export function isClusterError(err: unknown): err is ClusterErrorLike {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && CLUSTER_CODES.has(code);
}

/**
 * Maps a cluster error to a problem. `precondition` says whether the caller
 * sent If-Match / If-None-Match: a revision mismatch is then 412 (RFC 9110),
 * otherwise (an expectedRevision inside a batch body) 409.
 */
export function problemFromClusterError(err: ClusterErrorLike, opts: { retryAfterSeconds: number; precondition?: boolean }): HttpProblem {
  const ext: Record<string, unknown> = {};
  const d = err.details ?? {};
  const key = err.key ?? d.key;
  const opIndex = err.opIndex ?? d.opIndex;
  if (typeof key === 'string') ext.key = key;
  if (typeof opIndex === 'number') ext.opIndex = opIndex;
  const usedBy = err.usedBy ?? d.usedBy;
  switch (err.code) {
    case 'REVISION_MISMATCH':
      return new HttpProblem(opts.precondition ? 'precondition-failed' : 'conflict', err.message, {
        ...ext,
        currentRevision: err.currentRevision ?? null,
      });
    case 'NOT_FOUND':
      return new HttpProblem('not-found', err.message, ext);
    case 'VALIDATION':
      return new HttpProblem('validation', err.message, { ...ext, issues: err.issues ?? [] });
    case 'SEGMENT_MISSING':
      return new HttpProblem('validation', err.message, {
        ...ext,
        issues: err.issues ?? [{ path: 'rules', message: err.message }],
      });
    case 'SEGMENT_IN_USE':
      return new HttpProblem('conflict', err.message, { ...ext, usedBy: Array.isArray(usedBy) ? usedBy : [] });
    case 'UNAVAILABLE':
    case 'NOT_LEADER':
      return new HttpProblem('unavailable', `${err.message} (retry shortly)`, ext, { 'retry-after': String(opts.retryAfterSeconds) });
    case 'DEADLINE':
      // A write that timed out may still commit: the outcome is unknown, say so.
      return new HttpProblem('timeout', `${err.message}; the outcome of a write is unknown, read before retrying`, ext, {
        'retry-after': String(opts.retryAfterSeconds),
      });
    case 'COMPACTED':
      return new HttpProblem('gone', err.message, ext);
    case 'INVALID_ARGUMENT':
      return new HttpProblem('bad-request', err.message, ext);
    case 'PERMISSION':
      return new HttpProblem('forbidden', err.message, ext);
    case 'FAILED_PRECONDITION':
      return new HttpProblem('conflict', err.message, ext);
    case 'IDEMPOTENCY_KEY_REUSED':
      return new HttpProblem('idempotency-key-reused', `${err.message}: an Idempotency-Key names one request; send a new key with a different one`, {
        header: 'Idempotency-Key',
      });
    case 'PROTECTED':
    case 'INVALID_STATE':
    case 'ENVIRONMENT_IN_USE':
      // The message says what to do (PROTECTED: propose a change request instead).
      return new HttpProblem('conflict', err.message, { ...ext, reason: err.code, ...(typeof d.env === 'string' ? { environment: d.env } : {}) });
    case 'FORBIDDEN':
      return new HttpProblem('forbidden', err.message, ext);
    default:
      return new HttpProblem('internal', 'the cluster reported an internal error', ext);
  }
}

/** Any error a route threw, as the problem to answer (500 for what is not ours to explain). */
export function toProblem(err: unknown, retryAfterSeconds: number): HttpProblem {
  if (err instanceof HttpProblem) return err;
  if (isClusterError(err)) return problemFromClusterError(err, { retryAfterSeconds });
  const e = err as { type?: string; status?: number; statusCode?: number; limit?: number; message?: string };
  switch (e?.type) {
    case 'entity.too.large':
      return new HttpProblem('payload-too-large', `the body is larger than ${e.limit} bytes`, { limitBytes: e.limit });
    case 'entity.parse.failed':
      return new HttpProblem('malformed-json', `the body is not valid JSON: ${String(e.message).slice(0, 200)}`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpProblem('unsupported-media-type', String(e.message));
  }
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpProblem(status === 413 ? 'payload-too-large' : 'bad-request', String(e.message ?? 'bad request').slice(0, 200));
  }
  return new HttpProblem('internal', 'internal error');
}
