// The `changes` query (QueryRequest, proto/flags.proto): the global audit
// log, every retained change of every kind, newest first, filtered and paged.
// The gateway serves it as GET /api/v1/changes. Bad arguments are
// INVALID_ARGUMENT naming the argument.
import type { ChangeKind } from '@flagraft/flag-model';
import { ApiError } from './errors.js';
import type { StateMachine } from './state-machine.js';

/** Changes a page holds by default and at most. */
export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;
/** Longest key, actor or environment filter, in characters. */
export const AUDIT_MAX_FILTER_CHARS = 256;
const KINDS: readonly ChangeKind[] = ['flag', 'segment', 'environment', 'changeRequest', 'schedule'];
/** "<revision>:<seq>", the cursor nextPageToken carries. */
const CURSOR = /^(\d{1,15}):(\d{1,9})$/;

function optString(args: Record<string, unknown>, k: string): string | undefined {
  const v = args[k];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > AUDIT_MAX_FILTER_CHARS) throw ApiError.of('INVALID_ARGUMENT', `args_json.${k} must be a string of at most ${AUDIT_MAX_FILTER_CHARS} characters`);
  return v;
}

function optInt(args: Record<string, unknown>, k: string, min: number, max: number): number | undefined {
  const v = args[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw ApiError.of('INVALID_ARGUMENT', `args_json.${k} must be an integer from ${min} to ${max}`);
  return v;
}

export function auditQuery(state: StateMachine, args: Record<string, unknown>) {
  const kind = optString(args, 'kind');
  if (kind !== undefined && !KINDS.includes(kind as ChangeKind)) throw ApiError.of('INVALID_ARGUMENT', `args_json.kind must be one of ${KINDS.join(', ')}, got "${kind}"`);
  const token = optString(args, 'pageToken');
  const m = token === undefined ? undefined : CURSOR.exec(token);
  if (token !== undefined && !m) throw ApiError.of('INVALID_ARGUMENT', 'args_json.pageToken must be a nextPageToken of an earlier page');
  const page = state.auditLog({
    before: m ? { revision: Number(m[1]), seq: Number(m[2]) } : { revision: Number.MAX_SAFE_INTEGER, seq: 0 },
    kind: kind as ChangeKind | undefined,
    key: optString(args, 'key'),
    actor: optString(args, 'actor'),
    env: optString(args, 'environment'),
    sinceMs: optInt(args, 'sinceMs', 0, Number.MAX_SAFE_INTEGER) ?? 0,
    untilMs: optInt(args, 'untilMs', 0, Number.MAX_SAFE_INTEGER) ?? Number.MAX_SAFE_INTEGER,
    limit: optInt(args, 'limit', 1, AUDIT_MAX_LIMIT) ?? AUDIT_DEFAULT_LIMIT,
  });
  // The default environment's flag changes carry no name: the reader needs it to show one.
  return { changes: page.changes, nextPageToken: page.next ? `${page.next.revision}:${page.next.seq}` : undefined, defaultEnvironment: state.view.defaultEnvironment() };
}
