// The audit log page's query: filters from the page URL (a GET form, so a
// filtered view is a link one can share), checked and turned into the
// gateway's GET /api/v1/changes parameters; and how one change is shown.
import type { AuditEntry, ChangeQuery } from '@flagraft/api';
import { diffJson, type DiffEntry } from './diff';

/** Changes a page shows. */
export const AUDIT_PAGE_SIZE = 50;
/** Longest filter value kept from the URL, in characters (the gateway's limit). */
export const MAX_AUDIT_FILTER_CHARS = 256;
export const AUDIT_KINDS = ['flag', 'segment', 'environment', 'changeRequest', 'schedule'] as const;
/** What the time inputs send (datetime-local, read as UTC): 2026-12-07T09:30, seconds optional. */
const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

export interface AuditFilters {
  actor: string;
  key: string;
  kind: '' | (typeof AUDIT_KINDS)[number];
  environment: string;
  /** As typed: YYYY-MM-DDTHH:MM, UTC. */
  from: string;
  to: string;
  pageToken: string;
}

/** The filters of a URL; a value that cannot be used is dropped and named in `problems`. */
export function parseAuditFilters(params: URLSearchParams): { filters: AuditFilters; problems: string[] } {
  const problems: string[] = [];
  const text = (name: string) => {
    const v = (params.get(name) ?? '').trim();
    if (v.length <= MAX_AUDIT_FILTER_CHARS) return v;
    problems.push(`${name}: at most ${MAX_AUDIT_FILTER_CHARS} characters`);
    return '';
  };
  const kind = text('kind');
  if (kind && !(AUDIT_KINDS as readonly string[]).includes(kind)) problems.push(`kind: one of ${AUDIT_KINDS.join(', ')}`);
  const time = (name: string) => {
    const v = text(name);
    if (v && (!LOCAL_TIME.test(v) || Number.isNaN(Date.parse(`${v}Z`)))) {
      problems.push(`${name}: a date and time like 2026-12-07T09:30 (UTC)`);
      return '';
    }
    return v;
  };
  const pageToken = text('page');
  if (pageToken && !/^\d{1,15}:\d{1,9}$/.test(pageToken)) problems.push('page: not a page of this log (start again from the newest)');
  const filters: AuditFilters = {
    actor: text('actor'),
    key: text('key'),
    kind: (AUDIT_KINDS as readonly string[]).includes(kind) ? (kind as AuditFilters['kind']) : '',
    environment: text('environment'),
    from: time('from'),
    to: time('to'),
    pageToken: /^\d{1,15}:\d{1,9}$/.test(pageToken) ? pageToken : '',
  };
  return { filters, problems };
}

/** The gateway query for the filters (times as UTC ISO 8601; `to` is exclusive). */
export function toChangeQuery(f: AuditFilters, limit = AUDIT_PAGE_SIZE): ChangeQuery {
  const q: ChangeQuery = { limit };
  if (f.actor) q.actor = f.actor;
  if (f.key) q.key = f.key;
  if (f.kind) q.kind = f.kind;
  if (f.environment) q.environment = f.environment;
  if (f.from) q.since = new Date(`${f.from}Z`).toISOString();
  if (f.to) q.until = new Date(`${f.to}Z`).toISOString();
  if (f.pageToken) q.pageToken = f.pageToken;
  return q;
}

/** The page's URL with these filters (and a page token for "older"). */
export function auditHref(f: AuditFilters, pageToken = ''): string {
  const p = new URLSearchParams();
  for (const k of ['actor', 'key', 'kind', 'environment', 'from', 'to'] as const) if (f[k]) p.set(k, f[k]);
  if (pageToken) p.set('page', pageToken);
  const s = p.toString();
  return s ? `/audit?${s}` : '/audit';
}

export interface AuditRow {
  revision: number;
  kind: AuditEntry['kind'];
  key: string;
  environment?: string;
  op: 'put' | 'delete';
  /** created / changed / deleted. */
  verb: string;
  actor: string;
  time: string;
  /** Top-level fields that changed (`enabled`, `rules`…), for the summary line. */
  fields: string[];
  diff: DiffEntry[];
}

/** The item inside a stored document: a flag's definition, a segment's, or the record itself. */
function itemOf(doc: Record<string, unknown> | null): unknown {
  if (!doc) return null;
  return doc.flag ?? doc.segment ?? doc;
}

export function auditRow(e: AuditEntry): AuditRow {
  const diff = diffJson(itemOf(e.before), itemOf(e.after)).filter((d) => !(d.path === '' && d.before === 'null'));
  const fields = [...new Set(diff.map((d) => d.path.split(/[.[]/)[0]).filter(Boolean))];
  return {
    revision: e.revision,
    kind: e.kind,
    key: e.key,
    environment: e.environment,
    op: e.op,
    verb: e.op === 'delete' ? 'deleted' : e.before === null ? 'created' : 'changed',
    actor: e.actor,
    time: e.time,
    fields,
    diff,
  };
}
