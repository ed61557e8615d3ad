import * as grpc from '@grpc/grpc-js';

export type ClusterErrorCode =
  | 'REVISION_MISMATCH' | 'NOT_FOUND' | 'VALIDATION' | 'SEGMENT_MISSING' | 'SEGMENT_IN_USE'
  | 'UNAVAILABLE' | 'DEADLINE' | 'COMPACTED' | 'INVALID_ARGUMENT' | 'PERMISSION' | 'INTERNAL'
  | 'FAILED_PRECONDITION' | 'IDEMPOTENCY_KEY_REUSED'
  /** A direct write into an environment whose policy requires change requests. */
  | 'PROTECTED'
  /** The actor may not do this step of a change request (approve their own, not an approver, not the author). */
  | 'FORBIDDEN'
  /** The change request or schedule is not in a state that allows this step. */
  | 'INVALID_STATE'
  /** An environment still has flags configured (delete without force), or is the default one. */
  | 'ENVIRONMENT_IN_USE';

/** Every error the client throws. `retryable` errors were already retried until the deadline. */
export class ClusterError extends Error {
  readonly code: ClusterErrorCode;
  readonly currentRevision?: number;
  readonly issues?: { path: string; message: string }[];
  readonly details: Record<string, unknown>;

  constructor(code: ClusterErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ClusterError';
    this.code = code;
    this.details = details;
    if (typeof details.currentRevision === 'number') this.currentRevision = details.currentRevision;
    if (Array.isArray(details.issues)) this.issues = details.issues as { path: string; message: string }[];
  }
}

/** What the node said, before mapping: NOT_LEADER carries the leader's address. */
export interface NodeErrorBody { code: string; message: string; leaderId?: number; leaderAddress?: string; [k: string]: unknown }

export function bodyOf(err: grpc.ServiceError): NodeErrorBody {
  const raw = err.metadata?.get('flagraft-error-bin')[0];
  if (raw) {
    try {
      return JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw)) as NodeErrorBody;
    } catch { /* fall through */ }
  }
  switch (err.code) {
    case grpc.status.UNAVAILABLE: case grpc.status.CANCELLED: case grpc.status.UNKNOWN:
      return { code: 'UNAVAILABLE', message: err.details || err.message };
    case grpc.status.DEADLINE_EXCEEDED: return { code: 'DEADLINE', message: err.details || 'deadline exceeded' };
    case grpc.status.PERMISSION_DENIED: case grpc.status.UNAUTHENTICATED: return { code: 'PERMISSION', message: err.details };
    case grpc.status.RESOURCE_EXHAUSTED: case grpc.status.INVALID_ARGUMENT: return { code: 'INVALID_ARGUMENT', message: err.details };
    default: return { code: 'INTERNAL', message: err.details || err.message };
  }
}

const KNOWN = new Set<string>(['REVISION_MISMATCH', 'NOT_FOUND', 'VALIDATION', 'SEGMENT_MISSING', 'SEGMENT_IN_USE', 'UNAVAILABLE', 'DEADLINE', 'COMPACTED', 'INVALID_ARGUMENT', 'PERMISSION', 'INTERNAL', 'FAILED_PRECONDITION', 'IDEMPOTENCY_KEY_REUSED',
  'PROTECTED', 'FORBIDDEN', 'INVALID_STATE', 'ENVIRONMENT_IN_USE']);

export function toClusterError(b: NodeErrorBody): ClusterError {
  const { code, message, ...rest } = b;
  if (code === 'NOT_LEADER' || code === 'RESOURCE_EXHAUSTED') return new ClusterError('UNAVAILABLE', message, rest);
  if (code === 'BAD_COMMAND') return new ClusterError('INVALID_ARGUMENT', message, rest);
  return new ClusterError((KNOWN.has(code) ? code : 'INTERNAL') as ClusterErrorCode, message, rest);
}
