// `flagraft import flagd FILE` and `flagraft export flagd`: flagd's flag
// definition format through the gateway's /api/v1/flagd endpoints (the
// mapping lives in the gateway, so the CLI and the REST API agree).
import { readFileSync } from 'node:fs';
import type { FlagdImportIssue } from '@flagraft/api';
import { exportFlagd, importFlagd } from './api.js';
import type { CommandSpec } from './cli.js';
import { envOpt } from './commands.js';
import { CliError, ExitCode, usageError } from './errors.js';
import { writeBackupFile } from './backup-file.js';
import { formatTable } from './table.js';

/** Largest flagd file the CLI reads, bytes (the gateway's default import limit). */
export const MAX_FLAGD_FILE_BYTES = 8 * 1024 * 1024;


function readFlagdFile(file: string, readStdin?: () => Promise<string>): Promise<unknown> | unknown {
  const parse = (text: string) => {
    if (Buffer.byteLength(text) > MAX_FLAGD_FILE_BYTES) throw new CliError(`${file} is larger than MAX_FLAGD_FILE_BYTES (${MAX_FLAGD_FILE_BYTES} bytes)`, ExitCode.INVALID);
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new CliError(`${file} is not JSON (${(err as Error).message.split('\n')[0].slice(0, 120)}); flagd's YAML files: convert them to JSON first`, ExitCode.INVALID);
    }
  };
  if (file === '-') {
    if (!readStdin) throw usageError('standard input is not available');
    return readStdin().then(parse);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parse(text);
}

const issueLines = (issues: FlagdImportIssue[]) => issues.map((i) => `${i.severity === 'error' ? 'not mapped' : 'note'}: ${i.path}: ${i.message}\n`).join('');

export const flagdCommands: CommandSpec[] = [
  {
    words: ['import', 'flagd'], usage: 'import flagd <file.json|-> [--dry-run] [--skip-unmappable] [--env e]',
    help: 'create/update flags (of one environment) and segments from a flagd flag file', arity: [1, 1], options: ['dry-run', 'skip-unmappable', 'env'],
    async run(ctx) {
      const doc = await readFlagdFile(ctx.args[0], ctx.io.readStdin);
      const a = await importFlagd(ctx.api(), doc, { dryRun: Boolean(ctx.opts['dry-run']), skipUnmappable: Boolean(ctx.opts['skip-unmappable']), environment: envOpt(ctx) });
      ctx.emit(a, () => {
        const rows = a.plan.filter((p) => p.action !== 'unchanged').map((p) => [p.action, p.kind, p.key]);
        const c = a.counts;
        const head = a.dryRun ? 'dry run, nothing written' : `imported${a.revision !== undefined ? ` at revision ${a.revision}` : ''}`;
        return (rows.length ? formatTable(['ACTION', 'KIND', 'KEY'], rows) : '')
          + `${head}: ${c.create} to create, ${c.update} to update, ${c.unchanged} unchanged, ${c.unmappable} not mappable\n`
          + issueLines(a.issues);
      });
    },
  },
  {
    words: ['export', 'flagd'], usage: 'export flagd [--prefix p] [--out file.json] [--env e]',
    help: 'write flags of one environment (and their segments) as a flagd flag file', arity: [0, 0], options: ['prefix', 'out', 'env'],
    async run(ctx) {
      const a = await exportFlagd(ctx.api(), ctx.opts.prefix as string | undefined, envOpt(ctx));
      const out = ctx.opts.out as string | undefined;
      if (out) {
        const bytes = writeBackupFile(out, a.document);
        ctx.emit({ file: out, bytes, revision: a.revision, issues: a.issues }, () =>
          `wrote ${Object.keys((a.document as { flags: object }).flags).length} flag(s) at revision ${a.revision} to ${out} (${bytes} bytes)\n`);
      } else {
        ctx.out(`${JSON.stringify(a.document, null, 2)}\n`);
      }
      // What flagd cannot express goes to stderr, so stdout stays a clean flagd file.
      if (a.issues.length > 0 && !ctx.json) ctx.io.stderr.write(issueLines(a.issues));
      if (a.issues.some((i) => i.severity === 'error') && !out) ctx.io.stderr.write('some flags were left out (see above)\n');
    },
  },
];
