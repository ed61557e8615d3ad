// The node wires the SNS outbox (src/outbox/) when FLAGRAFT_SNS_TOPIC_ARN is
// set: real 3-node cluster, the real AWS SDK, the fauxqs SNS/SQS emulator.
// A change is published once by the leader and published(R) is replicated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '../src/index.js';
import { flag, waitFor } from './helpers.js';

const REGION = 'us-east-1';
const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('SNS outbox wiring', () => {
  let fx: FauxqsServer;
  let cluster: LocalCluster;
  let client: ClusterClient;
  let sqs: SQSClient;
  let queueUrl: string;

  beforeAll(async () => {
    fx = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
    const endpoint = `http://127.0.0.1:${fx.port}`;
    const sns = new SNSClient({ endpoint, region: REGION, credentials: CREDS });
    sqs = new SQSClient({ endpoint, region: REGION, credentials: CREDS });
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'node-outbox' }))).TopicArn!;
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'node-outbox' }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: arn, Attributes: { RawMessageDelivery: 'true' } }));
    sns.destroy();
    cluster = await startLocalCluster({ size: 3, env: {
      FLAGRAFT_SNS_TOPIC_ARN: topicArn, FLAGRAFT_SNS_ENDPOINT: endpoint, FLAGRAFT_SNS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
    } });
    client = createClusterClient({ endpoints: cluster.endpoints, clusterId: cluster.clusterId });
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    sqs?.destroy();
    await fx?.stop();
  });

  it('publishes each committed change once and replicates published(R)', async () => {
    const w = await client.putFlag(flag('outboxed', 'x'), { actor: 'alice' });
    const bodies: any[] = [];
    await waitFor('message on the queue', async () => {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }));
      for (const m of out.Messages ?? []) bodies.push(JSON.parse(m.Body!));
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
});
