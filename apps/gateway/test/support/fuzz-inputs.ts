// Generated inputs for test/fuzz.test.ts (fast-check arbitraries): routes,
// credentials in every form, hostile keys and JSON, and writes that often
// get through (so the read-back property has something to read).
import fc from 'fast-check';
import type { Role } from '@flagraft/auth';
import { boolFlag, TOKENS } from './harness.js';

/** A token-shaped string no store knows: a wrong credential must not be echoed either. */
export const WRONG_TOKEN = 'tok-wrong-4d1e8b27c9';
/** Every string no answer may contain. */
export const SECRETS = [...Object.values(TOKENS), WRONG_TOKEN];

export const METHODS = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
export const ROUTES = [
  '/api/v1/flags',
  '/api/v1/flags/fz',
  '/api/v1/flags/fz/history',
  '/api/v1/segments',
  '/api/v1/segments/fz-seg',
  '/api/v1/batch',
  '/api/v1/cluster',
  '/api/v1/cluster/members',
  '/api/v1/cluster/leader',
  '/set',
  '/api/v1/flags/set',
  '/get/fz',
  '/api/v1/flags/all',
  '/ofrep/v1/evaluate/flags/fz',
  '/ofrep/v1/evaluate/flags',
  '/api/v1/evaluation-counts',
  '/api/v1/stream-tickets',
];
export const gateway = fc.nat(1);

/** Who calls, and how the credential is written: every role, no token, a wrong one, malformed headers. */
export type Who = Role | 'wrong' | 'none';
export const credentials = fc.record({
  who: fc.constantFrom<Who>('admin', 'admin', 'editor', 'editor', 'reader', 'evaluator', 'wrong', 'none'),
  how: fc.constantFrom('bearer', 'bearer', 'x-api-key', 'lowercase-bearer', 'bare', 'basic'),
});
export function credentialHeaders(c: { who: Who; how: string }): Record<string, string> {
  if (c.who === 'none') return {};
  const t = c.who === 'wrong' ? WRONG_TOKEN : TOKENS[c.who];
  switch (c.how) {
    case 'x-api-key': return { 'x-api-key': t };
    case 'lowercase-bearer': return { authorization: `bearer ${t}` };
    case 'bare': return { authorization: t };
    case 'basic': return { authorization: `Basic ${Buffer.from(`${t}:${t}`).toString('base64')}` };
    default: return { authorization: `Bearer ${t}` };
  }
}
export const admin = { authorization: `Bearer ${TOKENS.admin}` };

export const printable = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~'.split('')), maxLength: 60 });
/** Keys that break naive code: prototype names, control characters, dots, unicode, the length limit and one past it. */
const hostileKey = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('fz', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'a..b', '..', 'k:1.2-3', 'ü-🚩', 'k\r\nx', 'k\u0000', 'x'.repeat(128), 'x'.repeat(129), 'y'.repeat(10_000)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const segmentName = fc.constantFrom('fz-seg', 'constructor', 'toString', '__proto__', 's..t', 'seg:1', 'ü');
export const jsonish = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
  printable,
  fc.constant(''),
  fc.constant('{"key":'),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ key: 'fz', type: 'boolean', variants: v, defaultVariant: 'on', enabled: true, rules: [] })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ ops: [v] })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ context: v })),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify([{ op: 'replace', path: '/rules/0', value: v }])),
  fc.integer({ min: 60, max: 5_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.constantFrom('{"expectedRevision":1e300}', '{"n":-1e400}', '{"a":9007199254740993}', '"\\ud800"', '{"a":"\\u0000"}'),
);
export const contentTypes = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/merge-patch+json',
  'application/json-patch+json',
  'text/plain',
  'application/json; charset=latin-9',
  'application/x-www-form-urlencoded',
  '',
);

/** A flag definition that is often valid, sometimes not (a missing segment, a hostile metadata key). */
const flagDefinition = (key: string) =>
  fc.record({
    enabled: fc.boolean(),
    description: fc.string({ maxLength: 40 }),
    metadata: fc.dictionary(fc.oneof({ weight: 6, arbitrary: fc.constantFrom('team', 'constructor', '__proto__', 'toString') }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean()), { maxKeys: 3 }),
    segment: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: segmentName }),
    attribute: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('country', 'constructor', '__proto__', 'a.b') }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }),
  }).map((d) => ({
    ...boolFlag(key),
    enabled: d.enabled,
    description: d.description,
    metadata: d.metadata,
    rules: [{ conditions: [{ attribute: d.attribute, op: 'equals', value: 'x' }], ...(d.segment ? { segments: [d.segment] } : {}), variant: 'on' }],
  }));

export interface Write {
  method: string;
  path: string;
  contentType: string;
  body?: unknown;
}
export const enc = encodeURIComponent;
const batchOp = fc.oneof(
  hostileKey.chain((k) => flagDefinition(k).map((flag) => ({ op: 'putFlag', flag }))),
  hostileKey.map((key) => ({ op: 'deleteFlag', key })),
  segmentName.map((name) => ({ op: 'putSegment', segment: { name, conditions: [{ attribute: 'plan', op: 'equals', value: 'pro' }] } })),
  segmentName.map((name) => ({ op: 'deleteSegment', name })),
);
export const write: fc.Arbitrary<Write> = fc.oneof(
  { weight: 4, arbitrary: hostileKey.chain((k) => flagDefinition(k).map((f) => ({ method: 'PUT', path: `/api/v1/flags/${enc(k)}`, contentType: 'application/json', body: f }))) },
  { weight: 2, arbitrary: fc.tuple(hostileKey, fc.boolean()).map(([k, on]) => ({ method: 'PATCH', path: `/api/v1/flags/${enc(k)}`, contentType: 'application/merge-patch+json', body: { enabled: on } })) },
  { weight: 1, arbitrary: fc.tuple(hostileKey, fc.string({ maxLength: 20 })).map(([k, d]) => ({ method: 'PATCH', path: `/api/v1/flags/${enc(k)}`, contentType: 'application/json-patch+json', body: [{ op: 'add', path: '/description', value: d }] })) },
  { weight: 2, arbitrary: hostileKey.map((k) => ({ method: 'DELETE', path: `/api/v1/flags/${enc(k)}`, contentType: '' })) },
  { weight: 2, arbitrary: segmentName.map((n) => ({ method: 'PUT', path: `/api/v1/segments/${enc(n)}`, contentType: 'application/json', body: { conditions: [{ attribute: 'plan', op: 'equals', value: 'pro' }] } })) },
  { weight: 1, arbitrary: segmentName.map((n) => ({ method: 'DELETE', path: `/api/v1/segments/${enc(n)}`, contentType: '' })) },
  { weight: 2, arbitrary: fc.array(batchOp, { minLength: 1, maxLength: 4 }).map((ops) => ({ method: 'POST', path: '/api/v1/batch', contentType: 'application/json', body: { ops } })) },
  { weight: 1, arbitrary: fc.tuple(hostileKey, fc.boolean(), fc.constantFrom('/set', '/api/v1/flags/set')).map(([key, value, path]) => ({ method: 'POST', path, contentType: 'application/json', body: { key, value } })) },
);
/** How the body travels: as is mostly; gzip, cut short or mislabelled sometimes. */
export const mangling = fc.oneof({ weight: 8, arbitrary: fc.constant('none') }, { weight: 1, arbitrary: fc.constantFrom('gzip', 'truncate', 'text/plain') });
/** Mostly none (a precondition that fails refuses the write); sometimes the newest revision, sometimes nonsense. */
export const preconditions = fc.record({
  ifMatch: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant('LAST') }, { weight: 1, arbitrary: fc.constantFrom('*', '"1"', '"999999999"', 'W/"1"', 'garbage') }),
  ifNoneMatch: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('*', 'LAST') }),
});
/** Writers mostly, so that writes get through; every other caller and credential form too. */
export const writeCredentials = fc.record({
  who: fc.oneof({ weight: 6, arbitrary: fc.constantFrom<Who>('admin', 'editor') }, { weight: 1, arbitrary: fc.constantFrom<Who>('reader', 'evaluator', 'wrong', 'none') }),
  how: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('bearer', 'x-api-key') }, { weight: 1, arbitrary: fc.constantFrom('lowercase-bearer', 'bare', 'basic') }),
});

/** Cluster membership by id: removing or promoting the test cluster's own voters is not input handling under test. */
export const isMembershipChange = (method: string, pathname: string) => method !== 'GET' && /^\/api\/v1\/cluster\/members\/[^/]+/.test(pathname);
