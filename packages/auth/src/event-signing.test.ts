import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventKeyRing, EventKeySet } from './event-keys.js';
import { EVENT_SIGNATURE_ATTRIBUTE, EventSigningError, canonicalEventBytes, signEvent, verifyEvent, type EventAttribute } from './event-signing.js';

const secret = (fill?: number) => (fill === undefined ? randomBytes(32) : Buffer.alloc(32, fill)).toString('base64');
const keyFile = (active: string | undefined, keys: Record<string, string>) =>
  JSON.stringify({ v: 1, ...(active ? { active } : {}), keys: Object.entries(keys).map(([id, s]) => ({ id, secret: s })) });
const ring = (active: string | undefined, keys: Record<string, string>) => new EventKeyRing(EventKeySet.parse(keyFile(active, keys), 'test'));

/** Attributes as the outbox sets them, plus whatever a test adds (a Map: names are input here). */
function attrs(extra: Record<string, EventAttribute | undefined> = {}): Map<string, EventAttribute> {
  const m = new Map<string, EventAttribute>([
    ['kind', { type: 'String', value: 'flag' }], ['op', { type: 'String', value: 'put' }],
    ['key', { type: 'String', value: 'new-checkout' }], ['revision', { type: 'Number', value: '42' }],
  ]);
  for (const [k, v] of Object.entries(extra)) if (v === undefined) m.delete(k); else m.set(k, v);
  return m;
}
const BODY = JSON.stringify({ v: 1, revision: 42, kind: 'flag', key: 'new-checkout', op: 'put', flag: null, actor: 'ünïcode', time: '2026-11-25T20:00:00.000Z' });

/** Signs, and returns the attributes with the signature added. */
function signed(r: EventKeyRing, body = BODY, a = attrs(), at = 1_764_100_800_000): Map<string, EventAttribute> {
  const out = new Map(a);
  out.set(EVENT_SIGNATURE_ATTRIBUTE, { type: 'String', value: signEvent(r, body, (n) => a.get(n), at) });
  return out;
}
const verify = (r: EventKeyRing, body: string, a: Map<string, EventAttribute>) => verifyEvent(r, body, (n) => a.get(n));

describe('canonical form', () => {
  it('is the documented netstring layout, byte for byte, and the MAC is HMAC-SHA256 over it', () => {
    const a = attrs({ reason: undefined });
    const bytes = canonicalEventBytes('k1', 1700000000123, 'héllo', (n) => a.get(n));
    expect(bytes.toString('utf8')).toBe(
      'flagraft-event-v1\n2:k1,13:1700000000123,6:String,4:flag,6:String,3:put,6:String,12:new-checkout,6:Number,2:42,0:,0:,6:héllo,',
    );
    const key = Buffer.alloc(32, 7);
    const r = ring('k1', { k1: key.toString('base64') });
    const sig = signEvent(r, 'héllo', (n) => a.get(n), 1700000000123);
    expect(sig).toBe(`v1.k1.1700000000123.${createHmac('sha256', key).update(bytes).digest('base64url')}`);
  });
});

describe('signEvent / verifyEvent', () => {
  const r = ring('k1', { k1: secret() });

  it('round-trips, and reports the key id and signing time', () => {
    const v = verify(r, BODY, signed(r));
    expect(v).toMatchObject({ ok: true, keyId: 'k1', signedAtMs: 1_764_100_800_000 });
  });

  it('refuses an unsigned message', () => {
    expect(verify(r, BODY, attrs())).toMatchObject({ ok: false, reason: 'unsigned' });
  });

  it('refuses any change to the body, a covered attribute, the key id or the time', () => {
    const a = signed(r);
    const sig = a.get(EVENT_SIGNATURE_ATTRIBUTE)!.value;
    const cases: [string, string, Map<string, EventAttribute>][] = [
      ['body', BODY.replace('"revision":42', '"revision":999999999'), a],
      ['body whitespace', `${BODY} `, a],
      ['revision attribute', BODY, new Map([...a, ['revision', { type: 'Number', value: '43' }]])],
      ['attribute type', BODY, new Map([...a, ['revision', { type: 'String', value: '42' }]])],
      ['key attribute dropped', BODY, new Map([...a].filter(([k]) => k !== 'key'))],
      ['reason attribute added', BODY, new Map([...a, ['reason', { type: 'String', value: 'restore' }]])],
      ['signing time', BODY, new Map([...a, [EVENT_SIGNATURE_ATTRIBUTE, { type: 'String', value: sig.replace('.1764100800000.', '.1764100800001.') }]])],
    ];
    for (const [what, body, attributes] of cases) expect(verify(r, body, attributes), what).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a signature by a key that is not in the ring, and a key id swapped for another one', () => {
    const other = ring('k9', { k9: secret() });
    expect(verify(r, BODY, signed(other))).toMatchObject({ ok: false, reason: 'unknown-key', detail: expect.stringContaining('k9') });
    // Same id, different secret: a forger who guessed the id.
    const forger = ring('k1', { k1: secret() });
    expect(verify(r, BODY, signed(forger))).toMatchObject({ ok: false, reason: 'bad-signature' });
    // A real MAC presented under another key id of the ring.
    const both = ring('k1', { k1: secret(1), k2: secret(2) });
    const a = signed(both);
    const swapped = a.get(EVENT_SIGNATURE_ATTRIBUTE)!.value.replace('v1.k1.', 'v1.k2.');
    expect(verify(both, BODY, new Map([...a, [EVENT_SIGNATURE_ATTRIBUTE, { type: 'String', value: swapped }]]))).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses malformed signature attributes and a second spelling of a genuine MAC', () => {
    const a = signed(r);
    const sig = a.get(EVENT_SIGNATURE_ATTRIBUTE)!.value;
    for (const value of ['', 'v2' + sig.slice(2), sig.slice(0, -1), `${sig}A`, sig.replace('.1764100800000.', '.01764100800000.'), 'v1.k.1.x']) {
      expect(verify(r, BODY, new Map([...a, [EVENT_SIGNATURE_ATTRIBUTE, { type: 'String', value }]])), value).toMatchObject({ ok: false, reason: 'bad-signature' });
    }
    expect(verify(r, BODY, new Map([...a, [EVENT_SIGNATURE_ATTRIBUTE, { type: 'Binary', value: sig }]]))).toMatchObject({ ok: false, reason: 'bad-signature' });
    // The last base64url character of 32 bytes carries 4 bits; its 2 spare bits give other spellings.
    const last = sig.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
    const respelled = sig.slice(0, -1) + twin;
    expect(Buffer.from(respelled.split('.')[3]!, 'base64url')).toEqual(Buffer.from(sig.split('.')[3]!, 'base64url'));
    expect(verify(r, BODY, new Map([...a, [EVENT_SIGNATURE_ATTRIBUTE, { type: 'String', value: respelled }]]))).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('rotation: a ring with the new key active still verifies the old one until it is retired', () => {
    const s1 = secret(), s2 = secret();
    const before = ring('k1', { k1: s1 });
    const window = ring('k2', { k1: s1, k2: s2 });
    const after = ring('k2', { k2: s2 });
    const old = signed(before);
    const neu = signed(window);
    expect(neu.get(EVENT_SIGNATURE_ATTRIBUTE)!.value).toMatch(/^v1\.k2\./);
    expect(verify(window, BODY, old)).toMatchObject({ ok: true, keyId: 'k1' });
    expect(verify(window, BODY, neu)).toMatchObject({ ok: true, keyId: 'k2' });
    expect(verify(after, BODY, old)).toMatchObject({ ok: false, reason: 'unknown-key' });
    expect(verify(after, BODY, neu)).toMatchObject({ ok: true });
  });

  it('a verify-only ring cannot sign', () => {
    expect(() => signEvent(ring(undefined, { k1: secret() }), BODY, () => undefined)).toThrow(EventSigningError);
  });
});
