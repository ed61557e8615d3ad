import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Roles, from most to least powerful. `evaluator` may only evaluate flags (OFREP). */
export const ROLES = ['admin', 'editor', 'reader', 'evaluator'] as const;
export type Role = (typeof ROLES)[number];

/** What a request wants to do; each role grants a fixed set of these. */
export const PERMISSIONS = ['evaluate', 'read', 'write', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set<Permission>(['evaluate', 'read', 'write', 'admin']),
  editor: new Set<Permission>(['evaluate', 'read', 'write']),
  reader: new Set<Permission>(['evaluate', 'read']),
  evaluator: new Set<Permission>(['evaluate']),
};

/** The authenticated caller. `name` is what the audit trail records as the actor. */
export interface Principal {
  name: string;
  role: Role;
  /**
   * The environments this token may act in (issue 16); absent = every
   * environment. An evaluator's list has exactly one entry: the environment
   * OFREP evaluates in for it.
   */
  environments?: readonly string[];
}

/** One configured token: its owner's name, role and the hex sha256 of the secret. */
export interface TokenEntry {
  name: string;
  role: Role;
  sha256: string;
  /** Environment names the token is limited to (absent = all); an evaluator names exactly one. */
  environments?: string[];
}

/** Most environments one token entry may list (the cluster holds at most 32). */
export const MAX_TOKEN_ENVIRONMENTS = 32;
/** An environment name as the cluster accepts it (flag-model's key characters, at most 128). */
const ENVIRONMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Longest accepted token name (characters); names end up in audit records and logs. */
export const MAX_TOKEN_NAME_CHARS = 128;
/** Longest presented token (bytes) we even hash; longer ones are rejected outright. */
export const MAX_TOKEN_BYTES = 4096;
/** Largest tokens file we read (bytes). */
export const MAX_TOKENS_FILE_BYTES = 1024 * 1024;

export class TokenConfigError extends Error {
  override name = 'TokenConfigError';
}

/**
 * A public id for a configured token: derived one-way from its sha256 (so it
 * reveals nothing usable), it lets a stream ticket name the token it was
 * issued for without carrying the token.
 */
export function keyIdOfDigest(digest: Buffer): string {
  return createHash('sha256').update('flagraft-key-id\0').update(digest).digest('base64url').slice(0, 22);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function roleAllows(role: Role, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/**
 * Parses the JSON token list (`[{"name","role","sha256"}]`). Every problem names
 * the entry and field, and the secret hashes are never echoed back.
 */
export function parseTokens(json: string, source: string): TokenEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    throw new TokenConfigError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(data)) throw new TokenConfigError(`${source}: expected a JSON array of {name, role, sha256}`);
  const seenHashes = new Set<string>();
  return data.map((raw, i): TokenEntry => {
    const at = `${source}[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new TokenConfigError(`${at}: expected an object {name, role, sha256}`);
    }
    const { name, role, sha256, environments } = raw as Record<string, unknown>;
    if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_TOKEN_NAME_CHARS) {
      throw new TokenConfigError(`${at}.name: must be a non-empty string of at most ${MAX_TOKEN_NAME_CHARS} characters`);
    }
    if (!isRole(role)) throw new TokenConfigError(`${at}.role: must be one of ${ROLES.join(', ')}`);
    if (typeof sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha256)) {
      throw new TokenConfigError(`${at}.sha256: must be 64 hex characters (the sha256 of the token)`);
    }
    const hash = sha256.toLowerCase();
    if (seenHashes.has(hash)) throw new TokenConfigError(`${at}.sha256: the same token is configured twice`);
    seenHashes.add(hash);
    const entry: TokenEntry = { name, role, sha256: hash };
    if (environments !== undefined) entry.environments = parseEnvironments(environments, role, `${at}.environments`);
    return entry;
  });
}

/**
 * A token entry's `environments`: distinct environment names, at least one,
 * at most MAX_TOKEN_ENVIRONMENTS; exactly one for an evaluator (OFREP takes
 * no environment parameter, so the token names the one it evaluates in).
 */
function parseEnvironments(value: unknown, role: Role, at: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_TOKEN_ENVIRONMENTS) {
    throw new TokenConfigError(`${at}: must be a non-empty array of at most ${MAX_TOKEN_ENVIRONMENTS} environment names (MAX_TOKEN_ENVIRONMENTS)`);
  }
  const names = value.map((v, j) => {
    if (typeof v !== 'string' || !ENVIRONMENT_NAME.test(v)) throw new TokenConfigError(`${at}[${j}]: must be an environment name (${ENVIRONMENT_NAME.source})`);
    return v;
  });
  if (new Set(names).size !== names.length) throw new TokenConfigError(`${at}: lists an environment twice`);
  if (role === 'evaluator' && names.length !== 1) throw new TokenConfigError(`${at}: an evaluator token belongs to exactly one environment (OFREP evaluates in it)`);
  return names;
}

/** Whether a principal may act in an environment (no list = every environment). */
export function principalAllowsEnvironment(principal: Principal, env: string): boolean {
  return principal.environments === undefined || principal.environments.includes(env);
}

export interface TokenStore {
  /** Returns the principal for a presented token, or undefined. Never throws. */
  authenticate(token: string | undefined | null): Principal | undefined;
  /**
   * The configured token with this key id (see tickets.ts: a public, one-way
   * id of the token's hash), with its stored sha256 digest; undefined if no
   * configured token has it (unknown or revoked).
   */
  byKeyId?(keyId: string): { principal: Principal; digest: Buffer } | undefined;
  /** Number of configured tokens. */
  readonly size: number;
}

/**
 * Builds the lookup. The presented token is hashed and compared against EVERY
 * configured hash with timingSafeEqual, without an early exit, so the time taken
 * reveals neither whether nor which entry matched.
 */
export function createTokenStore(entries: readonly TokenEntry[]): TokenStore {
  const table = entries.map((e) => ({
    principal: Object.freeze(e.environments ? { name: e.name, role: e.role, environments: Object.freeze([...e.environments]) } : { name: e.name, role: e.role }) as Principal,
    digest: Buffer.from(e.sha256, 'hex'),
  }));
  const byKey = new Map(table.map((t) => [keyIdOfDigest(t.digest), t]));
  return {
    size: table.length,
    byKeyId: (keyId) => byKey.get(keyId),
    authenticate(token) {
      if (typeof token !== 'string' || token.length === 0 || Buffer.byteLength(token) > MAX_TOKEN_BYTES) return undefined;
      const digest = createHash('sha256').update(token, 'utf8').digest();
      let found: Principal | undefined;
      for (const entry of table) {
        if (timingSafeEqual(entry.digest, digest) && found === undefined) found = entry.principal;
      }
      return found;
    },
  };
}

/**
 * Loads tokens from `FLAGRAFT_TOKENS` (JSON) or `FLAGRAFT_TOKENS_FILE` (path to
 * the same JSON). Setting both is an error (which one wins would be a guess).
 * Neither set gives an empty store: every authenticated request is refused.
 */
export function loadTokens(env: Record<string, string | undefined> = process.env): TokenStore {
  return createTokenStore(loadTokenEntries(env));
}

export function loadTokenEntries(env: Record<string, string | undefined> = process.env): TokenEntry[] {
  const inline = env.FLAGRAFT_TOKENS;
  const file = env.FLAGRAFT_TOKENS_FILE;
  if (inline && file) throw new TokenConfigError('set FLAGRAFT_TOKENS or FLAGRAFT_TOKENS_FILE, not both');
  if (inline) return parseTokens(inline, 'FLAGRAFT_TOKENS');
  if (file) {
    let text: string;
    try {
      const buf = readFileSync(file);
      if (buf.length > MAX_TOKENS_FILE_BYTES) {
        throw new TokenConfigError(`FLAGRAFT_TOKENS_FILE ${file}: larger than ${MAX_TOKENS_FILE_BYTES} bytes`);
      }
      text = buf.toString('utf8');
    } catch (err) {
      if (err instanceof TokenConfigError) throw err;
      throw new TokenConfigError(`FLAGRAFT_TOKENS_FILE ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    return parseTokens(text, `FLAGRAFT_TOKENS_FILE ${file}`);
  }
  return [];
}

type HeaderBag = Record<string, string | string[] | undefined>;

/**
 * Extracts the presented token from `Authorization: Bearer <t>` or `X-API-Key: <t>`
 * (Node lower-cases header names). Returns undefined when neither is present or
 * the Authorization scheme is not Bearer.
 */
export function tokenFromHeaders(headers: HeaderBag): string | undefined {
  const auth = first(headers['authorization']);
  if (auth !== undefined) {
    const m = /^\s*bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const key = first(headers['x-api-key']);
  if (key !== undefined && key.trim() !== '') return key.trim();
  return undefined;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
