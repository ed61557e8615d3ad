// The commands. Each prints a human table by default and the server's JSON
// with --json; failures are CliErrors carrying an exit code.
import { readFileSync } from 'node:fs';
import * as api from './api.js';
import { readBackupFile, summarizeBackup, writeBackupFile, checkBackup, type BackupSummary } from './backup-file.js';
import type { CommandContext, CommandSpec } from './cli.js';
import { CliError, ExitCode, usageError } from './errors.js';
import { formatFields, formatTable, formatTime } from './table.js';

/** Largest flag definition file read by `flags set --file`, in bytes. */
export const MAX_FLAG_FILE_BYTES = 1024 * 1024;

export function intOpt(ctx: CommandContext, name: string): number | undefined {
  const v = ctx.opts[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw usageError(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

function memberId(raw: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw usageError(`member id must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

function condition(ctx: CommandContext): api.WriteCondition {
  return { ifRevision: intOpt(ctx, 'if-revision'), createOnly: ctx.opts.create === true, environment: envOpt(ctx) };
}

/** `--env <name>`: the environment a flag command acts in (absent = the default environment). */
export function envOpt(ctx: CommandContext, name = 'env'): string | undefined {
  const v = ctx.opts[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !ENV_NAME.test(v)) throw usageError(`--${name} must be an environment name (letters, digits, . _ -), got ${JSON.stringify(v)}`);
  return v;
}
const ENV_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The `--env` and `--title` every proposal or schedule must have; a missing
 * one is refused saying what it is for (`why.env`, `why.title`).
 */
export function envAndTitle(ctx: CommandContext, why: { env: string; title: string }): { env: string; title: string } {
  const env = envOpt(ctx);
  if (!env) throw usageError(`--env <environment> is required: ${why.env}`);
  const title = ctx.opts.title as string | undefined;
  if (!title?.trim()) throw usageError(`--title is required: ${why.title}`);
  return { env, title };
}

function describeWrite(verb: string, key: string, revision: number | undefined, env?: string): string {
  return `${verb} ${key}${env ? ` in ${env}` : ''}${revision !== undefined ? ` at revision ${revision}` : ''}\n`;
}

export async function readDefinition(ctx: CommandContext, file: string): Promise<Record<string, unknown>> {
  const v = await readJsonFile(ctx, file);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CliError(`${file}: expected a JSON object (a flag definition)`, ExitCode.INVALID);
  return v as Record<string, unknown>;
}

/** A JSON file (or `-`: standard input) of at most MAX_FLAG_FILE_BYTES, parsed. */
export async function readJsonFile(ctx: CommandContext, file: string): Promise<unknown> {
  let text: string;
  try {
    if (file === '-') {
      if (!ctx.io.readStdin) throw new Error('standard input is not available');
      text = await ctx.io.readStdin();
    } else {
      text = readFileSync(file, 'utf8');
    }
  } catch (err) {
    throw usageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (Buffer.byteLength(text) > MAX_FLAG_FILE_BYTES) throw new CliError(`${file} is larger than MAX_FLAG_FILE_BYTES (${MAX_FLAG_FILE_BYTES} bytes)`, ExitCode.INVALID);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`, ExitCode.INVALID);
  }
}

function flagRow(s: api.StoredFlagView) {
  const f = s.flag;
  return [f.key, f.type, f.enabled === undefined ? undefined : f.enabled ? 'on' : 'off', f.defaultVariant,
    s.modRevision, s.updatedBy, formatTime(s.updatedAt)];
}
const FLAG_HEADERS = ['KEY', 'TYPE', 'ENABLED', 'DEFAULT', 'REVISION', 'UPDATED BY', 'UPDATED AT'];

export const flagCommands: CommandSpec[] = [
  {
    words: ['flags', 'list'], usage: 'flags list [--env e] [--prefix p] [--limit n] [--stale]', help: 'list flags (of one environment)',
    arity: [0, 0], options: ['prefix', 'limit', 'stale', 'env'],
    async run(ctx) {
      const env = envOpt(ctx);
      const r = await api.listFlags(ctx.api(), { prefix: ctx.opts.prefix as string | undefined, limit: intOpt(ctx, 'limit'), stale: ctx.opts.stale === true, environment: env });
      ctx.emit(r, () => formatTable(FLAG_HEADERS, r.flags.map(flagRow)) + `${r.flags.length} flag(s)${env ? ` in ${env}` : ''}${r.revision !== undefined ? ` at revision ${r.revision}` : ''}\n`);
    },
  },
  {
    words: ['flags', 'get'], usage: 'flags get <key> [--env e] [--stale]', help: 'show one flag', arity: [1, 1], options: ['stale', 'env'],
    async run(ctx) {
      const { stored, raw } = await api.getFlag(ctx.api(), ctx.args[0], ctx.opts.stale === true, envOpt(ctx));
      ctx.emit(raw, () => {
        const f = stored.flag;
        return formatFields([
          ['key', f.key], ['type', f.type], ['enabled', f.enabled === undefined ? undefined : String(f.enabled)],
          ['default variant', f.defaultVariant], ['off variant', f.offVariant as string | undefined],
          ['description', f.description as string | undefined], ['tags', (f.tags ?? []).join(', ')],
          ['revision', stored.modRevision], ['version', stored.version], ['created at revision', stored.createRevision],
          ['updated by', stored.updatedBy], ['updated at', formatTime(stored.updatedAt)],
        ]) + `variants: ${JSON.stringify(f.variants ?? {})}\nrules: ${JSON.stringify(f.rules ?? [])}\n`;
      });
    },
  },
  {
    words: ['flags', 'set'],
    usage: 'flags set <key> --file f.json|-|--value v|--enable|--disable|--default v [--env e]',
    help: 'create or change a flag (--if-revision n, --create)', arity: [1, 1], options: ['file', 'value', 'enable', 'disable', 'default', 'if-revision', 'create', 'env'],
    async run(ctx) {
      const key = ctx.args[0];
      const { file, value } = ctx.opts as { file?: string; value?: string };
      const patch: Record<string, unknown> = {};
      if (ctx.opts.enable) patch.enabled = true;
      if (ctx.opts.disable) patch.enabled = false;
      if (ctx.opts.enable && ctx.opts.disable) throw usageError('--enable and --disable exclude each other');
      if (ctx.opts.default !== undefined) patch.defaultVariant = ctx.opts.default;
      const modes = [file !== undefined, value !== undefined, Object.keys(patch).length > 0].filter(Boolean).length;
      if (modes !== 1) throw usageError('give exactly one of --file, --value, or --enable/--disable/--default');
      const cond = condition(ctx);
      let body: unknown;
      let revision: number;
      if (file !== undefined) {
        const def = await readDefinition(ctx, file);
        if (def.key !== undefined && def.key !== key) throw usageError(`the file defines flag ${JSON.stringify(def.key)}, not ${JSON.stringify(key)}`);
        const stored = await api.putFlag(ctx.api(), key, { ...def, key }, cond);
        [body, revision] = [stored, stored.modRevision];
      } else if (value !== undefined) {
        if (cond.ifRevision !== undefined || cond.createOnly) throw usageError('--value does not support --if-revision/--create; use --file');
        if (cond.environment !== undefined) throw usageError('--value is the original API, which acts on the default environment only; with --env use --file, --enable/--disable or --default');
        const set = await api.setLegacyValue(ctx.api(), key, value);
        [body, revision] = [set, set.revision];
      } else {
        if (cond.createOnly) throw usageError('--create needs --file (a full definition)');
        const stored = await api.patchFlag(ctx.api(), key, patch, cond);
        [body, revision] = [stored, stored.modRevision];
      }
      ctx.emit(body, () => describeWrite('set', key, revision, cond.environment));
    },
  },
  {
    words: ['flags', 'delete'], usage: 'flags delete <key> [--if-revision n [--env e]]', help: 'delete a flag (from every environment: one definition)',
    arity: [1, 1], options: ['if-revision', 'env'],
    async run(ctx) {
      // A flag has one definition: deleting it removes it from every environment; --env names where --if-revision is checked.
      const body = await api.deleteFlag(ctx.api(), ctx.args[0], condition(ctx));
      ctx.emit(body, () => describeWrite('deleted', ctx.args[0], body.revision) + (ctx.opts.env ? '(a flag has one definition: it is gone from every environment)\n' : ''));
    },
  },
  {
    words: ['flags', 'history'], usage: 'flags history <key> [--env e] [--limit n]', help: 'audit trail of a flag', arity: [1, 1], options: ['limit', 'env'],
    async run(ctx) {
      const { changes, raw } = await api.flagHistory(ctx.api(), ctx.args[0], intOpt(ctx, 'limit'), envOpt(ctx));
      ctx.emit(raw, () => formatTable(['REVISION', 'OP', 'ACTOR', 'TIME', 'ENABLED', 'DEFAULT'], changes.map((c) => {
        const after = (c.after ?? null) as { flag?: { enabled?: boolean; defaultVariant?: string } } | null;
        return [c.revision, c.op, c.actor, formatTime(c.time), after?.flag?.enabled === undefined ? undefined : after.flag.enabled ? 'on' : 'off', after?.flag?.defaultVariant];
      })));
    },
  },
];

export const whoamiCommands: CommandSpec[] = [
  {
    words: ['whoami'], usage: 'whoami', help: 'your token: its name (the actor of your changes), role, environments', arity: [0, 0],
    async run(ctx) {
      const me = await api.gw(ctx.api(), (c) => c.getCurrentPrincipal());
      ctx.emit(me, () => formatFields([
        ['name', me.name], ['role', me.role],
        ['environments', me.environments ? me.environments.join(', ') : 'all'],
        ['may', me.permissions.join(', ')],
      ]));
    },
  },
];

export const clusterCommands: CommandSpec[] = [
  {
    words: ['cluster', 'status'], usage: 'cluster status', help: 'members, leader, term, lag', arity: [0, 0],
    async run(ctx) {
      const s = await api.clusterStatus(ctx.api());
      ctx.emit(s, () => {
        const head = formatFields([
          ['cluster', s.clusterId], ['leader', s.leaderId], ['term', s.term],
          ['commit index', s.commitIndex], ['applied index', s.appliedIndex],
          ['published revision', s.publishedRevision],
        ]);
        const rows = s.members.map((m) => [m.id, m.address, m.role,
          m.id === s.leaderId ? 'yes' : '', m.matchIndex, m.lag,
          m.reachable === undefined ? undefined : m.reachable ? 'yes' : 'NO']);
        return `${head}\n${formatTable(['ID', 'ADDRESS', 'ROLE', 'LEADER', 'MATCH', 'LAG', 'REACHABLE'], rows)}`;
      });
    },
  },
  {
    words: ['cluster', 'add-learner'], usage: 'cluster add-learner <id> <peer host:port>', help: 'add a non-voting member (its Raft address)', arity: [2, 2],
    async run(ctx) {
      const id = memberId(ctx.args[0]);
      const address = ctx.args[1];
      if (!/^[^\s:]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) throw usageError(`address must be host:port, got ${JSON.stringify(address)}`);
      const body = await api.addLearner(ctx.api(), id, address);
      ctx.emit(body, () => `added node ${id} (${address}) as a learner; promote it once it has caught up: flagraft cluster promote ${id}\n`);
    },
  },
  {
    words: ['cluster', 'promote'], usage: 'cluster promote <id>', help: 'make a learner a voter', arity: [1, 1],
    async run(ctx) {
      const id = memberId(ctx.args[0]);
      const body = await api.promoteMember(ctx.api(), id);
      ctx.emit(body, () => `node ${id} is now a voter\n`);
    },
  },
  {
    words: ['cluster', 'remove'], usage: 'cluster remove <id>', help: 'remove a member', arity: [1, 1],
    async run(ctx) {
      const id = memberId(ctx.args[0]);
      const body = await api.removeMember(ctx.api(), id);
      ctx.emit(body, () => `node ${id} removed from the cluster\n`);
    },
  },
  {
    words: ['cluster', 'transfer-leader'], usage: 'cluster transfer-leader <id>', help: 'hand leadership to a voter', arity: [1, 1],
    async run(ctx) {
      const id = memberId(ctx.args[0]);
      const body = await api.transferLeader(ctx.api(), id);
      ctx.emit(body, () => `leadership transferred to node ${id}\n`);
    },
  },
];

/** The human summary of `snapshot restore`: what came back, and whether the history did. */
export function restoreSummary(s: BackupSummary, body: Record<string, unknown> | undefined, file: string): string {
  const rev = body?.revision;
  const at = rev !== undefined ? ` (cluster revision now ${String(rev)})` : '';
  if (body?.historyPreserved === true) {
    return `restored ${s.flags} flag(s), ${s.segments} segment(s) and ${s.changes} historical change(s) from ${file}${at}; flags keep their revisions and history\n`;
  }
  return `restored ${s.flags} flag(s) and ${s.segments} segment(s) from ${file}${at}\n`
    + (body?.historyPreserved === false ? `note: the gateway has no import endpoint, so the ${s.changes} historical change(s) in the file were not loaded; each flag's history starts with this restore\n` : '');
}

export const snapshotCommands: CommandSpec[] = [
  {
    words: ['snapshot', 'save'], usage: 'snapshot save <file>', help: 'consistent backup of flags, segments, history', arity: [1, 1],
    async run(ctx) {
      const doc = await api.exportBackup(ctx.api());
      checkBackup(doc, 'the gateway\'s answer');
      const bytes = writeBackupFile(ctx.args[0], doc);
      const s = summarizeBackup(doc);
      ctx.emit({ file: ctx.args[0], bytes, ...s }, () =>
        `saved ${s.flags} flag(s), ${s.segments} segment(s), ${s.changes} change(s) at revision ${s.revision} to ${ctx.args[0]} (${bytes} bytes)\n`);
    },
  },
  {
    words: ['snapshot', 'restore'], usage: 'snapshot restore <file> [--force]', help: 'load a backup into an empty cluster', arity: [1, 1], options: ['force'],
    async run(ctx) {
      const doc = readBackupFile(ctx.args[0]);
      const s = summarizeBackup(doc);
      const body = await api.importBackup(ctx.api(), doc as Record<string, unknown>, ctx.opts.force === true);
      ctx.emit(body ?? {}, () => restoreSummary(s, body as Record<string, unknown> | undefined, ctx.args[0]));
    },
  },
];
