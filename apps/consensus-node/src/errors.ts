// Errors a node answers clients with: a gRPC status plus a JSON body in the
// trailing metadata `flagraft-error-bin` (see proto/flags.proto).
import * as grpc from '@grpc/grpc-js';

export type ErrorCode =
  | 'REVISION_MISMATCH' | 'NOT_FOUND' | 'VALIDATION' | 'SEGMENT_MISSING' | 'SEGMENT_IN_USE' | 'BAD_COMMAND'
  | 'UNAVAILABLE' | 'NOT_LEADER' | 'DEADLINE' | 'COMPACTED' | 'INVALID_ARGUMENT' | 'PERMISSION' | 'INTERNAL'
  | 'RESOURCE_EXHAUSTED' | 'FAILED_PRECONDITION' | 'IDEMPOTENCY_KEY_REUSED'
  | 'PROTECTED' | 'FORBIDDEN' | 'INVALID_STATE' | 'ENVIRONMENT_IN_USE';

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  [k: string]: unknown;
}

const GRPC_CODE: Record<ErrorCode, grpc.status> = {
  REVISION_MISMATCH: grpc.status.ABORTED,
  NOT_FOUND: grpc.status.NOT_FOUND,
  VALIDATION: grpc.status.INVALID_ARGUMENT,
  SEGMENT_MISSING: grpc.status.FAILED_PRECONDITION,
  SEGMENT_IN_USE: grpc.status.FAILED_PRECONDITION,
  BAD_COMMAND: grpc.status.INVALID_ARGUMENT,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  NOT_LEADER: grpc.status.FAILED_PRECONDITION,
  DEADLINE: grpc.status.DEADLINE_EXCEEDED,
  COMPACTED: grpc.status.OUT_OF_RANGE,
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  PERMISSION: grpc.status.PERMISSION_DENIED,
  INTERNAL: grpc.status.INTERNAL,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  IDEMPOTENCY_KEY_REUSED: grpc.status.FAILED_PRECONDITION,
  // A direct write into a protected environment: the request is fine, the environment's policy wants a change request.
  PROTECTED: grpc.status.FAILED_PRECONDITION,
  FORBIDDEN: grpc.status.PERMISSION_DENIED,
  INVALID_STATE: grpc.status.FAILED_PRECONDITION,
  ENVIRONMENT_IN_USE: grpc.status.FAILED_PRECONDITION,
};

export class ApiError extends Error {
  constructor(readonly body: ErrorBody) {
    super(body.message);
    this.name = 'ApiError';
  }

  static of(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): ApiError {
    return new ApiError({ code, message, ...extra });
  }

  toGrpc(): Partial<grpc.StatusObject> {
    const md = new grpc.Metadata();
    md.set('flagraft-error-bin', Buffer.from(JSON.stringify(this.body)));
    return { code: GRPC_CODE[this.body.code] ?? grpc.status.UNKNOWN, details: `${this.body.code}: ${this.body.message}`, metadata: md };
  }
}

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return ApiError.of('INTERNAL', (e as Error)?.message ?? String(e));
}

/** A JSON text field of a request, parsed; INVALID_ARGUMENT naming the field otherwise. */
export function parseJson(s: unknown, field: string): unknown {
  if (typeof s !== 'string' || s === '') throw ApiError.of('INVALID_ARGUMENT', `${field} is required (JSON text)`);
  try {
    return JSON.parse(s);
  } catch (e) {
    throw ApiError.of('INVALID_ARGUMENT', `${field} is not valid JSON: ${(e as Error).message}`);
  }
}
