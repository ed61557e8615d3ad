// Command-line parsing and dispatch. Every command is one entry in COMMANDS:
// its words, the options it accepts, its help line and its handler.
import { parseArgs } from 'node:util';
import { CliError, ExitCode, usageError } from './errors.js';
import { createApiClient, DEFAULT_TIMEOUT_MS, type ApiClient } from './http.js';
import { runCertsCommand } from '@flagraft/identity';
import { runTokensCommand } from '@flagraft/auth';
import { clusterCommands, flagCommands, snapshotCommands, whoamiCommands } from './commands.js';
import { flagdCommands } from './flagd.js';
import { environmentCommands } from './environments.js';
import { changeRequestCommands } from './change-requests.js';
import { scheduleCommands } from './schedules.js';

export const VERSION = '0.1.0';
export const DEFAULT_URL = 'https://localhost:8443';

export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Reads all of standard input (for `--file -`). */
  readStdin?: () => Promise<string>;
  /**
   * Asks the person at the terminal a yes/no question (absent when standard
   * input is not a terminal: a command that needs confirmation then wants --yes).
   */
  confirm?: (question: string) => Promise<boolean>;
}

/** Option values as parsed; options that may be repeated (--flag, --approver...) are string arrays. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandContext {
  args: string[];
  opts: OptionValues;
  json: boolean;
  api: () => ApiClient;
  io: CliIo;
  out(text: string): void;
  /** Prints `value` as JSON (with --json) or `human` as text. */
  emit(value: unknown, human: () => string): void;
}

export interface CommandSpec {
  /** `['flags', 'list']`, or one word for a command without a verb (`['promote']`). */
  words: [string, string] | [string];
  usage: string;
  help: string;
  /** Positional argument count: [min, max]. */
  arity: [number, number];
  options?: string[];
  run(ctx: CommandContext): Promise<void>;
}

// Every option any command accepts. Which command accepts which is checked after parsing.
const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  ca: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  prefix: { type: 'string' },
  limit: { type: 'string' },
  stale: { type: 'boolean' },
  file: { type: 'string', short: 'f' },
  value: { type: 'string' },
  enable: { type: 'boolean' },
  disable: { type: 'boolean' },
  default: { type: 'string' },
  'if-revision': { type: 'string' },
  create: { type: 'boolean' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'skip-unmappable': { type: 'boolean' },
  out: { type: 'string', short: 'o' },
  // environments, promotion, change requests, schedules (issue 16)
  env: { type: 'string' },
  'display-name': { type: 'string' },
  production: { type: 'boolean' },
  'copy-from': { type: 'string' },
  approvals: { type: 'string' },
  'author-cannot-approve': { type: 'boolean' },
  'author-can-approve': { type: 'boolean' },
  'approver-role': { type: 'string', multiple: true },
  approver: { type: 'string', multiple: true },
  'any-approver': { type: 'boolean' },
  from: { type: 'string' },
  to: { type: 'string' },
  flag: { type: 'string', multiple: true },
  yes: { type: 'boolean', short: 'y' },
  state: { type: 'string' },
  mine: { type: 'boolean' },
  'to-review': { type: 'boolean' },
  author: { type: 'string' },
  title: { type: 'string' },
  description: { type: 'string' },
  'flag-file': { type: 'string', multiple: true },
  'promote-from': { type: 'string' },
  submit: { type: 'boolean' },
  comment: { type: 'string' },
  at: { type: 'string' },
  cr: { type: 'string' },
  toggle: { type: 'string' },
  rollout: { type: 'string' },
  steps: { type: 'string' },
  variant: { type: 'string' },
  pending: { type: 'boolean' },
} as const;
const GLOBAL_OPTIONS = new Set(['url', 'token', 'ca', 'timeout', 'json', 'help', 'version']);

export const COMMANDS: CommandSpec[] = [
  ...flagCommands, ...environmentCommands, ...changeRequestCommands, ...scheduleCommands, ...clusterCommands, ...whoamiCommands, ...snapshotCommands, ...flagdCommands,
];

export function helpText(): string {
  const lines = [
    `flagraft ${VERSION} — manage a flagraft cluster through its gateway API`,
    '',
    'Usage: flagraft <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => c.usage.length > 52 ? `  ${c.usage}\n  ${''.padEnd(52)} ${c.help}` : `  ${c.usage.padEnd(52)} ${c.help}`),
    `  ${'certs init|issue|rotate|rotate-ca|drop-old-ca|list --dir <folder>'.padEnd(52)} the cluster's certificates (flagraft certs --help)`,
    `  ${'tokens add|list|remove --file <tokens.json>'.padEnd(52)} API tokens: roles, environments (flagraft tokens --help)`,
    '',
    'Global options:',
    `  --url <url>        gateway or Caddy URL (env FLAGRAFT_URL, default ${DEFAULT_URL})`,
    '  --token <token>    API token (prefer env FLAGRAFT_TOKEN: options show up in `ps`)',
    '  --ca <file>        extra CA certificate to trust (env FLAGRAFT_CA_FILE; or NODE_EXTRA_CA_CERTS)',
    `  --timeout <ms>     per-request timeout (env FLAGRAFT_TIMEOUT_MS, default ${DEFAULT_TIMEOUT_MS})`,
    '  --json             machine-readable output (errors too, on stderr)',
    '',
    'Environments: flag commands act on the default environment unless --env <name>.',
    'Times (--at, rollout steps) are RFC 3339 with a zone (2026-12-08T10:00Z, 2026-12-08T11:00+01:00);',
    'they are shown in local time (TZ) with UTC beside.',
    '',
    'Exit codes: 0 ok, 1 error, 2 usage, 3 auth (401/403), 4 not found, 5 conflict (412/409),',
    '            6 invalid input (400/413/422), 7 unavailable (503, timeout, unreachable)',
  ];
  return lines.join('\n') + '\n';
}

function parsePositiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw usageError(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Runs one CLI invocation and returns its exit code. Never throws; never calls process.exit. */
export async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  // `flagraft certs ...` works on files, not through the gateway: its own options (packages/identity).
  if (argv[0] === 'certs') return (await runCertsCommand(argv.slice(1), io)) as ExitCode;
  // `flagraft tokens ...` edits the tokens file (no API may mint a token): its own options (packages/auth).
  if (argv[0] === 'tokens') return (await runTokensCommand(argv.slice(1), io)) as ExitCode;
  let json = argv.includes('--json');
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
      throw usageError(`${(err as Error).message} (see flagraft --help)`);
    }
    const opts = parsed.values as OptionValues;
    json = opts.json === true;
    const [group, verb] = parsed.positionals;
    if (opts.version) {
      io.stdout.write(`${VERSION}\n`);
      return ExitCode.OK;
    }
    if (opts.help || !group) {
      io.stdout.write(helpText());
      return group || opts.help ? ExitCode.OK : ExitCode.USAGE;
    }
    const spec = COMMANDS.find((c) => c.words[0] === group && (c.words.length === 1 || c.words[1] === verb));
    if (!spec) {
      const known = COMMANDS.filter((c) => c.words[0] === group).map((c) => c.words[1]);
      throw usageError(known.length
        ? `unknown command 'flagraft ${[group, verb].filter(Boolean).join(' ')}'; ${group} has: ${known.join(', ')}`
        : `unknown command '${group}' (commands: flags, env, promote, cr, schedule, cluster, snapshot, import, export, certs, tokens; see flagraft --help)`);
    }
    const rest = parsed.positionals.slice(spec.words.length);
    for (const name of Object.keys(opts)) {
      if (!GLOBAL_OPTIONS.has(name) && !(spec.options ?? []).includes(name)) {
        throw usageError(`'flagraft ${spec.words.join(' ')}' does not take --${name} (usage: flagraft ${spec.usage})`);
      }
    }
    if (rest.length < spec.arity[0] || rest.length > spec.arity[1]) {
      throw usageError(`usage: flagraft ${spec.usage}`);
    }
    let client: ApiClient | undefined;
    const ctx: CommandContext = {
      args: rest,
      opts,
      json,
      io,
      api: () => (client ??= createApiClient({
        baseUrl: (opts.url as string | undefined) ?? io.env.FLAGRAFT_URL ?? DEFAULT_URL,
        token: (opts.token as string | undefined) ?? io.env.FLAGRAFT_TOKEN,
        caFile: (opts.ca as string | undefined) ?? io.env.FLAGRAFT_CA_FILE,
        timeoutMs: parsePositiveInt('timeout', (opts.timeout as string | undefined) ?? io.env.FLAGRAFT_TIMEOUT_MS),
      })),
      out: (text) => io.stdout.write(text),
      emit: (value, human) => io.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : human()),
    };
    await spec.run(ctx);
    return ExitCode.OK;
  } catch (err) {
    const e = err instanceof CliError ? err : new CliError(`unexpected error: ${(err as Error)?.stack ?? String(err)}`, ExitCode.ERROR);
    if (json) {
      io.stderr.write(`${JSON.stringify({ error: e.message, exitCode: e.exitCode, details: e.details, problem: e.problem })}\n`);
    } else {
      io.stderr.write(`flagraft: ${e.message}\n${e.details.map((d) => `  ${d}\n`).join('')}`);
    }
    return e.exitCode;
  }
}

export { parsePositiveInt };
