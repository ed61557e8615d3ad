export {
  ROLES,
  MAX_TOKEN_NAME_CHARS,
  MAX_TOKEN_BYTES,
  MAX_TOKENS_FILE_BYTES,
  TokenConfigError,
  hashToken,
  roleAllows,
  isRole,
  parseTokens,
  createTokenStore,
  loadTokens,
  loadTokenEntries,
  tokenFromHeaders,
} from './tokens.js';
export { CachingTokenStore, MAX_CACHED_TOKENS, watchTokensFile } from './cache.js';
export type { TokenFileWatch } from './cache.js';
export type { Role, Permission, Principal, TokenEntry, TokenStore } from './tokens.js';
