import { describe, expect, it } from 'vitest';
import { auditHref, auditRow, parseAuditFilters, toChangeQuery } from './audit';

describe('audit filters', () => {
  it('reads the URL, and turns times typed as UTC into the gateway query', () => {
    const { filters, problems } = parseAuditFilters(new URLSearchParams('actor=eddie&key=checkout&kind=flag&environment=staging&from=2026-12-07T09:30&to=2026-12-07T10:00:30&page=42:0'));
    expect(problems).toEqual([]);
    expect(toChangeQuery(filters)).toEqual({
      limit: 50, actor: 'eddie', key: 'checkout', kind: 'flag', environment: 'staging',
      since: '2026-12-07T09:30:00.000Z', until: '2026-12-07T10:00:30.000Z', pageToken: '42:0',
    });
    expect(auditHref(filters, '7:1')).toBe('/audit?actor=eddie&key=checkout&kind=flag&environment=staging&from=2026-12-07T09%3A30&to=2026-12-07T10%3A00%3A30&page=7%3A1');
  });
  it('drops what it cannot use and says why', () => {
    const { filters, problems } = parseAuditFilters(new URLSearchParams(`kind=flags&from=yesterday&page=x&actor=${'a'.repeat(300)}`));
    expect(filters).toEqual({ actor: '', key: '', kind: '', environment: '', from: '', to: '', pageToken: '' });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['kind', 'page', 'actor', 'from']);
    expect(toChangeQuery(filters)).toEqual({ limit: 50 });
    expect(auditHref(filters)).toBe('/audit');
  });
});

describe('auditRow', () => {
  const flag = (enabled: boolean) => ({ flag: { key: 'f', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled, rules: [] }, modRevision: 3 });
  it('names the verb and the fields that changed', () => {
    const changed = auditRow({ revision: 4, kind: 'flag', key: 'f', environment: 'production', op: 'put', actor: 'ada', time: 't', before: flag(true), after: flag(false) });
    expect(changed).toMatchObject({ verb: 'changed', fields: ['enabled'], diff: [{ path: 'enabled', before: 'true', after: 'false' }] });
    expect(auditRow({ revision: 3, kind: 'flag', key: 'f', op: 'put', actor: 'ada', time: 't', before: null, after: flag(true) }).verb).toBe('created');
    expect(auditRow({ revision: 5, kind: 'segment', key: 's', op: 'delete', actor: 'ada', time: 't', before: { segment: { name: 's', conditions: [] } }, after: null }).verb).toBe('deleted');
  });
});
