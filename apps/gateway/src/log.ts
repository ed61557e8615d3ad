// Structured logs: one JSON object per line on stdout.
//
// Node writes to a stdout pipe synchronously on Linux, so a slow log reader
// (a container runtime, journald, a busy parent) would stall the event loop
// on every request log. Instead lines are queued and written with
// asynchronous fs.write on fd 1, one write in flight at a time, batching what
// accumulated meanwhile. The queue is bounded (MAX_QUEUED_LOG_LINES); lines
// beyond it are dropped and counted rather than growing memory.
import { write as fsWrite, writeSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Largest number of log lines waiting to be written (lines). */
export const MAX_QUEUED_LOG_LINES = 10_000;
/** Lines are collected for this long before one write, ms: one syscall per batch, not per request. */
export const LOG_FLUSH_INTERVAL_MS = 20;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  /**
   * Like log() for a hot path that has already serialised its fields: `fieldsJson`
   * is the inside of a JSON object (`"a":1,"b":"x"`), every value JSON-encoded.
   */
  logJson(level: LogLevel, msg: string, fieldsJson: string): void;
  /** Writes what is queued (synchronously when nothing is in flight); for shutdown. */
  flush(): void;
  /** Resolves once everything queued so far is written. */
  drain(): Promise<void>;
  /** Lines dropped because the queue was full. */
  readonly dropped: number;
}

export function createLogger(opts: { app: string; level?: LogLevel; write?: (chunk: string) => void; fd?: number }): Logger {
  const min = LEVELS[opts.level ?? 'info'];
  const fd = opts.fd ?? 1;
  let queue: string[] = [];
  let scheduled = false;
  let inflight = false;
  let dropped = 0;
  let drained: (() => void)[] = [];

  const appJson = JSON.stringify(opts.app);
  const enqueue = (line: string) => {
    queue.push(line);
    if (!scheduled && !inflight) {
      scheduled = true;
      setTimeout(flushQueued, LOG_FLUSH_INTERVAL_MS);
    }
  };
  const settle = () => {
    if (queue.length === 0 && !inflight) {
      const waiters = drained;
      drained = [];
      for (const w of waiters) w();
    }
  };
  const writeAsync = (buf: Buffer) => {
    inflight = true;
    fsWrite(fd, buf, 0, buf.length, null, (err, written) => {
      if (!err && written < buf.length) return writeAsync(buf.subarray(written));
      inflight = false;
      if (queue.length > 0) flushQueued();
      else settle();
    });
  };
  const flushQueued = () => {
    scheduled = false;
    if (queue.length === 0 || inflight) return settle();
    const chunk = queue.join('');
    queue = [];
    if (opts.write) {
      opts.write(chunk);
      settle();
    } else writeAsync(Buffer.from(chunk));
  };

  return {
    get dropped() {
      return dropped;
    },
    flush() {
      if (inflight || queue.length === 0) return;
      const chunk = queue.join('');
      queue = [];
      if (opts.write) opts.write(chunk);
      else {
        try {
          writeSync(fd, chunk);
        } catch {
          // stdout gone (EPIPE): nothing else to do with a log line
        }
      }
      settle();
    },
    drain() {
      if (queue.length === 0 && !inflight) return Promise.resolve();
      if (!scheduled && !inflight) flushQueued();
      return new Promise((resolve) => drained.push(resolve));
    },
    log(level, msg, fields) {
      if (LEVELS[level] < min) return;
      if (queue.length >= MAX_QUEUED_LOG_LINES) {
        dropped++;
        return;
      }
      let line: string;
      try {
        line = JSON.stringify({ t: new Date().toISOString(), level, msg, app: opts.app, ...fields });
      } catch {
        line = JSON.stringify({ t: new Date().toISOString(), level, msg, app: opts.app, note: 'fields not serialisable' });
      }
      enqueue(line + '\n');
    },
    logJson(level, msg, fieldsJson) {
      if (LEVELS[level] < min) return;
      if (queue.length >= MAX_QUEUED_LOG_LINES) {
        dropped++;
        return;
      }
      // Same shape as log(): t, level, msg, app, then the fields.
      enqueue(`{"t":"${new Date().toISOString()}","level":"${level}","msg":${JSON.stringify(msg)},"app":${appJson}${fieldsJson ? ',' + fieldsJson : ''}}\n`);
    },
  };
}
