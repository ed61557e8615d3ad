// Generators for the dashboard fuzz suite (fuzz.e2e.test.ts): hostile
// paths, query strings, next= values, cookies, Origins and request bodies.
import fc from 'fast-check';
import { SESSION_COOKIE } from '~/server/session';


export const ADVERSARIAL_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__proto__.polluted', 'constructor.prototype.x', 'a.b.c', 'x[]', 'x.0', 'x.4294967294', '', ' ', '\u0000', 'é', '😀', 'key', 'json', 'revision', 'confirm', 'enabled', 'token', 'next', 'name', 'q', 'tag'];
/** encodeURIComponent for any string: a lone surrogate (which it refuses) becomes U+FFFD. */
export const enc = (s: string) => encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
export const adversarialText = fc.oneof(
  fc.constantFrom('', ' ', '..', '../..', '\r\n', '\n', '\u0000', '%', '%zz', '%E0%A4%A', '%0d%0a', '__proto__', 'constructor', 'toString', 'fz', '1e300', '-1', '9007199254740993', 'NaN', 'true', 'null', '{}', '[]', '{"__proto__":{"x":1}}', '\ud800', '<script>alert(1)</script>', '"><img src=x>', 'javascript:alert(1)'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer({ min: 1_000, max: 10_240 }).map((n) => 'x'.repeat(n)),
);
export const PATH_SEGMENTS = ['..', '.', '%2e%2e', '%2E%2e', '%2e', '', '%', '%zz', '%E0%A4%A', '%00', '%0d%0a', '%0a', '%09', '%5c', '\\', '%2F', '%2f%2fevil.example', 'q-data.json', 'build', 'flags', 'segments', 'history', 'new', 'login', 'logout', 'cluster', 'health', 'live', 'fz', 'fz-seg', 'constructor', '__proto__', 'toString', '@evil.example', 'evil.example', '127.0.0.1:9999', 'favicon.svg', 'robots.txt', 'q-xyz.js', 'service-worker.js'];
export const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PATH_SEGMENTS) },
  // Bytes that are not allowed in a request target: Node's parser must answer 400, not fall over.
  { weight: 1, arbitrary: fc.constantFrom('\r\n', '\n', '\r', '\u0000', ' ', '\t', '\u007f', '#', '?', '\r\nX-Injected: 1') },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }).map(enc) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 10_240 }).map((n) => 'a'.repeat(n)) },
);
export const QUERY_NAMES = ['next', 'q', 'tag', 'page', 'pageSize', 'sort', 'created', 'deleted', 'qaction', 'qfunc', 'qdata', 'since', 'x'];
export const query = fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), fc.oneof(adversarialText.map(enc), adversarialText)), { maxLength: 3 });
export const target = fc
  .tuple(fc.constantFrom('/', '//', '/flags/', '/flags/fz/', '/flags/fz/history/', '/segments/', '/login/', '/logout/', '/cluster/', '/health/', '/build/', '/\\'), fc.array(segment, { maxLength: 4 }), query, fc.boolean())
  .map(([base, segs, q, slash]) => base + segs.join('/') + (slash ? '/' : '') + (q.length ? '?' + q.map(([k, v]) => `${k}=${v}`).join('&') : ''));
/** Which session a request carries: none, the fuzzer's own, or a forged/garbage one. */
export const cookieArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constant('own') },
  fc.constantFrom(`${SESSION_COOKIE}=`, `${SESSION_COOKIE}=%`, `${SESSION_COOKIE}=${'A'.repeat(5000)}`, `${SESSION_COOKIE}=a; ${SESSION_COOKIE}=b`, '__proto__=1; constructor=2'),
  fc.string({ maxLength: 60 }).map((s) => `${SESSION_COOKIE}=${s.replace(/[\r\n;]/g, '')}`),
);

export const NEXT_VALUES = [
  '/\t/127.0.0.1:9999/pwned', '/\n/evil.example', '/\r\n/evil.example', '//evil.example', '///evil.example', '/\\evil.example', '\\\\evil.example', '/\\/evil.example',
  'https://evil.example/', 'http:evil.example', 'http:/evil.example', '//evil.example@x', '/@evil.example', ' //evil.example', '/%2F%2Fevil.example', '/%5Cevil.example',
  '/..//evil.example', '/.//evil.example', '/flags/..//evil.example', '/./\\evil.example', 'javascript:alert(1)', '/\u0000x', '/\u2028x', '/\uff0f\uff0fevil.example',
  '/%0a/x', '/%09/x', '/segments?x=1', '/flags#frag', '', '/', 'flags', '/' + 'a'.repeat(3000),
];
export const nextArb = fc.oneof(
  fc.constantFrom(...NEXT_VALUES),
  fc.tuple(fc.constantFrom('/', '//', '/\\', '\\', '/%2f', 'https:', ''), fc.constantFrom('evil.example', '127.0.0.1:9999', 'flags'), fc.string({ maxLength: 10 })).map((p) => p.join('')),
  fc.string({ maxLength: 40 }).map((s) => '/' + s),
  fc.webUrl(),
);

export const flagDoc = fc.record({
  key: fc.oneof(fc.constantFrom('fz', 'constructor', '__proto__', 'fz-new'), adversarialText),
  type: fc.constantFrom('boolean', 'string', 'object', 'number', 'x'),
  variants: fc.oneof(fc.constant({ on: true, off: false }), fc.dictionary(fc.constantFrom(...ADVERSARIAL_NAMES), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), fc.jsonValue({ maxDepth: 2 })),
  defaultVariant: fc.oneof(fc.constantFrom('on', 'constructor', '__proto__'), adversarialText),
  enabled: fc.jsonValue({ maxDepth: 1 }),
  rules: fc.oneof(fc.constant([]), fc.jsonValue({ maxDepth: 3 })),
});
export const fieldValue = fc.oneof(adversarialText, flagDoc.map((d) => JSON.stringify(d)), fc.json({ maxDepth: 3 }));
/** Nesting past MAX_JSON_DEPTH (64), up to the body limit: `[[[…]]]` or `{"a":{"a":…1}}`. */
export const deepJson = fc
  .tuple(fc.integer({ min: 65, max: 150_000 }), fc.boolean())
  .map(([n, arrays]) => (arrays ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n)));
/** A body and its content type, as sent to an action or a server$ call. */
export const bodyArb: fc.Arbitrary<{ type: string | undefined; body: string | Uint8Array }> = fc.oneof(
  fc.dictionary(fc.oneof(fc.constantFrom(...ADVERSARIAL_NAMES), fc.string({ maxLength: 12 })), fieldValue, { maxKeys: 6 }).map((d) => ({
    type: 'application/x-www-form-urlencoded',
    body: new URLSearchParams(Object.entries(d)).toString(),
  })),
  fc.dictionary(fc.constantFrom(...ADVERSARIAL_NAMES), fieldValue, { maxKeys: 4 }).map((d) => ({ type: 'application/json', body: JSON.stringify(d) })),
  fc.jsonValue({ maxDepth: 4 }).map((v) => ({ type: 'application/json', body: JSON.stringify(v) })),
  fc.tuple(deepJson, fc.constantFrom('application/json', 'application/qwik-json')).map(([body, type]) => ({ type, body })),
  fc.constantFrom('{', '{"a":', '[1,', '1e400', '{"a":1e400}', '"\ud800"', '\u0000', 'a=%zz&b=%', 'json=%E0%A4%A').chain((body) =>
    fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'application/qwik-json', 'text/plain').map((type) => ({ type, body })),
  ),
  fc.tuple(fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', '', 'application/qwik-json'), fc.string({ maxLength: 200 })).map(([type, body]) => ({
    type: type || undefined,
    body,
  })),
  fc.dictionary(fc.constantFrom(...ADVERSARIAL_NAMES), fieldValue, { maxKeys: 4 }).map((d) => {
    // A well-formed multipart body with adversarial field names.
    const boundary = 'fuzzb0undary';
    const parts = Object.entries(d).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k.replace(/["\r\n]/g, '')}"\r\n\r\n${v}\r\n`);
    return { type: `multipart/form-data; boundary=${boundary}`, body: parts.join('') + `--${boundary}--\r\n` };
  }),
);
export const originArb = fc.oneof({ weight: 6, arbitrary: fc.constant('ours') }, { weight: 1, arbitrary: fc.constantFrom(undefined, 'null', 'https://evil.example', 'http://127.0.0.1', 'http://127.0.0.1:1') });
