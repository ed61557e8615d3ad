// `flagraft tokens …`: the operator's tool for the tokens file the gateways,
// relay and dashboard read (and reload on change). It works on the file, not
// through the gateway: tokens are the gateway's own authentication, so no API
// call may mint one. A new token's secret is printed once and only its
// SHA-256 is stored; list never shows hashes.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MAX_TOKENS_FILE_BYTES, ROLES, TokenConfigError, hashToken, isRole, parseTokens, type TokenEntry } from './tokens.js';

export interface TokensIo {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export const TOKENS_USAGE = `usage: flagraft tokens <command> [--file <tokens.json>] [--json]
  add --name <name> --role <${ROLES.join('|')}> [--env <environment>]...
                         make a token, store its SHA-256, print the secret once
  list                   names, roles and environments (never hashes)
  remove --name <name>   revoke every token of that name
The file is --file or FLAGRAFT_TOKENS_FILE; gateways, relay and dashboard reload it on change.
`;

class UsageError extends Error {}

/** The entries of the file, or an empty list when it does not exist yet. */
function readEntries(file: string): TokenEntry[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  if (Buffer.byteLength(text) > MAX_TOKENS_FILE_BYTES) throw new TokenConfigError(`${file}: larger than MAX_TOKENS_FILE_BYTES (${MAX_TOKENS_FILE_BYTES} bytes)`);
  return parseTokens(text, file);
}

/**
 * Writes the list whole, through a temporary file and a rename, so a reader
 * (the gateways watch the file) sees the old list or the new one, never half
 * of one; 0600: the hashes are not secrets, but nobody else needs them.
 */
function writeEntries(file: string, entries: TokenEntry[]): void {
  const text = `${JSON.stringify(entries, null, 2)}\n`;
  parseTokens(text, file); // the file we write must load
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export async function runTokensCommand(argv: string[], io: TokensIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        file: { type: 'string', short: 'f' }, name: { type: 'string' }, role: { type: 'string' },
        env: { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    io.stderr.write(`flagraft tokens: ${(e as Error).message}\n${TOKENS_USAGE}`);
    return 2;
  }
  const { values: o, positionals } = parsed;
  const [cmd, ...extra] = positionals;
  if (o.help || !cmd) {
    (o.help ? io.stdout : io.stderr).write(TOKENS_USAGE);
    return o.help ? 0 : 2;
  }
  const out = (value: unknown, human: string) => io.stdout.write(o.json ? `${JSON.stringify(value)}\n` : human);
  try {
    if (extra.length) throw new UsageError(`tokens ${cmd} takes no positional arguments, got ${JSON.stringify(extra.join(' '))}`);
    const file = o.file ?? io.env.FLAGRAFT_TOKENS_FILE;
    if (!file) throw new UsageError('--file <tokens.json> is required (or FLAGRAFT_TOKENS_FILE)');
    const only = (allowed: string[]) => {
      for (const k of ['name', 'role', 'env'] as const) if (o[k] !== undefined && !allowed.includes(k)) throw new UsageError(`tokens ${cmd} does not take --${k}`);
    };
    switch (cmd) {
      case 'add': {
        only(['name', 'role', 'env']);
        if (!o.name) throw new UsageError('--name is required (what the audit log records as the actor)');
        if (!isRole(o.role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}${o.role === undefined ? '' : `, got ${JSON.stringify(o.role)}`}`);
        const entries = readEntries(file);
        if (entries.some((e) => e.name === o.name)) throw new UsageError(`a token named ${JSON.stringify(o.name)} already exists in ${file}; names are what the audit log records, so each is one holder (remove it first to replace it)`);
        const token = `fr_${randomBytes(24).toString('base64url')}`;
        const entry: TokenEntry = { name: o.name, role: o.role, sha256: hashToken(token), ...(o.env ? { environments: o.env } : {}) };
        writeEntries(file, [...entries, entry]);
        const scope = o.env ? ` in ${o.env.join(', ')}` : '';
        out({ name: entry.name, role: entry.role, environments: o.env, token, file },
          `${token}\n`);
        io.stderr.write(`token "${entry.name}" (${entry.role}${scope}) added to ${file}; the secret above is shown once, only its SHA-256 is stored\n`);
        return 0;
      }
      case 'list': {
        only([]);
        const rows = readEntries(file).map((e) => ({ name: e.name, role: e.role, ...(e.environments ? { environments: e.environments } : {}) }));
        out(rows, rows.map((r) => `${r.name.padEnd(24)} ${r.role.padEnd(9)} ${r.environments ? r.environments.join(', ') : '(every environment)'}\n`).join('') || `no tokens in ${file}\n`);
        return 0;
      }
      case 'remove': {
        only(['name']);
        if (!o.name) throw new UsageError('--name is required');
        const entries = readEntries(file);
        const kept = entries.filter((e) => e.name !== o.name);
        if (kept.length === entries.length) {
          io.stderr.write(`flagraft tokens: no token named ${JSON.stringify(o.name)} in ${file}\n`);
          return 4;
        }
        writeEntries(file, kept);
        out({ removed: entries.length - kept.length, name: o.name }, `removed ${entries.length - kept.length} token(s) named "${o.name}" from ${file}; gateways stop accepting them when they reload it\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command 'tokens ${cmd}' (add, list, remove)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`flagraft tokens: ${e.message}\n`);
      return 2;
    }
    if (e instanceof TokenConfigError) {
      io.stderr.write(`flagraft tokens: ${e.message}\n`);
      return 1;
    }
    io.stderr.write(`flagraft tokens: ${(e as Error).message}\n`);
    return 1;
  }
}
