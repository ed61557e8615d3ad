/** One JSON object per line on stdout (CONTRACTS.md "Logs"). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFn = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createJsonLogger(app: string, minLevel: LogLevel = 'info',
  write: (line: string) => void = (l) => process.stdout.write(l)): LogFn {
  return (level, msg, fields) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    const rec: Record<string, unknown> = { t: new Date().toISOString(), level, msg, app, ...fields };
    if (fields && fields.err instanceof Error) rec.err = { name: fields.err.name, message: fields.err.message };
    write(JSON.stringify(rec) + '\n');
  };
}

export const silentLogger: LogFn = () => {};
