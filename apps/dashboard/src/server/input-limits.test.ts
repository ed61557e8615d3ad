import { describe, expect, it } from 'vitest';
import { BODY_LIMITS, checkShape, DOCUMENT_LIMITS, MAX_JSON_DEPTH, MAX_JSON_ITEMS, MAX_JSON_STRING_CHARS, revisionOf } from './input-limits';

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('JSON shape limits', () => {
  it('accepts a document at every limit', () => {
    expect(checkShape(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(checkShape({ s: 'x'.repeat(MAX_JSON_STRING_CHARS), a: new Array(MAX_JSON_ITEMS).fill(0) })).toBeUndefined();
  });

  it('names the limit and the place it was broken', () => {
    expect(checkShape(nested(MAX_JSON_DEPTH + 1))?.message).toContain('MAX_JSON_DEPTH');
    expect(checkShape({ rules: [{ d: 'x'.repeat(MAX_JSON_STRING_CHARS + 1) }] })).toEqual({
      path: 'rules[0].d',
      message: `text longer than ${MAX_JSON_STRING_CHARS} characters (limit MAX_JSON_STRING_CHARS)`,
    });
    expect(checkShape({ a: new Array(MAX_JSON_ITEMS + 1).fill(0) })?.message).toContain('MAX_JSON_ITEMS');
    expect(checkShape({ ['k'.repeat(MAX_JSON_STRING_CHARS + 1)]: 1 })?.message).toContain('field name');
    expect(checkShape({ n: Infinity })?.path).toBe('n');
    expect(checkShape({ 'odd key': NaN })?.path).toBe('["odd key"]');
  });

  it('walks without recursion: 1,000,000 levels are refused, not a stack overflow', () => {
    expect(checkShape(nested(1_000_000))?.message).toContain('MAX_JSON_DEPTH');
  });

  it('__proto__ and constructor are keys like any other', () => {
    expect(checkShape(JSON.parse('{"__proto__":{"constructor":{"prototype":"x"}}}'))).toBeUndefined();
    expect(checkShape(JSON.parse(`{"__proto__":"${'x'.repeat(MAX_JSON_STRING_CHARS + 1)}"}`))?.path).toBe('__proto__');
  });

  it('action bodies allow the whole editor document in one field', () => {
    const doc = 'x'.repeat(MAX_JSON_STRING_CHARS * 2);
    expect(checkShape({ json: doc }, DOCUMENT_LIMITS)).toBeDefined();
    expect(checkShape({ json: doc }, BODY_LIMITS)).toBeUndefined();
  });
});

describe('revisionOf', () => {
  it('takes safe whole numbers (from a form field or JSON)', () => {
    expect(revisionOf('12')).toBe(12);
    expect(revisionOf(' 7 ')).toBe(7);
    expect(revisionOf(0)).toBe(0);
    expect(revisionOf('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
  });
  it('refuses what is not a revision', () => {
    for (const bad of ['1e300', '-1', '1.5', '', 'abc', '0x10', '9007199254740993', '99999999999999999', 1e300, -1, 1.5, NaN, null, undefined, {}, []]) {
      expect(revisionOf(bad as unknown), String(bad)).toBeUndefined();
    }
    expect(revisionOf('0', 1)).toBeUndefined();
  });
});
