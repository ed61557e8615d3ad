// The node wires the SNS outbox (src/outbox/) when FLAGRAFT_SNS_TOPIC_ARN is
// set: real 3-node cluster, the real AWS SDK, the fauxqs SNS/SQS emulator.
// A change is published once by the leader and published(R) is replicated; a
// restore from a backup is announced by one reset marker in the chain.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKeyRing, EventKeySet, verifyEvent } from '@flagraft/auth';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { BackupDocument } from '@flagraft/flag-model';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { NODE_MAIN_JS as MAIN_JS, startEmulator, startLocalCluster, type Emulator, type LocalCluster } from '@flagraft/testkit';
import { flag, waitFor } from './helpers.js';

const REGION = 'us-east-1';
const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('SNS outbox wiring', () => {
  let fx: Emulator;
  let cluster: LocalCluster;
  let client: ClusterClient;
  let sqs: SQSClient;
  let queueUrl: string;
  const dir = mkdtempSync(join(tmpdir(), 'node-outbox-'));
  const keysFile = join(dir, 'event-keys.json');
  writeFileSync(keysFile, JSON.stringify({ v: 1, active: 'node-test', keys: [{ id: 'node-test', secret: randomBytes(32).toString('base64') }] }), { mode: 0o600 });

  beforeAll(async () => {
    fx = await startEmulator();
    const endpoint = `http://127.0.0.1:${fx.port}`;
    const sns = new SNSClient({ endpoint, region: REGION, credentials: CREDS });
    sqs = new SQSClient({ endpoint, region: REGION, credentials: CREDS });
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'node-outbox' }))).TopicArn!;
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'node-outbox' }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: arn, Attributes: { RawMessageDelivery: 'true' } }));
    sns.destroy();
    cluster = await startLocalCluster({ size: 3, env: {
      FLAGRAFT_SNS_TOPIC_ARN: topicArn, FLAGRAFT_SNS_ENDPOINT: endpoint, FLAGRAFT_SNS_REGION: REGION, FLAGRAFT_EVENT_KEYS_FILE: keysFile,
      AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
    } });
    client = createClusterClient({ ...cluster.clientOptions() });
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    sqs?.destroy();
    await fx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a node with an SNS topic but no event keys file refuses to start, naming the variable', () => {
    const r = spawnSync(process.execPath, [MAIN_JS], {
      // Plain text: this is about the outbox's configuration, not the transport.
      env: { PATH: process.env.PATH, FLAGRAFT_NODE_ID: '1', FLAGRAFT_LISTEN: '127.0.0.1:0', FLAGRAFT_DATA_DIR: join(dir, 'no-keys'), FLAGRAFT_SNS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:t',
        FLAGRAFT_INSECURE: '1', FLAGRAFT_CLUSTER_ID: 'outbox-config' },
      encoding: 'utf8', timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FLAGRAFT_EVENT_KEYS_FILE is required with FLAGRAFT_SNS_TOPIC_ARN/);
  });

  it('publishes each committed change once and replicates published(R)', async () => {
    const w = await client.putFlag(flag('outboxed', 'x'), { actor: 'alice' });
    const bodies: any[] = [];
    const ring = new EventKeyRing(EventKeySet.load(keysFile));
    await waitFor('message on the queue', async () => {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }));
      for (const m of out.Messages ?? []) {
        // Signed by the leader with the key of FLAGRAFT_EVENT_KEYS_FILE.
        const attr = (n: string) => { const a = m.MessageAttributes?.[n]; return a && { type: a.DataType!, value: a.StringValue! }; };
        expect(verifyEvent(ring, m.Body!, attr)).toMatchObject({ ok: true, keyId: 'node-test' });
        bodies.push(JSON.parse(m.Body!));
      }
      return bodies.some((b) => b.revision === w.revision);
    });
    const ev = bodies.find((b) => b.revision === w.revision);
    expect(ev).toMatchObject({ v: 1, kind: 'flag', key: 'outboxed', op: 'put', actor: 'alice' });
    expect(bodies.filter((b) => b.revision === w.revision).length).toBe(1);
    // published(R) went through Raft: every node reports it
    for (const ep of cluster.endpoints) {
      await waitFor(`publishedRevision on ${ep}`, async () => (await client.status({ endpoint: ep })).publishedRevision! >= w.revision);
    }
  });

  /** Receives (and deletes) what is on the queue: bodies and attributes, in receive order. */
  const received: { body: any; attrs: Record<string, string> }[] = [];
  async function drain(): Promise<number> {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }));
    const msgs = out.Messages ?? [];
    for (const m of msgs) {
      received.push({ body: JSON.parse(m.Body!), attrs: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? ''])) });
    }
    if (msgs.length) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    return msgs.length;
  }

  it('a forced restore publishes one reset marker at its revision, recorded without any later write; the next change chains to it', async () => {
    const before = await client.putFlag(flag('pre-backup', 'x'), { actor: 'alice' });
    const b = await client.backup();
    const doc: BackupDocument = {
      format: 'flagraft-backup', v: 1, clusterId: b.clusterId, revision: b.revision, createdAt: b.createdAt,
      segments: b.segmentsJson.map((j) => JSON.parse(j)), flags: b.flagsJson.map((j) => JSON.parse(j)), changes: b.changesJson.map((j) => JSON.parse(j)),
    };
    const lastLive = await client.putFlag(flag('replaced-by-restore', 'y'), { actor: 'bob' });
    await waitFor('last live change published', async () => { await drain(); return received.some((m) => m.body.revision === lastLive.revision); });
    for (const ep of cluster.endpoints) {
      await waitFor(`published ${lastLive.revision} on ${ep}`, async () => (await client.status({ endpoint: ep })).publishedRevision! >= lastLive.revision);
    }
    const seenBefore = received.length;
    const r = await client.restore(doc, { actor: 'admin', force: true });
    expect(r.revision).toBeGreaterThan(lastLive.revision);
    expect((await client.status()).restoredRevision).toBe(r.revision);
    // Nothing is written after the restore: the marker alone arrives and is recorded everywhere.
    await waitFor('reset marker on the queue', async () => { await drain(); return received.some((m) => m.body.kind === 'reset'); });
    for (const ep of cluster.endpoints) {
      await waitFor(`publishedRevision reaches the restore on ${ep}`, async () => (await client.status({ endpoint: ep })).publishedRevision! >= r.revision);
    }
    const after = await client.putFlag(flag('post-restore', 'z'), { actor: 'carol' });
    await waitFor('change after the restore', async () => { await drain(); return received.some((m) => m.body.revision === after.revision); });
    const since = received.slice(seenBefore);
    const markers = since.filter((m) => m.body.kind === 'reset');
    expect(markers.length).toBe(1);
    expect(markers[0]!.body).toMatchObject({ v: 1, kind: 'reset', reason: 'restore', revision: r.revision, prevRevision: lastLive.revision, part: 0, parts: 1 });
    expect(markers[0]!.attrs).toMatchObject({ kind: 'reset', op: 'reset', reason: 'restore', revision: String(r.revision) });
    // The imported history (e.g. the pre-backup write) is never published again.
    expect(since.some((m) => m.body.revision === before.revision)).toBe(false);
    expect(since.map((m) => m.body.revision)).toEqual([r.revision, after.revision]);
    expect(since[1]!.body).toMatchObject({ kind: 'flag', key: 'post-restore', prevRevision: r.revision });
  });
});
