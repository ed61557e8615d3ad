/**
 * What a WebSocket client may send the relay, and the named limits on it.
 *
 * Clients send few, small messages (`auth`, `ping`), so the limits are
 * tight: a message that breaks one is refused with the limit's name, and
 * never reaches JSON.parse when its nesting alone is too deep (the check
 * scans the text first, so no deep structure is ever built). The byte size
 * of a frame is ws's maxPayload (RelayConfig.maxClientMessageBytes): a
 * larger frame closes the socket with 1009 before any of this runs.
 *
 * The checker and the limits' names are @flagraft/flag-model's JSON shape
 * limits, the ones the gateway applies to request bodies, so a refusal names
 * the same limit (`maxJsonDepth`, `maxJsonStringChars`...) wherever it comes from.
 */
import { jsonShapeViolations, jsonTextDepthViolation, type JsonLimitName, type JsonLimits, type JsonLimitViolation } from '@flagraft/flag-model';

/** Limits on one client message (after the frame size limit): flag-model's JSON shape limits, tightened. */
export const CLIENT_MESSAGE_LIMITS: Readonly<JsonLimits> = Object.freeze({
  /** Nesting of objects and arrays; `{"prefixes":["a"]}` is 2. */
  maxJsonDepth: 4,
  /** Characters in any one string (a token, a prefix, a type). */
  maxJsonStringChars: 1024,
  /** Characters in any one object key. */
  maxJsonKeyChars: 1024,
  /** Items in any one array (prefixes, kinds). */
  maxJsonArrayItems: 64,
  /** Keys in any one object. */
  maxJsonObjectKeys: 16,
  /** Values in the whole message; an auth message with 16 prefixes has about 25. */
  maxJsonNodes: 1024,
});

/** The rule a refused message broke: a JSON shape limit (flag-model's name), or binary / not JSON / not an object. */
export type ClientMessageLimit = JsonLimitName | 'binary' | 'json' | 'shape';

/** A refused client message: `limit` names the rule, `message` says it for people (it never quotes the input). */
export class ClientMessageError extends Error {
  override readonly name = 'ClientMessageError';
  constructor(readonly limit: ClientMessageLimit, message: string) {
    super(message);
  }
}

/** Fields of client messages, the only object keys a refusal names; any other key is the client's text. */
const KNOWN_FIELDS = new Set(['type', 'token', 'since', 'prefixes', 'kinds', 'environments']);

/**
 * Where a violation is, without quoting the client: the pointer's segments
 * that are known field names or small indexes as they are, anything else as `<key>`.
 */
function locate(pointer: string): string {
  let where = 'message';
  for (const seg of pointer.split('/').slice(1)) where += /^\d{1,2}$/.test(seg) ? `[${seg}]` : KNOWN_FIELDS.has(seg) ? `.${seg}` : '.<key>';
  return where;
}

const refusal = (v: JsonLimitViolation) => new ClientMessageError(v.limit, `${locate(v.pointer)} ${v.message} (limit ${v.limit})`);

/** A client message that passed the limits: a JSON object (its fields are the caller's to read). */
export type ClientMessage = Readonly<Record<string, unknown>>;

/**
 * Parses one WebSocket message from a client, or throws ClientMessageError
 * naming the limit it broke. The result is a null-prototype object, so a
 * field named `__proto__` or `constructor` is just data.
 */
export function parseClientMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): ClientMessage {
  if (isBinary) throw new ClientMessageError('binary', 'binary frames are not accepted: send JSON text');
  const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
  const deep = jsonTextDepthViolation(text, CLIENT_MESSAGE_LIMITS.maxJsonDepth);
  if (deep) throw refusal(deep);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ClientMessageError('json', 'message is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ClientMessageError('shape', 'messages must be JSON objects with a "type"');
  }
  const violations = jsonShapeViolations(parsed, CLIENT_MESSAGE_LIMITS);
  if (violations.length > 0) throw refusal(violations[0]!);
  return Object.assign(Object.create(null) as Record<string, unknown>, parsed);
}
