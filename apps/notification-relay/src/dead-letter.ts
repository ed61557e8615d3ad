import {
  ChangeMessageVisibilityCommand, DeleteMessageCommand, GetQueueUrlCommand, SendMessageCommand,
  type Message, type MessageAttributeValue, type SQSClient,
} from '@aws-sdk/client-sqs';
import type { LogFn } from './log.js';
import { RECEIVED_ATTRIBUTE_NAMES, type RejectReason } from './verify.js';

/** Message attribute added to a dead-lettered message: why the relay refused it. */
export const REJECTED_REASON_ATTRIBUTE = 'flagraft-rejected';
/** Receives an unknown-key message gets before it is dead-lettered (a relay whose keys file is late gets this long). */
export const UNKNOWN_KEY_RECEIVES = 5;

/**
 * Where refused messages go.
 * - move: the relay knows the dead-letter queue (it created it, or found it in
 *   the queue's RedrivePolicy): it sends the message there at once, with the
 *   reason as an attribute, and deletes it from its queue. Forgeries never
 *   take a second receive.
 * - redrive: the queue has a RedrivePolicy whose queue the relay cannot
 *   reach: the message is made visible again after retryDelaySeconds until
 *   SQS moves it after maxReceiveCount receives.
 * - delete: no dead-letter queue at all: the message is deleted (it was
 *   logged and counted first).
 */
export type DeadLetterMode = { kind: 'move'; dlqUrl: string } | { kind: 'redrive' } | { kind: 'delete' };

/** Finds the dead-letter queue named by a RedrivePolicy (same account), or says why not. */
export async function resolveDeadLetterMode(sqs: SQSClient, redrivePolicy: string | undefined, provisionedDlqUrl: string | undefined, log: LogFn): Promise<DeadLetterMode> {
  if (provisionedDlqUrl) return { kind: 'move', dlqUrl: provisionedDlqUrl };
  if (!redrivePolicy) return { kind: 'delete' };
  try {
    const arn = String((JSON.parse(redrivePolicy) as { deadLetterTargetArn?: unknown }).deadLetterTargetArn ?? '');
    const name = arn.split(':').pop();
    if (!name) throw new Error('RedrivePolicy has no deadLetterTargetArn');
    const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    if (!url) throw new Error(`no URL for ${name}`);
    return { kind: 'move', dlqUrl: url };
  } catch (err) {
    log('warn', 'cannot reach the dead-letter queue of the RedrivePolicy; refused messages wait for SQS to move them', { error: String((err as Error).message ?? err) });
    return { kind: 'redrive' };
  }
}

export class DeadLetters {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    readonly mode: DeadLetterMode,
    private readonly retryDelaySeconds: number,
    private readonly log: LogFn,
  ) {}

  /**
   * Takes a refused message off the relay's queue (see DeadLetterMode). An
   * unknown key id may be a rotation the relay has not caught up with yet:
   * such a message is retried a few times first.
   */
  reject(m: Message, reason: RejectReason): 'retried later' | 'deleted' | 'moved to the dead-letter queue' {
    const handle = m.ReceiptHandle ?? '';
    const receives = Number(m.Attributes?.ApproximateReceiveCount ?? 1);
    if (this.mode.kind === 'redrive' || (reason === 'unknown-key' && receives < UNKNOWN_KEY_RECEIVES)) {
      this.retryLater(m.MessageId, handle);
      return 'retried later';
    }
    if (this.mode.kind === 'delete') {
      void this.delete(m.MessageId, handle);
      return 'deleted';
    }
    void this.move(this.mode.dlqUrl, m, handle, reason);
    return 'moved to the dead-letter queue';
  }

  private async move(dlqUrl: string, m: Message, handle: string, reason: RejectReason): Promise<void> {
    // Only the attributes the relay asked for, by their fixed names (raw delivery; with
    // an SNS envelope they are inside the body). 6 + 1 stay under SQS's limit of 10.
    const attributes: Record<string, MessageAttributeValue> = {};
    const got = m.MessageAttributes ?? {};
    for (const name of RECEIVED_ATTRIBUTE_NAMES) {
      const v = Object.hasOwn(got, name) ? got[name] : undefined;
      if (v?.DataType && v.StringValue !== undefined) attributes[name] = { DataType: v.DataType, StringValue: v.StringValue };
    }
    attributes[REJECTED_REASON_ATTRIBUTE] = { DataType: 'String', StringValue: reason };
    const fifo = dlqUrl.endsWith('.fifo');
    try {
      await this.sqs.send(new SendMessageCommand({
        QueueUrl: dlqUrl, MessageBody: m.Body ?? '', MessageAttributes: attributes,
        ...(fifo ? { MessageGroupId: m.Attributes?.MessageGroupId ?? 'flagraft-rejected', MessageDeduplicationId: m.MessageId } : {}),
      }));
    } catch (err) {
      this.log('warn', 'could not send a refused message to the dead-letter queue; it will be retried', { messageId: m.MessageId, err });
      this.retryLater(m.MessageId, handle);
      return;
    }
    await this.delete(m.MessageId, handle);
  }

  private async delete(messageId: string | undefined, handle: string): Promise<void> {
    try {
      await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: handle }));
    } catch (err) {
      // It comes back and is refused again (a copy in the DLQ is harmless).
      this.log('warn', 'could not delete a refused message; it will come back', { messageId, err });
    }
  }

  private retryLater(messageId: string | undefined, handle: string): void {
    this.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: handle, VisibilityTimeout: this.retryDelaySeconds }))
      .catch((err: unknown) => this.log('warn', 'could not reset the visibility of a refused message', { messageId, err }));
  }
}
