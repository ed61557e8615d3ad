import { describe, expect, it } from 'vitest';
import { pageOf, parseListQuery, queryString } from './list';
import type { StoredFlag } from './types';

function stored(key: string, enabled: boolean, tags: string[] = []): StoredFlag {
  return {
    flag: { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled, rules: [], tags },
    createRevision: 1,
    modRevision: 1,
    version: 1,
    updatedAt: 0,
    updatedBy: 'alice',
  };
}

describe('flag list paging', () => {
  const all = Array.from({ length: 10_000 }, (_, i) => stored(`flag-${String(i).padStart(5, '0')}`, i % 3 !== 0, i % 10 === 0 ? ['ten'] : ['other']));

  it('parses and clamps the query', () => {
    const q = parseListQuery(new URLSearchParams('q=%20abc%20&state=bogus&page=-4&size=7'));
    expect(q).toEqual({ q: 'abc', tag: '', state: 'all', page: 1, pageSize: 50 });
    expect(parseListQuery(new URLSearchParams('state=disabled&size=100&page=3')).pageSize).toBe(100);
  });

  it('pages 10,000 flags sorted by key, clamping a page past the end', () => {
    const p = pageOf(all, parseListQuery(new URLSearchParams('page=999')));
    expect(p.pages).toBe(200);
    expect(p.page).toBe(200);
    expect(p.rows.map((r) => r.flag.key)).toEqual(all.slice(9950).map((r) => r.flag.key));
    expect(p.tags).toEqual(['other', 'ten']);
  });

  it('filters by key substring, tag and state together', () => {
    const p = pageOf(all, parseListQuery(new URLSearchParams('q=flag-000&tag=ten&state=disabled')));
    // flag-00000..flag-00099 with i%10==0 and i%3==0: 0,30,60,90
    expect(p.rows.map((r) => r.flag.key)).toEqual(['flag-00000', 'flag-00030', 'flag-00060', 'flag-00090']);
    expect(p.matching).toBe(4);
    expect(p.total).toBe(10_000);
  });

  it('searches tags with the free-text box', () => {
    expect(pageOf(all, parseListQuery(new URLSearchParams('q=TEN'))).matching).toBe(1000);
  });

  it('builds query strings without defaults', () => {
    const q = parseListQuery(new URLSearchParams('q=a&page=2'));
    expect(queryString(q, { page: 3 })).toBe('?q=a&page=3');
    expect(queryString(q, { q: '', page: 1 })).toBe('');
  });
});
