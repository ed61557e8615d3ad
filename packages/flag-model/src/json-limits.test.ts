import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JSON_LIMITS, jsonShapeViolations, jsonTextDepthViolation, jsonWithinLimits, pointerOfPath, safeIntegerViolation } from './index.js';

function nested(levels: number, leaf: unknown = 1): unknown {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

describe('jsonShapeViolations', () => {
  it('accepts values within every limit, including prototype-named keys', () => {
    const v = JSON.parse('{"__proto__":{"constructor":[1,"x",null,true]},"toString":{"a":{"b":2.5}}}');
    expect(jsonShapeViolations(v)).toEqual([]);
    expect(jsonShapeViolations(nested(JSON_LIMITS.maxJsonDepth))).toEqual([]);
  });

  it('reports a document nested 100,000 levels (built by JSON.parse) without overflowing the stack', () => {
    const text = '['.repeat(100_000) + ']'.repeat(100_000);
    const out = jsonShapeViolations(JSON.parse(text));
    expect(out).toHaveLength(1);
    expect(out[0]!.limit).toBe('maxJsonDepth');
    expect(out[0]!.max).toBe(64);
    expect(out[0]!.pointer).toBe('/0'.repeat(64));
    expect(out[0]!.message).toMatch(/nested more than 64 levels/);
  });

  it('names each limit with path and pointer, and reports every violation in document order', () => {
    const v = {
      s: 'x'.repeat(11),
      arr: [1, 2, 3, 4],
      obj: { a: 1, b: 2, c: 3, d: 4 },
      ['k'.repeat(9)]: 1,
      'odd/key~': [Infinity],
    };
    const out = jsonShapeViolations(v, { maxJsonStringChars: 10, maxJsonArrayItems: 3, maxJsonObjectKeys: 5, maxJsonKeyChars: 8 });
    expect(out.map((x) => [x.limit, x.path, x.pointer])).toEqual([
      ['maxJsonStringChars', 's', '/s'],
      ['maxJsonArrayItems', 'arr', '/arr'],
      ['maxJsonKeyChars', 'kkkkkkkkk', '/kkkkkkkkk'],
      ['jsonNumberRange', '["odd/key~"][0]', '/odd~1key~0/0'],
    ]);
    expect(out.every((x) => x.message.length > 10)).toBe(true);
  });

  it('object key count, key length and number range', () => {
    expect(jsonShapeViolations({ a: 1, b: 2, c: 3 }, { maxJsonObjectKeys: 2 })[0]).toMatchObject({ limit: 'maxJsonObjectKeys', path: '', max: 2 });
    expect(jsonShapeViolations({ x: { ['k'.repeat(9)]: 1 } }, { maxJsonKeyChars: 8 })[0]).toMatchObject({
      limit: 'maxJsonKeyChars', path: 'x.kkkkkkkkk', pointer: '/x/kkkkkkkkk',
    });
    expect(jsonShapeViolations(JSON.parse('{"n":[1e400]}'))[0]).toMatchObject({ limit: 'jsonNumberRange', path: 'n[0]', pointer: '/n/0' });
    expect(jsonShapeViolations({ 'a/b~c': { 'odd name': 'x'.repeat(3) } }, { maxJsonStringChars: 2 })[0]).toMatchObject({
      path: '["a/b~c"]["odd name"]', pointer: '/a~1b~0c/odd name',
    });
  });

  it('stops after maxJsonNodes values', () => {
    const out = jsonShapeViolations(Array.from({ length: 100 }, () => [1, 2]), { maxJsonNodes: 50 });
    expect(out).toHaveLength(1);
    expect(out[0]!.limit).toBe('maxJsonNodes');
  });

  it('bounds the number of violations reported', () => {
    const out = jsonShapeViolations(Array.from({ length: 500 }, () => 'xx'), { maxJsonStringChars: 1 });
    expect(out).toHaveLength(50);
    expect(out[0]!.path).toBe('[0]');
    expect(out[49]!.path).toBe('[49]');
  });

  it('property: any value JSON.stringify can write within the limits is accepted; deeper ones are refused', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 80 }), (v, extra) => {
        expect(jsonShapeViolations(JSON.parse(JSON.stringify(v)))).toEqual([]);
        const deep = jsonShapeViolations(nested(JSON_LIMITS.maxJsonDepth + extra, v));
        expect(deep.map((x) => x.limit)).toEqual(['maxJsonDepth']);
      }),
      { seed: 1206, numRuns: 200 },
    );
  });
});

describe('jsonWithinLimits', () => {
  // Small limits so that random values land on both sides of each.
  const small = { maxJsonDepth: 3, maxJsonStringChars: 5, maxJsonKeyChars: 3, maxJsonArrayItems: 3, maxJsonObjectKeys: 3, maxJsonNodes: 12 };

  it('gives the verdict of jsonShapeViolations on random JSON and on each limit', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (v) => {
        expect(jsonWithinLimits(v, small)).toBe(jsonShapeViolations(v, small).length === 0);
        expect(jsonWithinLimits(v)).toBe(jsonShapeViolations(v).length === 0);
      }),
      { numRuns: 2000 },
    );
    const cases: unknown[] = [[[[1]]], [[[[1]]]], 'abcdef', { abcd: 1 }, [1, 2, 3, 4], { a: 1, b: 2, c: 3, d: 4 }, Array.from({ length: 3 }, () => [1, 2, 3]), 1e400, -1e400, { ok: [true, null, 'x'] }];
    for (const v of cases) expect([v, jsonWithinLimits(v, small)]).toEqual([v, jsonShapeViolations(v, small).length === 0]);
    expect(jsonWithinLimits(JSON.parse('1e400'))).toBe(false);
    expect(jsonWithinLimits(JSON.parse('{"__proto__":{"a":"' + 'x'.repeat(70_000) + '"}}'))).toBe(false);
  });

  it('stops at the depth limit instead of recursing further', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000));
    expect(jsonWithinLimits(deep)).toBe(false);
  });
});

describe('jsonTextDepthViolation', () => {
  it('counts brackets outside strings only', () => {
    expect(jsonTextDepthViolation('{"a":"[[[[[[[[\\"[[[["}', 2)).toBeUndefined();
    expect(jsonTextDepthViolation('[[[1]]]', 2)).toMatchObject({ limit: 'maxJsonDepth', max: 2 });
    expect(jsonTextDepthViolation('{'.repeat(100_000))).toMatchObject({ limit: 'maxJsonDepth', max: 64 });
    expect(jsonTextDepthViolation('[' .repeat(64) + ']'.repeat(64))).toBeUndefined();
  });
});

describe('safeIntegerViolation', () => {
  it('accepts 0..MAX_SAFE_INTEGER and refuses 1e300, fractions, negatives, strings', () => {
    expect(safeIntegerViolation(0, ['expectedRevision'])).toBeUndefined();
    expect(safeIntegerViolation(Number.MAX_SAFE_INTEGER, ['x'])).toBeUndefined();
    for (const bad of [1e300, 2 ** 53, 1.5, -1, '3', Infinity]) {
      expect(safeIntegerViolation(bad, ['ops', 3, 'expectedRevision'])).toMatchObject({
        limit: 'jsonSafeInteger', path: 'ops[3].expectedRevision', pointer: '/ops/3/expectedRevision',
      });
    }
  });
});

describe('pointerOfPath', () => {
  it('turns validator paths into JSON pointers, and refuses other text', () => {
    expect(pointerOfPath('')).toBe('');
    expect(pointerOfPath('rules[2].rollout.weights')).toBe('/rules/2/rollout/weights');
    expect(pointerOfPath('variants["odd/name"].x')).toBe('/variants/odd~1name/x');
    expect(pointerOfPath('ops[0].flag.variants["__proto__"]')).toBe('/ops/0/flag/variants/__proto__');
    expect(pointerOfPath('a b')).toBeUndefined();
    expect(pointerOfPath('x[')).toBeUndefined();
  });
});
