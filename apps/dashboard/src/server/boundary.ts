// The last-resort error boundary around one request. Nothing a request does
// may end the process: every error is logged with the request id and, if no
// byte of the answer was sent yet, answered with a small error page; if the
// answer had started, the connection is cut (the client sees a truncated
// response, not a complete wrong one). Stream errors on the request and the
// response (a write after end, a reset by the client) are logged instead of
// becoming an unhandled 'error' event, which would end the process.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_REQUEST_BODY_BYTES } from './input-limits';
import { log } from './log';

export const REQUEST_ID_HEADER = 'x-request-id';

/** The proxy's request id if it is a sane one (Caddy can send one), else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const h = req.headers[REQUEST_ID_HEADER];
  return typeof h === 'string' && /^[\w.:-]{1,100}$/.test(h) ? h : randomUUID();
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function errorPage(status: number, requestId: string): string {
  const title = status === 404 ? 'Not found' : 'Something went wrong';
  const text =
    status === 404
      ? 'There is nothing at this address.'
      : 'The dashboard could not show this page. The error was logged; the dashboard keeps running. Try again, or go back to the flags.';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title} · flagraft</title></head><body><main><h1>${title}</h1><p>${text}</p><p>Request id: <code>${escapeHtml(requestId)}</code></p><p><a href="/flags">Flags</a></p></main></body></html>`;
}

/**
 * The status an error stands for: Qwik City passes its own 4xx (a ServerError
 * with `status`, e.g. 404 "Resource Not Found" for a path no route serves)
 * on to the next handler after answering; that is a client's mistake, not a
 * failure to log as one. Anything else is a 500.
 */
export function statusOf(err: unknown): number {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === 'number' && Number.isInteger(s) && s >= 400 && s < 500 ? s : 500;
}

/** Installs the boundary on one request; returns fail(err, status = 500) for the handlers' error paths. */
export function guardRequest(req: IncomingMessage, res: ServerResponse, requestId: string): (err: unknown, status?: number) => void {
  res.setHeader('X-Request-Id', requestId);
  res.on('error', (err) => log('warn', 'response stream error', { requestId, err, path: req.url }));
  req.on('error', (err) => log('warn', 'request stream error', { requestId, err, path: req.url }));
  return (err, chosen) => {
    const status = chosen ?? statusOf(err);
    if (status >= 500) log('error', 'request failed', { requestId, err: err as Error, method: req.method, path: req.url });
    if (res.writableEnded || res.destroyed) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    try {
      for (const name of res.getHeaderNames()) if (name !== 'x-request-id') res.removeHeader(name);
      res.statusCode = status;
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Security-Policy', "default-src 'none'; base-uri 'none'; frame-ancestors 'none'");
      res.end(errorPage(status, requestId));
    } catch (e) {
      log('warn', 'error page not sent', { requestId, err: e as Error });
      res.destroy();
    }
  };
}

/** Answers with an RFC 9457 problem document and closes the connection (the body, if any, is not read). */
function sendProblem(res: ServerResponse, status: number, title: string, detail: string): void {
  res.writeHead(status, { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', Connection: 'close' });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

/**
 * MAX_REQUEST_BODY_BYTES for every body, checked on Content-Length before a
 * byte is read. A body without a length (chunked) is refused: browsers always
 * send one for forms and fetch(), and it keeps the limit a single header check.
 * Returns true when it answered.
 */
export function refuseOversizedBody(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return false;
  const len = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const n = len === undefined ? 0 : Number(len);
  let status = 0;
  let detail = '';
  if (chunked) [status, detail] = [411, 'a request body needs a Content-Length'];
  else if (!Number.isSafeInteger(n) || n < 0) [status, detail] = [400, 'invalid Content-Length'];
  else if (n > MAX_REQUEST_BODY_BYTES) [status, detail] = [413, `the body is larger than ${MAX_REQUEST_BODY_BYTES} bytes (MAX_REQUEST_BODY_BYTES)`];
  if (!status) return false;
  sendProblem(res, status, status === 413 ? 'Body too large' : 'Bad request body', detail);
  return true;
}

/**
 * A path that does not percent-decode (`/flags/%zz`, `/%E0%A4%A`) is a 400.
 * Qwik City's router decodes every path with decodeURIComponent and would
 * throw (a 500 from the boundary) on what is simply a bad address.
 * Returns true when it answered.
 */
export function refuseUndecodablePath(req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  try {
    decodeURIComponent(q < 0 ? url : url.slice(0, q));
    return false;
  } catch {
    sendProblem(res, 400, 'Bad request path', 'the path has invalid percent-encoding (a % not followed by two hex digits, or bytes that are not UTF-8)');
    return true;
  }
}
