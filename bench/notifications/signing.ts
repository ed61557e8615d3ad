// CPU cost of signed change events, per message, in one process (no I/O):
//   - outbox: signing one message (attributes + HMAC-SHA256 over the body), as
//     the leader does per publish attempt;
//   - relay: the whole gate one SQS message passes (SNS envelope, signature,
//     signing time, event parse, replay memory) against what the relay did
//     before signatures (envelope + event parse): the difference is the
//     added verification cost (noisy on a shared machine: it is the difference
//     of two larger figures), and the signature check alone.
// For a typical flag event (~1 KiB body) and a large one (~200 KiB, near the
// SNS limit).
//   node --import tsx bench/notifications/signing.ts [messages=20000]   (large bodies: messages/50)
import { randomBytes } from 'node:crypto';
import { EventKeyRing, EventKeySet, EVENT_SIGNATURE_ATTRIBUTE } from '../../apps/notification-relay/test/bench-deps.js';
import { MessageGate, parseSqsBody, unwrapSqsMessage } from '../../apps/notification-relay/src/index.js';
import { verifyEvent } from '../../packages/auth/src/index.js';
import { chainEvents, encodeEvent, signedMessageAttributes } from '../../apps/consensus-node/src/outbox/event-body.js';

const N = Number(process.argv[2] ?? 20_000);
const keys = new EventKeyRing(EventKeySet.parse(JSON.stringify({ v: 1, active: 'bench', keys: [{ id: 'bench', secret: randomBytes(32).toString('base64') }] }), 'bench'));

/** A flag put as the outbox publishes it, its description padded to `bytes`. */
function event(revision: number, bytes: number) {
  const rules = [{ name: 'beta', conditions: [{ attribute: 'email', operator: 'ends_with', values: ['@example.com'] }], variant: 'on' }];
  const flag = {
    key: 'new-checkout', type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules,
    description: 'x'.repeat(Math.max(0, bytes - 700)), tags: ['checkout', 'web'],
  };
  const stored = { flag, createRevision: 1, modRevision: revision, version: revision, updatedAt: Date.now(), updatedBy: 'alice' };
  const [ev] = chainEvents([{ v: 1, revision, kind: 'flag', key: flag.key, op: 'put', flag: stored as never, actor: 'alice', time: new Date().toISOString() }], revision - 1);
  return encodeEvent(ev!);
}

function cpuMicros(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

function measure(bytes: number, N: number) {
  const entries = Array.from({ length: N }, (_, i) => event(i + 2, bytes));
  // Warm-up, then the outbox side: one signature per message.
  for (let i = 0; i < Math.min(N, 1000); i++) signedMessageAttributes(entries[i % N]!.event, entries[i % N]!.body, keys);
  const attrs: ReturnType<typeof signedMessageAttributes>[] = new Array(N);
  const signUs = cpuMicros(() => { for (let i = 0; i < N; i++) attrs[i] = signedMessageAttributes(entries[i]!.event, entries[i]!.body, keys); });

  // What the relay's queue holds: SNS envelopes with the attributes inside.
  const now = Date.now();
  const messages = entries.map((e, i) => ({
    MessageId: `m-${i}`, ReceiptHandle: `r-${i}`, Attributes: { SentTimestamp: String(now) },
    Body: JSON.stringify({
      Type: 'Notification', MessageId: `sns-${i}`, TopicArn: 'arn:aws:sns:us-east-1:000000000000:bench', Message: e.body, Timestamp: new Date(now).toISOString(),
      MessageAttributes: Object.fromEntries(Object.entries(attrs[i]!).map(([k, v]) => [k, { Type: v.DataType, Value: v.StringValue }])),
    }),
  }));
  const gate = () => new MessageGate(keys, { maxSignatureAgeMs: 300_000, replayMemory: 50_000 });
  const warm = gate();
  for (let i = 0; i < Math.min(N, 1000); i++) { warm.admit(messages[i % N]!, now); parseSqsBody(messages[i % N]!.Body); }
  const beforeUs = cpuMicros(() => { for (const m of messages) parseSqsBody(m.Body); });
  const g = gate();
  let refused = 0;
  const gateUs = cpuMicros(() => { for (const m of messages) if (!g.admit(m, now).ok) refused++; });
  if (refused) throw new Error(`${refused} genuine messages refused`);
  // The signature check alone (HMAC over the body and attributes, constant-time compare).
  const opened = messages.map((m) => unwrapSqsMessage(m.Body));
  const verifyUs = cpuMicros(() => { for (const o of opened) if (!verifyEvent(keys as never, o.eventJson, o.attr).ok) refused++; });
  const r = (x: number) => Math.round((x / N) * 100) / 100;
  return {
    bodyBytes: entries[0]!.bytes,
    outboxSignUsPerMessage: r(signUs),
    relayBeforeUsPerMessage: r(beforeUs),
    relayGateUsPerMessage: r(gateUs),
    relayAddedUsPerMessage: r(gateUs - beforeUs),
    relayVerifyOnlyUsPerMessage: r(verifyUs),
    signatureAttribute: `${EVENT_SIGNATURE_ATTRIBUTE}=${attrs[0]![EVENT_SIGNATURE_ATTRIBUTE]!.StringValue.length} chars`,
  };
}

// Large bodies: fewer messages (they are held in memory at once).
const LARGE = Math.max(50, Math.floor(N / 50));
console.log(JSON.stringify({ node: process.version, typical: { messages: N, ...measure(1024, N) }, large: { messages: LARGE, ...measure(200 * 1024, LARGE) } }, null, 2));
