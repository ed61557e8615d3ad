// The global audit log's query (the `changes` read of the node's
// QueryRequest, served as GET /api/v1/changes): its arguments, checked once
// here for the node (SQL over its changes table) and the in-memory cluster
// (a scan of its log), so both accept and refuse the same things.
import type { Change, ChangeKind } from './types.js';

/** Changes a page holds by default and at most. */
export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;
/** Longest key, actor or environment filter, in characters. */
export const AUDIT_MAX_FILTER_CHARS = 256;
export const AUDIT_KINDS: readonly ChangeKind[] = ['flag', 'segment', 'environment', 'changeRequest', 'schedule'];
/** "<revision>:<seq>": the position after which (going back in time) the next page starts. */
const CURSOR = /^(\d{1,15}):(\d{1,9})$/;

export interface AuditFilter {
  /** Exclusive: changes with (revision, seq) below it; seq is the change's index within its revision. */
  before: { revision: number; seq: number };
  kind?: ChangeKind;
  key?: string;
  actor?: string;
  /** Flag changes made in this environment (by name; the default one's changes carry no env). */
  environment?: string;
  /** [sinceMs, untilMs), ms since the epoch. */
  sinceMs: number;
  untilMs: number;
  limit: number;
}

/** The filter of a `changes` query's arguments, or a message naming the bad one (args_json.<name>). */
export function parseAuditArgs(args: Record<string, unknown>): AuditFilter | string {
  let bad: string | undefined;
  const text = (k: string): string | undefined => {
    const v = args[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'string' && v.length <= AUDIT_MAX_FILTER_CHARS) return v;
    bad ??= `args_json.${k} must be a string of at most ${AUDIT_MAX_FILTER_CHARS} characters`;
    return undefined;
  };
  const int = (k: string, min: number, max: number): number | undefined => {
    const v = args[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max) return v;
    bad ??= `args_json.${k} must be an integer from ${min} to ${max}`;
    return undefined;
  };
  const kind = text('kind');
  if (kind !== undefined && !AUDIT_KINDS.includes(kind as ChangeKind)) bad ??= `args_json.kind must be one of ${AUDIT_KINDS.join(', ')}, got "${kind}"`;
  const token = text('pageToken');
  const m = token === undefined ? undefined : CURSOR.exec(token);
  if (token !== undefined && !m) bad ??= 'args_json.pageToken must be a nextPageToken of an earlier page';
  const filter: AuditFilter = {
    before: m ? { revision: Number(m[1]), seq: Number(m[2]) } : { revision: Number.MAX_SAFE_INTEGER, seq: 0 },
    kind: kind as ChangeKind | undefined,
    key: text('key'),
    actor: text('actor'),
    environment: text('environment'),
    sinceMs: int('sinceMs', 0, Number.MAX_SAFE_INTEGER) ?? 0,
    untilMs: int('untilMs', 0, Number.MAX_SAFE_INTEGER) ?? Number.MAX_SAFE_INTEGER,
    limit: int('limit', 1, AUDIT_MAX_LIMIT) ?? AUDIT_DEFAULT_LIMIT,
  };
  return bad ?? filter;
}

/**
 * Whether a change passes the filter's conditions (not the cursor). An
 * environment filter keeps flag changes only: segments and the rest belong
 * to no environment; `defaultEnvironment` names the changes without env.
 */
export function auditMatches(c: Change, f: AuditFilter, defaultEnvironment: string): boolean {
  if (f.kind !== undefined && c.kind !== f.kind) return false;
  if (f.key !== undefined && c.key !== f.key) return false;
  if (f.actor !== undefined && c.actor !== f.actor) return false;
  if (f.environment !== undefined && (c.kind !== 'flag' || (c.env ?? defaultEnvironment) !== f.environment)) return false;
  return c.time >= f.sinceMs && c.time < f.untilMs;
}

/** The page token after a change at (revision, seq). */
export function auditCursor(revision: number, seq: number): string {
  return `${revision}:${seq}`;
}
