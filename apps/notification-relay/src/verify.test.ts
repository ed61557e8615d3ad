import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Message } from '@aws-sdk/client-sqs';
import { EventKeyRing, EventKeySet, signEvent } from '@flagraft/auth';
import { MessageGate } from './verify.js';

const ring = new EventKeyRing(EventKeySet.parse(JSON.stringify({ v: 1, active: 'k1', keys: [{ id: 'k1', secret: randomBytes(32).toString('base64') }] }), 'test'));
const NOW = 1_800_000_000_000;
const event = (revision: number) => JSON.stringify({ v: 1, revision, kind: 'flag', key: 'k', op: 'delete', flag: null, actor: 'a', time: new Date(NOW).toISOString(), part: 0, parts: 1, prevRevision: revision - 1 });
const ATTRS = { kind: { type: 'String', value: 'flag' }, key: { type: 'String', value: 'k' }, op: { type: 'String', value: 'delete' } };

/** An SQS message as the relay receives it: SNS envelope (default) or raw delivery. */
function message(body: string, opts: { id?: string; signedAtMs?: number; sentAtMs?: number; raw?: boolean; sign?: boolean } = {}): Message {
  const attrs = new Map(Object.entries(ATTRS));
  if (opts.sign !== false) attrs.set('flagraft-sig', { type: 'String', value: signEvent(ring, body, (n) => attrs.get(n), opts.signedAtMs ?? NOW) });
  const base = { MessageId: opts.id ?? 'm1', ReceiptHandle: 'r', Attributes: { SentTimestamp: String(opts.sentAtMs ?? NOW) } };
  if (opts.raw) return { ...base, Body: body, MessageAttributes: Object.fromEntries([...attrs].map(([k, v]) => [k, { DataType: v.type, StringValue: v.value }])) };
  return { ...base, Body: JSON.stringify({ Type: 'Notification', Message: body, MessageAttributes: Object.fromEntries([...attrs].map(([k, v]) => [k, { Type: v.type, Value: v.value }])) }) };
}
const gate = (replayMemory = 100) => new MessageGate(ring, { maxSignatureAgeMs: 60_000, replayMemory });

describe('MessageGate', () => {
  it('admits a signed event in an SNS envelope or raw, with its key id and signing time', () => {
    for (const raw of [false, true]) {
      const a = gate().admit(message(event(5), { raw }), NOW);
      expect(a).toMatchObject({ ok: true, keyId: 'k1', signedAtMs: NOW, event: { revision: 5 } });
    }
  });

  it('refuses unsigned messages, including a raw body that is not JSON and an envelope without attributes', () => {
    expect(gate().admit(message(event(5), { sign: false }), NOW)).toMatchObject({ ok: false, reason: 'unsigned' });
    expect(gate().admit({ MessageId: 'x', Body: 'not json {' }, NOW)).toMatchObject({ ok: false, reason: 'unsigned' });
    expect(gate().admit({ MessageId: 'x', Body: JSON.stringify({ Type: 'Notification', Message: event(5) }) }, NOW)).toMatchObject({ ok: false, reason: 'unsigned' });
  });

  it('refuses a broken envelope or a signed body that is not an event as malformed', () => {
    expect(gate().admit({ MessageId: 'x', Body: JSON.stringify({ Type: 'Notification', Message: 7 }) }, NOW)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(gate().admit({ MessageId: 'x', Body: '' }, NOW)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(gate().admit(message('{"v":1,"revision":"seven"}'), NOW)).toMatchObject({ ok: false, reason: 'malformed', detail: expect.stringMatching(/revision/) });
  });

  it('refuses a message queued long after it was signed (a replay) or signed in the future (a bad clock)', () => {
    expect(gate().admit(message(event(5), { signedAtMs: NOW - 60_000 }), NOW)).toMatchObject({ ok: true });
    expect(gate().admit(message(event(5), { signedAtMs: NOW - 60_001 }), NOW)).toMatchObject({ ok: false, reason: 'stale-signature' });
    // The relay's own clock does not matter: SQS's SentTimestamp does (a backlog read late is fine).
    expect(gate().admit(message(event(5), { signedAtMs: NOW - 3_600_000, sentAtMs: NOW - 3_600_000 + 10 }), NOW)).toMatchObject({ ok: true });
    expect(gate().admit(message(event(5), { signedAtMs: NOW + 60_001 }), NOW)).toMatchObject({ ok: false, reason: 'future-signature' });
  });

  it('refuses the same signature in another SQS message as a replay; a redelivery of the same message is not one', () => {
    const g = gate();
    const m = message(event(5), { id: 'first' });
    expect(g.admit(m, NOW).ok).toBe(true);
    expect(g.admit(m, NOW).ok).toBe(true); // SQS redelivered it (same MessageId)
    expect(g.admit({ ...m, MessageId: 'second' }, NOW)).toMatchObject({ ok: false, reason: 'replay', detail: expect.stringContaining('first') });
    // Signed again (another publish attempt or a new leader): another signature, not a replay.
    expect(g.admit(message(event(5), { id: 'third', signedAtMs: NOW + 1 }), NOW).ok).toBe(true);
  });

  it('replay memory is bounded: the oldest signature is forgotten first', () => {
    const g = gate(2);
    const a = message(event(5), { id: 'a', signedAtMs: NOW });
    g.admit(a, NOW);
    g.admit(message(event(6), { id: 'b', signedAtMs: NOW }), NOW);
    g.admit(message(event(7), { id: 'c', signedAtMs: NOW }), NOW);
    expect(g.admit({ ...a, MessageId: 'a2' }, NOW).ok).toBe(true); // forgotten; the sequencer still drops it by revision
  });
});
