// Hostile and careless clients (issue 12): nothing is answered before
// authentication, every message limit is named in its refusal, bad frames
// never take the relay down, and flag keys such as `__proto__` or
// `constructor` are relayed like any other key.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_MESSAGE_LIMITS, CLOSE_BAD_REQUEST, CLOSE_UNAUTHORIZED } from '../src/index.js';
import { TOKENS, connect, ev, publish, startEmulator, startRelay, waitFor, type RelayFixture, type TestClient } from './helpers.js';

let emu: Awaited<ReturnType<typeof startEmulator>>;
let r: RelayFixture;
const clients: TestClient[] = [];

beforeAll(async () => {
  emu = await startEmulator();
  r = await startRelay(emu.endpoint, { authTimeoutMs: 2_000 });
});
afterEach(async () => { await Promise.all(clients.splice(0).map((c) => c.close())); });
afterAll(async () => {
  await r?.relay.close();
  await emu?.stop();
});

function client(opts: Parameters<typeof connect>[1] = { token: TOKENS.reader }) {
  const c = connect(r.wsUrl, opts);
  clients.push(c);
  return c;
}
const hello = (c: TestClient) => waitFor(() => c.messages.some((m) => m.type === 'hello'), 'hello');
const closed = (c: TestClient) => waitFor(() => c.closed !== undefined, 'close').then(() => c.closed!);
/** Sends a ping message and waits for its pong: everything sent before it has been handled. */
async function roundTrip(c: TestClient): Promise<void> {
  const n = c.messages.filter((m) => m.type === 'pong').length;
  c.ws.send('{"type":"ping"}');
  await waitFor(() => c.messages.filter((m) => m.type === 'pong').length > n, 'pong');
}

describe('before authentication', () => {
  it('answers nothing, not even a ping: a ping message closes the socket with 4401 and no message', async () => {
    const c = client({});
    await c.opened;
    c.ws.send('{"type":"ping"}');
    expect(await closed(c)).toEqual({ code: CLOSE_UNAUTHORIZED, reason: 'authenticate first' });
    expect(c.messages).toEqual([]);
  });

  it('does not answer WebSocket ping frames until authenticated, then does', async () => {
    const c = client({});
    await c.opened;
    let pongs = 0;
    c.ws.on('pong', () => { pongs++; });
    c.ws.ping('before');
    c.ws.send(JSON.stringify({ type: 'auth', token: TOKENS.reader }));
    await hello(c);
    // Frames are handled in order: a pong for the first ping would have come before the hello.
    expect(pongs).toBe(0);
    c.ws.ping('after');
    await waitFor(() => pongs === 1, 'pong after auth');
  });

  it('closes on a malformed or oversized first message, naming the rule in the close reason only', async () => {
    for (const [frame, reason] of [['{"type":', 'bad message (json)'], ['['.repeat(50), 'bad message (maxJsonDepth)'], [Buffer.from([1, 2, 3]), 'bad message (binary)']] as const) {
      const c = client({});
      await c.opened;
      c.ws.send(frame, { binary: typeof frame !== 'string' });
      expect(await closed(c)).toEqual({ code: CLOSE_BAD_REQUEST, reason });
      expect(c.messages).toEqual([]);
    }
  });
});

describe('message limits (authenticated)', () => {
  const cases: Array<[string, string | Buffer, string, boolean?]> = [
    ['deep JSON', `${'{"a":'.repeat(CLIENT_MESSAGE_LIMITS.maxJsonDepth + 1)}1${'}'.repeat(CLIENT_MESSAGE_LIMITS.maxJsonDepth + 1)}`, 'maxJsonDepth'],
    ['a long string', JSON.stringify({ type: 'ping', x: 'y'.repeat(CLIENT_MESSAGE_LIMITS.maxJsonStringChars + 1) }), 'maxJsonStringChars'],
    ['a long key', JSON.stringify({ type: 'ping', ['k'.repeat(CLIENT_MESSAGE_LIMITS.maxJsonKeyChars + 1)]: 1 }), 'maxJsonKeyChars'],
    ['a long array', JSON.stringify({ type: 'ping', x: new Array(CLIENT_MESSAGE_LIMITS.maxJsonArrayItems + 1).fill(0) }), 'maxJsonArrayItems'],
    ['many keys', JSON.stringify(Object.fromEntries(Array.from({ length: CLIENT_MESSAGE_LIMITS.maxJsonObjectKeys + 1 }, (_, i) => [`k${i}`, i]))), 'maxJsonObjectKeys'],
    ['a huge number', '{"type":"auth","since":1e400}', 'jsonNumberRange'],
    ['not JSON', 'hello', 'json'],
    ['an array', '[1,2]', 'shape'],
    ['a binary frame', Buffer.from('{"type":"ping"}'), 'binary', true],
  ];
  it.each(cases)('refuses %s with an error naming the limit, and keeps the connection', async (_what, frame, limit, binary) => {
    const c = client();
    await hello(c);
    c.ws.send(frame, { binary: binary ?? false });
    await waitFor(() => c.messages.some((m) => m.type === 'error'), 'error');
    const err = c.messages.find((m) => m.type === 'error');
    expect(err).toMatchObject({ limit, code: expect.stringMatching(/^(BAD_MESSAGE|LIMIT_EXCEEDED)$/), message: expect.any(String) });
    await roundTrip(c);
    expect(c.closed).toBeUndefined();
  });

  it('closes a frame over maxClientMessageBytes with 1009 and bad UTF-8 with 1007; the relay keeps serving', async () => {
    const big = client();
    await hello(big);
    big.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(20_000) }));
    expect((await closed(big)).code).toBe(1009);
    const utf8 = client();
    await hello(utf8);
    utf8.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await closed(utf8)).code).toBe(1007);
    const ok = client();
    await hello(ok);
    await roundTrip(ok);
  });

  it('a refusal names flag-model\'s JSON limit (the gateway\'s name) and where it was broken, with the client\'s keys masked', async () => {
    const c = client();
    await hello(c);
    const secretKey = `k-${TOKENS.admin}`;
    c.ws.send(JSON.stringify({ type: 'ping', prefixes: ['a', 'y'.repeat(CLIENT_MESSAGE_LIMITS.maxJsonStringChars + 1)] }));
    c.ws.send(JSON.stringify({ type: 'ping', [secretKey]: { x: new Array(CLIENT_MESSAGE_LIMITS.maxJsonArrayItems + 1).fill(1) } }));
    await waitFor(() => c.messages.filter((m) => m.type === 'error').length === 2, 'two errors');
    const [long, wide] = c.messages.filter((m) => m.type === 'error');
    expect(long).toEqual({
      type: 'error', code: 'LIMIT_EXCEEDED', limit: 'maxJsonStringChars',
      message: `message.prefixes[1] is a string of ${CLIENT_MESSAGE_LIMITS.maxJsonStringChars + 1} characters, more than ${CLIENT_MESSAGE_LIMITS.maxJsonStringChars} (limit maxJsonStringChars)`,
    });
    expect(wide).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'maxJsonArrayItems', message: `message.<key>.<key> has ${CLIENT_MESSAGE_LIMITS.maxJsonArrayItems + 1} items, more than ${CLIENT_MESSAGE_LIMITS.maxJsonArrayItems} (limit maxJsonArrayItems)` });
    await roundTrip(c);
  });

  it('never quotes a client\'s text back (a token pasted in the wrong field)', async () => {
    const c = client();
    await hello(c);
    c.ws.send(JSON.stringify({ type: TOKENS.admin }));
    c.ws.send(JSON.stringify({ type: 'auth', token: TOKENS.admin }));
    c.ws.send(JSON.stringify({ type: 'ping', [TOKENS.admin]: TOKENS.admin, nested: { x: 'y'.repeat(2000) } }));
    await waitFor(() => c.messages.filter((m) => m.type === 'error').length === 3, 'three errors');
    const text = JSON.stringify(c.messages);
    for (const t of Object.values(TOKENS)) expect(text).not.toContain(t);
  });
});

describe('keys that are names of Object.prototype members', () => {
  const keys = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];

  it('relays them like any key, chained and unchained, with prefix filters and payload fields of those names', async () => {
    const all = client();
    const proto = client({});
    await proto.opened;
    proto.ws.send(JSON.stringify({ type: 'auth', token: TOKENS.reader, prefixes: ['__proto__', 'constructor'] }));
    await Promise.all([hello(all), hello(proto)]);
    const base = 1000;
    const chained = keys.map((k, i) => {
      const e = ev(base + i + 1, k, base + i);
      // A variant named __proto__ too: JSON.parse makes it an own field, and it must stay one.
      (e as { flag: { flag: { variants: Record<string, unknown> } } }).flag.flag.variants = JSON.parse('{"__proto__":true,"constructor":false}');
      return e;
    });
    await publish(emu.sns, r.topicArn, chained);
    await waitFor(() => all.changes().length === keys.length, 'every chained key');
    expect(all.changes().map((e) => e.key)).toEqual(keys);
    const variants = (all.changes()[0] as unknown as { flag: { flag: { variants: object } } }).flag.flag.variants;
    expect(Object.keys(variants)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(variants)).toBe(Object.prototype);
    await waitFor(() => proto.changes().length === 2, 'the prefix-filtered client');
    expect(proto.changes().map((e) => e.key)).toEqual(['__proto__', 'constructor']);
    // Unchained events are de-duplicated per key: a newer revision of each passes once, an older one never.
    const unchained = keys.map((k, i) => ev(base + 100 + i, k));
    await publish(emu.sns, r.topicArn, unchained);
    await waitFor(() => all.changes().length === keys.length * 2, 'every unchained key');
    expect(all.changes().slice(keys.length).map((e) => [e.key, e.revision]).sort()).toEqual(keys.map((k, i) => [k, base + 100 + i]).sort());
    const dropped = async () => (await r.relay.metrics.duplicatesDropped.get()).values.reduce((n, v) => n + v.value, 0);
    const before = await dropped();
    await publish(emu.sns, r.topicArn, [ev(base + 50, '__proto__')]);
    await waitFor(async () => (await dropped()) > before, 'the stale __proto__ event dropped');
    await roundTrip(all);
    expect(all.changes()).toHaveLength(keys.length * 2);
  });
});
