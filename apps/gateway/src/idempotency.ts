// The Idempotency-Key request header on writes (IETF
// draft-ietf-httpapi-idempotency-key-header): a client that may send the same
// write twice (its own retry, or a proxy's retry on another gateway after a
// connection broke) names the write with a key, and the cluster applies it
// once. The key maps onto the consensus nodes' existing de-duplication of
// (clientId, requestId), which is replicated through Raft and so shared by
// every gateway:
//
//   clientId    = "idem-" + hash of the authenticated principal's name, so two
//                 callers' keys never meet (and no caller can read another's
//                 answer by guessing its key);
//   requestId   = the key;
//   fingerprint = hash of what the request said (method, path and query,
//                 preconditions, body): the same key with another request is
//                 refused with 422 instead of being answered with the first
//                 write's outcome.
//
// The nodes keep a key for their de-duplication window (consensus-node
// retention: dedupMinAgeMs at least); a retry after that is a new write.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WriteIdempotency } from './types.js';
import { HttpProblem } from './problem.js';

// The header's name, length and characters are @flagraft/api's contract.
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_CHARS } from '@flagraft/api';

export { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_CHARS };

/**
 * The Idempotency-Key of a request, checked; undefined when it has none.
 * The draft defines the value as a Structured Field string ("..."); a bare
 * token is accepted too, as most clients send one.
 */
export function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) throw keyProblem('send one Idempotency-Key header, not several');
  let key = raw.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1);
  if (key.length === 0) throw keyProblem('Idempotency-Key must not be empty');
  if (key.length > MAX_IDEMPOTENCY_KEY_CHARS) {
    throw keyProblem(`Idempotency-Key is ${key.length} characters, more than MAX_IDEMPOTENCY_KEY_CHARS ${MAX_IDEMPOTENCY_KEY_CHARS}`, { limit: MAX_IDEMPOTENCY_KEY_CHARS });
  }
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) throw keyProblem('Idempotency-Key may hold only letters, digits and - _ . ~ : + / =');
  return key;
}

function keyProblem(detail: string, ext: Record<string, unknown> = {}): HttpProblem {
  return new HttpProblem('bad-request', detail, { header: IDEMPOTENCY_KEY_HEADER, ...ext });
}

const hash = (s: string) => createHash('sha256').update(s).digest('base64url');

/**
 * The cluster de-duplication ids of a write made by `principal` (already
 * authenticated), or undefined when the request carries no Idempotency-Key.
 * `body` is the parsed body: the same bytes parse to the same value, and
 * JSON.stringify of it is the same text on every gateway.
 */
export function writeIdempotency(req: IncomingMessage, principal: { name: string }, body: unknown): WriteIdempotency | undefined {
  const key = idempotencyKeyOf(req);
  if (key === undefined) return undefined;
  const h = req.headers;
  // content-type too: it decides how a PATCH body is read (JSON Patch or merge patch).
  const what = JSON.stringify([
    req.method, (req as { originalUrl?: string }).originalUrl ?? req.url,
    h['if-match'] ?? null, h['if-none-match'] ?? null, h['content-type'] ?? null, body === undefined ? null : body,
  ]);
  return { clientId: `idem-${hash(principal.name)}`, requestId: key, fingerprint: hash(what) };
}


/**
 * Routes whose effect is not one de-duplicated cluster command (a flagd
 * import is a plan of several batches computed from the current state; a
 * restore is a stream of entries guarded by its own checks; membership
 * changes are not flag writes) cannot promise "applied once" for a key: they
 * refuse one rather than ignore it, so that neither a client nor Caddy (which
 * retries keyed DELETEs on another gateway) treats them as safe to repeat.
 */
export function refuseIdempotencyKey(req: IncomingMessage, route: string): void {
  if (req.headers['idempotency-key'] !== undefined) {
    throw keyProblem(`${route} does not take an Idempotency-Key (the cluster does not de-duplicate it); read the outcome before retrying`);
  }
}
