// Token authentication with a cache, and reloading of FLAGRAFT_TOKENS_FILE,
// for every service that checks tokens (gateway, relay).
//
// createTokenStore hashes the presented token (sha256) and compares it with every
// configured hash in constant time: right for a login, but on the evaluation
// hot path the same few service tokens arrive tens of thousands of times a
// second. The cache maps a token that authenticated successfully to its
// principal, so the hash runs once per token, not once per request.
//
// - Only successes are cached: unknown tokens always take the constant-time
//   path, and an attacker sending random tokens cannot evict real entries.
// - The lookup is a Map lookup of the exact string a client sent. It answers
//   only "is this exact token one that already authenticated", which a client
//   can learn anyway by using it; a miss falls through to the constant-time
//   comparison, so the timing of partial guesses is unchanged.
// - Bounded (MAX_CACHED_TOKENS); the oldest entry goes first.
// - replace() swaps the token set and empties the cache in one step, so a
//   revoked or rotated token stops working on the next request.
import { watchFile, type FileWatch } from './file-watch.js';
import { createTokenStore, loadTokenEntries, type Principal, type TokenStore } from './tokens.js';

/** Authenticated tokens remembered at once (entries); beyond it the oldest is forgotten. */
export const MAX_CACHED_TOKENS = 10_000;

export class CachingTokenStore implements TokenStore {
  private store: TokenStore;
  private readonly cache = new Map<string, Principal>();

  constructor(
    store: TokenStore,
    private readonly maxEntries: number = MAX_CACHED_TOKENS,
  ) {
    this.store = store;
  }

  get size(): number {
    return this.store.size;
  }

  /** Tokens currently cached (for tests and metrics). */
  get cachedTokens(): number {
    return this.cache.size;
  }

  authenticate(token: string | undefined | null): Principal | undefined {
    if (typeof token !== 'string') return undefined;
    const hit = this.cache.get(token);
    if (hit !== undefined) return hit;
    const principal = this.store.authenticate(token);
    if (principal !== undefined) {
      if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(token, principal);
    }
    return principal;
  }

  byKeyId(keyId: string): { principal: Principal; digest: Buffer } | undefined {
    return this.store.byKeyId?.(keyId);
  }

  /** Installs a new token set; every cached authentication is forgotten. */
  replace(store: TokenStore): void {
    this.store = store;
    this.cache.clear();
  }
}

/** A watch on FLAGRAFT_TOKENS_FILE. */
export type TokenFileWatch = FileWatch;

/**
 * Installs the tokens of `file` into `target` whenever it changes (see
 * watchFile). A file that cannot be read or parsed leaves the previous tokens
 * in force and is reported through onResult; the process keeps serving.
 */
export function watchTokensFile(
  file: string,
  target: CachingTokenStore,
  intervalMs: number,
  onResult: (result: { ok: true; tokens: number } | { ok: false; error: string }) => void,
): TokenFileWatch {
  return watchFile(file, intervalMs, () => {
    try {
      const store = createTokenStore(loadTokenEntries({ FLAGRAFT_TOKENS_FILE: file }));
      target.replace(store);
      onResult({ ok: true, tokens: store.size });
      return true;
    } catch (err) {
      onResult({ ok: false, error: (err as Error).message });
      return false;
    }
  });
}
