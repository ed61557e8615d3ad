import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, PublishCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { CLOSE_AUTH_TIMEOUT, CLOSE_GOING_AWAY, CLOSE_UNAUTHORIZED } from '../src/index.js';
import {
  CREDS, REGION, TOKENS, connect, ev, eventKeys, publish, publishMarkers, publishRaw, resetMarker, signAttributes, startEmulator, startRelay, tokenStore, uniqueName,
  upgradeStatus, waitFor, type RelayFixture, type TestClient,
} from './helpers.js';
import { createRelay } from '../src/index.js';

let emu: Awaited<ReturnType<typeof startEmulator>>;
const relays: RelayFixture[] = [];
const clients: TestClient[] = [];

beforeAll(async () => { emu = await startEmulator(); });
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(relays.splice(0).map((r) => r.relay.close()));
});
afterAll(async () => { await emu?.stop(); });

async function relay(opts: Parameters<typeof startRelay>[1] = {}) {
  const r = await startRelay(emu.endpoint, opts);
  relays.push(r);
  return r;
}
function client(url: string, opts: Parameters<typeof connect>[1] = { token: TOKENS.reader }) {
  const c = connect(url, opts);
  clients.push(c);
  return c;
}
const hello = (c: TestClient) => waitFor(() => c.messages.some((m) => m.type === 'hello'), 'hello');

describe('relay fan-out', () => {
  it('delivers an event to two clients once each, with its revision', async () => {
    const r = await relay();
    const a = client(r.wsUrl), b = client(r.wsUrl);
    await Promise.all([hello(a), hello(b)]);
    await publish(emu.sns, r.topicArn, [ev(7, 'checkout', 3)]);
    await waitFor(() => a.changes().length === 1 && b.changes().length === 1, 'both clients got the event');
    // A second event proves nothing else (no duplicate of 7) was queued before it.
    await publish(emu.sns, r.topicArn, [ev(9, 'checkout', 7)]);
    await waitFor(() => a.changes().length === 2 && b.changes().length === 2, 'second event');
    for (const c of [a, b]) expect(c.changes().map((e) => [e.key, e.revision])).toEqual([['checkout', 7], ['checkout', 9]]);
    await waitFor(async () => (await r.relay.metrics.eventsDelivered.get()).values[0]?.value === 2, 'metric');
  });

  it('drops duplicates and puts reordered events back into revision order', async () => {
    const r = await relay();
    const a = client(r.wsUrl);
    await hello(a);
    await publish(emu.sns, r.topicArn, [ev(10, 'k1', 5)]);
    await waitFor(() => a.changes().length === 1, 'first');
    // 12 arrives before 11 and 11 arrives twice: a new leader published it again (signed
    // again, at another time; a second message with the same signature would be a replay).
    const t0 = Date.now();
    await publish(emu.sns, r.topicArn, [ev(12, 'k1', 11)]);
    await publish(emu.sns, r.topicArn, [ev(11, 'k2', 10)], { signedAtMs: t0 });
    await publish(emu.sns, r.topicArn, [ev(11, 'k2', 10), ev(10, 'k1', 5)], { signedAtMs: t0 + 1 });
    await waitFor(() => a.changes().length === 3, 'three events');
    await publish(emu.sns, r.topicArn, [ev(13, 'k2', 12)]);
    await waitFor(() => a.changes().length === 4, 'four events');
    expect(a.changes().map((e) => e.revision)).toEqual([10, 11, 12, 13]);
    const dup = await r.relay.metrics.duplicatesDropped.get();
    expect(dup.values.reduce((s, v) => s + v.value, 0)).toBe(2);
  });

  it('de-duplicates unchained events per key and drops stale ones', async () => {
    const r = await relay();
    const a = client(r.wsUrl);
    await hello(a);
    await publish(emu.sns, r.topicArn, [ev(5, 'x')]);
    await waitFor(() => a.changes().length === 1, 'first');
    await publish(emu.sns, r.topicArn, [ev(5, 'x'), ev(4, 'x'), ev(6, 'x')]);
    await waitFor(() => a.changes().length === 2, 'second');
    await publish(emu.sns, r.topicArn, [ev(7, 'x')]);
    await waitFor(() => a.changes().length === 3, 'third');
    expect(a.changes().map((e) => e.revision)).toEqual([5, 6, 7]);
  });

  it('accepts raw message delivery (no SNS envelope)', async () => {
    const r = await relay({ provision: { topicName: `raw-${Date.now()}`, maxReceiveCount: 2, rawDelivery: true } });
    const a = client(r.wsUrl);
    await hello(a);
    await publish(emu.sns, r.topicArn, [ev(3, 'raw-key', 1)]);
    await waitFor(() => a.changes().length === 1, 'raw event');
    expect(a.changes()[0]).toMatchObject({ key: 'raw-key', revision: 3, v: 1 });
  });

  it('works with a FIFO topic and FIFO queue (and FIFO dead-letter queue)', async () => {
    const q = `fifo-${Date.now()}.fifo`;
    const r = await relay({ queueName: q, provision: { topicName: `fifo-topic-${Date.now()}.fifo`, maxReceiveCount: 2, rawDelivery: false } });
    const a = client(r.wsUrl);
    await hello(a);
    await publish(emu.sns, r.topicArn, [ev(2, 'f1', 1), ev(3, 'f2', 2), ev(4, 'f1', 3)]);
    await waitFor(() => a.changes().length === 3, 'three FIFO events');
    expect(a.changes().map((e) => e.revision)).toEqual([2, 3, 4]);
    const dlq = await emu.sqs.send(new GetQueueUrlCommand({ QueueName: `${q.slice(0, -5)}-dlq.fifo` }));
    expect(dlq.QueueUrl).toBeTruthy();
    // An unsigned one goes to the FIFO dead-letter queue (which needs a group and a deduplication id).
    await emu.sns.send(new PublishCommand({ TopicArn: r.topicArn, Message: JSON.stringify(ev(5, 'f1', 4)), MessageGroupId: 'flag:f1', MessageDeduplicationId: 'forged-5' }));
    await waitFor(async () => {
      const out = await emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq.QueueUrl!, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }));
      return (out.Messages ?? []).some((m) => m.MessageAttributes?.['flagraft-rejected']?.StringValue === 'unsigned');
    }, 'the unsigned message in the FIFO DLQ', 10_000, 100);
    expect(a.changes().map((e) => e.revision)).toEqual([2, 3, 4]);
  });

  it('several relays, each with its own queue on the topic, all see every change', async () => {
    const r1 = await relay();
    const r2 = await relay({ topicArn: r1.topicArn });
    const a = client(r1.wsUrl), b = client(r2.wsUrl);
    await Promise.all([hello(a), hello(b)]);
    await publish(emu.sns, r1.topicArn, [ev(2, 'both', 1), ev(3, 'both', 2)]);
    await waitFor(() => a.changes().length === 2 && b.changes().length === 2, 'both relays delivered');
    expect(r1.relay.queueUrl).not.toBe(r2.relay.queueUrl);
    // A client moving from one relay to the other resumes with ?since=.
    const moved = client(`${r2.wsUrl}?since=2`);
    await waitFor(() => moved.messages.some((m) => m.type === 'replayed'), 'replay on the other relay');
    expect(moved.changes().map((e) => e.revision)).toEqual([3]);
  });

  it('filters by key prefix and kind', async () => {
    const r = await relay();
    const url = new URL(r.wsUrl);
    url.searchParams.append('prefix', 'pay-');
    url.searchParams.append('prefix', 'checkout');
    const f = client(url.toString());
    const all = client(r.wsUrl);
    const seg = client(`${r.wsUrl}?kinds=segment`);
    await Promise.all([hello(f), hello(all), hello(seg)]);
    await publish(emu.sns, r.topicArn, [ev(2, 'pay-now', 1), ev(3, 'other', 2), ev(4, 'checkout-v2', 3), ev(5, 'beta', 4, { kind: 'segment' })]);
    await waitFor(() => all.changes().length === 4, 'all four');
    await waitFor(() => f.changes().length === 2 && seg.changes().length === 1, 'filtered');
    expect(f.changes().map((e) => e.key)).toEqual(['pay-now', 'checkout-v2']);
    expect(seg.changes().map((e) => e.key)).toEqual(['beta']);
  });
});

describe('replay and resync', () => {
  it('replays what a reconnecting client missed, and says resync below the window', async () => {
    const r = await relay({ replayWindowEvents: 5 });
    const a = client(r.wsUrl);
    await hello(a);
    const events = Array.from({ length: 8 }, (_, i) => ev(i + 2, `k${i % 3}`, i + 1));
    await publish(emu.sns, r.topicArn, events);
    await waitFor(() => a.changes().length === 8, 'all 8');
    const since6 = client(`${r.wsUrl}?since=6`);
    await waitFor(() => since6.messages.some((m) => m.type === 'replayed'), 'replay done');
    expect(since6.changes().map((e) => e.revision)).toEqual([7, 8, 9]);
    // The window holds 5 events (5..9): asking for everything after 2 cannot be answered.
    const since2 = client(`${r.wsUrl}?since=2`);
    await waitFor(() => since2.messages.some((m) => m.type === 'resync'), 'resync');
    expect(since2.messages.find((m) => m.type === 'resync')).toMatchObject({ reason: 'out-of-window', revision: 9 });
    expect(since2.changes()).toEqual([]);
    // Both keep receiving live events.
    await publish(emu.sns, r.topicArn, [ev(10, 'k0', 9)]);
    await waitFor(() => since6.changes().length === 4 && since2.changes().length === 1, 'live after replay');
  });

  it('tells a client to resync when its replay would not fit its send buffer', async () => {
    const r = await relay({ maxClientBufferBytes: 64 * 1024 });
    const a = client(r.wsUrl);
    await hello(a);
    const big = 'y'.repeat(10_000);
    await publish(emu.sns, r.topicArn, Array.from({ length: 10 }, (_, i) => ev(i + 2, `big-${i}`, i + 1, { description: big })));
    await waitFor(() => a.changes().length === 10, 'all live');
    const small = client(`${r.wsUrl}?since=9`);
    await waitFor(() => small.messages.some((m) => m.type === 'replayed'), 'small replay');
    expect(small.changes().map((e) => e.revision)).toEqual([10, 11]);
    const large = client(`${r.wsUrl}?since=1`);
    await waitFor(() => large.messages.some((m) => m.type === 'resync'), 'resync');
    expect(large.messages.find((m) => m.type === 'resync')).toMatchObject({ reason: 'replay-too-large', revision: 11 });
    expect(large.changes()).toEqual([]);
    expect(large.closed).toBeUndefined();
  });

  it('relay restart: a client reconnecting with ?since= gets what it missed, or a resync, never a silent gap', async () => {
    const first = await startRelay(emu.endpoint, {});
    let stopped = false;
    try {
      const a = client(first.wsUrl);
      await hello(a);
      await publish(emu.sns, first.topicArn, [ev(2, 'a', 1), ev(3, 'b', 2), ev(4, 'a', 3)]);
      await waitFor(() => a.changes().length === 3, 'before restart');
      await first.relay.close();
      stopped = true;
      await waitFor(() => a.closed !== undefined, 'client saw the shutdown');
      expect(a.closed!.code).toBe(CLOSE_GOING_AWAY);
      // Changes made while the relay is down wait in its queue.
      await publish(emu.sns, first.topicArn, [ev(5, 'b', 4), ev(6, 'c', 5)]);
    } finally {
      if (!stopped) await first.relay.close();
    }
    const second = await relay({ queueName: first.queueName, topicArn: first.topicArn });
    // Before the relay has seen its first event it cannot prove coverage: resync.
    const early = client(`${second.wsUrl}?since=4`);
    await waitFor(() => early.messages.some((m) => m.type === 'resync' || m.type === 'replayed'), 'early answer');
    await waitFor(() => second.relay.frontierRevision() === 6, 'second relay caught up');
    const back = client(`${second.wsUrl}?since=4`);
    await waitFor(() => back.messages.some((m) => m.type === 'replayed' || m.type === 'resync'), 'reconnect answer');
    expect(back.messages.some((m) => m.type === 'resync')).toBe(false);
    expect(back.changes().map((e) => e.revision)).toEqual([5, 6]);
    // Asking from before what this relay can prove is a resync, not a partial replay.
    const old = client(`${second.wsUrl}?since=2`);
    await waitFor(() => old.messages.some((m) => m.type === 'resync' || m.type === 'replayed'), 'old answer');
    expect(old.messages.some((m) => m.type === 'resync')).toBe(true);
    expect(old.changes()).toEqual([]);
    // The early client either got a full replay or a resync; never a partial one.
    const earlyRevs = early.changes().map((e) => e.revision).filter((x) => x <= 6);
    if (!early.messages.some((m) => m.type === 'resync')) expect(earlyRevs).toEqual([5, 6]);
  });

  it('declares a gap after gapTimeoutMs when a predecessor never arrives, and tells clients to resync', async () => {
    const r = await relay({ gapTimeoutMs: 300 });
    const a = client(r.wsUrl);
    await hello(a);
    await publish(emu.sns, r.topicArn, [ev(2, 'a', 1)]);
    await waitFor(() => a.changes().length === 1, 'first');
    // 3 is lost; 4 names 3 as its predecessor.
    await publish(emu.sns, r.topicArn, [ev(4, 'a', 3)]);
    await waitFor(() => a.messages.some((m) => m.type === 'resync'), 'gap resync', 5000);
    await waitFor(() => a.changes().length === 2, 'event after the gap');
    const idx = a.messages.findIndex((m) => m.type === 'resync');
    expect(a.messages[idx]).toMatchObject({ reason: 'gap', revision: 3 });
    expect(a.messages.slice(idx + 1).filter((m) => m.type === 'change').map((m) => m.event.revision)).toEqual([4]);
    expect((await r.relay.metrics.gaps.get()).values[0]!.value).toBe(1);
    // A client that last saw 2 cannot be replayed across the gap.
    const c = client(`${r.wsUrl}?since=2`);
    await waitFor(() => c.messages.some((m) => m.type === 'resync' || m.type === 'replayed'), 'answer');
    expect(c.messages.some((m) => m.type === 'resync')).toBe(true);
  });
});

describe('reset markers (the cluster was restored from a backup)', () => {
  it('tells every client to resync at once, drops duplicate markers, and releases the following changes without a gap', async () => {
    // A gap timeout far beyond the test's deadlines: the resync must not come from it.
    const r = await relay({ gapTimeoutMs: 120_000 });
    const a = client(r.wsUrl), b = client(`${r.wsUrl}?prefix=other-`);
    await Promise.all([hello(a), hello(b)]);
    await publish(emu.sns, r.topicArn, [ev(10, 'k', 8)]);
    await waitFor(() => a.changes().length === 1, 'first change');
    const sentAt = Date.now();
    // The outbox after a restore at 50; a leader change made it publish the marker twice (signed twice).
    const marker = resetMarker(50, 10);
    await publishMarkers(emu.sns, r.topicArn, [marker], { signedAtMs: sentAt });
    await publishMarkers(emu.sns, r.topicArn, [marker], { signedAtMs: sentAt + 1 });
    await waitFor(() => a.messages.some((m) => m.type === 'resync') && b.messages.some((m) => m.type === 'resync'), 'resync at both clients', 5000);
    console.log(JSON.stringify({ markerToResyncMs: Date.now() - sentAt }));
    for (const c of [a, b]) expect(c.messages.filter((m) => m.type === 'resync')).toEqual([{ type: 'resync', reason: 'restore', revision: 50 }]);
    await waitFor(() => r.relay.frontierRevision() === 50, 'frontier at the restore');
    // The next change names the restore as its predecessor: released at once, no gap.
    await publish(emu.sns, r.topicArn, [ev(51, 'k', 50)]);
    await waitFor(() => a.changes().length === 2, 'change after the restore', 5000);
    // A third copy of the marker arriving late is a duplicate too (and never a change frame).
    await publishMarkers(emu.sns, r.topicArn, [marker], { signedAtMs: Date.now() + 2 });
    await publish(emu.sns, r.topicArn, [ev(53, 'k', 51)]);
    await waitFor(() => a.changes().length === 3, 'third change', 5000);
    expect(a.changes().map((e) => e.revision)).toEqual([10, 51, 53]);
    expect(a.messages.filter((m) => m.type === 'resync')).toHaveLength(1);
    expect(a.messages.some((m) => m.type === 'change' && m.event.kind === 'reset')).toBe(false);
    await waitFor(async () => (await r.relay.metrics.duplicatesDropped.get()).values.reduce((s, v) => s + v.value, 0) === 2, 'two duplicate markers dropped');
    expect((await r.relay.metrics.gaps.get()).values[0]?.value ?? 0).toBe(0);
    expect((await r.relay.metrics.resets.get()).values).toMatchObject([{ labels: { reason: 'restore' }, value: 1 }]);
    expect((await r.relay.metrics.malformed.get()).values[0]?.value ?? 0).toBe(0);
    // Reconnecting: from before the restore -> resync; from the restore on -> replay.
    const old = client(`${r.wsUrl}?since=10`);
    const fresh = client(`${r.wsUrl}?since=50`);
    await waitFor(() => old.messages.some((m) => m.type === 'resync') && fresh.messages.some((m) => m.type === 'replayed'), 'answers');
    expect(old.messages.find((m) => m.type === 'resync')).toMatchObject({ reason: 'out-of-window' });
    expect(fresh.changes().map((e) => e.revision)).toEqual([51, 53]);
  });

  it('a marker behind a missing predecessor does not wait for the gap timeout', async () => {
    const r = await relay({ gapTimeoutMs: 120_000 });
    const a = client(r.wsUrl);
    await hello(a);
    await publish(emu.sns, r.topicArn, [ev(10, 'k', 8)]);
    await waitFor(() => a.changes().length === 1, 'first change');
    // 12 (prev 11) is held: 11 never comes. Then the restore's marker chains after 12.
    await publish(emu.sns, r.topicArn, [ev(12, 'k', 11)]);
    await publishMarkers(emu.sns, r.topicArn, [resetMarker(60, 12)]);
    await publish(emu.sns, r.topicArn, [ev(61, 'k', 60)]);
    await waitFor(() => a.messages.some((m) => m.type === 'resync') && a.changes().length === 2, 'resync and the change after it', 5000);
    const idx = a.messages.findIndex((m) => m.type === 'resync');
    expect(a.messages[idx]).toEqual({ type: 'resync', reason: 'restore', revision: 60 });
    expect(a.messages.slice(idx + 1).filter((m) => m.type === 'change').map((m) => m.event.revision)).toEqual([61]);
    expect(a.changes().map((e) => e.revision)).toEqual([10, 61]);
    expect((await r.relay.metrics.gaps.get()).values[0]?.value ?? 0).toBe(0);
    expect(r.relay.frontierRevision()).toBe(61);
  });
});

describe('poison messages and slow clients', () => {
  it('moves a malformed SQS message to the dead-letter queue and keeps running', async () => {
    const r = await relay({ poisonRetryDelaySeconds: 0 });
    const a = client(r.wsUrl);
    await hello(a);
    await emu.sqs.send(new SendMessageCommand({ QueueUrl: r.relay.queueUrl, MessageBody: 'not json at all {' }));
    // Validly signed but not a change event (a producer bug).
    const body = JSON.stringify({ v: 1, revision: 'seven' });
    await publishRaw(emu.sns, r.topicArn, body, signAttributes(body, { kind: { DataType: 'String', StringValue: 'flag' } }));
    const dlqUrl = (await emu.sqs.send(new GetQueueUrlCommand({ QueueName: `${r.queueName}-dlq` }))).QueueUrl!;
    const dead: { body: string; reason?: string }[] = [];
    await waitFor(async () => {
      const out = await emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }));
      for (const m of out.Messages ?? []) dead.push({ body: m.Body ?? '', reason: m.MessageAttributes?.['flagraft-rejected']?.StringValue });
      return dead.length >= 2;
    }, 'both poison messages in the DLQ', 15_000, 100);
    expect(dead.find((d) => d.body === 'not json at all {')?.reason).toBe('unsigned');
    expect(dead.find((d) => d.body.includes('seven'))?.reason).toBe('malformed');
    expect((await r.relay.metrics.malformed.get()).values[0]!.value).toBe(1);
    expect((await r.relay.metrics.rejected.get()).values.map((v) => [v.labels.reason, v.value]).sort()).toEqual([['malformed', 1], ['unsigned', 1]]);
    expect(r.logs.some((l) => l.level === 'warn' && /refused/.test(l.msg) && l.reason === 'malformed' && /revision/.test(l.detail))).toBe(true);
    // Still serving.
    await publish(emu.sns, r.topicArn, [ev(2, 'after-poison', 1)]);
    await waitFor(() => a.changes().length === 1, 'event after poison');
    const h = await fetch(`${r.relay.url}/health`);
    expect(h.status).toBe(200);
  });

  it('disconnects a client that does not read, without affecting the others', async () => {
    const r = await relay({ maxClientBufferBytes: 64 * 1024 });
    const fast = client(r.wsUrl);
    const slow = client(r.wsUrl);
    await Promise.all([hello(fast), hello(slow)]);
    // The slow client stops reading from its socket: the kernel buffers fill, then the relay's.
    (slow.ws as any)._socket.pause();
    const big = 'x'.repeat(20_000);
    const N = 300;
    const events = Array.from({ length: N }, (_, i) => ev(i + 2, `big-${i % 10}`, i + 1, { description: big }));
    await publish(emu.sns, r.topicArn, events);
    await waitFor(() => fast.changes().length === N, 'fast client got everything', 30_000);
    expect(fast.changes().map((e) => e.revision)).toEqual(events.map((e) => e.revision));
    await waitFor(async () => (await r.relay.metrics.slowClientsDisconnected.get()).values[0]?.value === 1, 'slow client dropped', 10_000);
    expect(fast.closed).toBeUndefined();
    expect(r.logs.some((l) => l.msg === 'disconnecting slow client')).toBe(true);
  });
});

describe('implausible events (validly signed, by a signer with a bug)', () => {
  const counter = async (r: RelayFixture, c: 'heldEvents' | 'rewinds') => (await r.relay.metrics[c].get()).values[0]?.value ?? 0;
  const rejectedFor = async (r: RelayFixture, reason: string) => (await r.relay.metrics.rejected.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

  it('one far above the chain that nothing follows: never sent; clients resync once while the chain is stuck behind it; dead-lettered when genuine events move on', async () => {
    const r = await relay({ gapTimeoutMs: 300 });
    const a = client(r.wsUrl);
    await hello(a);
    await publish(emu.sns, r.topicArn, [ev(10, 'k', 8)]);
    await waitFor(() => a.changes().length === 1, 'first change');
    await publish(emu.sns, r.topicArn, [ev(999_999_999, 'k', 999_999_998)]);
    await waitFor(() => a.messages.some((m) => m.type === 'resync'), 'resync while stuck behind it');
    expect(a.messages.find((m) => m.type === 'resync')).toEqual({ type: 'resync', reason: 'gap', revision: 10 });
    expect(await counter(r, 'heldEvents')).toBe(1);
    await publish(emu.sns, r.topicArn, [ev(11, 'k', 10)]);
    await waitFor(async () => (await rejectedFor(r, 'implausible-revision')) === 1, 'dead-lettered as implausible');
    await publish(emu.sns, r.topicArn, [ev(12, 'k', 11)]);
    await waitFor(() => a.changes().length === 3, 'the genuine changes');
    expect(a.changes().map((e) => e.revision)).toEqual([10, 11, 12]);
    expect(a.messages.filter((m) => m.type === 'resync')).toHaveLength(1);
    expect(r.relay.frontierRevision()).toBe(12);
  });

  it('one that started the chain (a fresh relay) is undone by the first genuine change signed after it', async () => {
    const r = await relay();
    const a = client(r.wsUrl);
    await hello(a);
    const t = Date.now();
    await publish(emu.sns, r.topicArn, [ev(999_999_999, 'k', 999_999_998)], { signedAtMs: t });
    await waitFor(() => a.changes().length === 1, 'the first event (nothing to compare it with)');
    await publish(emu.sns, r.topicArn, [ev(7, 'k', 6)], { signedAtMs: t + 5_000 });
    await waitFor(() => a.changes().length === 2, 'the genuine change after a rewind');
    expect(a.messages.filter((m) => m.type === 'resync')).toEqual([{ type: 'resync', reason: 'gap', revision: 6 }]);
    await publish(emu.sns, r.topicArn, [ev(8, 'k', 7)], { signedAtMs: t + 6_000 });
    await waitFor(() => a.changes().length === 3, 'the chain continues');
    expect(a.changes().map((e) => e.revision)).toEqual([999_999_999, 7, 8]);
    expect(await counter(r, 'rewinds')).toBe(1);
    expect(r.relay.frontierRevision()).toBe(8);
  });
});

describe('without a dead-letter queue', () => {
  it('refused messages are counted, logged and deleted; the relay warned at start', async () => {
    const name = uniqueName('plain-q');
    const topicArn = (await emu.sns.send(new CreateTopicCommand({ Name: uniqueName('plain-topic') }))).TopicArn!;
    const queueUrl = (await emu.sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
    const arn = (await emu.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await emu.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: arn }));
    const logs: any[] = [];
    const rel = createRelay({
      host: '127.0.0.1', port: 0, aws: { region: REGION, endpoint: emu.endpoint, credentials: CREDS }, auth: tokenStore(), eventKeys: eventKeys(),
      queueUrl, waitTimeSeconds: 1, processMetrics: false, log: (level, msg, fields) => logs.push({ level, msg, ...fields }),
    });
    await rel.start();
    relays.push({ relay: rel, topicArn, queueName: name, wsUrl: `ws://127.0.0.1:${rel.address.port}/ws`, logs });
    expect(logs.some((l) => l.level === 'warn' && /no RedrivePolicy/.test(l.msg))).toBe(true);
    await publishRaw(emu.sns, topicArn, JSON.stringify(ev(5, 'k', 4)));
    await waitFor(async () => ((await rel.metrics.rejected.get()).values.find((v) => v.labels.reason === 'unsigned')?.value ?? 0) === 1, 'refused');
    await waitFor(async () => {
      const a = (await emu.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes!;
      return a.ApproximateNumberOfMessages === '0' && a.ApproximateNumberOfMessagesNotVisible === '0';
    }, 'the refused message deleted');
    expect(logs.some((l) => /refused an SQS message \(unsigned\); deleted/.test(l.msg))).toBe(true);
  });
});

describe('auth and endpoints', () => {
  it('authenticates by header or by first message; refuses unknown tokens and the evaluator role', async () => {
    const r = await relay({ authTimeoutMs: 300 });
    expect(await upgradeStatus(r.wsUrl, { authorization: 'Bearer wrong' })).toBe(401);
    expect(await upgradeStatus(r.wsUrl, { authorization: `Bearer ${TOKENS.evaluator}` })).toBe(403);
    expect(await upgradeStatus(r.wsUrl.replace('/ws', '/nope'), {})).toBe(404);
    expect(await upgradeStatus(`${r.wsUrl}?since=abc`, { 'x-api-key': TOKENS.reader })).toBe(400);
    const byKey = client(r.wsUrl, { headers: { 'x-api-key': TOKENS.admin } });
    await hello(byKey);
    // Browser style: no header, the token in the first message.
    const browser = client(r.wsUrl, {});
    await browser.opened;
    browser.ws.send(JSON.stringify({ type: 'auth', token: TOKENS.reader }));
    await hello(browser);
    expect(browser.messages[0]).toMatchObject({ type: 'hello', principal: 'rita' });
    const bad = client(r.wsUrl, {});
    await bad.opened;
    bad.ws.send(JSON.stringify({ type: 'auth', token: 'nope' }));
    await waitFor(() => bad.closed !== undefined, 'bad token closed');
    expect(bad.closed!.code).toBe(CLOSE_UNAUTHORIZED);
    const silent = client(r.wsUrl, {});
    await waitFor(() => silent.closed !== undefined, 'auth timeout');
    expect(silent.closed!.code).toBe(CLOSE_AUTH_TIMEOUT);
    // Unauthenticated sockets get no events.
    const waiting = client(r.wsUrl, {});
    await waiting.opened;
    await publish(emu.sns, r.topicArn, [ev(2, 'secret', 1)]);
    await waitFor(() => byKey.changes().length === 1 && browser.changes().length === 1, 'authed clients got it');
    expect(waiting.messages).toEqual([]);
  });

  it('drops a client that stops answering pings, keeps the ones that do', async () => {
    const r = await relay({ pingIntervalMs: 100 });
    const ok = client(r.wsUrl);
    const mute = connect(r.wsUrl, { token: TOKENS.reader, autoPong: false });
    clients.push(mute);
    await Promise.all([hello(ok), hello(mute)]);
    await waitFor(() => mute.closed !== undefined, 'mute client dropped', 5000);
    expect(mute.closed!.code).toBe(1006); // terminated, no close frame
    expect(ok.closed).toBeUndefined();
    expect(r.logs.some((l) => /missed a heartbeat/.test(l.msg))).toBe(true);
  });

  it('refuses connections beyond maxClients with HTTP 503', async () => {
    const r = await relay({ maxClients: 2 });
    const a = client(r.wsUrl), b = client(r.wsUrl);
    await Promise.all([hello(a), hello(b)]);
    expect(await upgradeStatus(r.wsUrl, { authorization: `Bearer ${TOKENS.reader}` })).toBe(503);
    await a.close();
    await waitFor(async () => (await upgradeStatus(r.wsUrl, { authorization: `Bearer ${TOKENS.reader}` })) === 101, 'room again');
  });

  it('serves /health, /ready and /metrics', async () => {
    const r = await relay();
    expect((await fetch(`${r.relay.url}/health`)).status).toBe(200);
    await waitFor(async () => (await fetch(`${r.relay.url}/ready`)).status === 200, 'ready');
    const a = client(r.wsUrl);
    await hello(a);
    await publish(emu.sns, r.topicArn, [ev(2, 'm', 1), ev(2, 'm', 1)]);
    await waitFor(() => a.changes().length === 1, 'event');
    const text = await (await fetch(`${r.relay.url}/metrics`)).text();
    for (const name of ['flagraft_relay_events_received_total', 'flagraft_relay_duplicates_dropped_total', 'flagraft_relay_fanout_latency_seconds_bucket', 'flagraft_relay_connected_clients 1', 'flagraft_relay_sqs_receive_errors_total']) {
      expect(text).toContain(name);
    }
    expect((await fetch(`${r.relay.url}/nothing`)).status).toBe(404);
  });

  it('is ready at once on an idle queue with 20 s long polls, and unready when SQS goes away', async () => {
    const { startProxy, startRelay: sr } = await import('./helpers.js');
    const proxy = await startProxy(emu.server.port);
    try {
      const r = await sr(`http://127.0.0.1:${proxy.port}`, { waitTimeSeconds: 20, shutdownTimeoutMs: 200, receiveErrorBackoffMs: 10 });
      relays.push(r);
      expect((await fetch(`${r.relay.url}/ready`)).status).toBe(200);
      proxy.setUp(false);
      await waitFor(async () => (await fetch(`${r.relay.url}/ready`)).status === 503, 'unready without SQS', 15_000);
      expect((await r.relay.metrics.receiveErrors.get()).values[0]!.value).toBeGreaterThanOrEqual(3);
      proxy.setUp(true);
      await waitFor(async () => (await fetch(`${r.relay.url}/ready`)).status === 200, 'ready again', 15_000);
    } finally {
      await proxy.close();
    }
  });

  it('refuses bad config with the field named', async () => {
    const { createRelay } = await import('../src/index.js');
    expect(() => createRelay({ aws: { region: 'us-east-1' }, auth: 'none', eventKeys: eventKeys(), queueName: 'q', pollers: 0 })).toThrow(/pollers/);
    expect(() => createRelay({ aws: { region: 'us-east-1' }, auth: 'none', eventKeys: eventKeys() })).toThrow(/queueUrl or queueName/);
    expect(() => createRelay({ aws: { region: 'us-east-1' }, auth: 'none', queueName: 'q' } as Parameters<typeof createRelay>[0])).toThrow(/eventKeys/);
  });
});
