/**
 * Change events as they travel SNS -> SQS -> relay -> WebSocket
 * (CONTRACTS.md "Change events"), and parsing of an SQS message body into one.
 *
 * Chain fields (optional, added by the flagraft SNS outbox): `part`/`parts`
 * number the changes that share one revision (an atomic batch), and
 * `prevRevision` is the revision of the previous change in the cluster's
 * `changes` table. With them the relay can put events back into revision
 * order and can prove it has not missed one; events without them are
 * de-duplicated per key only.
 *
 * The chain also carries reset markers (`kind: "reset"`, ResetMarker): the
 * cluster was restored from a backup, so everything a client holds is void.
 * They are ordered like any chained event and, when released, make the relay
 * tell every client to resync; they are never sent to clients as changes.
 */
import { jsonShapeViolations, jsonTextDepthViolation, JSON_LIMITS, type JsonLimitName, type JsonLimits, type JsonLimitViolation, type ReceivedAnyEvent, type ResetEvent } from '@flagraft/flag-model';
import { EVENT_SIGNATURE_ATTRIBUTE, type EventAttributeLookup } from '@flagraft/auth';

/**
 * A change as the relay receives it and sends it to clients: chained by the
 * outbox (possibly `truncated`: the body was too large for SNS and
 * `flag`/`segment`/the item were left out, reload via the gateway) or
 * unchained. Any kind: flag (with `env` outside the default environment),
 * segment, environment, changeRequest, schedule (scope.ts decides who gets
 * which). The type is @flagraft/flag-model's ReceivedAnyEvent. The relay
 * checks the envelope fields below, never the payload: it only forwards it.
 */
export type ChangeEvent = ReceivedAnyEvent;

const EVENT_KINDS: ReadonlySet<unknown> = new Set(['flag', 'segment', 'environment', 'changeRequest', 'schedule']);
/** An environment name (as scope.ts ENVIRONMENT_NAME). */
const ENV_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** One event's identity for per-key de-duplication: kind, environment (flags) and key. */
export function eventKeyOf(ev: ChangeEvent): string {
  // Newline cannot occur in a key or an environment name.
  return ev.kind === 'flag' && ev.env !== undefined ? `flag\n${ev.env}\n${ev.key}` : `${ev.kind}\n${ev.key}`;
}

/**
 * A reset marker from the flagraft outbox (@flagraft/flag-model's
 * ResetEvent): `revision` is the restore's revision, `prevRevision` the last
 * revision published before it; always one part. Its reason is any short
 * word ("restore" today): an unknown one is handled the same way (clients
 * resync).
 */
export type ResetMarker = ResetEvent<string>;

/** Anything the relay receives from the queue. */
export type RelayEvent = ChangeEvent | ResetMarker;

export function isResetMarker(e: RelayEvent): e is ResetMarker {
  return e.kind === 'reset';
}

/** Reasons are short machine words (they are forwarded to clients in `resync` messages). */
const REASON_RE = /^[a-z][a-z0-9-]{0,31}$/;

export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
  /** The JSON shape limit the message broke (flag-model's name, as the gateway's), when that is why. */
  constructor(message: string, readonly limit?: JsonLimitName) {
    super(message);
  }
}

/** Largest SQS body the relay will try to parse (SQS allows 1 MiB; SNS 256 KiB). */
export const MAX_MESSAGE_BODY_BYTES = 1024 * 1024;

/**
 * Shape limits on an SNS envelope: flag-model's JSON limits (the gateway's),
 * except that `Message`, the whole event as one string, may be as long as a body.
 */
export const ENVELOPE_JSON_LIMITS: Partial<JsonLimits> = Object.freeze({ maxJsonStringChars: MAX_MESSAGE_BODY_BYTES });

const limitError = (what: string, v: JsonLimitViolation) =>
  new MalformedMessageError(`${what}: ${v.pointer ? `${v.pointer.slice(0, 200)} ` : ''}${v.message} (limit ${v.limit})`, v.limit);

/**
 * JSON from the queue, parsed under @flagraft/flag-model's JSON shape limits
 * (the checker the gateway uses on request bodies): nesting is checked on the
 * text before JSON.parse builds anything, sizes and number range after. Any
 * valid flag or segment event is far inside them (flag-model's own LIMITS are
 * smaller); a deeper one would overflow the stack of JSON.stringify when it is
 * fanned out, and 1e400 would reach clients as null.
 * Undefined when the text is not JSON.
 */
function parseLimitedJson(text: string, what: string, overrides: Partial<JsonLimits> = {}): { value: unknown } | undefined {
  const deep = jsonTextDepthViolation(text, overrides.maxJsonDepth ?? JSON_LIMITS.maxJsonDepth);
  if (deep) throw limitError(what, deep);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const violations = jsonShapeViolations(value, overrides);
  if (violations.length > 0) throw limitError(what, violations[0]!);
  return { value };
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Validates a decoded JSON value as a v1 ChangeEvent or ResetMarker; throws MalformedMessageError naming the field. */
export function validateChangeEvent(x: unknown): RelayEvent {
  const bad = (field: string, why: string): never => {
    throw new MalformedMessageError(`change event: ${field} ${why}`);
  };
  if (typeof x !== 'object' || x === null || Array.isArray(x)) bad('body', 'is not a JSON object');
  const e = x as Record<string, unknown>;
  if (e.v !== 1) bad('v', `must be 1 (got ${JSON.stringify(e.v)})`);
  if (!isNonNegInt(e.revision) || e.revision === 0) bad('revision', 'must be a positive integer');
  if (e.kind === 'reset') return validateResetMarker(e, bad);
  if (!EVENT_KINDS.has(e.kind)) bad('kind', 'must be "flag", "segment", "environment", "changeRequest", "schedule" or "reset"');
  if (e.env !== undefined && (typeof e.env !== 'string' || !ENV_RE.test(e.env) || e.kind === 'segment' || e.kind === 'environment')) bad('env', 'must be an environment name (flag, changeRequest and schedule events only)');
  if (typeof e.key !== 'string' || e.key.length === 0) bad('key', 'must be a non-empty string');
  if (e.op !== 'put' && e.op !== 'delete') bad('op', 'must be "put" or "delete"');
  if (typeof e.actor !== 'string') bad('actor', 'must be a string');
  if (typeof e.time !== 'string') bad('time', 'must be an ISO time string');
  const hasChain = e.prevRevision !== undefined || e.part !== undefined || e.parts !== undefined;
  if (hasChain) {
    if (!isNonNegInt(e.prevRevision) || (e.prevRevision as number) >= (e.revision as number)) bad('prevRevision', 'must be an integer below revision');
    if (!isNonNegInt(e.parts) || e.parts === 0) bad('parts', 'must be a positive integer');
    if (!isNonNegInt(e.part) || (e.part as number) >= (e.parts as number)) bad('part', 'must be an integer below parts');
  }
  return e as unknown as ChangeEvent;
}

/** A marker must carry the chain (it has no key to de-duplicate by) and a short reason. */
function validateResetMarker(e: Record<string, unknown>, bad: (field: string, why: string) => never): ResetMarker {
  if (typeof e.reason !== 'string' || !REASON_RE.test(e.reason)) bad('reason', 'must be a short lower-case word (reset marker)');
  if (!isNonNegInt(e.prevRevision) || (e.prevRevision as number) >= (e.revision as number)) bad('prevRevision', 'must be an integer below revision (reset marker)');
  if (e.part !== 0 || e.parts !== 1) bad('part', 'must be 0 of parts 1 (reset marker)');
  if (typeof e.actor !== 'string') bad('actor', 'must be a string');
  if (typeof e.time !== 'string') bad('time', 'must be an ISO time string');
  return e as unknown as ResetMarker;
}

/** An SQS message attribute as the SDK returns it. */
export interface SqsAttributeValue { DataType?: string; StringValue?: string }

/** What a received message carries, before anything of the event is read. */
export interface UnwrappedMessage {
  /** The SNS message exactly as published: the event JSON. */
  eventJson: string;
  /** Its message attributes (from the SNS envelope, or the SQS message with raw delivery). */
  attr: EventAttributeLookup;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Reads fixed attribute names from an SQS MessageAttributes object (never keyed by anything else). */
function sqsAttributes(attrs: Record<string, SqsAttributeValue> | undefined): EventAttributeLookup {
  return (name) => {
    const a = attrs && Object.hasOwn(attrs, name) ? attrs[name] : undefined;
    return a && typeof a.DataType === 'string' && typeof a.StringValue === 'string' ? { type: a.DataType, value: a.StringValue } : undefined;
  };
}

/**
 * Takes an SQS message apart without interpreting the event: either an SNS
 * envelope (`Type: "Notification"`, the event JSON in `Message`, attributes
 * in `MessageAttributes` as `{Type, Value}`) or raw message delivery (the
 * body is the event JSON, attributes are the SQS message's). Throws
 * MalformedMessageError for an empty or oversized body or a broken envelope.
 */
export function unwrapSqsMessage(body: string | undefined, attributes?: Record<string, SqsAttributeValue>): UnwrappedMessage {
  if (body === undefined || body.length === 0) throw new MalformedMessageError('SQS message: empty body');
  if (body.length > MAX_MESSAGE_BODY_BYTES || Buffer.byteLength(body) > MAX_MESSAGE_BODY_BYTES) {
    throw new MalformedMessageError(`SQS message: body larger than ${MAX_MESSAGE_BODY_BYTES} bytes`);
  }
  const raw = sqsAttributes(attributes);
  // Raw delivery of a signed message: the signature is an SQS attribute; no parsing needed to verify it.
  if (raw(EVENT_SIGNATURE_ATTRIBUTE) !== undefined) return { eventJson: body, attr: raw };
  const parsed = parseLimitedJson(body, 'SQS message', ENVELOPE_JSON_LIMITS);
  if (parsed === undefined) return { eventJson: body, attr: raw }; // not an envelope; unsigned, it is refused as such
  const outer = parsed.value;
  if (!isRecord(outer) || outer.Type !== 'Notification') return { eventJson: body, attr: raw };
  const inner = outer.Message;
  if (typeof inner !== 'string') throw new MalformedMessageError('SNS envelope: Message is not a string');
  const ma = outer.MessageAttributes;
  return {
    eventJson: inner,
    attr: (name) => {
      const a = isRecord(ma) && Object.hasOwn(ma, name) ? ma[name] : undefined;
      return isRecord(a) && typeof a.Type === 'string' && typeof a.Value === 'string' ? { type: a.Type, value: a.Value } : undefined;
    },
  };
}

/** Parses and validates the event JSON of a message (after its signature was verified). */
export function parseEventJson(json: string): RelayEvent {
  const parsed = parseLimitedJson(json, 'change event');
  if (parsed === undefined) throw new MalformedMessageError('change event: not JSON');
  return validateChangeEvent(parsed.value);
}

/**
 * Parses an SQS message body, SNS envelope or raw delivery, without any
 * signature check (tools and tests; the relay verifies first, see verify.ts).
 */
export function parseSqsBody(body: string | undefined): RelayEvent {
  return parseEventJson(unwrapSqsMessage(body).eventJson);
}
