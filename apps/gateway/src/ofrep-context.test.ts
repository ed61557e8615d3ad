// The OFREP context of a request, remembered per connection: the same body
// again on a connection is the same checked, frozen context; every refusal is
// the same OFREP error each time and is never remembered; a connection keeps
// only its last context, and none over the length bound.
import { describe, expect, it } from 'vitest';
import { contextEtagHash, contextOf, MAX_REMEMBERED_CONTEXT_CHARS, OfrepError, prepareConnection } from './ofrep-context.js';
import { canonicalJson, shortHash } from './http-util.js';
import { compileFlag, type FlagDefinition } from '@flagraft/flag-model';

const buf = (s: string) => Buffer.from(s, 'utf8');
const connection = () => {
  const c = {};
  prepareConnection(c);
  return c;
};

function refusal(conn: object, text: string): { status: number; errorCode: string; message: string } {
  try {
    contextOf(buf(text), conn);
  } catch (e) {
    expect(e).toBeInstanceOf(OfrepError);
    const o = e as OfrepError;
    return { status: o.status, errorCode: o.errorCode, message: o.message };
  }
  throw new Error(`accepted: ${text}`);
}

describe('contextOf', () => {
  it('the same body again on a connection is the same context; another body or connection parses anew', () => {
    const conn = connection();
    const text = '{"context":{"targetingKey":"u1","plan":"pro","tags":["a",{"x":1}]}}';
    const a = contextOf(buf(text), conn);
    expect(a.context).toEqual({ targetingKey: 'u1', plan: 'pro', tags: ['a', { x: 1 }] });
    expect(contextOf(buf(text), conn)).toBe(a);
    const other = contextOf(buf(text), connection());
    expect(other).not.toBe(a);
    expect(other.context).toEqual(a.context);
    const b = contextOf(buf(text.replace('u1', 'u2')), conn);
    expect(b.context).toMatchObject({ targetingKey: 'u2' });
    expect(contextOf(buf(text), conn)).not.toBe(a); // only the last body is kept
  });

  it('evaluating with a remembered context and hashing it for the ETag leave it as it was (it is shared)', () => {
    const flag: FlagDefinition = {
      key: 'f', type: 'string', variants: { a: 'A', b: 'B' }, defaultVariant: 'a', enabled: true,
      rules: [
        { conditions: [{ attribute: 'user.plan', op: 'in', value: ['pro'] }, { attribute: 'v', op: 'semverGte', value: '1.0.0' }], rollout: { weights: [{ variant: 'a', weight: 50 }, { variant: 'b', weight: 50 }], bucketBy: 'user.id' } },
        { conditions: [{ attribute: 'email', op: 'endsWith', value: '@x.dev' }], variant: 'b' },
      ],
    };
    const text = '{"context":{"targetingKey":"t","user":{"plan":"pro","id":"u9"},"v":"1.2.3","email":"a@x.dev","list":[1,{"k":null}]}}';
    const conn = connection();
    const p = contextOf(buf(text), conn);
    const compiled = compileFlag(flag);
    for (let i = 0; i < 3; i++) compiled.evaluate(p.context, () => undefined);
    contextEtagHash(p);
    expect(p.context).toEqual(JSON.parse(text).context);
    expect(contextOf(buf(text), conn)).toBe(p);
  });

  it('without a connection the body is parsed every time', () => {
    const a = contextOf(buf('{"context":{"targetingKey":"u"}}'), undefined);
    expect(a.context).toEqual({ targetingKey: 'u' });
    expect(contextOf(buf('{"context":{"targetingKey":"u"}}'), undefined)).not.toBe(a);
  });

  it('empty body, {} and {"context": null} are the empty context', () => {
    const conn = connection();
    for (const t of ['', '{}', '{"context":null}']) expect(contextOf(buf(t), conn).context).toEqual({});
  });

  it('refusals are the same OFREP errors every time and do not replace the remembered context', () => {
    const conn = connection();
    const good = '{"context":{"targetingKey":"u1"}}';
    const kept = contextOf(buf(good), conn);
    const cases: [string, string, RegExp][] = [
      ['{"context":', 'PARSE_ERROR', /^the request body is not valid JSON$/],
      ['[1]', 'PARSE_ERROR', /must be a JSON object like/],
      ['{"context":[1]}', 'INVALID_CONTEXT', /^context must be a JSON object$/],
      ['{"context":{"targetingKey":7}}', 'INVALID_CONTEXT', /^context\.targetingKey must be a string$/],
      ['{"context":' + '['.repeat(100) + ']'.repeat(100) + '}', 'INVALID_CONTEXT', /maxJsonDepth = 64/],
      ['{"context":' + '['.repeat(100), 'INVALID_CONTEXT', /maxJsonDepth = 64/],
      ['{"context":{"n":1e400}}', 'INVALID_CONTEXT', /^context\.n: .*jsonNumberRange/],
    ];
    for (const [text, errorCode, message] of cases) {
      const first = refusal(conn, text);
      expect(first, text).toMatchObject({ status: 400, errorCode });
      expect(first.message, text).toMatch(message);
      expect(refusal(conn, text)).toEqual(first);
      expect(contextOf(buf(good), conn)).toBe(kept);
    }
  });

  it('a body over the length bound is parsed every time', () => {
    const conn = connection();
    const long = buf(`{"context":{"targetingKey":"${'x'.repeat(MAX_REMEMBERED_CONTEXT_CHARS)}"}}`);
    const a = contextOf(long, conn);
    expect(contextOf(long, conn)).not.toBe(a);
    expect(contextOf(long, conn).context).toEqual(a.context);
  });

  it('the bulk ETag hash is the hash of the canonical context, computed once', () => {
    const p = contextOf(buf('{"context":{"b":1,"a":"x"}}'), connection());
    expect(p.etagHash).toBeUndefined();
    expect(contextEtagHash(p)).toBe(shortHash(canonicalJson({ a: 'x', b: 1 })));
    expect(p.etagHash).toBe(contextEtagHash(p));
  });
});
