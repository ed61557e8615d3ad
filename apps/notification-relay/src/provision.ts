import { CreateTopicCommand, SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ProvisionConfig } from './config.js';
import type { LogFn } from './log.js';

export interface ProvisionedResources {
  topicArn: string;
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
  dlqArn: string;
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${url}: no QueueArn attribute`);
  return arn;
}

/**
 * Creates (idempotently) the topic, the dead-letter queue, the relay's queue
 * with a RedrivePolicy pointing at it, a queue policy that lets the topic
 * deliver, and the subscription. For local use: production resources are
 * made by the operator's infrastructure code.
 */
export async function provisionResources(sns: SNSClient, sqs: SQSClient, queueName: string, p: ProvisionConfig, log: LogFn): Promise<ProvisionedResources> {
  const fifo = queueName.endsWith('.fifo');
  let topicArn = p.topicArn;
  if (!topicArn) {
    const name = p.topicName!;
    const attrs: Record<string, string> = {};
    if (name.endsWith('.fifo')) attrs.FifoTopic = 'true';
    topicArn = (await sns.send(new CreateTopicCommand({ Name: name, Attributes: attrs }))).TopicArn!;
  }
  if (topicArn.endsWith('.fifo') !== fifo) {
    throw new Error(`provision: topic ${topicArn} and queue ${queueName} must both be FIFO (.fifo) or both standard`);
  }
  const dlqName = p.dlqName ?? (fifo ? `${queueName.slice(0, -5)}-dlq.fifo` : `${queueName}-dlq`);
  const fifoAttrs: Record<string, string> = fifo ? { FifoQueue: 'true' } : {};
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: dlqName, Attributes: { ...fifoAttrs } }))).QueueUrl!;
  const dlqArn = await queueArn(sqs, dlqUrl);
  let queueUrl: string;
  try {
    queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }))).QueueUrl!;
  } catch {
    queueUrl = '';
  }
  if (!queueUrl) {
    const qArnGuess = '*';
    queueUrl = (await sqs.send(new CreateQueueCommand({
      QueueName: queueName,
      Attributes: {
        ...fifoAttrs,
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: p.maxReceiveCount }),
        // Lets the topic deliver into the queue on real AWS (the emulator ignores it).
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'sns.amazonaws.com' }, Action: 'sqs:SendMessage', Resource: qArnGuess, Condition: { ArnEquals: { 'aws:SourceArn': topicArn } } }],
        }),
      },
    }))).QueueUrl!;
  }
  const qArn = await queueArn(sqs, queueUrl);
  await sns.send(new SubscribeCommand({
    TopicArn: topicArn, Protocol: 'sqs', Endpoint: qArn,
    Attributes: p.rawDelivery ? { RawMessageDelivery: 'true' } : {},
  }));
  log('info', 'provisioned topic, queue, dead-letter queue and subscription', { topicArn, queueUrl, dlqUrl, maxReceiveCount: p.maxReceiveCount, rawDelivery: p.rawDelivery });
  return { topicArn, queueUrl, queueArn: qArn, dlqUrl, dlqArn };
}
