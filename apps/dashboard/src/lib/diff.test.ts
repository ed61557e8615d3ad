import { describe, expect, it } from 'vitest';
import { diffJson, reapply } from './diff';

describe('diffJson', () => {
  it('reports changed, added and removed leaves with readable paths', () => {
    const a = { enabled: true, variants: { on: true, off: false }, rules: [{ conditions: [{ attribute: 'country', value: 'DE' }] }] };
    const b = { enabled: false, variants: { on: true }, rules: [{ conditions: [{ attribute: 'country', value: 'FR' }] }], tags: ['x'] };
    expect(diffJson(a, b)).toEqual([
      { path: 'enabled', kind: 'changed', before: 'true', after: 'false' },
      { path: 'rules[0].conditions[0].value', kind: 'changed', before: '"DE"', after: '"FR"' },
      { path: 'tags[0]', kind: 'added', after: '"x"' },
      { path: 'variants.off', kind: 'removed', before: 'false' },
    ]);
  });
  it('is empty for equal documents and treats null before as all-added', () => {
    expect(diffJson({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toEqual([]);
    expect(diffJson(null, { a: 1 })).toEqual([{ path: '', kind: 'removed', before: 'null' }, { path: 'a', kind: 'added', after: '1' }]);
  });
  it('quotes keys that are not identifiers', () => {
    expect(diffJson({ variants: { 'dark mode': 1 } }, { variants: { 'dark mode': 2 } })[0].path).toBe('variants["dark mode"]');
  });
});

describe('reapply', () => {
  it('puts my changed fields on top of the current version and reports overlaps', () => {
    const base = { key: 'k', enabled: true, defaultVariant: 'a', description: 'x' };
    const mine = { key: 'k', enabled: true, defaultVariant: 'b', description: 'mine' };
    const current = { key: 'k', enabled: false, defaultVariant: 'a', description: 'theirs' };
    const r = reapply(base, mine, current);
    expect(r.merged).toEqual({ key: 'k', enabled: false, defaultVariant: 'b', description: 'mine' });
    expect(r.mine).toEqual(['defaultVariant', 'description']);
    expect(r.theirs).toEqual(['description', 'enabled']);
    expect(r.overlapping).toEqual(['description']);
  });
  it('removes a field I removed', () => {
    const r = reapply({ a: 1, owner: 'x' } as Record<string, unknown>, { a: 1 }, { a: 2, owner: 'x' });
    expect(r.merged).toEqual({ a: 2 });
  });
});
