// A seeded, time-bounded fuzz of the relay's WebSocket side (issue 12):
// generated sessions (every way of authenticating, or not, with valid,
// invalid, revoked and under-privileged tokens) send generated hostile frames
// (adversarial keys, deep and wide JSON, huge numbers, binary frames,
// oversized frames, bad UTF-8) to a real relay fed by the fauxqs emulator.
// After every session: nothing crashed (an exception in the relay fails the
// run), a client that never authenticated got nothing but its refusal, no
// frame quoted a token, and a real change still reaches a reader that has
// been connected throughout.
//
//   FLAGRAFT_FUZZ_SEED=<n>  replay a run (the seed is printed when one fails)
//   FLAGRAFT_FUZZ_MS=<ms>   time budget (default FUZZ_DEFAULT_MS)
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenStore, hashToken, type TokenStore } from '@flagraft/auth';
import { connect, ev, publish, startEmulator, startRelay, upgradeStatus, waitFor, type RelayFixture, type TestClient } from './helpers.js';

/** Time budget of the fuzz run, ms (no session starts after it; shrinking a failure may add to it). */
const FUZZ_DEFAULT_MS = 20_000;
/** At most this many sessions per run. */
const FUZZ_MAX_RUNS = 400;
/** The relay's frame limit in this test, bytes (RelayConfig.maxClientMessageBytes). */
const MAX_FRAME_BYTES = 4096;
/** How long the end of a session may take (its pong, close or auth timeout), ms. */
const SESSION_END_TIMEOUT_MS = 5_000;

const SEED = Number(process.env.FLAGRAFT_FUZZ_SEED ?? Date.now() % 2_147_483_647);
const BUDGET_MS = Number(process.env.FLAGRAFT_FUZZ_MS ?? FUZZ_DEFAULT_MS);

const TOKENS = {
  reader: 'fz_reader_3f9c1a7e55d2b08c', admin: 'fz_admin_a61b0e9d7c44f213', evaluator: 'fz_eval_0c7d2e98ab13f466', revoked: 'fz_revoked_5e1f8a2c9d07b3b4',
};
const SECRETS = Object.values(TOKENS);
const entry = (name: string, role: 'reader' | 'admin' | 'evaluator', token: string) => ({ name, role, sha256: hashToken(token) });
// The live store is swapped as a reload of the tokens file swaps it: `revoked` was valid and is gone.
let store = createTokenStore([entry('rita', 'reader', TOKENS.reader), entry('ada', 'admin', TOKENS.admin), entry('eve', 'evaluator', TOKENS.evaluator), entry('old', 'reader', TOKENS.revoked)]);
const auth: TokenStore = { authenticate: (t) => store.authenticate(t), get size() { return store.size; } };

// ---------------------------------------------------------------- generators
const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'prototype', 'type', 'token', '\r\nX-Injected: 1', '\u0000', '..', '../../etc/passwd', 'ü🚩\u202e', 'x'.repeat(10_000)),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
);
const hugeNumber = fc.constantFrom('1e400', '-1e400', '9007199254740993', '1e-400', '-0', '123456789012345678901234567890');
const jsonText: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)),
  fc.dictionary(hostileKey, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 24 }).map((o) => JSON.stringify(o)),
  fc.integer({ min: 1, max: 3_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 1_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
  fc.integer({ min: 1, max: 2_000 }).map((n) => JSON.stringify({ type: 'ping', wide: new Array(n).fill(0) })),
  hugeNumber.map((n) => `{"type":"auth","since":${n},"token":"${TOKENS.reader}"}`),
  fc.record({
    type: fc.oneof(fc.constantFrom('auth', 'ping', 'subscribe', 'pong'), hostileKey),
    token: fc.oneof(fc.constantFrom(...SECRETS), hostileKey, fc.integer()),
    since: fc.oneof(fc.integer(), fc.double(), hostileKey, fc.constant(null)),
    prefixes: fc.oneof(fc.array(hostileKey, { maxLength: 40 }), hostileKey),
    kinds: fc.oneof(fc.array(fc.constantFrom('flag', 'segment', 'reset', '__proto__'), { maxLength: 4 }), hostileKey),
  }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc.string({ maxLength: 64 }), // not JSON at all
);
type Frame = { kind: 'text'; text: string } | { kind: 'binary'; bytes: Uint8Array } | { kind: 'bad-utf8'; bytes: Uint8Array } | { kind: 'oversized'; size: number };
const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 6, arbitrary: jsonText.map((text) => ({ kind: 'text' as const, text })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((bytes) => ({ kind: 'binary' as const, bytes })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ kind: 'bad-utf8' as const, bytes: Uint8Array.from([...b, 0xc3, 0x28, 0xff]) })) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_FRAME_BYTES + 1, max: MAX_FRAME_BYTES * 4 }).map((size) => ({ kind: 'oversized' as const, size })) },
);
type Who = keyof typeof TOKENS | 'invalid' | 'none';
const session = fc.record({
  who: fc.constantFrom<Who>('reader', 'admin', 'evaluator', 'revoked', 'invalid', 'none'),
  how: fc.constantFrom('authorization', 'x-api-key', 'message'),
  frames: fc.array(frame, { maxLength: 6 }),
});

// ---------------------------------------------------------------- fixture
let emu: Awaited<ReturnType<typeof startEmulator>>;
let r: RelayFixture;
let live: TestClient;
let revision = 1;

beforeAll(async () => {
  emu = await startEmulator();
  r = await startRelay(emu.endpoint, { auth, authTimeoutMs: 300, maxClientMessageBytes: MAX_FRAME_BYTES });
  store = createTokenStore([entry('rita', 'reader', TOKENS.reader), entry('ada', 'admin', TOKENS.admin), entry('eve', 'evaluator', TOKENS.evaluator)]);
  live = connect(r.wsUrl, { token: TOKENS.reader });
  await waitFor(() => live.messages.some((m) => m.type === 'hello'), 'live reader hello');
});
afterAll(async () => {
  await live?.close();
  await r?.relay.close();
  await emu?.stop();
});

const tokenOf = (who: Who) => (who === 'none' ? undefined : who === 'invalid' ? 'fz_not_a_token_at_all' : TOKENS[who]);
const mayRead = (who: Who) => who === 'reader' || who === 'admin';

function send(c: TestClient, f: Frame): void {
  if (c.ws.readyState !== c.ws.OPEN) return;
  if (f.kind === 'text') c.ws.send(f.text);
  else if (f.kind === 'binary') c.ws.send(f.bytes, { binary: true });
  else if (f.kind === 'bad-utf8') c.ws.send(f.bytes, { binary: false });
  else c.ws.send('x'.repeat(f.size));
}

/** One session, then the checks of its properties. */
async function runSession(s: { who: Who; how: string; frames: Frame[] }): Promise<void> {
  const token = tokenOf(s.who);
  if (s.how !== 'message' && token !== undefined) {
    const headers: Record<string, string> = s.how === 'authorization' ? { authorization: `Bearer ${token}` } : { 'x-api-key': token };
    if (!mayRead(s.who)) {
      expect(await upgradeStatus(r.wsUrl, headers)).toBe(s.who === 'evaluator' ? 403 : 401);
      return;
    }
  }
  const raw: string[] = [];
  const c = connect(r.wsUrl, s.how !== 'message' && token ? { headers: s.how === 'authorization' ? { authorization: `Bearer ${token}` } : { 'x-api-key': token } } : {});
  c.ws.on('message', (d) => raw.push(d.toString()));
  try {
    await c.opened;
    if (s.how === 'message' && token !== undefined) c.ws.send(JSON.stringify({ type: 'auth', token }));
    for (const f of s.frames) send(c, f);
    // The end of the session: a pong proves every frame before it was handled; otherwise the socket closes.
    if (c.ws.readyState === c.ws.OPEN) c.ws.send('{"type":"ping"}');
    await waitFor(() => c.closed !== undefined || c.messages.some((m) => m.type === 'pong'), 'pong or close', SESSION_END_TIMEOUT_MS);
    const hello = c.messages.find((m) => m.type === 'hello');
    // A generated frame may itself carry a valid token: only a reader or an admin is ever let in.
    if (hello) expect(['rita', 'ada']).toContain(hello.principal);
    else {
      // Never authenticated: nothing but the refusal of a failed auth message.
      for (const m of c.messages) expect(m).toMatchObject({ type: 'error', code: expect.stringMatching(/^(UNAUTHORIZED|FORBIDDEN|AUTH_TIMEOUT|BAD_REQUEST)$/) });
    }
    for (const text of raw) for (const t of SECRETS) expect(text.includes(t), 'a frame quoted a token').toBe(false);
  } finally {
    await c.close();
  }
  // The relay still delivers real changes to the reader that has been there all along.
  revision++;
  await publish(emu.sns, r.topicArn, [ev(revision, `fuzz-${revision}`, revision - 1)]);
  await waitFor(() => live.changes().some((e) => e.revision === revision), `change ${revision} delivered`, 10_000);
  expect(live.closed).toBeUndefined();
}

describe('WebSocket fuzz', () => {
  it(`survives generated hostile sessions (seed ${SEED}, ${BUDGET_MS} ms)`, async () => {
    let runs = 0;
    // The budget is checked before each session, not by fast-check's
    // interruptAfterTimeLimit, which abandons the session in flight.
    const deadline = Date.now() + BUDGET_MS;
    try {
      await fc.assert(fc.asyncProperty(session, async (s) => {
        if (Date.now() > deadline) return;
        runs++;
        await runSession(s);
      }), { seed: SEED, numRuns: FUZZ_MAX_RUNS });
    } catch (err) {
      throw new Error(`relay fuzz failed: replay with FLAGRAFT_FUZZ_SEED=${SEED}\n${(err as Error).message}`);
    }
    expect(runs).toBeGreaterThan(10);
    // Every run's change arrived, in order, once.
    expect(live.changes().map((e) => e.revision)).toEqual(Array.from({ length: revision - 1 }, (_, i) => i + 2));
    console.log(`relay fuzz: ${runs} sessions in at most ${BUDGET_MS} ms, seed ${SEED}`);
  }, BUDGET_MS + 60_000);
});
