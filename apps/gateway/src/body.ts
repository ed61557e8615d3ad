// Reading a JSON request body, *after* the route has authenticated the caller
// (routes/context.ts calls this once the token and rate limit have passed).
// Nothing is read, inflated or parsed for a caller without a valid token.
//
// Every limit is named in the answer:
//   - the route's byte limit (e.g. maxBodyBytes) applies to the bytes on the
//     wire *and* to the decompressed size: a 29 KB gzip of 20 MB is refused
//     after inflating at most maxBytes + one zlib chunk, never buffered whole;
//   - JSON shape limits (flag-model's JSON_LIMITS: depth, string length,
//     array length, object keys, nodes, finite numbers) are checked on the raw
//     text (depth) and on the parsed value before any recursive code sees it.
import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { jsonShapeViolations, jsonTextDepthViolation, jsonWithinLimits, JSON_LIMITS, type JsonLimits, type JsonLimitViolation } from '@flagraft/flag-model';
import { HttpProblem } from './problem.js';

export interface BodyLimit {
  /** The config name of the byte limit, as it appears in errors and the README (`maxBodyBytes`). */
  name: string;
  /** Bytes, on the wire and after decompression. */
  maxBytes: number;
  /** Overrides of JSON_LIMITS for this route (a restore carries more items than a flag). */
  json?: Partial<JsonLimits>;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Whether the request carries a body at all (RFC 9112 6.3: Content-Length or Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

function tooLarge(limit: BodyLimit, decompressed: boolean): HttpProblem {
  return new HttpProblem('payload-too-large', `the body is larger than ${limit.maxBytes} bytes${decompressed ? ' once decompressed' : ''} (${limit.name})`, {
    limit: limit.name,
    limitBytes: limit.maxBytes,
  });
}

function decompressor(encoding: string): Transform | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

/**
 * Collects the body, at most limit.maxBytes before and after decompression.
 * On refusal the rest of the request is discarded unread (Node drains it
 * without keeping it) and the decompressor destroyed.
 */
export function collectBody(req: IncomingMessage, limit: BodyLimit): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit.maxBytes) return Promise.reject(tooLarge(limit, false));
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const inflater = encoding === 'identity' ? undefined : decompressor(encoding);
  if (encoding !== 'identity' && inflater === undefined) {
    return Promise.reject(new HttpProblem('unsupported-media-type', `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported; use gzip, deflate, br or none`));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let wire = 0;
    let out = 0;
    let done = false;
    const finish = (err: unknown, buf?: Buffer) => {
      if (done) return;
      done = true;
      if (err !== undefined) {
        chunks.length = 0;
        if (inflater) {
          req.unpipe(inflater);
          inflater.destroy();
        }
        req.resume(); // discard the rest without buffering it
        reject(err);
      } else resolve(buf!);
    };
    const source = inflater ?? req;
    if (inflater) {
      req.on('data', (c: Buffer) => {
        wire += c.length;
        if (wire > limit.maxBytes) finish(tooLarge(limit, false));
      });
      req.pipe(inflater);
      inflater.on('error', () => finish(new HttpProblem('bad-request', `the body is not valid ${encoding} data (Content-Encoding)`)));
    }
    source.on('data', (c: Buffer) => {
      if (done) return;
      out += c.length;
      if (out > limit.maxBytes) return finish(tooLarge(limit, inflater !== undefined));
      chunks.push(c);
    });
    source.on('end', () => finish(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    // A client that stops mid-body: 'aborted' then 'error' (ECONNRESET). Nobody reads the answer, but it must not be a 500 in the log.
    req.on('error', () => finish(new HttpProblem('bad-request', 'the body ended before its declared length')));
    req.on('aborted', () => finish(new HttpProblem('bad-request', 'the body ended before its declared length')));
  });
}

/** Turns shape violations into one 422 naming every limit hit, with paths and pointers. */
export function jsonLimitProblem(violations: JsonLimitViolation[], prefix = ''): HttpProblem {
  const issues = violations.map((v) => ({
    path: prefix && v.path ? `${prefix}${v.path.startsWith('[') ? '' : '.'}${v.path}` : prefix || v.path,
    pointer: (prefix ? '/' + prefix : '') + v.pointer,
    message: `${v.message} (${v.limit}${v.max ? ` = ${v.max}` : ''})`,
    limit: v.limit,
  }));
  const first = issues[0]!;
  const where = first.path ? `${first.path}: ` : 'the body ';
  return new HttpProblem('json-limit', `${where}${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`, { limit: first.limit, issues });
}

/** Parses JSON text under the shape limits: 400 for malformed text, 422 naming the limit for a shape over it. */
export function parseLimitedJson(text: string, json: Partial<JsonLimits> = {}): unknown {
  const limits: JsonLimits = Object.keys(json).length === 0 ? JSON_LIMITS : { ...JSON_LIMITS, ...json };
  // Parse first, then one cheap walk (jsonWithinLimits, its recursion bounded
  // by maxJsonDepth) that accepts nearly every body: JSON.parse is iterative in
  // V8 and the text is at most maxBodyBytes, so a too-deep text is safe to
  // parse. The text's depth scan and the full walk, which name the violation,
  // run only for a body that fails, in the same order as before (depth of the
  // text first), so every refusal is the same answer as before.
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throwTextDepth(text, limits.maxJsonDepth);
    throw new HttpProblem('malformed-json', `the body is not valid JSON: ${String((err as Error).message).slice(0, 200)}`);
  }
  if (jsonWithinLimits(value, limits)) return value;
  throwTextDepth(text, limits.maxJsonDepth);
  const violations = jsonShapeViolations(value, json);
  if (violations.length > 0) throw jsonLimitProblem(violations);
  return value;
}

function throwTextDepth(text: string, maxDepth: number): void {
  const depth = jsonTextDepthViolation(text, maxDepth);
  if (depth) throw jsonLimitProblem([depth]);
}

/**
 * The parsed JSON body, or undefined when the request has none. 415 for a
 * body that is not JSON (by Content-Type) or not UTF-8; 413 over the byte
 * limit; 400 for malformed JSON or bytes; 422 over a JSON shape limit.
 */
export async function readJsonBody(req: IncomingMessage, limit: BodyLimit): Promise<unknown> {
  if (!hasBody(req)) return undefined;
  const type = req.headers['content-type'] ?? '';
  if (!JSON_TYPE.test(type)) {
    throw new HttpProblem('unsupported-media-type', 'send the body as application/json (Content-Type header)');
  }
  const charset = CHARSET.exec(type)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new HttpProblem('unsupported-media-type', `charset ${JSON.stringify(charset.slice(0, 40))} is not supported; JSON is UTF-8`);
  }
  const buf = await collectBody(req, limit);
  if (buf.length === 0) return undefined;
  let text: string;
  try {
    text = fatalUtf8.decode(buf);
  } catch {
    throw new HttpProblem('malformed-json', 'the body is not valid UTF-8');
  }
  return parseLimitedJson(text, limit.json);
}
