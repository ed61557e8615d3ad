// The outbox against the real AWS SDK and the fauxqs emulator. The
// OutboxContext here is a small in-memory stand-in for the node (our own
// interface, not a mock of AWS): a changes table, a leadership flag and a
// published revision that proposePublished advances.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { AnyChangeEvent, FlagDefinition, StoredFlag } from '@flagraft/flag-model';
import { EventKeyRing, EventKeySet, verifyEvent, type EventAttribute } from '@flagraft/auth';
import { startEmulator, startTcpProxy, type Emulator } from '@flagraft/testkit';
import type { OutboxContext, Outbox } from '../outbox-types.js';
import { loadConfigFromEnv } from '../config.js';
import { createSnsOutbox, OutboxConfigError } from './index.js';

const REGION = 'us-east-1';
const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
let fx: Emulator;
let endpoint: string;
let sns: SNSClient;
let sqs: SQSClient;
let n = 0;
const outboxes: Outbox[] = [];
const keysDir = mkdtempSync(join(tmpdir(), 'outbox-keys-'));
/** A keys file: `active` signs, every listed key verifies. */
function keysFile(name: string, active: string | undefined, ids: string[]): string {
  const file = join(keysDir, name);
  writeFileSync(file, JSON.stringify({ v: 1, ...(active ? { active } : {}), keys: ids.map((id) => ({ id, secret: SECRETS.get(id) ?? SECRETS.set(id, randomBytes(32).toString('base64')).get(id) })) }));
  return file;
}
const SECRETS = new Map<string, string>();
/** The keys every outbox in this file signs with (unless a test gives others), and what relays would verify with. */
const KEYS = new EventKeyRing(EventKeySet.load(keysFile('default.json', 'k1', ['k1'])));
/** Every key any test used: a relay that accepts them all. */
const verifier = () => new EventKeyRing(EventKeySet.load(keysFile('verify.json', undefined, [...SECRETS.keys()])));

beforeAll(async () => {
  fx = await startEmulator();
  endpoint = `http://127.0.0.1:${fx.port}`;
  sns = new SNSClient({ endpoint, region: REGION, credentials: CREDS });
  sqs = new SQSClient({ endpoint, region: REGION, credentials: CREDS });
});
afterEach(async () => { await Promise.all(outboxes.splice(0).map((o) => o.stop())); });
afterAll(async () => { sns?.destroy(); sqs?.destroy(); await fx?.stop(); rmSync(keysDir, { recursive: true, force: true }); });

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A topic with a raw-delivery queue behind it, and a reader that drains the queue. */
async function topicWithQueue(fifo = false) {
  const name = `outbox-${process.pid}-${n++}${fifo ? '.fifo' : ''}`;
  const topicArn = (await sns.send(new CreateTopicCommand({ Name: name, Attributes: fifo ? { FifoTopic: 'true' } : {} }))).TopicArn!;
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: fifo ? { FifoQueue: 'true' } : {} }))).QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: arn, Attributes: { RawMessageDelivery: 'true' } }));
  const got: { body: any; raw: string; attrs: Record<string, string>; typed: Map<string, EventAttribute>; sys: Record<string, string> }[] = [];
  const drain = async () => {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));
    const msgs = out.Messages ?? [];
    for (const m of msgs) {
      got.push({
        body: JSON.parse(m.Body!),
        raw: m.Body!,
        typed: new Map(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { type: v.DataType!, value: v.StringValue ?? '' }])),
        attrs: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? ''])),
        sys: (m.Attributes ?? {}) as Record<string, string>,
      });
    }
    if (msgs.length) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    return msgs.length;
  };
  return { topicArn, got, drain };
}

/** A boolean flag as the node stores it after a put at `revision` (`extra` overrides definition fields). */
function storedFlag(key: string, revision: number, actor: string, extra: Partial<FlagDefinition> = {}): StoredFlag {
  return {
    flag: { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules: [], ...extra },
    createRevision: revision, modRevision: revision, version: 1, updatedAt: 0, updatedBy: actor,
  };
}

class FakeNode implements OutboxContext {
  nodeId = 1;
  leader = true;
  published = 0;
  oldest = 1;
  changes: AnyChangeEvent[] = [];
  proposals: number[] = [];
  private leaderCbs = new Set<(l: boolean, t: number) => void>();
  private appliedCbs = new Set<(r: number) => void>();
  logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  private rev = 0;

  isLeader() { return this.leader; }
  onLeadershipChange(cb: (l: boolean, t: number) => void) { this.leaderCbs.add(cb); return () => this.leaderCbs.delete(cb); }
  onApplied(cb: (r: number) => void) { this.appliedCbs.add(cb); return () => this.appliedCbs.delete(cb); }
  /** What the outbox asked for last ('all' or 'legacy'), as the node's readChanges sees it. */
  asked: string[] = [];
  readChanges(after: number, limit: number, events: 'all' | 'legacy' = 'all') {
    this.asked.push(events);
    const old = (c: AnyChangeEvent) => c.kind === 'segment' || (c.kind === 'flag' && c.env === undefined);
    const out = this.changes.filter((c) => c.revision > after && (events === 'all' || old(c)));
    // Whole revisions only, as the node promises.
    let end = Math.min(limit, out.length);
    while (end < out.length && end > 0 && out[end]!.revision === out[end - 1]!.revision) end++;
    return out.slice(0, end);
  }
  publishedRevision() { return this.published; }
  /** Proposals fail as they would on a leader that loses its term before they commit. */
  failProposals = false;
  async proposePublished(r: number) {
    if (!this.leader || this.failProposals) throw new Error('not leader');
    this.proposals.push(r);
    await new Promise((res) => setImmediate(res));
    this.published = Math.max(this.published, r);
  }
  oldestRetainedRevision() { return this.oldest; }
  log(level: string, msg: string, fields?: Record<string, unknown>) { this.logs.push({ level, msg, fields }); }

  /** A committed write: `keys.length` changes at one new revision (an atomic batch when > 1). */
  write(keys: string[], flagExtra: Partial<FlagDefinition> = {}): number {
    this.rev += 1 + (this.rev % 3 === 0 ? 1 : 0); // revisions have holes, like a Raft log with no-ops
    for (const key of keys) {
      this.changes.push({ v: 1, revision: this.rev, kind: 'flag', key, op: 'put', flag: storedFlag(key, this.rev, 'alice', flagExtra), actor: 'alice', time: new Date().toISOString() });
    }
    for (const cb of this.appliedCbs) cb(this.rev);
    return this.rev;
  }
  setLeader(l: boolean) { this.leader = l; for (const cb of this.leaderCbs) cb(l, 2); }

  restored = 0;
  restoredRevision() { return this.restored; }
  /** A restore from a backup: `n` imported history rows at or below the restore's revision, which becomes the floor. */
  restoreBackup(n: number): number {
    const restoreRevision = this.rev + n + 10;
    for (let i = 1; i <= n; i++) {
      this.changes.push({ v: 1, revision: this.rev + i, kind: 'flag', key: `old-${i}`, op: 'put', flag: storedFlag(`old-${i}`, this.rev + i, 'imported'), actor: 'imported', time: new Date(0).toISOString() });
    }
    this.rev = restoreRevision;
    this.restored = restoreRevision;
    this.oldest = restoreRevision + 1;
    for (const cb of this.appliedCbs) cb(this.rev);
    return restoreRevision;
  }
}

function outbox(cfg: Parameters<typeof createSnsOutbox>[0]) {
  const o = createSnsOutbox(cfg.eventKeysFile ? cfg : { eventKeys: KEYS, ...cfg });
  outboxes.push(o);
  return o;
}

describe('SNS outbox', () => {
  it('publishes committed changes in revision order with attributes and a versioned, chained body', async () => {
    const t = await topicWithQueue();
    const node = new FakeNode();
    const revs = [node.write(['a']), node.write(['b']), node.write(['a'])];
    outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS }).start(node);
    await waitFor(async () => { await t.drain(); return t.got.length === 3; }, 'three messages');
    expect(t.got.map((m) => m.body.revision)).toEqual(revs);
    expect(t.got[0]!.body).toMatchObject({ v: 1, kind: 'flag', key: 'a', op: 'put', actor: 'alice', part: 0, parts: 1, prevRevision: 0 });
    expect(t.got.map((m) => m.body.prevRevision)).toEqual([0, revs[0], revs[1]]);
    expect(t.got[1]!.attrs).toEqual({ key: 'b', op: 'put', revision: String(revs[1]), kind: 'flag', 'flagraft-sig': expect.stringMatching(/^v1\.k1\./) });
    await waitFor(() => node.published === revs[2], 'published(R) proposed');
  });

  it('batches published(R) proposals instead of one per message', async () => {
    const t = await topicWithQueue();
    const node = new FakeNode();
    const o = outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS, proposeIntervalMs: 50 });
    o.start(node);
    let last = 0;
    for (let i = 0; i < 200; i++) last = node.write([`k${i % 7}`]);
    await waitFor(() => node.published === last, 'all published');
    expect(node.proposals.length).toBeLessThan(40);
    expect(node.proposals).toEqual([...node.proposals].sort((x, y) => x - y));
    expect(o.metrics()).toMatchObject({ ackedRevision: last, proposedRevision: last, published: 200, lagRevisions: 0 });
    while (await t.drain()) { /* drain */ }
    expect(t.got.map((m) => m.body.revision)).toEqual(node.changes.map((c) => c.revision));
  });

  it('FIFO topics get MessageGroupId per key and MessageDeduplicationId = revision (part-suffixed in a batch)', async () => {
    const t = await topicWithQueue(true);
    const node = new FakeNode();
    const r1 = node.write(['x']);
    const r2 = node.write(['y', 'z']);
    outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS }).start(node);
    await waitFor(async () => { await t.drain(); return t.got.length === 3; }, 'three FIFO messages');
    const byKey = Object.fromEntries(t.got.map((m) => [m.body.key, m]));
    expect(byKey.x!.sys).toMatchObject({ MessageGroupId: 'flag:x', MessageDeduplicationId: String(r1) });
    expect(byKey.y!.sys).toMatchObject({ MessageGroupId: 'flag:y', MessageDeduplicationId: `${r2}.0` });
    expect(byKey.z!.body).toMatchObject({ revision: r2, part: 1, parts: 2, prevRevision: r1 });
    await waitFor(() => node.published === r2, 'published');
  });

  it('only the leader publishes; a new leader resumes from the replicated published revision', async () => {
    const t = await topicWithQueue();
    const node = new FakeNode();
    node.leader = false;
    const r1 = node.write(['a']);
    const r2 = node.write(['b']);
    node.published = r1; // a previous leader got r1 acknowledged and replicated
    const o = outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS, idlePollMs: 20 });
    o.start(node);
    node.write(['c']);
    // A follower publishes nothing (a follower that did would also show r1 below).
    await waitFor(() => node.logs.every((l) => l.msg === 'event signing keys loaded') && o.metrics().publishCalls === 0, 'follower idle');
    expect(await t.drain()).toBe(0);
    node.setLeader(true);
    await waitFor(async () => { await t.drain(); return t.got.length === 2; }, 'new leader published the rest');
    expect(t.got.map((m) => m.body.revision)).toEqual([r2, node.changes[2]!.revision]);
    expect(t.got[0]!.body.prevRevision).toBe(r1);
    // Losing leadership stops publishing.
    node.setLeader(false);
    const before = o.metrics().publishCalls;
    node.write(['d']);
    await new Promise((r) => setImmediate(r));
    expect(o.metrics().publishCalls).toBe(before);
    expect(o.metrics().publishing).toBe(0);
  });

  it('keeps accepting changes while SNS is unreachable, reports the lag, and delivers the backlog in order when it is back', async () => {
    const t = await topicWithQueue();
    const proxy = await startTcpProxy(fx.port);
    try {
      proxy.setUp(false);
      const node = new FakeNode();
      const o = outbox({ topicArn: t.topicArn, region: REGION, endpoint: `http://127.0.0.1:${proxy.port}`, credentials: CREDS, minBackoffMs: 20, maxBackoffMs: 200, publishTimeoutMs: 1000 });
      o.start(node);
      const written: number[] = [];
      for (let i = 0; i < 50; i++) written.push(node.write([`k${i % 5}`]));
      await waitFor(() => o.metrics().publishErrors >= 3, 'publish retried');
      expect(o.metrics()).toMatchObject({ ackedRevision: 0, published: 0 });
      expect(o.metrics().lagRevisions).toBeGreaterThan(0);
      await waitFor(() => o.metrics().lagMs > 0, 'lag in ms');
      expect(node.logs.some((l) => l.level === 'warn' && /retrying with backoff/.test(l.msg))).toBe(true);
      // Writes keep coming during the outage; they must not cut the backoff short.
      const callsBefore = o.metrics().publishCalls;
      for (let i = 0; i < 50; i++) {
        written.push(node.write([`k${i % 5}`]));
        await new Promise((r) => setTimeout(r, 5)); // pacing the writes, not waiting for a condition
      }
      // 50 writes over >= 250 ms with backoff 20 -> 200 ms: a handful of retries, not one per write.
      expect(o.metrics().publishCalls - callsBefore).toBeLessThan(12);
      proxy.setUp(true);
      await waitFor(() => node.published === written[written.length - 1], 'backlog published', 15_000);
      while (await t.drain()) { /* drain */ }
      // At least once: every revision, in order once duplicates (retries) are removed.
      const seen = t.got.map((m) => m.body.revision as number);
      expect([...new Set(seen)]).toEqual(written);
    } finally {
      await proxy.close();
    }
  });

  it('sends a truncated event when a flag is too large for SNS', async () => {
    const t = await topicWithQueue();
    const node = new FakeNode();
    const r = node.write(['huge'], { description: 'x'.repeat(300_000) });
    outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS }).start(node);
    await waitFor(async () => { await t.drain(); return t.got.length === 1; }, 'one message');
    expect(t.got[0]!.body).toMatchObject({ revision: r, key: 'huge', truncated: true });
    expect(t.got[0]!.body.flag).toBeUndefined();
  });

  it('publishes every change: other environments\' flags with env, change requests (a too-large one truncated, keeping its env); FLAGRAFT_SNS_EVENTS=legacy only the old kinds', async () => {
    const node = new FakeNode();
    const r1 = node.write(['a']);
    const r2 = r1 + 1;
    const time = new Date().toISOString();
    node.changes.push({ v: 1, revision: r2, kind: 'flag', key: 'a', op: 'put', flag: storedFlag('a', r2, 'sam'), actor: 'sam', time, env: 'staging' });
    const cr = (revision: number, description: string) => ({
      v: 1 as const, revision, kind: 'changeRequest' as const, key: `cr-${r2 + 1}`, op: 'put' as const, actor: 'bob', time,
      changeRequest: { changeRequest: { id: `cr-${r2 + 1}`, env: 'secure', title: 't', description, author: 'alice', status: 'approved' as const, ops: [], bases: [], approvals: [], rejections: [], comments: [] }, createRevision: r2 + 1, modRevision: revision, version: 1, updatedAt: 0, updatedBy: 'bob' },
    });
    node.changes.push(cr(r2 + 1, 'small'), cr(r2 + 2, 'x'.repeat(300_000)));
    const t = await topicWithQueue();
    outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS }).start(node);
    await waitFor(async () => { await t.drain(); return t.got.length === 4; }, 'four messages');
    expect(node.asked.every((a) => a === 'all')).toBe(true);
    expect(t.got.map((m) => [m.body.revision, m.body.kind, m.body.env, m.body.prevRevision])).toEqual([
      [r1, 'flag', undefined, 0], [r2, 'flag', 'staging', r1], [r2 + 1, 'changeRequest', undefined, r2], [r2 + 2, 'changeRequest', 'secure', r2 + 1],
    ]);
    expect(t.got[2]!.body.changeRequest.changeRequest).toMatchObject({ env: 'secure', status: 'approved' });
    expect(t.got[3]!.body).toMatchObject({ truncated: true, key: `cr-${r2 + 1}` });
    expect(t.got[3]!.body.changeRequest).toBeUndefined();
    expect(t.got[2]!.attrs).toMatchObject({ kind: 'changeRequest', key: `cr-${r2 + 1}`, op: 'put' });

    const legacyNode = new FakeNode();
    legacyNode.changes = node.changes.map((c) => ({ ...c }));
    const t2 = await topicWithQueue();
    outbox({ topicArn: t2.topicArn, region: REGION, endpoint, credentials: CREDS, events: 'legacy' }).start(legacyNode);
    await waitFor(async () => { await t2.drain(); return t2.got.length >= 1 && legacyNode.published === r1; }, 'the old event published');
    await t2.drain();
    expect(t2.got.map((m) => m.body.revision)).toEqual([r1]);
    expect(legacyNode.asked.every((a) => a === 'legacy')).toBe(true);
    expect(() => outbox({ topicArn: t2.topicArn, region: REGION, endpoint, credentials: CREDS, events: 'some' as never })).toThrow(/events must be "all" or "legacy"/);
  });

  it('links across pruned changes so consumers see the hole', async () => {
    const t = await topicWithQueue();
    const node = new FakeNode();
    node.write(['a']); node.write(['b']);
    const r3 = node.write(['c']);
    node.changes = node.changes.filter((c) => c.revision >= r3);
    node.oldest = r3;
    outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS }).start(node);
    await waitFor(async () => { await t.drain(); return t.got.length === 1; }, 'one message');
    expect(t.got[0]!.body.prevRevision).toBe(r3 - 1);
    expect(node.logs.some((l) => l.level === 'error' && /pruned/.test(l.msg))).toBe(true);
  });

  it('never publishes history imported by a restore: one reset marker at the restore revision, and the next change chains to it', async () => {
    const t = await topicWithQueue();
    const node = new FakeNode();
    const r1 = node.write(['a']);
    const o = outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS, idlePollMs: 20 });
    o.start(node);
    await waitFor(async () => { await t.drain(); return t.got.length === 1; }, 'first message');
    await waitFor(() => node.published === r1, 'published(r1)');
    const restored = node.restoreBackup(5); // while the outbox runs as leader
    // Nothing is written after the restore: the marker alone must go out, and be recorded.
    await waitFor(async () => { await t.drain(); return t.got.length === 2; }, 'the reset marker');
    const marker = t.got[1]!;
    expect(marker.body).toEqual({ v: 1, kind: 'reset', reason: 'restore', revision: restored, prevRevision: r1, part: 0, parts: 1, actor: 'flagraft', time: expect.any(String) });
    expect(Number.isFinite(Date.parse(marker.body.time))).toBe(true);
    expect(marker.attrs).toEqual({ kind: 'reset', op: 'reset', reason: 'restore', revision: String(restored), 'flagraft-sig': expect.stringMatching(/^v1\.k1\./) });
    expect(verifyEvent(verifier(), marker.raw, (n) => marker.typed.get(n))).toMatchObject({ ok: true, keyId: 'k1' });
    await waitFor(() => node.published === restored, 'published(restored) proposed without any later write');
    const r2 = node.write(['b']);
    await waitFor(async () => { await t.drain(); return t.got.some((m) => m.body.revision === r2); }, 'the change after the restore');
    while (await t.drain()) { /* drain */ }
    expect(t.got.map((m) => m.body.revision)).toEqual([r1, restored, r2]);
    expect(t.got[2]!.body).toMatchObject({ kind: 'flag', key: 'b', prevRevision: restored });
    expect(t.got.some((m) => m.body.actor === 'imported')).toBe(false);
    expect(o.metrics()).toMatchObject({ resets: 1, published: 3 });
    expect(node.logs.some((l) => l.level === 'info' && /restored from a backup/.test(l.msg))).toBe(true);
    await waitFor(() => node.published === r2, 'published(R) after the restore');
  });

  it('a second restore gets its own marker, chained to the first', async () => {
    const t = await topicWithQueue();
    const node = new FakeNode();
    outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS, idlePollMs: 20 }).start(node);
    const first = node.restoreBackup(3);
    await waitFor(() => node.published === first, 'first marker recorded');
    const second = node.restoreBackup(3); // a forced restore over the restored cluster, nothing written between
    await waitFor(() => node.published === second, 'second marker recorded');
    while (await t.drain()) { /* drain */ }
    expect(t.got.map((m) => [m.body.kind, m.body.revision, m.body.prevRevision])).toEqual([['reset', first, 0], ['reset', second, first]]);
  });

  it('a leader change does not lose the marker: a restore seen as follower, and a marker whose published(R) never replicated', async () => {
    const t = await topicWithQueue(true);
    const node = new FakeNode();
    const r1 = node.write(['a']);
    node.published = r1;
    node.leader = false;
    const o = outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS, idlePollMs: 20 });
    o.start(node);
    const restored = node.restoreBackup(4); // applied while this node follows: it publishes nothing
    expect(await t.drain()).toBe(0);
    // It becomes leader, but its published(R) proposals fail (it loses leadership before they commit).
    node.failProposals = true;
    node.setLeader(true);
    await waitFor(async () => { await t.drain(); return t.got.length === 1; }, 'marker from the new leader');
    expect(t.got[0]!.body).toMatchObject({ kind: 'reset', revision: restored, prevRevision: r1 });
    expect(t.got[0]!.sys).toMatchObject({ MessageGroupId: 'flagraft:reset', MessageDeduplicationId: String(restored) });
    await waitFor(() => o.metrics().proposeErrors >= 1, 'published(restored) failed');
    expect(node.published).toBe(r1);
    node.setLeader(false);
    await o.stop();
    // Another outbox (the next leader, in another process) starts from the replicated
    // published revision, which is still before the restore: it sends the marker again.
    // A FIFO topic drops the copy by MessageDeduplicationId; a standard one would
    // deliver it and consumers drop it by revision.
    node.failProposals = false;
    const o2 = outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS, idlePollMs: 20 });
    o2.start(node);
    node.setLeader(true);
    await waitFor(() => node.published === restored, 'the successor recorded the marker');
    expect(o2.metrics().resets).toBe(1);
    const r2 = node.write(['b']);
    await waitFor(async () => { await t.drain(); return t.got.some((m) => m.body.revision === r2); }, 'the change after it');
    expect(t.got.map((m) => m.body.revision)).toEqual([restored, r2]);
    expect(t.got[1]!.body.prevRevision).toBe(restored);
  });

  it('signs every message with the active key over its exact body and attributes (what relays verify)', async () => {
    const t = await topicWithQueue(true);
    const node = new FakeNode();
    node.write(['a']); node.write(['b', 'c']); node.write(['a']);
    const before = Date.now();
    outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS }).start(node);
    await waitFor(async () => { await t.drain(); return t.got.length === 4; }, 'four messages');
    const ring = verifier();
    for (const m of t.got) {
      const v = verifyEvent(ring, m.raw, (n) => m.typed.get(n));
      expect(v).toMatchObject({ ok: true, keyId: 'k1' });
      if (v.ok) expect(v.signedAtMs).toBeGreaterThanOrEqual(before);
    }
    // The same body under other routing attributes is not what was signed.
    const m = t.got[0]!;
    const moved = new Map(m.typed).set('key', { type: 'String', value: 'other' });
    expect(verifyEvent(ring, m.raw, (n) => moved.get(n))).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(node.logs.some((l) => l.msg === 'event signing keys loaded' && (l.fields as any).activeKeyId === 'k1')).toBe(true);
    expect(JSON.stringify(node.logs)).not.toContain(SECRETS.get('k1')!.slice(0, 12));
  });

  it('rotation: the keys file is re-read on SIGHUP (and on change); the next messages are signed with the new active key', async () => {
    const t = await topicWithQueue();
    const node = new FakeNode();
    const file = keysFile('rotate.json', 'r1', ['r1']);
    const o = outbox({ topicArn: t.topicArn, region: REGION, endpoint, credentials: CREDS, eventKeysFile: file, eventKeysPollMs: 0, idlePollMs: 20 });
    o.start(node);
    node.write(['a']);
    await waitFor(async () => { await t.drain(); return t.got.length === 1; }, 'first message');
    keysFile('rotate.json', 'r2', ['r1', 'r2']);
    // Without a signal (and no polling here) nothing changes yet.
    node.write(['b']);
    await waitFor(async () => { await t.drain(); return t.got.length === 2; }, 'second message');
    process.emit('SIGHUP');
    expect(node.logs.some((l) => l.msg === 'event signing keys reloaded' && (l.fields as any).activeKeyId === 'r2')).toBe(true);
    node.write(['c']);
    await waitFor(async () => { await t.drain(); return t.got.length === 3; }, 'third message');
    expect(t.got.map((m) => m.attrs['flagraft-sig']!.split('.')[1])).toEqual(['r1', 'r1', 'r2']);
    // A file without an active key is refused; signing goes on with the last good keys.
    keysFile('rotate.json', undefined, ['r2']);
    process.emit('SIGHUP');
    expect(node.logs.some((l) => l.level === 'error' && /not reloaded/.test(l.msg))).toBe(true);
    node.write(['d']);
    await waitFor(async () => { await t.drain(); return t.got.length === 4; }, 'fourth message');
    expect(verifyEvent(verifier(), t.got[3]!.raw, (n) => t.got[3]!.typed.get(n))).toMatchObject({ ok: true, keyId: 'r2' });
    await o.stop();
    expect(process.listeners('SIGHUP')).toHaveLength(0);
  });

  it('refuses to start without signing keys, or with a keys file that has no active key', () => {
    const base = { topicArn: 'arn:aws:sns:us-east-1:1:t', region: REGION };
    expect(() => createSnsOutbox(base)).toThrow(/eventKeysFile \(FLAGRAFT_EVENT_KEYS_FILE\) is required/);
    expect(() => createSnsOutbox({ ...base, eventKeysFile: keysFile('verify-only.json', undefined, ['k1']) })).toThrow(/active: required/);
    expect(() => createSnsOutbox({ ...base, eventKeysFile: join(keysDir, 'missing.json') })).toThrow(/cannot read \(ENOENT\)/);
  });

  it('refuses bad configuration with the field named', () => {
    expect(() => createSnsOutbox({ topicArn: 'nope', region: REGION, eventKeys: KEYS })).toThrow(OutboxConfigError);
    expect(() => createSnsOutbox({ topicArn: 'arn:aws:sns:us-east-1:1:t', region: REGION, batchSize: 11, eventKeys: KEYS })).toThrow(/batchSize/);
  });
});


describe('FLAGRAFT_SNS_EVENTS', () => {
  const base = { FLAGRAFT_NODE_ID: '1', FLAGRAFT_INSECURE: '1', FLAGRAFT_CLUSTER_ID: 'c1', FLAGRAFT_DATA_DIR: '/tmp/unused', FLAGRAFT_SNS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:t', FLAGRAFT_EVENT_KEYS_FILE: '/tmp/unused-keys.json' };
  it('is all by default, legacy on request, anything else refused by name', () => {
    expect(loadConfigFromEnv(base).sns?.events).toBe('all');
    expect(loadConfigFromEnv({ ...base, FLAGRAFT_SNS_EVENTS: 'legacy' }).sns?.events).toBe('legacy');
    expect(() => loadConfigFromEnv({ ...base, FLAGRAFT_SNS_EVENTS: 'some' })).toThrow(/FLAGRAFT_SNS_EVENTS must be "all" .* got "some"/);
  });
});
