// Search, filter and paginate the flag list on the server, so the page the
// browser receives holds one page of rows however many flags exist.
import type { StoredFlag } from './types';

export type StateFilter = 'all' | 'enabled' | 'disabled';

export interface ListQuery {
  q: string;
  tag: string;
  state: StateFilter;
  page: number;
  pageSize: number;
}

/** Rows per page: the choices offered, and the default. */
export const PAGE_SIZES = [25, 50, 100, 200] as const;
export const DEFAULT_PAGE_SIZE = 50;
/** Longest search text accepted, in characters. */
export const MAX_QUERY_CHARS = 200;

export function parseListQuery(params: URLSearchParams): ListQuery {
  const q = (params.get('q') ?? '').trim().slice(0, MAX_QUERY_CHARS);
  const tag = (params.get('tag') ?? '').trim().slice(0, MAX_QUERY_CHARS);
  const s = params.get('state');
  const state: StateFilter = s === 'enabled' || s === 'disabled' ? s : 'all';
  const page = Math.max(1, Math.min(1_000_000, Math.floor(Number(params.get('page')) || 1)));
  const size = Number(params.get('size'));
  const pageSize = (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE;
  return { q, tag, state, page, pageSize };
}

export function matches(f: StoredFlag, q: ListQuery): boolean {
  const flag = f.flag;
  if (q.state === 'enabled' && !flag.enabled) return false;
  if (q.state === 'disabled' && flag.enabled) return false;
  if (q.tag && !(flag.tags ?? []).some((t) => t.toLowerCase() === q.tag.toLowerCase())) return false;
  if (q.q) {
    const needle = q.q.toLowerCase();
    if (!flag.key.toLowerCase().includes(needle) && !(flag.tags ?? []).some((t) => t.toLowerCase().includes(needle))) return false;
  }
  return true;
}

export interface ListPage {
  rows: StoredFlag[];
  total: number;
  matching: number;
  page: number;
  pages: number;
  tags: string[];
}

/** Most tags offered in the tag filter. */
export const MAX_TAG_CHOICES = 200;

export function pageOf(all: StoredFlag[], q: ListQuery): ListPage {
  const hits = all.filter((f) => matches(f, q)).sort((a, b) => (a.flag.key < b.flag.key ? -1 : a.flag.key > b.flag.key ? 1 : 0));
  const pages = Math.max(1, Math.ceil(hits.length / q.pageSize));
  const page = Math.min(q.page, pages);
  const tagSet = new Set<string>();
  for (const f of all) {
    for (const t of f.flag.tags ?? []) {
      if (tagSet.size >= MAX_TAG_CHOICES) break;
      tagSet.add(t);
    }
  }
  return {
    rows: hits.slice((page - 1) * q.pageSize, page * q.pageSize),
    total: all.length,
    matching: hits.length,
    page,
    pages,
    tags: [...tagSet].sort(),
  };
}

export function queryString(q: ListQuery, patch: Partial<ListQuery>): string {
  const m = { ...q, ...patch };
  const p = new URLSearchParams();
  if (m.q) p.set('q', m.q);
  if (m.tag) p.set('tag', m.tag);
  if (m.state !== 'all') p.set('state', m.state);
  if (m.page > 1) p.set('page', String(m.page));
  if (m.pageSize !== DEFAULT_PAGE_SIZE) p.set('size', String(m.pageSize));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** What one list row shows: a slim copy of a stored flag (the page ships 50 of these, not whole definitions). */
export interface Row {
  key: string;
  type: string;
  enabled: boolean;
  defaultVariant: string;
  tags: string[];
  description?: string;
  updatedBy: string;
  updatedAt: number;
  modRevision: number;
}

/** Longest description shown in a row, in characters. */
export const ROW_DESCRIPTION_CHARS = 140;

export function toRow(s: StoredFlag): Row {
  const f = s.flag;
  const row: Row = {
    key: f.key,
    type: f.type,
    enabled: f.enabled,
    defaultVariant: f.defaultVariant,
    tags: f.tags ?? [],
    updatedBy: s.updatedBy,
    updatedAt: s.updatedAt,
    modRevision: s.modRevision,
  };
  if (f.description) row.description = f.description.length > ROW_DESCRIPTION_CHARS ? f.description.slice(0, ROW_DESCRIPTION_CHARS - 1) + '…' : f.description;
  return row;
}
