import type { Message } from '@aws-sdk/client-sqs';
import { EVENT_SIGNATURE_ATTRIBUTE, SIGNED_EVENT_ATTRIBUTES, verifyEvent, type EventKeyRing, type EventSignatureFailure } from '@flagraft/auth';
import { MalformedMessageError, parseEventJson, unwrapSqsMessage, type RelayEvent } from './event.js';

/**
 * The gate every SQS message passes before the relay reads its event
 * (README "What the relay guarantees about forged, replayed and implausible
 * events"). In order:
 *   1. the signature (`flagraft-sig`, HMAC-SHA256 with a key of
 *      FLAGRAFT_EVENT_KEYS_FILE over the exact body and routing attributes);
 *   2. the signing time against SQS's SentTimestamp: the outbox signs right
 *      before it publishes, so a message queued more than
 *      maxSignatureAgeMs after it was signed was published again later (a
 *      replay), and one signed that far in the future comes from a wrong clock;
 *   3. the event itself (well-formed v1 change event or reset marker);
 *   4. replay memory: the same signature arriving as another SQS message
 *      (a replay inside the age window) is refused.
 * Nothing that fails reaches the sequencer, so it cannot influence ordering,
 * de-duplication, the frontier or the replay window.
 */

/** Why a message was refused (the `reason` label of flagraft_relay_rejected_messages_total). */
export type RejectReason = EventSignatureFailure | 'malformed' | 'stale-signature' | 'future-signature' | 'replay' | 'implausible-revision';
export const REJECT_REASONS: readonly RejectReason[] = [
  'unsigned', 'bad-signature', 'unknown-key', 'malformed', 'stale-signature', 'future-signature', 'replay', 'implausible-revision',
];

/** Message attributes the relay asks SQS for (raw delivery carries them there). */
export const RECEIVED_ATTRIBUTE_NAMES = [EVENT_SIGNATURE_ATTRIBUTE, ...SIGNED_EVENT_ATTRIBUTES];

export type Admission =
  | { ok: true; event: RelayEvent; signedAtMs: number; keyId: string }
  | { ok: false; reason: RejectReason; detail: string };

export interface GateOptions {
  /** Largest allowed difference between signing and SQS receipt of the publish, either way, ms. */
  maxSignatureAgeMs: number;
  /** Signatures remembered for replay detection (count; oldest forgotten first). */
  replayMemory: number;
}

/** Characters of the MAC kept as the replay memory's key (22 base64url chars = 132 bits). */
const REMEMBERED_MAC_CHARS = 22;

export class MessageGate {
  /** MAC prefix -> SQS MessageId of the message that carried it first. */
  private readonly seen = new Map<string, string>();

  constructor(private readonly keys: EventKeyRing, private readonly opts: GateOptions) {}

  admit(m: Message, nowMs: number): Admission {
    let unwrapped;
    try {
      unwrapped = unwrapSqsMessage(m.Body, m.MessageAttributes);
    } catch (err) {
      if (err instanceof MalformedMessageError) return { ok: false, reason: 'malformed', detail: err.message };
      throw err;
    }
    const v = verifyEvent(this.keys, unwrapped.eventJson, unwrapped.attr);
    if (!v.ok) return v;
    const sent = Number(m.Attributes?.SentTimestamp);
    const sentAtMs = Number.isFinite(sent) && sent > 0 ? sent : nowMs;
    if (sentAtMs - v.signedAtMs > this.opts.maxSignatureAgeMs) {
      return { ok: false, reason: 'stale-signature', detail: `queued ${sentAtMs - v.signedAtMs} ms after it was signed (key "${v.keyId}")` };
    }
    if (v.signedAtMs - sentAtMs > this.opts.maxSignatureAgeMs) {
      return { ok: false, reason: 'future-signature', detail: `signed ${v.signedAtMs - sentAtMs} ms after it was queued (key "${v.keyId}"): check the signer's clock` };
    }
    let event: RelayEvent;
    try {
      event = parseEventJson(unwrapped.eventJson);
    } catch (err) {
      if (err instanceof MalformedMessageError) return { ok: false, reason: 'malformed', detail: err.message };
      throw err;
    }
    const id = m.MessageId ?? '';
    const mac = v.mac.slice(0, REMEMBERED_MAC_CHARS);
    const first = this.seen.get(mac);
    if (first !== undefined && first !== id) {
      return { ok: false, reason: 'replay', detail: `signature already received in message ${first} (revision ${event.revision})` };
    }
    if (first === undefined) {
      this.seen.set(mac, id);
      if (this.seen.size > this.opts.replayMemory) this.seen.delete(this.seen.keys().next().value as string);
    }
    return { ok: true, event, signedAtMs: v.signedAtMs, keyId: v.keyId };
  }
}
