// Signed change events end to end, with real processes: a 3-node cluster
// whose leader signs with FLAGRAFT_EVENT_KEYS_FILE, a relay process
// (dist/main.js) verifying with the same file, the fauxqs SNS/SQS emulator
// reached with the real AWS SDK, and a real WebSocket client. An attacker
// with sns:Publish on the topic publishes straight to it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { SubscribeCommand } from '@aws-sdk/client-sns';
import { EventKeyRing, EventKeySet, hashToken } from '@flagraft/auth';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import {
  TOKENS, connect, newSecret, publishRaw, signAttributes, spawnJson, startEmulator, uniqueName, waitFor, writeKeysFile,
  type Proc, type TestClient,
} from './helpers.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
type Attrs = Record<string, { DataType: string; StringValue: string }>;

let emu: Awaited<ReturnType<typeof startEmulator>>;
let relay: Proc;
let cluster: LocalCluster | undefined;
let client: ClusterClient | undefined;
let ws: TestClient | undefined;
let topicArn: string;
let relayUrl: string;
let queueName: string;
/** A raw-delivery queue on the topic: what an attacker with read access could capture. */
let tapUrl: string;
const SECRETS = { k1: newSecret(), k2: newSecret() };
const keysFile = writeKeysFile('k1', { k1: SECRETS.k1 });

const flag = (key: string, n: number) => ({ key, type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: n % 2 ? 'on' : 'off', enabled: true, rules: [] });

beforeAll(async () => {
  emu = await startEmulator();
  queueName = uniqueName('sig-q');
  relay = spawnJson(MAIN, {
    FLAGRAFT_RELAY_PORT: '0', FLAGRAFT_AWS_ENDPOINT: emu.endpoint, FLAGRAFT_RELAY_QUEUE_NAME: queueName,
    FLAGRAFT_RELAY_CREATE_RESOURCES: 'true', FLAGRAFT_RELAY_TOPIC_NAME: uniqueName('sig-topic'), FLAGRAFT_RELAY_WAIT_TIME_SECONDS: '1',
    FLAGRAFT_RELAY_POISON_RETRY_DELAY_SECONDS: '0', FLAGRAFT_EVENT_KEYS_FILE: keysFile,
    FLAGRAFT_TOKENS: JSON.stringify([{ name: 'rita', role: 'reader', sha256: hashToken(TOKENS.reader) }]),
  });
  await waitFor(() => relay.lines.some((l) => l.msg === 'relay listening') || relay.p.exitCode !== null, 'relay listening', 20_000);
  const listening = relay.lines.find((l) => l.msg === 'relay listening');
  relayUrl = `http://127.0.0.1:${listening.port}`;
  topicArn = relay.lines.find((l) => String(l.msg).startsWith('provisioned')).topicArn;
  tapUrl = (await emu.sqs.send(new CreateQueueCommand({ QueueName: uniqueName('tap') }))).QueueUrl!;
  const tapArn = (await emu.sqs.send(new GetQueueAttributesCommand({ QueueUrl: tapUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await emu.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: tapArn, Attributes: { RawMessageDelivery: 'true' } }));
  cluster = await startLocalCluster({ size: 3, env: { FLAGRAFT_SNS_TOPIC_ARN: topicArn, FLAGRAFT_SNS_ENDPOINT: emu.endpoint, FLAGRAFT_SNS_REGION: 'us-east-1', FLAGRAFT_EVENT_KEYS_FILE: keysFile } });
  client = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 30_000 });
  ws = connect(`ws://127.0.0.1:${listening.port}/ws`, { token: TOKENS.reader });
  await waitFor(() => ws!.messages.some((m) => m.type === 'hello'), 'hello');
}, 120_000);

afterAll(async () => {
  await ws?.close();
  client?.close();
  await cluster?.stop();
  await relay?.stop();
  await emu?.stop();
}, 60_000);

/** Everything the tap queue received so far, by revision (raw body and attributes, as published). */
const tapped = new Map<number, Message>();
async function drainTap(): Promise<void> {
  for (;;) {
    const out = await emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: tapUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }));
    const msgs = out.Messages ?? [];
    if (msgs.length === 0) return;
    for (const m of msgs) tapped.set(JSON.parse(m.Body!).revision, m);
    await emu.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: tapUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  }
}
const attrsOf = (m: Message): Attrs => Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { DataType: v.DataType!, StringValue: v.StringValue! }]));
const keyIdOf = (m: Message) => m.MessageAttributes?.['flagraft-sig']?.StringValue?.split('.')[1];

/** A genuine write, seen by the WebSocket client and on the tap. */
async function write(key: string, n: number): Promise<number> {
  const { revision } = await client!.putFlag(flag(key, n), { actor: 'alice' });
  await waitFor(() => ws!.changes().some((e) => e.revision === revision), `write ${revision} at the client`, 15_000);
  await waitFor(async () => { await drainTap(); return tapped.has(revision); }, `write ${revision} on the tap`);
  return revision;
}

/** The relay's counter values from /metrics: `name{label="x"}` -> value. */
async function metrics(): Promise<Map<string, number>> {
  const text = await (await fetch(`${relayUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(flagraft_relay_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}
const rejected = (m: Map<string, number>, reason: string) => m.get(`flagraft_relay_rejected_messages_total{reason="${reason}"}`) ?? 0;

/** Bodies in the relay's dead-letter queue, with the reason the relay gave. */
const dead: { body: any; reason: string | undefined }[] = [];
async function drainDlq(): Promise<void> {
  const url = (await emu.sqs.send(new GetQueueUrlCommand({ QueueName: `${queueName}-dlq` }))).QueueUrl!;
  for (;;) {
    const out = await emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }));
    const msgs = out.Messages ?? [];
    if (msgs.length === 0) return;
    for (const m of msgs) {
      const outer = JSON.parse(m.Body!); // the relay's subscription delivers SNS envelopes
      dead.push({ body: JSON.parse(outer.Message), reason: m.MessageAttributes?.['flagraft-rejected']?.StringValue });
    }
    await emu.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: msgs.map((x, i) => ({ Id: String(i), ReceiptHandle: x.ReceiptHandle! })) }));
  }
}

/** A chained change event for `key` at `revision`, as the outbox would publish it, and its attributes. */
function forgedEvent(revision: number, prevRevision: number, key: string) {
  const body = JSON.stringify({
    v: 1, revision, kind: 'flag', key, op: 'put', actor: 'mallory', time: new Date().toISOString(), part: 0, parts: 1, prevRevision,
    flag: { flag: flag(key, 1), createRevision: revision, modRevision: revision, version: 1, updatedAt: Date.now(), updatedBy: 'mallory' },
  });
  const attrs: Attrs = {
    key: { DataType: 'String', StringValue: key }, op: { DataType: 'String', StringValue: 'put' },
    revision: { DataType: 'Number', StringValue: String(revision) }, kind: { DataType: 'String', StringValue: 'flag' },
  };
  return { body, attrs };
}

describe('signed change events', () => {
  it('forged, unsigned, wrongly signed, replayed and absurd-revision events reach no client, land in the DLQ, are counted, and stop nothing', async () => {
    const w1 = await write('victim', 1);
    const captured = tapped.get(w1)!;
    expect(keyIdOf(captured)).toBe('k1');
    const before = await metrics();
    const real = new EventKeyRing(EventKeySet.load(keysFile));
    const guessedId = new EventKeyRing(EventKeySet.parse(JSON.stringify({ v: 1, active: 'k1', keys: [{ id: 'k1', secret: newSecret() }] }), 'attacker'));
    const ownKey = new EventKeyRing(EventKeySet.parse(JSON.stringify({ v: 1, active: 'mallory', keys: [{ id: 'mallory', secret: newSecret() }] }), 'attacker'));
    const absurd = forgedEvent(999_999_999, w1, 'victim');

    // The attacks of issue 11, straight to the topic with the AWS SDK.
    await publishRaw(emu.sns, topicArn, absurd.body, absurd.attrs); // unsigned
    await publishRaw(emu.sns, topicArn, absurd.body, signAttributes(absurd.body, absurd.attrs, { sign: guessedId })); // right key id, wrong secret
    await publishRaw(emu.sns, topicArn, absurd.body, signAttributes(absurd.body, absurd.attrs, { sign: ownKey })); // a key the relay does not know
    const tampered = captured.Body!.replace(`"revision":${w1}`, '"revision":999999999');
    await publishRaw(emu.sns, topicArn, tampered, attrsOf(captured)); // a genuine signature on an edited body
    await publishRaw(emu.sns, topicArn, captured.Body!, attrsOf(captured)); // a replay of the genuine message, now
    const oldCapture = forgedEvent(w1, w1 - 1, 'victim');
    // A genuine message captured 10 minutes ago (signed with the real key back then), published again now.
    await publishRaw(emu.sns, topicArn, oldCapture.body, signAttributes(oldCapture.body, oldCapture.attrs, { sign: real, signedAtMs: Date.now() - 600_000 }));
    // A signer with a bug: a validly signed event at revision 999999999 naming the right predecessor.
    const buggy = forgedEvent(999_999_999, w1, 'victim');
    await publishRaw(emu.sns, topicArn, buggy.body, signAttributes(buggy.body, buggy.attrs, { sign: real }));

    // Genuine changes to the same key keep flowing.
    const w2 = await write('victim', 2);
    const w3 = await write('victim', 3);
    const expected = new Map([['unsigned', 1], ['bad-signature', 2], ['unknown-key', 1], ['replay', 1], ['stale-signature', 1], ['implausible-revision', 1]]);
    await waitFor(async () => {
      await drainDlq();
      return [...expected].every(([reason, n]) => dead.filter((d) => d.reason === reason).length === n);
    }, 'every attack in the dead-letter queue', 30_000, 100);
    const after = await metrics();
    for (const [reason, n] of expected) expect(rejected(after, reason) - rejected(before, reason), reason).toBe(reason === 'unknown-key' ? 5 : n);
    expect(dead).toHaveLength(7);
    expect(dead.every((d) => d.body.key === 'victim')).toBe(true);

    // The client saw the genuine writes, in order, once each, and nothing else: no forged change, no resync.
    expect(ws!.changes().filter((e) => e.key === 'victim').map((e) => e.revision)).toEqual([w1, w2, w3]);
    expect(ws!.changes().some((e) => e.actor === 'mallory' || e.revision === 999_999_999)).toBe(false);
    expect(ws!.messages.filter((m) => m.type === 'resync')).toEqual([]);
    expect(((await (await fetch(`${relayUrl}/ready`)).json()) as { revision: number }).revision).toBe(w3);
    expect(JSON.stringify(relay.lines)).not.toContain(SECRETS.k1.slice(0, 16));
    expect(readFileSync(cluster!.nodes[0]!.logFile, 'utf8')).not.toContain(SECRETS.k1.slice(0, 16));
  }, 90_000);

  it('key rotation with real processes: accept the new key everywhere, sign with it, retire the old one; no event is lost or refused', async () => {
    const sighup = (pids: number[]) => { for (const pid of pids) process.kill(pid, 'SIGHUP'); };
    const nodePids = () => cluster!.nodes.map((n) => n.pid);
    const relayReloads = () => relay.lines.filter((l) => l.msg === 'event keys reloaded');
    const before = await metrics();
    const first = await write('rotating', 1);
    expect(keyIdOf(tapped.get(first)!)).toBe('k1');

    // 1. The new key, accept-only, everywhere (relays first is what matters).
    writeKeysFile('k1', SECRETS, keysFile);
    sighup([relay.p.pid!, ...nodePids()]);
    await waitFor(() => relayReloads().some((l) => l.keyIds.includes('k2')), 'relay accepts k2');
    const stillOld = await write('rotating', 2);
    expect(keyIdOf(tapped.get(stillOld)!)).toBe('k1');

    // 2. Make it active on the nodes: the leader signs with k2 from its next message on.
    writeKeysFile('k2', SECRETS, keysFile);
    sighup(nodePids());
    await waitFor(() => cluster!.nodes.every((n) => /"event signing keys reloaded".*"activeKeyId":"k2"/.test(readFileSync(n.logFile, 'utf8'))), 'every node signs with k2');
    const signedNew = await write('rotating', 3);
    expect(keyIdOf(tapped.get(signedNew)!)).toBe('k2');
    // Both keys are valid in this window: a message still signed with k1 (here, a new
    // leader publishing an earlier change again) is accepted, and dropped as a copy.
    const again = tapped.get(stillOld)!;
    const ev = JSON.parse(again.Body!);
    const k1Only = new EventKeyRing(EventKeySet.parse(JSON.stringify({ v: 1, active: 'k1', keys: [{ id: 'k1', secret: SECRETS.k1 }] }), 'old'));
    const attrs = Object.fromEntries(Object.entries(attrsOf(again)).filter(([k]) => k !== 'flagraft-sig'));
    await publishRaw(emu.sns, topicArn, again.Body!, signAttributes(again.Body!, attrs, { sign: k1Only }));
    await waitFor(async () => ((await metrics()).get('flagraft_relay_duplicates_dropped_total{reason="duplicate"}') ?? 0)
      > (before.get('flagraft_relay_duplicates_dropped_total{reason="duplicate"}') ?? 0), 'the k1 copy verified and dropped as a duplicate');
    expect(ev.revision).toBe(stillOld);

    // 3. Retire k1 everywhere.
    writeKeysFile('k2', { k2: SECRETS.k2 }, keysFile);
    sighup([relay.p.pid!, ...nodePids()]);
    await waitFor(() => relayReloads().some((l) => l.keyIds.length === 1 && l.keyIds[0] === 'k2'), 'relay dropped k1');
    const last = await write('rotating', 4);
    expect(keyIdOf(tapped.get(last)!)).toBe('k2');

    const after = await metrics();
    for (const reason of ['unsigned', 'bad-signature', 'unknown-key', 'replay', 'stale-signature', 'future-signature', 'malformed', 'implausible-revision']) {
      expect(rejected(after, reason) - rejected(before, reason), reason).toBe(0);
    }
    expect(after.get('flagraft_relay_verified_messages_total{key_id="k2"}')).toBeGreaterThanOrEqual(2);
    expect(after.get('flagraft_relay_event_keys{key_id="k2"}')).toBe(1);
    expect(after.has('flagraft_relay_event_keys{key_id="k1"}')).toBe(false);
    expect(ws!.changes().filter((e) => e.key === 'rotating').map((e) => e.revision)).toEqual([first, stillOld, signedNew, last]);
    expect(ws!.messages.filter((m) => m.type === 'resync')).toEqual([]);

    // A k1 signature is refused now (after the retries a late relay would get).
    const late = forgedEvent(last + 1000, last, 'rotating');
    await publishRaw(emu.sns, topicArn, late.body, signAttributes(late.body, late.attrs, { sign: k1Only }));
    await waitFor(async () => { await drainDlq(); return dead.some((d) => d.reason === 'unknown-key' && d.body.key === 'rotating'); }, 'retired-key message in the DLQ', 30_000, 100);
  }, 120_000);
});
