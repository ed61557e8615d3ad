export {
  ROLES,
  MAX_TOKEN_NAME_CHARS,
  MAX_TOKEN_BYTES,
  MAX_TOKENS_FILE_BYTES,
  TokenConfigError,
  hashToken,
  roleAllows,
  PERMISSIONS,
  isRole,
  parseTokens,
  createTokenStore,
  loadTokens,
  loadTokenEntries,
  tokenFromHeaders,
  keyIdOfDigest,
  MAX_TOKEN_ENVIRONMENTS,
  principalAllowsEnvironment,
} from './tokens.js';
export { TICKET_PURPOSES, MAX_TICKET_CHARS, issueTicket, verifyTicket } from './tickets.js';
export type { TicketPurpose, TicketOptions, IssuedTicket, TicketCheck } from './tickets.js';
export { CachingTokenStore, MAX_CACHED_TOKENS, watchTokensFile } from './cache.js';
export type { TokenFileWatch } from './cache.js';
export type { Role, Permission, Principal, TokenEntry, TokenStore } from './tokens.js';
export { watchFile } from './file-watch.js';
export type { FileWatch } from './file-watch.js';
export {
  EventKeySet, EventKeyRing, EventKeyConfigError, watchEventKeysFile,
  MAX_EVENT_KEYS, MAX_EVENT_KEYS_FILE_BYTES, MIN_EVENT_KEY_BYTES, MAX_EVENT_KEY_BYTES, EVENT_KEY_ID_RE,
} from './event-keys.js';
export type { EventKeysReload } from './event-keys.js';
export {
  signEvent, verifyEvent, canonicalEventBytes, EventSigningError, EVENT_SIGNATURE_ATTRIBUTE, SIGNED_EVENT_ATTRIBUTES,
} from './event-signing.js';
export type { EventAttribute, EventAttributeLookup, EventVerification, EventSignatureFailure } from './event-signing.js';
export { runTokensCommand, TOKENS_USAGE } from './tokens-cli.js';
export type { TokensIo } from './tokens-cli.js';
export { TokenBuckets } from './token-buckets.js';
export type { TokenBucketOptions } from './token-buckets.js';
