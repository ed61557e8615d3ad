// Fuzzing the dashboard over real HTTP (issue 12): generated hostile input at
// its pages, its sign-in `next=`, its actions and server$ calls, against the
// built dashboard process on the real stack (gateway, relay; the gateway over
// testkit's in-memory cluster: nothing here needs node processes). Requests
// are written byte for byte (raw-http.ts), so "..", CR/LF, NUL and bad
// percent-encoding reach the server as sent.
//
// Properties, for every answer (pages, actions, server$ calls, /live
// upgrades): no 5xx (503 only when the gateway is out of
// reach, which it is not here, so none at all), no cut-off answer, no
// redirect off our origin, and nothing of another user in it (no token of
// anyone, not the other user's session cookie or session id). State-changing
// requests from another Origin, or without a session, are always refused.
// After each property the process is alive, /health answers, and the
// dashboard logged no request as failed.
//
// Seeded and bounded: FUZZ_SEED (default: random, printed) and FUZZ_PATH replay
// a failure exactly; FUZZ_MS bounds each property's time (default 10 s) and
// FUZZ_RUNS its runs (default 1500), whichever ends first.
import { randomInt } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE, unsealSession } from '~/server/session';
import { actionIds, signInCookie } from './hostile';
import { rawRequest, type RawRequest, type RawResponse } from './raw-http';
import { bodyArb, cookieArb, enc, fieldValue, nextArb, originArb, target } from './fuzz-inputs';
import { APP_DIR, FEED_TOKEN, startStack, TOKENS, type Stack } from './stack';

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
  // Warnings are what hostile input is expected to cause (refused sign-ins, sockets closed at once); errors are shown.
  const log = (m: string) => m.includes('"level":"warn"') || process.stderr.write(m + '\n');
  stack = await startStack({ log, dashboardEnv: { FLAGRAFT_DASHBOARD_COOKIE_SECRET: COOKIE_SECRET }, memoryCluster: true });
  host = new URL(stack.dashboardUrl).hostname;
  port = Number(new URL(stack.dashboardUrl).port);
  for (const key of ['fz', 'constructor']) {
    const put = await stack.api('PUT', `/api/v1/flags/${key}`, { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true });
    expect(put.status).toBeLessThan(300);
  }
  expect((await stack.api('PUT', '/api/v1/segments/fz-seg', { name: 'fz-seg', conditions: [] })).status).toBeLessThan(300);
  // A second environment where fz differs: the promotion page then has its form (and action) to fuzz.
  expect((await stack.api('POST', '/api/v1/environments', { name: 'fz-env' })).status).toBeLessThan(300);
  expect((await stack.api('PATCH', '/api/v1/flags/fz?environment=fz-env', { enabled: false })).status).toBe(200);
  const v = await signInCookie(stack.dashboardUrl, TOKENS.admin);
  victim = { cookie: v.cookie.slice(SESSION_COOKIE.length + 1), sid: unsealSession(v.cookie.slice(SESSION_COOKIE.length + 1), COOKIE_SECRET)!.sid };
  attacker = (await signInCookie(stack.dashboardUrl, TOKENS.editor)).cookie;
  expect(victim.sid).toBeTruthy();
  forbidden = [...Object.values(TOKENS), FEED_TOKEN, victim.cookie, victim.sid];
  for (const id of await actionIds(stack.dashboardUrl, '/login')) actions.push({ page: '/login', id });
  for (const page of ['/flags', '/flags/new', '/flags/fz', '/segments/new', '/segments/fz-seg', '/cluster']) {
    for (const id of await actionIds(stack.dashboardUrl, page, attacker)) actions.push({ page, id });
  }
  const promoteActions = await actionIds(stack.dashboardUrl, '/promote?from=fz-env', attacker);
  expect(promoteActions.length, 'the promotion page has its form').toBeGreaterThan(0);
  for (const id of promoteActions) actions.push({ page: '/promote', id });
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
  const logsBefore = stack.dashboardLogs.length;
  const out = await fc.check(property, { seed: SEED, path: PATH, numRuns: RUNS, interruptAfterTimeLimit: TIME_MS, endOnFailure: false });
  if (out.failed) {
    throw new Error(`fuzz "${name}" failed; replay with FUZZ_SEED=${out.seed} FUZZ_PATH=${out.counterexamplePath} pnpm exec vitest run --project e2e fuzz -t "${name}"\n${fc.defaultReportMessage(out)}\n${String((out.errorInstance as Error)?.message ?? out.errorInstance)}`);
  }
  const seen = [...statuses].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(' ');
  process.stderr.write(`fuzz "${name}": ${out.numRuns} runs${out.interrupted ? ` (stopped at ${TIME_MS} ms)` : ''}; statuses ${seen}\n`);
  expect(out.numRuns).toBeGreaterThan(0);
  await alive();
  // The server's own view: no request it logged as failed (an internal error behind an answer that looked fine).
  const failed = stack.dashboardLogs.slice(logsBefore).filter((l) => l.includes('"msg":"request failed"') || l.includes('"level":"fatal"'));
  expect(failed.map((l) => l.slice(0, 400)), `fuzz "${name}" (FUZZ_SEED=${SEED}): requests the dashboard logged as failed`).toEqual([]);
}

function cookieHeader(c: string | undefined): [string, string][] {
  if (c === undefined) return [];
  return [['Cookie', c === 'own' ? attacker : c]];
}

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

  it('server$ calls in Qwik\'s own serialisation: our functions with hostile arguments, client symbols, unknown symbols', async () => {
    // Client symbols are in the manifest's mapping; the server$ stubs are the other `s_<hash>` names in the client chunks.
    const manifest = JSON.parse(readFileSync(join(APP_DIR, 'dist/q-manifest.json'), 'utf8')) as { mapping: Record<string, string> };
    const client = Object.keys(manifest.mapping).map((n) => n.slice(2));
    const named = new Set<string>();
    for (const f of readdirSync(join(APP_DIR, 'dist/build'))) {
      if (f.endsWith('.js')) for (const m of readFileSync(join(APP_DIR, 'dist/build', f), 'utf8').matchAll(/"s_([A-Za-z0-9_-]{6,})"/g)) named.add(m[1]);
    }
    const serverFns = [...named].filter((h) => !manifest.mapping[`s_${h}`]);
    expect(serverFns.length, 'the editor validation and the cluster refresh').toBeGreaterThanOrEqual(2);
    const hashArb = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...serverFns).map((h) => ({ h, kind: 'server' as const })) },
      { weight: 1, arbitrary: fc.constantFrom(...client).map((h) => ({ h, kind: 'client' as const })) },
      { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9]{11}$/).map((h) => ({ h, kind: 'unknown' as const })) },
    );
    const argArb = fc.oneof(fieldValue, fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.constantFrom('\u0001', '\u0002_#s_x', '\u0012', '\u0005', ''));
    await fuzz(
      'server$ (serialised)',
      fc.asyncProperty(hashArb, argArb, fc.constantFrom('/flags/new', '/cluster', '/flags/fz'), async ({ h, kind }, arg, page) => {
        const body = JSON.stringify({ _entry: '2', _objs: [`\u0002_#s_${h}`, arg, ['0', '1']] });
        const r = await send({
          method: 'POST',
          target: `${page}?qfunc=${h}`,
          headers: [...cookieHeader('own'), ['Origin', stack.dashboardUrl], ['Content-Type', 'application/qwik-json'], ['X-QRL', h]],
          body,
        });
        const what = `server$ ${kind} ${h} on ${page} arg=${JSON.stringify(arg.slice(0, 200))}`;
        checkAnswer(what, r);
        if (kind === 'client') expect(r.status, what).toBe(400);
      }),
    );
  });

  it('/live upgrades: a WebSocket opens only with our Origin and a live session', async () => {
    const livePath = fc.oneof(
      { weight: 3, arbitrary: fc.constant('/live') },
      { weight: 2, arbitrary: fc.oneof(fc.constantFrom('1', '0', '-1', '1e3', '99999999999999999', '', '%zz', '__proto__'), fc.string({ maxLength: 20 }).map(enc)).map((v) => `/live?since=${v}`) },
      { weight: 1, arbitrary: fc.constantFrom('/live/', '/LIVE', '//live', '/live/..', '/./live', '/live%00', '/live%2F', '/ws', '/flags', '/live#x', '/live?since=1&since=2') },
    );
    const key = fc.oneof({ weight: 4, arbitrary: fc.constant('dGhlIHNhbXBsZSBub25jZQ==') }, { weight: 1, arbitrary: fc.constantFrom('', 'short', 'x'.repeat(300)) });
    await fuzz(
      '/live',
      fc.asyncProperty(livePath, originArb, cookieArb, key, fc.constantFrom('13', '8', ''), async (path, origin, cookie, wsKey, version) => {
        const headers = cookieHeader(cookie);
        headers.push(['Upgrade', 'websocket'], ['Sec-WebSocket-Key', wsKey], ['Sec-WebSocket-Version', version]);
        if (origin !== undefined) headers.push(['Origin', origin === 'ours' ? stack.dashboardUrl : origin]);
        const r = await send({ method: 'GET', target: path, headers, upgrade: true });
        const what = `upgrade ${path} origin=${origin} cookie=${cookie === 'own' ? 'own' : JSON.stringify(cookie?.slice(0, 60))} key=${wsKey.slice(0, 20)} v=${version}`;
        checkAnswer(what, r);
        if (r.status === 101) {
          expect(origin, `${what}: opened for another Origin`).toBe('ours');
          expect(cookie, `${what}: opened without a session`).toBe('own');
        }
      }),
    );
  });

  it('afterwards: the dashboard still serves the other user, whose session still works', async () => {
    await alive();
    const r = await send({ method: 'GET', target: '/flags', headers: [['Cookie', `${SESSION_COOKIE}=${victim.cookie}`]] });
    expect(r.status).toBe(200);
    expect(r.body).toContain('<h1');
  });
});
