// Structured logs: one JSON object per line on stdout. Lines are queued and
// written once per event-loop turn, so a burst of request logs costs one write
// syscall instead of one per request; close() flushes synchronously.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Largest number of queued log lines (lines); beyond it lines are counted as dropped. */
export const MAX_QUEUED_LOG_LINES = 10_000;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  flush(): void;
  readonly dropped: number;
}

export function createLogger(opts: { app: string; level?: LogLevel; write?: (chunk: string) => void }): Logger {
  const min = LEVELS[opts.level ?? 'info'];
  const write = opts.write ?? ((chunk: string) => process.stdout.write(chunk));
  let queue: string[] = [];
  let scheduled = false;
  let dropped = 0;
  const flush = () => {
    scheduled = false;
    if (queue.length === 0) return;
    const chunk = queue.join('');
    queue = [];
    write(chunk);
  };
  return {
    get dropped() {
      return dropped;
    },
    flush,
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
      queue.push(line + '\n');
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  };
}
