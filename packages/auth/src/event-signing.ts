// Signatures of change events on SNS (docs/CONTRACTS.md "Change event
// signatures"). The leader's outbox signs every message it publishes; the
// relay verifies before it reads anything else.
//
// What is signed is the exact message body (the event JSON as published)
// together with the message attributes subscription filter policies route on
// and the signature's own key id and time, in a length-prefixed layout with
// no escaping to get wrong:
//
//   "flagraft-event-v1\n"
//   ns(keyId) ns(signedAtMs)
//   ns(kind.type) ns(kind.value) ns(op.type) ns(op.value) ns(key.type) ns(key.value)
//   ns(revision.type) ns(revision.value) ns(reason.type) ns(reason.value)
//   ns(body)
//   ns(x) = <decimal UTF-8 byte length of x> ":" <x as UTF-8> ","   (a netstring)
//
// An absent attribute contributes two empty netstrings ("0:,0:,"); SNS refuses
// empty attribute values, so that cannot be confused with a present one.
// The signature travels as the String attribute `flagraft-sig`:
//   v1.<keyId>.<signedAtMs>.<base64url of HMAC-SHA256(key, canonical bytes)>
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { EventKeyRing } from './event-keys.js';

/** Name of the message attribute carrying the signature. */
export const EVENT_SIGNATURE_ATTRIBUTE = 'flagraft-sig';
/** The attributes covered by the signature, in canonical order. */
export const SIGNED_EVENT_ATTRIBUTES = ['kind', 'op', 'key', 'revision', 'reason'] as const;
const DOMAIN = 'flagraft-event-v1\n';
const MAC_BYTES = 32;
const SIGNATURE_RE = /^v1\.([A-Za-z0-9_-]{1,64})\.(0|[1-9][0-9]{0,15})\.([A-Za-z0-9_-]{43})$/;

/** A message attribute as SNS/SQS carry it (`Type`/`DataType` and the string value). */
export interface EventAttribute {
  type: string;
  value: string;
}

/** Reads one attribute by name; undefined when absent. Callers look up fixed names only. */
export type EventAttributeLookup = (name: string) => EventAttribute | undefined;

const ns = (s: string): string => `${Buffer.byteLength(s, 'utf8')}:${s},`;

/**
 * Feeds the canonical bytes to `update` in three pieces: everything before
 * the body (short), the body itself (never copied), the closing comma. Each
 * update is a call into the hash, so fewer is cheaper.
 */
function writeCanonical(update: (s: string) => void, keyId: string, signedAtMs: number, body: string, attr: EventAttributeLookup): void {
  let head = DOMAIN + ns(keyId) + ns(String(signedAtMs));
  for (const name of SIGNED_EVENT_ATTRIBUTES) {
    const a = attr(name);
    head += ns(a?.type ?? '') + ns(a?.value ?? '');
  }
  update(`${head}${Buffer.byteLength(body, 'utf8')}:`);
  update(body);
  update(',');
}

/** The exact bytes that are signed (for documentation, tests and other implementations). */
export function canonicalEventBytes(keyId: string, signedAtMs: number, body: string, attr: EventAttributeLookup): Buffer {
  const parts: string[] = [];
  writeCanonical((s) => parts.push(s), keyId, signedAtMs, body, attr);
  return Buffer.from(parts.join(''), 'utf8');
}

function mac(key: KeyObject, keyId: string, signedAtMs: number, body: string, attr: EventAttributeLookup): Buffer {
  const h = createHmac('sha256', key);
  writeCanonical((s) => h.update(s, 'utf8'), keyId, signedAtMs, body, attr);
  return h.digest();
}

export class EventSigningError extends Error {
  override name = 'EventSigningError';
}

/**
 * Signs one message with the ring's active key and returns the value of the
 * `flagraft-sig` attribute. Throws EventSigningError when the ring has no
 * active key (a verify-only keys file).
 */
export function signEvent(ring: EventKeyRing, body: string, attr: EventAttributeLookup, signedAtMs: number = Date.now()): string {
  const set = ring.current;
  const id = set.activeKeyId;
  const key = id === undefined ? undefined : set.key(id);
  if (id === undefined || key === undefined) throw new EventSigningError('no active event key to sign with (set "active" in FLAGRAFT_EVENT_KEYS_FILE)');
  if (!Number.isSafeInteger(signedAtMs) || signedAtMs < 0) throw new EventSigningError(`signedAtMs must be a non-negative integer (got ${signedAtMs})`);
  return `v1.${id}.${signedAtMs}.${mac(key, id, signedAtMs, body, attr).toString('base64url')}`;
}

/** Why a message was refused; the relay counts and dead-letters by these. */
export type EventSignatureFailure = 'unsigned' | 'bad-signature' | 'unknown-key';

export type EventVerification =
  | { ok: true; keyId: string; signedAtMs: number; /** the MAC, base64url: identifies this signing (replay detection) */ mac: string }
  | { ok: false; reason: EventSignatureFailure; detail: string };

/**
 * Verifies the signature of one message against every key of the ring.
 * Nothing of the body is interpreted; comparison is constant-time.
 */
export function verifyEvent(ring: EventKeyRing, body: string, attr: EventAttributeLookup): EventVerification {
  const sig = attr(EVENT_SIGNATURE_ATTRIBUTE);
  if (sig === undefined) return { ok: false, reason: 'unsigned', detail: `no ${EVENT_SIGNATURE_ATTRIBUTE} attribute` };
  if (sig.type !== 'String') return { ok: false, reason: 'bad-signature', detail: `${EVENT_SIGNATURE_ATTRIBUTE} must be a String attribute` };
  const m = SIGNATURE_RE.exec(sig.value);
  if (!m) return { ok: false, reason: 'bad-signature', detail: `${EVENT_SIGNATURE_ATTRIBUTE} is not v1.<keyId>.<signedAtMs>.<mac>` };
  const [, keyId, at, presented] = m as unknown as [string, string, string, string];
  const key = ring.current.key(keyId);
  if (key === undefined) return { ok: false, reason: 'unknown-key', detail: `key id "${keyId}" is not in FLAGRAFT_EVENT_KEYS_FILE` };
  const signedAtMs = Number(at);
  const expected = mac(key, keyId, signedAtMs, body, attr);
  const got = Buffer.from(presented, 'base64url');
  // The re-encoding check refuses a second spelling of the same MAC (unused
  // low bits in the last character), which would dodge replay detection.
  if (got.length !== MAC_BYTES || !timingSafeEqual(got, expected) || got.toString('base64url') !== presented) {
    return { ok: false, reason: 'bad-signature', detail: `signature does not match (key "${keyId}")` };
  }
  return { ok: true, keyId, signedAtMs, mac: presented };
}
