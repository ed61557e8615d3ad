// The Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header) as
// the contract states it: which characters and how many. The gateway checks
// keys against these; the client's keys (UUIDs) are within them.
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
/** Longest accepted Idempotency-Key (characters): a UUID is 36, a random base64url key of 32 bytes 43. */
export const MAX_IDEMPOTENCY_KEY_CHARS = 128;
/** Characters of a key: letters, digits and - _ . ~ : + / = (UUIDs, base64, base64url, ULIDs). */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9\-_.~:+/=]+$/;
