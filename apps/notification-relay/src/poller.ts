import {
  ChangeMessageVisibilityCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient,
} from '@aws-sdk/client-sqs';
import type { RelayConfig } from './config.js';
import type { DeadLetters } from './dead-letter.js';
import type { LogFn } from './log.js';
import type { RelayMetrics } from './metrics.js';
import type { Delivery } from './sequencer.js';
import { RECEIVED_ATTRIBUTE_NAMES, type MessageGate, type RejectReason } from './verify.js';

/** Longest pause between failed receives, ms. */
const MAX_RECEIVE_BACKOFF_MS = 30_000;
/** SQS DeleteMessageBatch takes at most 10 entries. */
const DELETE_BATCH_MAX = 10;
/** Log lines about refused messages, per reason and second (a flood of forgeries must not flood the log). */
const REJECT_LOG_LINES_PER_SECOND = 5;

export interface ReceivedDelivery extends Delivery {
  receivedAtMs: number;
  /** Gives the message back to SQS at once (visibility 0), for events not fanned out at shutdown. */
  nack: () => Promise<void>;
}

/**
 * Several long-poll loops on the relay's queue, plus batched deletes.
 * Every message passes the gate (verify.ts: signature, signing time, event,
 * replay) before anything else; a refused one is counted, logged (rate
 * limited) and handed to DeadLetters, and never reaches the sequencer.
 * An admitted message is deleted only when `ack()` is called, which the relay
 * does after the event was fanned out (or dropped as a duplicate); the
 * sequencer may still `reject()` it as implausible.
 */
export class SqsPollers {
  private running = false;
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  private toDelete: { id: string; handle: string }[] = [];
  private flushScheduled = false;
  private readonly inflightDeletes = new Set<Promise<void>>();
  private consecutiveErrors = 0;
  private seq = 0;
  private readonly rejectLog = new Map<RejectReason, { second: number; lines: number; suppressed: number }>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly cfg: RelayConfig,
    private readonly metrics: RelayMetrics,
    private readonly log: LogFn,
    private readonly gate: MessageGate,
    private readonly deadLetters: DeadLetters,
    private readonly onBatch: (batch: ReceivedDelivery[]) => void,
  ) {}

  /**
   * False once three receives in a row have failed. (The queue was reached
   * before start(), so an idle queue - whose first long poll takes
   * waitTimeSeconds to return - does not keep the relay unready.)
   */
  get healthy(): boolean { return this.running && this.consecutiveErrors < 3; }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.cfg.pollers; i++) this.loops.push(this.loop(i));
  }

  /**
   * Stops receiving and waits for pending deletes. Long polls in flight are
   * allowed to finish (at most waitTimeSeconds) and what they bring is
   * handled normally: aborting them would leave messages that the server
   * already handed out invisible for the whole visibility timeout. Polls
   * still running after `timeoutMs` are aborted.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.running = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.loops),
      new Promise<void>((res) => { timer = setTimeout(res, timeoutMs); }),
    ]);
    if (timer) clearTimeout(timer);
    this.abort.abort();
    await Promise.all(this.loops);
    this.flushDeletes();
    await Promise.all([...this.inflightDeletes]);
  }

  private async loop(n: number): Promise<void> {
    let backoff = this.cfg.receiveErrorBackoffMs;
    // After a failure the next receive is a short poll, so recovery (and
    // readiness) shows at once instead of after a full long-poll wait.
    let probe = false;
    while (this.running) {
      let messages: Message[];
      try {
        const out = await this.sqs.send(new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: this.cfg.maxMessagesPerReceive,
          WaitTimeSeconds: probe ? 0 : this.cfg.waitTimeSeconds,
          VisibilityTimeout: this.cfg.visibilityTimeoutSeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'MessageGroupId'],
          MessageAttributeNames: RECEIVED_ATTRIBUTE_NAMES,
        }), { abortSignal: this.abort.signal });
        messages = out.Messages ?? [];
        this.consecutiveErrors = 0;
        probe = false;
        backoff = this.cfg.receiveErrorBackoffMs;
      } catch (err) {
        if (!this.running) break;
        this.consecutiveErrors++;
        probe = true;
        this.metrics.receiveErrors.inc();
        this.log('warn', 'SQS receive failed; backing off', { poller: n, err, backoffMs: backoff, queueUrl: this.queueUrl });
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_RECEIVE_BACKOFF_MS);
        continue;
      }
      if (messages.length === 0) continue;
      try {
        this.handle(messages);
      } catch (err) {
        // A bug must not end the poller: the messages were not deleted and come back.
        this.log('error', 'handling received messages failed; they will be redelivered', { poller: n, err, error: String((err as Error)?.stack ?? err) });
      }
    }
  }

  private handle(messages: Message[]): void {
    const now = Date.now();
    const batch: ReceivedDelivery[] = [];
    for (const m of messages) {
      const handle = m.ReceiptHandle;
      if (!handle) continue;
      const a = this.gate.admit(m, now);
      if (!a.ok) {
        this.refuse(m, a.reason, a.detail);
        continue;
      }
      this.metrics.eventsReceived.inc();
      this.metrics.verified.inc({ key_id: a.keyId });
      batch.push({
        event: a.event, signedAtMs: a.signedAtMs, receivedAtMs: now,
        ack: () => this.scheduleDelete(handle), nack: () => this.makeVisible(handle),
        reject: (reason, detail) => this.refuse(m, reason, detail),
      });
    }
    if (batch.length > 0) this.onBatch(batch);
  }

  /** Counts, logs (a few lines a second per reason) and dead-letters a refused message. */
  private refuse(m: Message, reason: RejectReason, detail: string): void {
    this.metrics.rejected.inc({ reason });
    if (reason === 'malformed') this.metrics.malformed.inc();
    const action = this.deadLetters.reject(m, reason);
    const second = Math.floor(Date.now() / 1000);
    let l = this.rejectLog.get(reason);
    if (!l || l.second !== second) {
      const suppressed = l?.suppressed ?? 0;
      l = { second, lines: 0, suppressed: 0 };
      this.rejectLog.set(reason, l);
      if (suppressed > 0) this.log('warn', 'more refused SQS messages were not logged', { reason, suppressed });
    }
    if (l.lines++ < REJECT_LOG_LINES_PER_SECOND) {
      this.log('warn', `refused an SQS message (${reason}); ${action}`, {
        reason, detail, messageId: m.MessageId, receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0),
      });
    } else {
      l.suppressed++;
    }
  }

  private makeVisible(handle: string): Promise<void> {
    return this.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: handle, VisibilityTimeout: 0 }))
      .then(() => undefined, (err: unknown) => this.log('warn', 'could not return a held message to the queue; it reappears after the visibility timeout', { err }));
  }

  private scheduleDelete(handle: string): void {
    this.toDelete.push({ id: String(this.seq++), handle });
    if (this.toDelete.length >= DELETE_BATCH_MAX) this.flushDeletes();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => { this.flushScheduled = false; this.flushDeletes(); });
    }
  }

  private flushDeletes(): void {
    while (this.toDelete.length > 0) {
      const chunk = this.toDelete.splice(0, DELETE_BATCH_MAX);
      const p = this.sqs.send(new DeleteMessageBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: chunk.map((e) => ({ Id: e.id, ReceiptHandle: e.handle })),
      })).then((out) => {
        const failed = out.Failed ?? [];
        if (failed.length > 0) {
          this.metrics.deleteErrors.inc(failed.length);
          this.log('warn', 'some SQS deletes failed; those messages will be redelivered and de-duplicated', { failed: failed.length, code: failed[0]?.Code });
        }
      }, (err: unknown) => {
        this.metrics.deleteErrors.inc(chunk.length);
        this.log('warn', 'SQS delete batch failed; messages will be redelivered and de-duplicated', { count: chunk.length, err });
      }).finally(() => { this.inflightDeletes.delete(p); });
      this.inflightDeletes.add(p);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((res) => {
      const onAbort = () => { clearTimeout(t); res(); };
      const t = setTimeout(() => { this.abort.signal.removeEventListener('abort', onAbort); res(); }, ms);
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
