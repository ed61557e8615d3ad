// How the client moves bytes: one request in, one whole answer out. The
// default is fetch (Node 20's global); a caller with other needs (the CLI
// trusts a CA file per request through node:https) passes its own. Errors a
// custom transport throws reach the caller unchanged.
import { ApiProblem } from './problem.js';

export interface TransportRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** This request's time limit, in milliseconds. */
  timeoutMs: number;
}

export interface TransportResponse {
  status: number;
  statusText?: string;
  headers: Headers;
  /** The whole body as text ('' when there is none). */
  text: string;
}

export type Transport = (req: TransportRequest) => Promise<TransportResponse>;

/** Largest answer the default transport reads, in bytes (a 10,000-flag page fits comfortably). */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * The fetch transport. A request that gets no answer (refused, reset, timed
 * out) is an ApiProblem 503 "Gateway unreachable"; an answer over
 * `maxResponseBytes` is an ApiProblem 502, read no further.
 */
export function fetchTransport(maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES): Transport {
  return async (req) => {
    let res: Response;
    try {
      res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(req.timeoutMs) });
    } catch (err) {
      const e = err as Error;
      const why = e?.name === 'TimeoutError' ? `no answer in ${req.timeoutMs} ms` : e?.message ?? String(err);
      throw new ApiProblem({ status: 503, title: 'Gateway unreachable', detail: `could not reach the gateway (${why})` }, { method: req.method, path: req.url.pathname });
    }
    const tooLarge = () =>
      new ApiProblem({ status: 502, title: 'Gateway answer too large', detail: `over ${maxResponseBytes} bytes` }, { method: req.method, path: req.url.pathname, headers: res.headers });
    if (Number(res.headers.get('content-length') ?? 0) > maxResponseBytes) {
      await res.body?.cancel();
      throw tooLarge();
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxResponseBytes) {
          await reader.cancel();
          throw tooLarge();
        }
        chunks.push(value);
      }
    }
    return { status: res.status, statusText: res.statusText, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') };
  };
}
