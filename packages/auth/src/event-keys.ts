// The keys that sign change events (FLAGRAFT_EVENT_KEYS_FILE), shared by the
// consensus nodes (which sign with the active key) and the notification
// relays (which accept every key in the file). docs/CONTRACTS.md "Change
// event signatures" has the format and the rotation procedure.
//
// Secrets never leave this module: the ring hands out key ids and KeyObjects
// (which print as `KeyObject {}`), and no error message quotes a secret.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { watchFile, type FileWatch } from './file-watch.js';

/** Keys in one file (count): enough for a rotation window with room to spare. */
export const MAX_EVENT_KEYS = 16;
/** Largest keys file read (bytes). */
export const MAX_EVENT_KEYS_FILE_BYTES = 64 * 1024;
/** HMAC-SHA256 keys shorter than the hash output weaken it; longer ones add nothing. Bytes. */
export const MIN_EVENT_KEY_BYTES = 32;
export const MAX_EVENT_KEY_BYTES = 64;
/** Key ids: short, no dots (the signature attribute is dot-separated). */
export const EVENT_KEY_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

export class EventKeyConfigError extends Error {
  override name = 'EventKeyConfigError';
}

/** One parsed keys file: immutable; a reload builds a new one. */
export class EventKeySet {
  private constructor(
    private readonly keys: ReadonlyMap<string, KeyObject>,
    /** The id of the key new events are signed with (nodes); undefined in a verify-only file. */
    readonly activeKeyId: string | undefined,
  ) {}

  /** Every key id, the active one first. Ids are not secret (they travel in every signature). */
  get keyIds(): string[] {
    const ids = [...this.keys.keys()];
    return this.activeKeyId ? [this.activeKeyId, ...ids.filter((i) => i !== this.activeKeyId)] : ids;
  }

  key(id: string): KeyObject | undefined {
    return this.keys.get(id);
  }

  /**
   * Parses the JSON of a keys file: `{"v": 1, "active": "<id>", "keys": [{"id", "secret"}]}`,
   * `secret` = base64 (or base64url) of 32-64 random bytes. Every problem names
   * the field (`keys[1].secret`) and never echoes a secret.
   */
  static parse(json: string, source: string, opts: { requireActive?: boolean } = {}): EventKeySet {
    let data: unknown;
    try {
      data = JSON.parse(json);
    } catch {
      // V8's message quotes the text around the error, which may be a secret.
      throw new EventKeyConfigError(`${source}: not valid JSON`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new EventKeyConfigError(`${source}: expected an object {"v": 1, "active": "<key id>", "keys": [{"id", "secret"}]}`);
    }
    const { v, active, keys } = data as Record<string, unknown>;
    if (v !== 1) throw new EventKeyConfigError(`${source}.v: must be 1`);
    if (!Array.isArray(keys) || keys.length === 0) throw new EventKeyConfigError(`${source}.keys: must be a non-empty array of {id, secret}`);
    if (keys.length > MAX_EVENT_KEYS) throw new EventKeyConfigError(`${source}.keys: at most ${MAX_EVENT_KEYS} keys`);
    const parsed = new Map<string, KeyObject>();
    const seenSecrets = new Set<string>();
    keys.forEach((raw, i) => {
      const at = `${source}.keys[${i}]`;
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new EventKeyConfigError(`${at}: expected an object {id, secret}`);
      const { id, secret } = raw as Record<string, unknown>;
      if (typeof id !== 'string' || !EVENT_KEY_ID_RE.test(id)) {
        throw new EventKeyConfigError(`${at}.id: must be 1-64 characters of A-Z a-z 0-9 _ -`);
      }
      if (parsed.has(id)) throw new EventKeyConfigError(`${at}.id: "${id}" appears twice`);
      const bytes = typeof secret === 'string' && BASE64_RE.test(secret) ? Buffer.from(secret, 'base64') : undefined;
      if (!bytes || bytes.length < MIN_EVENT_KEY_BYTES || bytes.length > MAX_EVENT_KEY_BYTES) {
        throw new EventKeyConfigError(`${at}.secret: must be base64 of ${MIN_EVENT_KEY_BYTES}-${MAX_EVENT_KEY_BYTES} random bytes`);
      }
      const fingerprint = bytes.toString('hex');
      if (seenSecrets.has(fingerprint)) throw new EventKeyConfigError(`${at}.secret: the same secret is used by another key`);
      seenSecrets.add(fingerprint);
      parsed.set(id, createSecretKey(bytes));
      bytes.fill(0);
    });
    if (active !== undefined && (typeof active !== 'string' || !parsed.has(active))) {
      throw new EventKeyConfigError(`${source}.active: must be the id of one of the keys`);
    }
    if (opts.requireActive && active === undefined) {
      throw new EventKeyConfigError(`${source}.active: required here (the id of the key that signs new events)`);
    }
    return new EventKeySet(parsed, active as string | undefined);
  }

  /** Reads and parses a keys file (size-limited). */
  static load(file: string, opts: { requireActive?: boolean } = {}): EventKeySet {
    const source = `FLAGRAFT_EVENT_KEYS_FILE ${file}`;
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (err) {
      throw new EventKeyConfigError(`${source}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (buf.length > MAX_EVENT_KEYS_FILE_BYTES) throw new EventKeyConfigError(`${source}: larger than ${MAX_EVENT_KEYS_FILE_BYTES} bytes`);
    return EventKeySet.parse(buf.toString('utf8'), source, opts);
  }
}

/**
 * The keys a process uses now. Signing and verification read `current` on
 * every call, so replace() (a reload) takes effect for the next event.
 */
export class EventKeyRing {
  constructor(private set: EventKeySet) {}

  get current(): EventKeySet {
    return this.set;
  }

  replace(set: EventKeySet): void {
    this.set = set;
  }
}

/** Result of a reload: what was installed (ids only), or why nothing was. */
export type EventKeysReload = { ok: true; activeKeyId: string | undefined; keyIds: string[] } | { ok: false; error: string };

/**
 * Installs the keys of `file` into `ring` whenever the file changes (polled
 * every `intervalMs`) and on reload() (SIGHUP). A file that cannot be read or
 * parsed, or (with requireActive) lacks an active key, leaves the previous
 * keys in force; onResult says why.
 */
export function watchEventKeysFile(
  file: string,
  ring: EventKeyRing,
  intervalMs: number,
  opts: { requireActive?: boolean },
  onResult: (result: EventKeysReload) => void,
): FileWatch {
  return watchFile(file, intervalMs, () => {
    try {
      const set = EventKeySet.load(file, opts);
      ring.replace(set);
      onResult({ ok: true, activeKeyId: set.activeKeyId, keyIds: set.keyIds });
      return true;
    } catch (err) {
      onResult({ ok: false, error: (err as Error).message });
      return false;
    }
  });
}
