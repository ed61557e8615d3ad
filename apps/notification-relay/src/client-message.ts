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
 * (Issue 12 plans a shared JSON-shape checker in @flagraft/flag-model; it did
 * not exist when this was written, so the relay has its own small one.)
 */

/** Limits on one client message (after the frame size limit). */
export const CLIENT_MESSAGE_LIMITS = Object.freeze({
  /** Nesting of objects and arrays; `{"prefixes":["a"]}` is 2. */
  maxDepth: 4,
  /** Characters in any one string (a token, a prefix, a type). */
  maxStringChars: 1024,
  /** Items in any one array (prefixes, kinds). */
  maxArrayItems: 64,
  /** Keys in any one object. */
  maxObjectKeys: 16,
});

export type ClientMessageLimit = keyof typeof CLIENT_MESSAGE_LIMITS | 'binary' | 'json' | 'shape' | 'number';

/** A refused client message: `limit` names the rule, `message` says it for people (it never quotes the input). */
export class ClientMessageError extends Error {
  override readonly name = 'ClientMessageError';
  constructor(readonly limit: ClientMessageLimit, message: string) {
    super(message);
  }
}

/** Deepest nesting of `[`/`{` outside strings, stopping as soon as it passes `max`. */
function nestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) {
      inString = true;
    } else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > max) return true;
    } else if (ch === 0x7d || ch === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** Checks sizes of a parsed value; depth was checked on the text already. */
function checkShape(v: unknown, path: string): void {
  const L = CLIENT_MESSAGE_LIMITS;
  if (typeof v === 'string') {
    if (v.length > L.maxStringChars) throw new ClientMessageError('maxStringChars', `${path}: a string longer than ${L.maxStringChars} characters (limit maxStringChars)`);
  } else if (typeof v === 'number') {
    // JSON.parse turns 1e400 into Infinity.
    if (!Number.isFinite(v)) throw new ClientMessageError('number', `${path}: a number out of range`);
  } else if (Array.isArray(v)) {
    if (v.length > L.maxArrayItems) throw new ClientMessageError('maxArrayItems', `${path}: an array of more than ${L.maxArrayItems} items (limit maxArrayItems)`);
    v.forEach((x, i) => checkShape(x, `${path}[${i}]`));
  } else if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v);
    if (keys.length > L.maxObjectKeys) throw new ClientMessageError('maxObjectKeys', `${path}: an object of more than ${L.maxObjectKeys} keys (limit maxObjectKeys)`);
    // Keys are reported by position, not quoted: they are the client's text.
    keys.forEach((k, i) => {
      if (k.length > L.maxStringChars) throw new ClientMessageError('maxStringChars', `${path}: key ${i + 1} is longer than ${L.maxStringChars} characters (limit maxStringChars)`);
      checkShape((v as Record<string, unknown>)[k], `${path}.<key ${i + 1}>`);
    });
  }
}

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
  if (nestingExceeds(text, CLIENT_MESSAGE_LIMITS.maxDepth)) {
    throw new ClientMessageError('maxDepth', `message nests deeper than ${CLIENT_MESSAGE_LIMITS.maxDepth} levels (limit maxDepth)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ClientMessageError('json', 'message is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ClientMessageError('shape', 'messages must be JSON objects with a "type"');
  }
  checkShape(parsed, 'message');
  return Object.assign(Object.create(null) as Record<string, unknown>, parsed);
}
