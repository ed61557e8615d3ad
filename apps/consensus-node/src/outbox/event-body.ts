import { createHash } from 'node:crypto';
import { EVENT_SIGNATURE_ATTRIBUTE, signEvent, type EventKeyRing } from '@flagraft/auth';
import type { AnyChangeEvent, ChainEvent, PublishedAnyEvent, ResetEvent, ResetReason, TruncatedChangeEvent, TruncatedRecordEvent } from '@flagraft/flag-model';

/**
 * How a change becomes an SNS message. The body is the versioned ChangeEvent
 * of docs/CONTRACTS.md plus the chain fields the relay uses to restore
 * revision order and prove it has missed nothing:
 *   part / parts   position of this change among those of its revision
 *                  (an atomic batch makes several changes at one revision)
 *   prevRevision   revision of the previous event published in this chain
 *
 * Besides changes, the chain carries one kind of marker, ResetEvent: "what
 * you hold is void, reload through the gateway". The outbox publishes one
 * when the cluster was restored from a backup (the restore's imported
 * history is never published), at the restore's revision, so the next
 * change links to it and consumers learn of the restore at once instead of
 * at the next write.
 *
 * Every change is published (docs/ENVIRONMENTS.md "Events"): flags of the
 * default environment and segments exactly as before, flags of other
 * environments with `env`, and environment / change request / schedule
 * events. Consumers choose (the relay sends clients only what they asked
 * for; a client from before environments gets the old events only).
 *
 * The event types themselves are @flagraft/flag-model's (src/events.ts);
 * the names below are this package's for them.
 */
export type { ResetEvent, ResetReason };

/** A change as published: chained, whole or (`truncated: true`) without its flag/segment/item. */
export type PublishedEvent = PublishedAnyEvent;

/** Anything the outbox publishes in the revision chain. */
export type OutboxEvent = ChainEvent;

/** The actor of reset markers (the system, not a user). */
export const RESET_ACTOR = 'flagraft';

export function isResetEvent(ev: OutboxEvent): ev is ResetEvent {
  return ev.kind === 'reset';
}

/** The marker for a restore at `revision`, chained after `prevRevision`. */
export function resetEvent(revision: number, prevRevision: number, reason: ResetReason, now: Date = new Date()): ResetEvent {
  return { v: 1, kind: 'reset', reason, revision, prevRevision, part: 0, parts: 1, actor: RESET_ACTOR, time: now.toISOString() };
}

/** SNS limit for one message, and for all messages of one PublishBatch together (bytes). */
export const SNS_MAX_PAYLOAD_BYTES = 262_144;
/** Room kept for message attributes and FIFO ids inside that limit (bytes). */
const ATTRIBUTE_ALLOWANCE_BYTES = 2_048;
export const MAX_EVENT_BODY_BYTES = SNS_MAX_PAYLOAD_BYTES - ATTRIBUTE_ALLOWANCE_BYTES;
/** FIFO MessageGroupId: at most 128 characters of alphanumerics and punctuation. */
const GROUP_ID_RE = /^[\x21-\x7e]{1,128}$/;

/** Adds part/parts/prevRevision to one page of changes (whole revisions, revision order). */
export function chainEvents(page: AnyChangeEvent[], prevRevision: number): PublishedEvent[] {
  const out: PublishedEvent[] = [];
  let i = 0;
  let prev = prevRevision;
  while (i < page.length) {
    const rev = page[i]!.revision;
    let j = i;
    while (j < page.length && page[j]!.revision === rev) j++;
    for (let k = i; k < j; k++) out.push({ ...page[k]!, part: k - i, parts: j - i, prevRevision: prev } as PublishedEvent);
    prev = rev;
    i = j;
  }
  return out;
}

export interface SnsEntry {
  event: OutboxEvent;
  body: string;
  bytes: number;
}

/**
 * The event without its flag/segment/item, marked `truncated` (consumers
 * reload the item through the gateway). A change request or schedule keeps
 * the environment it belongs to as `env`, so consumers limited to
 * environments can still route it (a flag keeps its `env`; an environment's
 * is its key).
 */
export function truncateEvent(ev: PublishedEvent): TruncatedChangeEvent | TruncatedRecordEvent {
  const { v, revision, kind, key, op, actor, time, part, parts, prevRevision } = ev;
  const head = { v, revision, key, op, actor, time, part, parts, prevRevision, truncated: true as const };
  if (kind === 'flag') return ev.env === undefined ? { ...head, kind } : { ...head, kind, env: ev.env };
  if (kind === 'segment') return { ...head, kind };
  const env = 'truncated' in ev && ev.truncated ? ev.env
    : kind === 'changeRequest' && 'changeRequest' in ev ? ev.changeRequest?.changeRequest.env
      : kind === 'schedule' && 'schedule' in ev ? ev.schedule?.schedule.env : undefined;
  return env === undefined ? { ...head, kind } : { ...head, kind, env };
}

/** Serialises an event; a body over MAX_EVENT_BODY_BYTES is replaced by its truncated form. */
export function encodeEvent(ev: OutboxEvent): SnsEntry {
  let body = JSON.stringify(ev);
  let bytes = Buffer.byteLength(body);
  // A marker is a few hundred bytes: never near the limit.
  if (bytes > MAX_EVENT_BODY_BYTES && !isResetEvent(ev)) {
    const t = truncateEvent(ev);
    body = JSON.stringify(t);
    bytes = Buffer.byteLength(body);
    return { event: t, body, bytes };
  }
  return { event: ev, body, bytes };
}

/**
 * SNS message attributes, for subscription filter policies. A marker has no
 * key: it carries kind = op = "reset" and its reason instead (SNS refuses
 * empty attribute values), so a policy on `key` must also accept
 * `{"kind": ["reset"]}` to see restores.
 */
export function messageAttributes(ev: OutboxEvent): Record<string, { DataType: 'String' | 'Number'; StringValue: string }> {
  const revision = { DataType: 'Number' as const, StringValue: String(ev.revision) };
  if (isResetEvent(ev)) {
    return {
      kind: { DataType: 'String', StringValue: 'reset' },
      op: { DataType: 'String', StringValue: 'reset' },
      reason: { DataType: 'String', StringValue: ev.reason },
      revision,
    };
  }
  return {
    key: { DataType: 'String', StringValue: ev.key },
    op: { DataType: 'String', StringValue: ev.op },
    revision,
    kind: { DataType: 'String', StringValue: ev.kind },
  };
}

/**
 * The attributes of one message with its signature added (`flagraft-sig`,
 * docs/CONTRACTS.md "Change event signatures"): HMAC-SHA256 with the ring's
 * active key over the exact body and the routing attributes above. Signed
 * per publish attempt, so the signing time is close to when SNS takes it
 * (relays refuse a message queued long after it was signed: a replay).
 */
export function signedMessageAttributes(ev: OutboxEvent, body: string, keys: EventKeyRing, signedAtMs: number = Date.now()): ReturnType<typeof messageAttributes> {
  const attrs = messageAttributes(ev);
  const lookup = (name: string) => {
    const a = Object.hasOwn(attrs, name) ? attrs[name] : undefined;
    return a && { type: a.DataType, value: a.StringValue };
  };
  attrs[EVENT_SIGNATURE_ATTRIBUTE] = { DataType: 'String', StringValue: signEvent(keys, body, lookup, signedAtMs) };
  return attrs;
}

/** FIFO group of markers in 'key' mode (they belong to no key). */
export const RESET_GROUP_ID = 'flagraft:reset';

export function messageGroupId(ev: OutboxEvent, mode: 'key' | 'single'): string {
  if (mode === 'single') return 'flagraft';
  if (ev.kind === 'reset') return RESET_GROUP_ID;
  const g = `${ev.kind}:${ev.key}`;
  return GROUP_ID_RE.test(g) ? g : `${ev.kind}:sha256:${createHash('sha256').update(ev.key).digest('hex')}`;
}

/** Deterministic, so a new leader re-publishing the same change is de-duplicated by a FIFO topic. */
export function deduplicationId(ev: OutboxEvent): string {
  return ev.parts === 1 ? String(ev.revision) : `${ev.revision}.${ev.part}`;
}

/** Splits entries into PublishBatch calls: at most `maxEntries` and SNS_MAX_PAYLOAD_BYTES each. */
export function splitBatches(entries: SnsEntry[], maxEntries: number): SnsEntry[][] {
  const out: SnsEntry[][] = [];
  let cur: SnsEntry[] = [];
  let size = 0;
  for (const e of entries) {
    const cost = e.bytes + ATTRIBUTE_ALLOWANCE_BYTES;
    if (cur.length > 0 && (cur.length >= maxEntries || size + cost > SNS_MAX_PAYLOAD_BYTES)) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(e);
    size += cost;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
