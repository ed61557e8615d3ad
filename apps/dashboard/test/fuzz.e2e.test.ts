// Fuzzing the dashboard over real HTTP (issue 12): generated hostile input at
// its pages, its sign-in `next=`, its actions and server$ calls, against the
// built dashboard process on the real stack (cluster, gateway, relay). Requests
// are written byte for byte (raw-http.ts), so "..", CR/LF, NUL and bad
// percent-encoding reach the server as sent.
//
// Properties, for every answer: no 5xx (503 only when the gateway is out of
// reach, which it is not here, so none at all), no cut-off answer, no
// redirect off our origin, and nothing of another user in it (no token of
// anyone, not the other user's session cookie or session id). State-changing
// requests from another Origin, or without a session, are always refused.
// After each property the process is alive and /health answers.
//
// Seeded and bounded: FUZZ_SEED (default: random, printed) and FUZZ_PATH replay
// a failure exactly; FUZZ_MS bounds each property's time (default 10 s) and
// FUZZ_RUNS its runs (default 1500), whichever ends first.
import { randomInt } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE, unsealSession } from '~/server/session';
import { actionIds, signInCookie } from './hostile';
import { rawRequest, type RawRequest, type RawResponse } from './raw-http';
import { FEED_TOKEN, startStack, TOKENS, type Stack } from './stack';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31 - 1);
const PATH = process.env.FUZZ_PATH || undefined;
const TIME_MS = Number(process.env.FUZZ_MS ?? 10_000);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const COOKIE_SECRET = 'fuzz-cookie-secret-' + 'x'.repeat(32);

let stack: Stack;
let host = '127.0.0.1';
let port = 0;
/** The other user (admin): signed in, never used by the fuzzer; nothing of theirs may show up. */
let victim = { cookie: '', sid: '' };
/** The fuzzer's own session (an editor, so actions get past the role checks to the parsing). */
let attacker = '';
/** qaction ids of every page with actions, and the pages they are on. */
let actions: { page: string; id: string }[] = [];
let forbidden: string[] = [];

beforeAll(async () => {
  process.stderr.write(`dashboard fuzz: FUZZ_SEED=${SEED}${PATH ? ` FUZZ_PATH=${PATH}` : ''} FUZZ_MS=${TIME_MS} FUZZ_RUNS=${RUNS}\n`);
  stack = await startStack({ log: (m) => process.stderr.write(m + '\n'), dashboardEnv: { FLAGRAFT_DASHBOARD_COOKIE_SECRET: COOKIE_SECRET } });
  host = new URL(stack.dashboardUrl).hostname;
  port = Number(new URL(stack.dashboardUrl).port);
  for (const key of ['fz', 'constructor']) {
    const put = await stack.api('PUT', `/api/v1/flags/${key}`, { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true });
    expect(put.status).toBeLessThan(300);
  }
  expect((await stack.api('PUT', '/api/v1/segments/fz-seg', { name: 'fz-seg', conditions: [] })).status).toBeLessThan(300);
  const v = await signInCookie(stack.dashboardUrl, TOKENS.admin);
  victim = { cookie: v.cookie.slice(SESSION_COOKIE.length + 1), sid: unsealSession(v.cookie.slice(SESSION_COOKIE.length + 1), COOKIE_SECRET)!.sid };
  attacker = (await signInCookie(stack.dashboardUrl, TOKENS.editor)).cookie;
  expect(victim.sid).toBeTruthy();
  forbidden = [...Object.values(TOKENS), FEED_TOKEN, victim.cookie, victim.sid];
  for (const id of await actionIds(stack.dashboardUrl, '/login')) actions.push({ page: '/login', id });
  for (const page of ['/flags', '/flags/new', '/flags/fz', '/segments/new', '/segments/fz-seg', '/cluster']) {
    for (const id of await actionIds(stack.dashboardUrl, page, attacker)) actions.push({ page, id });
  }
  expect(actions.length).toBeGreaterThan(3);
}, 240_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

async function send(req: RawRequest): Promise<RawResponse> {
  const r = await rawRequest(host, port, req);
  // The fuzzer signed itself out (POST /logout): sign in again, or the rest of the run tests only the no-session path.
  if (r.headers.get('location')?.startsWith('/login?signedOut') && req.headers?.some(([k, v]) => k === 'Cookie' && v === attacker)) {
    attacker = (await signInCookie(stack.dashboardUrl, TOKENS.editor)).cookie;
  }
  return r;
}

/** Answers seen per status in the current property, printed after it (what the inputs reached). */
let statuses = new Map<number, number>();

/** The checks every answer must pass; `what` says which request it was. */
function checkAnswer(what: string, r: RawResponse): void {
  statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  const where = `${what} -> ${r.status} ${r.body.slice(0, 300)}`;
  expect(r.status, where).toBeGreaterThanOrEqual(100);
  expect(r.status, where).toBeLessThan(500);
  expect(r.truncated, `cut-off answer: ${where}`).toBe(false);
  const all = r.body + '\n' + [...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
  for (const secret of forbidden) expect(all.includes(secret), `echoes a secret of another user: ${where}`).toBe(false);
  const location = r.headers.get('location');
  if (location !== undefined) {
    // Resolved the way a browser resolves it (the WHATWG parser strips tabs and newlines, reads \ as /).
    expect(new URL(location, stack.dashboardUrl).origin, `redirect off our origin (${location}): ${where}`).toBe(stack.dashboardUrl);
  }
}

async function alive(): Promise<void> {
  process.kill(stack.dashboardPid, 0); // throws if the process is gone
  const h = await send({ method: 'GET', target: '/health' });
  expect(h.status).toBe(200);
}

/** fc.check with the suite's seed and bounds; a failure names the seed and path that replay it. */
async function fuzz<Ts extends [unknown, ...unknown[]]>(name: string, property: fc.IAsyncPropertyWithHooks<Ts>): Promise<void> {
  statuses = new Map();
  const out = await fc.check(property, { seed: SEED, path: PATH, numRuns: RUNS, interruptAfterTimeLimit: TIME_MS, endOnFailure: false });
  if (out.failed) {
    throw new Error(`fuzz "${name}" failed; replay with FUZZ_SEED=${out.seed} FUZZ_PATH=${out.counterexamplePath} pnpm exec vitest run --project e2e fuzz -t "${name}"\n${fc.defaultReportMessage(out)}\n${String((out.errorInstance as Error)?.message ?? out.errorInstance)}`);
  }
  const seen = [...statuses].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(' ');
  process.stderr.write(`fuzz "${name}": ${out.numRuns} runs${out.interrupted ? ` (stopped at ${TIME_MS} ms)` : ''}; statuses ${seen}\n`);
  expect(out.numRuns).toBeGreaterThan(0);
  await alive();
}

// ---- generators ----

const ADVERSARIAL_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__proto__.polluted', 'constructor.prototype.x', 'a.b.c', 'x[]', 'x.0', 'x.4294967294', '', ' ', '\u0000', 'é', '😀', 'key', 'json', 'revision', 'confirm', 'enabled', 'token', 'next', 'name', 'q', 'tag'];
/** encodeURIComponent for any string: a lone surrogate (which it refuses) becomes U+FFFD. */
const enc = (s: string) => encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
const adversarialText = fc.oneof(
  fc.constantFrom('', ' ', '..', '../..', '\r\n', '\n', '\u0000', '%', '%zz', '%E0%A4%A', '%0d%0a', '__proto__', 'constructor', 'toString', 'fz', '1e300', '-1', '9007199254740993', 'NaN', 'true', 'null', '{}', '[]', '{"__proto__":{"x":1}}', '\ud800', '<script>alert(1)</script>', '"><img src=x>', 'javascript:alert(1)'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer({ min: 1_000, max: 10_240 }).map((n) => 'x'.repeat(n)),
);
const PATH_SEGMENTS = ['..', '.', '%2e%2e', '%2E%2e', '%2e', '', '%', '%zz', '%E0%A4%A', '%00', '%0d%0a', '%0a', '%09', '%5c', '\\', '%2F', '%2f%2fevil.example', 'q-data.json', 'build', 'flags', 'segments', 'history', 'new', 'login', 'logout', 'cluster', 'health', 'live', 'fz', 'fz-seg', 'constructor', '__proto__', 'toString', '@evil.example', 'evil.example', '127.0.0.1:9999', 'favicon.svg', 'robots.txt', 'q-xyz.js', 'service-worker.js'];
const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PATH_SEGMENTS) },
  // Bytes that are not allowed in a request target: Node's parser must answer 400, not fall over.
  { weight: 1, arbitrary: fc.constantFrom('\r\n', '\n', '\r', '\u0000', ' ', '\t', '\u007f', '#', '?', '\r\nX-Injected: 1') },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }).map(enc) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 10_240 }).map((n) => 'a'.repeat(n)) },
);
const QUERY_NAMES = ['next', 'q', 'tag', 'page', 'pageSize', 'sort', 'created', 'deleted', 'qaction', 'qfunc', 'qdata', 'since', 'x'];
const query = fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), fc.oneof(adversarialText.map(enc), adversarialText)), { maxLength: 3 });
const target = fc
  .tuple(fc.constantFrom('/', '//', '/flags/', '/flags/fz/', '/flags/fz/history/', '/segments/', '/login/', '/logout/', '/cluster/', '/health/', '/build/', '/\\'), fc.array(segment, { maxLength: 4 }), query, fc.boolean())
  .map(([base, segs, q, slash]) => base + segs.join('/') + (slash ? '/' : '') + (q.length ? '?' + q.map(([k, v]) => `${k}=${v}`).join('&') : ''));
/** Which session a request carries: none, the fuzzer's own, or a forged/garbage one. */
const cookieArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constant('own') },
  fc.constantFrom(`${SESSION_COOKIE}=`, `${SESSION_COOKIE}=%`, `${SESSION_COOKIE}=${'A'.repeat(5000)}`, `${SESSION_COOKIE}=a; ${SESSION_COOKIE}=b`, '__proto__=1; constructor=2'),
  fc.string({ maxLength: 60 }).map((s) => `${SESSION_COOKIE}=${s.replace(/[\r\n;]/g, '')}`),
);
function cookieHeader(c: string | undefined): [string, string][] {
  if (c === undefined) return [];
  return [['Cookie', c === 'own' ? attacker : c]];
}

const NEXT_VALUES = [
  '/\t/127.0.0.1:9999/pwned', '/\n/evil.example', '/\r\n/evil.example', '//evil.example', '///evil.example', '/\\evil.example', '\\\\evil.example', '/\\/evil.example',
  'https://evil.example/', 'http:evil.example', 'http:/evil.example', '//evil.example@x', '/@evil.example', ' //evil.example', '/%2F%2Fevil.example', '/%5Cevil.example',
  '/..//evil.example', '/.//evil.example', '/flags/..//evil.example', '/./\\evil.example', 'javascript:alert(1)', '/\u0000x', '/\u2028x', '/\uff0f\uff0fevil.example',
  '/%0a/x', '/%09/x', '/segments?x=1', '/flags#frag', '', '/', 'flags', '/' + 'a'.repeat(3000),
];
const nextArb = fc.oneof(
  fc.constantFrom(...NEXT_VALUES),
  fc.tuple(fc.constantFrom('/', '//', '/\\', '\\', '/%2f', 'https:', ''), fc.constantFrom('evil.example', '127.0.0.1:9999', 'flags'), fc.string({ maxLength: 10 })).map((p) => p.join('')),
  fc.string({ maxLength: 40 }).map((s) => '/' + s),
  fc.webUrl(),
);

const flagDoc = fc.record({
  key: fc.oneof(fc.constantFrom('fz', 'constructor', '__proto__', 'fz-new'), adversarialText),
  type: fc.constantFrom('boolean', 'string', 'object', 'number', 'x'),
  variants: fc.oneof(fc.constant({ on: true, off: false }), fc.dictionary(fc.constantFrom(...ADVERSARIAL_NAMES), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), fc.jsonValue({ maxDepth: 2 })),
  defaultVariant: fc.oneof(fc.constantFrom('on', 'constructor', '__proto__'), adversarialText),
  enabled: fc.jsonValue({ maxDepth: 1 }),
  rules: fc.oneof(fc.constant([]), fc.jsonValue({ maxDepth: 3 })),
});
const fieldValue = fc.oneof(adversarialText, flagDoc.map((d) => JSON.stringify(d)), fc.json({ maxDepth: 3 }));
/** Nesting past MAX_JSON_DEPTH (64), up to the body limit: `[[[…]]]` or `{"a":{"a":…1}}`. */
const deepJson = fc
  .tuple(fc.integer({ min: 65, max: 150_000 }), fc.boolean())
  .map(([n, arrays]) => (arrays ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n)));
/** A body and its content type, as sent to an action or a server$ call. */
const bodyArb: fc.Arbitrary<{ type: string | undefined; body: string | Uint8Array }> = fc.oneof(
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
const originArb = fc.oneof({ weight: 6, arbitrary: fc.constant('ours') }, { weight: 1, arbitrary: fc.constantFrom(undefined, 'null', 'https://evil.example', 'http://127.0.0.1', 'http://127.0.0.1:1') });

// ---- properties ----

describe('dashboard fuzz (issue 12): hostile input over HTTP never takes it down or leaks', () => {
  it('paths: .., CR/LF, NUL, bad percent-encoding, 10 KB segments, odd queries; any session', async () => {
    await fuzz(
      'paths',
      fc.asyncProperty(fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'OPTIONS', 'POST', 'DELETE'), target, cookieArb, async (method, t, cookie) => {
        const headers = cookieHeader(cookie);
        if (method !== 'GET' && method !== 'HEAD') headers.push(['Origin', stack.dashboardUrl]);
        const r = await send({ method, target: t, headers, body: method === 'POST' ? '' : undefined });
        checkAnswer(`${method} ${JSON.stringify(t.slice(0, 300))}`, r);
      }),
    );
  });

  it('next=: GET /login?next= with and without a session, and sign-in posts, never redirect off our origin', async () => {
    const [loginAction] = actions.filter((a) => a.page === '/login').map((a) => a.id);
    expect(loginAction).toBeTruthy();
    await fuzz(
      'next',
      fc.asyncProperty(nextArb, fc.boolean(), fc.constantFrom('get', 'get-session', 'post-reader', 'post-wrong'), async (next, encode, how) => {
        const n = encode ? enc(next) : next;
        if (how.startsWith('get')) {
          const r = await send({ method: 'GET', target: `/login?next=${n}`, headers: how === 'get-session' ? cookieHeader('own') : [] });
          checkAnswer(`GET /login?next=${JSON.stringify(n)} (${how})`, r);
          return;
        }
        const token = how === 'post-reader' ? TOKENS.reader : 'not-a-token';
        const r = await send({
          method: 'POST',
          target: `/login?qaction=${loginAction}`,
          headers: [['Origin', stack.dashboardUrl], ['Content-Type', 'application/x-www-form-urlencoded']],
          body: new URLSearchParams({ token, next }).toString(),
        });
        checkAnswer(`sign-in next=${JSON.stringify(next)} (${how})`, r);
        if (how === 'post-reader') expect(r.status, `sign-in answered ${r.status}`).toBe(303);
        else expect([400, 401, 403, 429], `wrong token answered ${r.status}`).toContain(r.status);
      }),
    );
  });

  it('actions: form, multipart and JSON posts with adversarial fields, deep JSON, wrong content types, no session, wrong Origin', async () => {
    await fuzz(
      'actions',
      fc.asyncProperty(
        fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...actions) }, { weight: 1, arbitrary: fc.record({ page: fc.constantFrom('/flags', '/flags/fz', '/login'), id: fc.string({ maxLength: 20 }).map(enc) }) }),
        bodyArb,
        originArb,
        cookieArb,
        async (action, { type, body }, origin, cookie) => {
          const headers = cookieHeader(cookie);
          if (origin !== undefined) headers.push(['Origin', origin === 'ours' ? stack.dashboardUrl : origin]);
          if (type !== undefined) headers.push(['Content-Type', type]);
          const r = await send({ method: 'POST', target: `${action.page}?qaction=${action.id}`, headers, body });
          const what = `POST ${action.page}?qaction=${action.id} ${type} origin=${origin} cookie=${cookie === 'own' ? 'own' : JSON.stringify(cookie?.slice(0, 60))} body=${JSON.stringify(String(body).slice(0, 200))}`;
          checkAnswer(what, r);
          if (origin !== 'ours') expect(r.status, `${what}: another Origin must be refused`).toBe(403);
          else if (cookie !== 'own' && action.page !== '/login') expect(r.status, `${what}: no session must be refused`).toBe(401);
        },
      ),
    );
  });

  it('server$ calls: garbage Qwik serialisation, wrong ids, deep arrays', async () => {
    await fuzz(
      'server$',
      fc.asyncProperty(
        fc.constantFrom('/flags/new', '/flags/fz', '/segments/new', '/flags'),
        fc.oneof(fc.string({ maxLength: 16 }).map(enc), fc.constantFrom('', 'x', '__proto__', 'constructor')),
        fc.boolean(),
        bodyArb,
        cookieArb,
        async (page, qfunc, sameHeader, { body }, cookie) => {
          const headers = cookieHeader(cookie);
          headers.push(['Origin', stack.dashboardUrl], ['Content-Type', 'application/qwik-json']);
          headers.push(['X-QRL', sameHeader ? qfunc : 'other']);
          const r = await send({ method: 'POST', target: `${page}?qfunc=${qfunc}`, headers, body });
          checkAnswer(`server$ POST ${page}?qfunc=${qfunc} cookie=${String(cookie).slice(0, 40)} body=${JSON.stringify(String(body).slice(0, 200))}`, r);
        },
      ),
    );
  });

  it('afterwards: the dashboard still serves the other user, whose session still works', async () => {
    await alive();
    const r = await send({ method: 'GET', target: '/flags', headers: [['Cookie', `${SESSION_COOKIE}=${victim.cookie}`]] });
    expect(r.status).toBe(200);
    expect(r.body).toContain('<h1');
  });
});
