// One JSON object a line on stdout (docs/CONTRACTS.md). Tokens are never logged.
export type Level = 'debug' | 'info' | 'warn' | 'error';

export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  const line: Record<string, unknown> = { t: new Date().toISOString(), level, msg, app: 'dashboard' };
  for (const [k, v] of Object.entries(fields)) line[k] = v instanceof Error ? { name: v.name, message: v.message } : v;
  process.stdout.write(JSON.stringify(line) + '\n');
}
