// SNS outbox publisher (owned by the notifications work; see sns-outbox.ts).
// Loaded by ../main.ts (and handed to the node) when it is configured with an SNS topic.
export { createSnsOutbox, OutboxConfigError, SNS_MAX_BATCH_ENTRIES } from './sns-outbox.js';
export type { SnsOutboxOptions, SnsOutboxTuning } from './sns-outbox.js';
export {
  chainEvents, encodeEvent, deduplicationId, messageGroupId, messageAttributes, signedMessageAttributes, resetEvent, isResetEvent,
  RESET_ACTOR, RESET_GROUP_ID, SNS_MAX_PAYLOAD_BYTES, MAX_EVENT_BODY_BYTES,
} from './event-body.js';
export type { PublishedEvent, ResetEvent, ResetReason, OutboxEvent } from './event-body.js';
