// A raw HTTP/1.1 client for the fuzz suite: fetch() and node:http normalise
// or refuse what the suite wants to send (".." is resolved, CR/LF and NUL in
// a path throw, bad percent-encoding is re-encoded), so requests are written
// byte for byte on a TCP socket and the answer is parsed here. One request
// per connection (Connection: close), bounded in time and in size.
import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** The request target exactly as sent: may hold anything but is sent as UTF-8. */
  target: string;
  headers?: [string, string][];
  body?: Uint8Array | string;
  /** A WebSocket upgrade: sent with Connection: Upgrade; answered as soon as the response head arrives (the socket is then closed). */
  upgrade?: boolean;
}

export interface RawResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with "\n". */
  headers: Map<string, string>;
  body: string;
  /** The answer ended early: a chunked body without its last chunk, or fewer bytes than Content-Length. */
  truncated: boolean;
}

/** Longest wait for a whole answer, in ms. */
export const RAW_TIMEOUT_MS = 20_000;
/** Largest answer read, in bytes (pages are far smaller). */
export const RAW_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export function rawRequest(host: string, port: number, req: RawRequest): Promise<RawResponse> {
  const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body ? Buffer.from(req.body) : undefined;
  const lines = [`${req.method} ${req.target} HTTP/1.1`, `Host: ${host}:${port}`, req.upgrade ? 'Connection: Upgrade' : 'Connection: close'];
  for (const [k, v] of req.headers ?? []) lines.push(`${k}: ${v}`);
  if (body) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${RAW_TIMEOUT_MS} ms to ${req.method} ${JSON.stringify(req.target.slice(0, 200))}`));
    }, RAW_TIMEOUT_MS);
    // write, not end: a half-closed connection reads as a client that went away, and the server drops the answer (as it should).
    socket.on('connect', () => socket.write(body ? Buffer.concat([head, body]) : head));
    socket.on('data', (c: Buffer) => {
      size += c.length;
      if (size > RAW_MAX_RESPONSE_BYTES) {
        socket.destroy();
        clearTimeout(timer);
        reject(new Error(`answer larger than ${RAW_MAX_RESPONSE_BYTES} bytes`));
        return;
      }
      chunks.push(c);
      // An upgrade answered 101 stays open: the head is all there is to see.
      if (req.upgrade && Buffer.concat(chunks).includes('\r\n\r\n')) socket.destroy();
    });
    // The server may close after answering before it read our whole body (413, 403): keep what arrived.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseResponse(Buffer.concat(chunks), req.method === 'HEAD' || !!req.upgrade));
      } catch (err) {
        reject(new Error(`${(err as Error).message} for ${req.method} ${JSON.stringify(req.target.slice(0, 200))}`));
      }
    });
  });
}

export function parseResponse(raw: Buffer, isHead: boolean): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete response head (${raw.length} bytes received)`);
  const [statusLine, ...headerLines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers.set(k, headers.has(k) ? `${headers.get(k)}\n${v}` : v);
  }
  let body = raw.subarray(end + 4);
  let truncated = false;
  if (isHead) body = Buffer.alloc(0);
  else if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) ({ body, truncated } = dechunk(body));
  else if (headers.has('content-length')) truncated = body.length < Number(headers.get('content-length'));
  return { status: Number(m[1]), headers, body: body.toString('utf8'), truncated };
}

/** Decodes a chunked body; a truncated one (the server cut the answer) keeps what arrived. */
function dechunk(b: Buffer): { body: Buffer; truncated: boolean } {
  const out: Buffer[] = [];
  let at = 0;
  while (at < b.length) {
    const eol = b.indexOf('\r\n', at);
    if (eol < 0) break;
    const n = parseInt(b.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(n)) break;
    if (n === 0) return { body: Buffer.concat(out), truncated: false };
    if (eol + 2 + n > b.length) break;
    out.push(b.subarray(eol + 2, eol + 2 + n));
    at = eol + 2 + n + 2;
  }
  return { body: Buffer.concat(out), truncated: true };
}
