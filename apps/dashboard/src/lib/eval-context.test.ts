import { describe, expect, it } from 'vitest';
import { MAX_CONTEXT_ATTRIBUTES, contextFromRows, parseRows, type ContextRow } from './eval-context';

const row = (name: string, value: string, type: ContextRow['type'] = 'string'): ContextRow => ({ name, type, value });

describe('contextFromRows', () => {
  it('types each value and adds the targeting key', () => {
    expect(contextFromRows('user-1', [row('country', 'DE'), row('age', ' 42 ', 'number'), row('beta', 'TRUE', 'boolean'), row('org', '{"id":7}', 'json'), row('', '')])).toEqual({
      context: { targetingKey: 'user-1', country: 'DE', age: 42, beta: true, org: { id: 7 } },
    });
  });
  it('names every bad row at once', () => {
    const out = contextFromRows('', [row('age', 'x', 'number'), row('', 'v'), row('b', 'yes', 'boolean'), row('j', '{', 'json'), row('age', '1', 'number')]);
    expect('issues' in out && out.issues.map((i) => i.path)).toEqual(['attributes[0].value', 'attributes[1].name', 'attributes[2].value', 'attributes[3].value', 'attributes[4].name']);
  });
  it('refuses targetingKey as a row when the field is set, and more than the limit of rows', () => {
    expect(contextFromRows('u', [row('targetingKey', 'x')])).toEqual({ issues: [{ path: 'attributes[0].name', message: 'use the targeting key field' }] });
    const many = Array.from({ length: MAX_CONTEXT_ATTRIBUTES + 1 }, (_, i) => row(`a${i}`, 'v'));
    expect(contextFromRows('', many)).toMatchObject({ issues: [{ path: '', message: expect.stringContaining('MAX_CONTEXT_ATTRIBUTES') }] });
  });
  it('keeps __proto__ and constructor as ordinary attributes', () => {
    const out = contextFromRows('', [row('__proto__', 'x'), row('constructor', 'y')]);
    expect('context' in out && Object.getPrototypeOf(out.context)).toBe(Object.prototype);
    expect('context' in out && JSON.stringify(out.context)).toBe('{"__proto__":"x","constructor":"y"}');
  });
});

describe('parseRows', () => {
  it('accepts the form\'s rows and refuses anything else', () => {
    expect(parseRows(JSON.stringify([row('a', 'b')]))).toEqual([row('a', 'b')]);
    expect(parseRows('{')).toBeUndefined();
    expect(parseRows(JSON.stringify([{ name: 'a', type: 'date', value: 'x' }]))).toBeUndefined();
    expect(parseRows(JSON.stringify([{ name: 1, type: 'string', value: 'x' }]))).toBeUndefined();
    expect(parseRows(undefined)).toBeUndefined();
  });
});
