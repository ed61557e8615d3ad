// The OFREP context cache: a hit is the same checked, frozen context; every
// refusal is the same OFREP error each time (refusals are never kept); the
// cache holds at most its entry bound and never a body over its length bound.
import { describe, expect, it } from 'vitest';
import { ContextCache, contextEtagHash, MAX_CACHED_CONTEXTS, OfrepError } from './ofrep-context.js';
import { canonicalJson, shortHash } from './http-util.js';

const buf = (s: string) => Buffer.from(s, 'utf8');

function refusal(cache: ContextCache, text: string): { status: number; errorCode: string; message: string } {
  try {
    cache.parse(buf(text));
  } catch (e) {
    expect(e).toBeInstanceOf(OfrepError);
    const o = e as OfrepError;
    return { status: o.status, errorCode: o.errorCode, message: o.message };
  }
  throw new Error(`accepted: ${text}`);
}

describe('ContextCache', () => {
  it('parses a context once per distinct body; a hit is the same frozen object', () => {
    const cache = new ContextCache();
    const text = '{"context":{"targetingKey":"u1","plan":"pro","tags":["a",{"x":1}]}}';
    const a = cache.parse(buf(text));
    expect(a.context).toEqual({ targetingKey: 'u1', plan: 'pro', tags: ['a', { x: 1 }] });
    expect(Object.isFrozen(a.context)).toBe(true);
    expect(Object.isFrozen((a.context as { tags: unknown[] }).tags[1])).toBe(true);
    expect(cache.parse(buf(text))).toBe(a);
    expect(cache.parse(buf(text.replace('u1', 'u2'))).context).toMatchObject({ targetingKey: 'u2' });
    expect(cache.size).toBe(2);
  });

  it('empty body, {} and {"context": null} are the empty context', () => {
    const cache = new ContextCache();
    for (const t of ['', '{}', '{"context":null}']) expect(cache.parse(buf(t)).context).toEqual({});
  });

  it('refusals are the same OFREP errors every time and are not kept', () => {
    const cache = new ContextCache();
    const cases: [string, number, string, RegExp][] = [
      ['{"context":', 400, 'PARSE_ERROR', /not valid JSON/],
      ['[1]', 400, 'PARSE_ERROR', /must be a JSON object/],
      ['{"context":[1]}', 400, 'INVALID_CONTEXT', /context must be a JSON object/],
      ['{"context":{"targetingKey":7}}', 400, 'INVALID_CONTEXT', /targetingKey must be a string/],
      ['{"context":' + '['.repeat(100) + ']'.repeat(100) + '}', 400, 'INVALID_CONTEXT', /maxJsonDepth = 64/],
      ['{"context":' + '['.repeat(100), 400, 'INVALID_CONTEXT', /maxJsonDepth = 64/],
      ['{"context":{"n":1e400}}', 400, 'INVALID_CONTEXT', /context\.n: .*jsonNumberRange/],
    ];
    for (const [text, status, errorCode, message] of cases) {
      const first = refusal(cache, text);
      expect(first, text).toMatchObject({ status, errorCode });
      expect(first.message, text).toMatch(message);
      expect(refusal(cache, text)).toEqual(first);
    }
    expect(cache.size).toBe(0);
  });

  it('holds at most its entry bound (oldest out first) and no body over its length bound', () => {
    const cache = new ContextCache(3, 40);
    const texts = [1, 2, 3, 4].map((i) => `{"context":{"targetingKey":"u${i}"}}`);
    const first = texts.map((t) => cache.parse(buf(t)));
    expect(cache.size).toBe(3);
    expect(cache.parse(buf(texts[3]))).toBe(first[3]);
    expect(cache.parse(buf(texts[0]))).not.toBe(first[0]); // evicted, parsed again (equal, not the same)
    expect(cache.parse(buf(texts[0])).context).toEqual(first[0].context);
    const long = `{"context":{"targetingKey":"${'x'.repeat(40)}"}}`;
    expect(cache.parse(buf(long))).not.toBe(cache.parse(buf(long)));
    expect(cache.size).toBe(3);
    expect(MAX_CACHED_CONTEXTS).toBeGreaterThan(0);
  });

  it('the bulk ETag hash is the hash of the canonical context, computed once', () => {
    const cache = new ContextCache();
    const p = cache.parse(buf('{"context":{"b":1,"a":"x"}}'));
    expect(p.etagHash).toBeUndefined();
    expect(contextEtagHash(p)).toBe(shortHash(canonicalJson({ a: 'x', b: 1 })));
    expect(p.etagHash).toBe(contextEtagHash(p));
  });
});
