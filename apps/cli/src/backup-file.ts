// The backup file: the gateway's export document, written atomically
// (temporary file + fsync + rename) so a crash never leaves half a backup
// under the final name, and checked before a restore sends it anywhere.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { CliError, ExitCode } from './errors.js';

/** Largest backup file the CLI will read, in bytes. */
export const MAX_BACKUP_FILE_BYTES = 512 * 1024 * 1024;
export const BACKUP_FORMAT = 'flagraft-backup';

export interface BackupSummary { revision: number | undefined; flags: number; segments: number; changes: number }

export function summarizeBackup(doc: unknown): BackupSummary {
  const d = doc as Record<string, unknown>;
  const len = (x: unknown) => (Array.isArray(x) ? x.length : 0);
  return {
    revision: typeof d.revision === 'number' ? d.revision : undefined,
    flags: len(d.flags),
    segments: len(d.segments),
    changes: len(d.changes ?? d.history),
  };
}

/** Throws a CliError naming what is wrong when `doc` is not a flagraft backup. */
export function checkBackup(doc: unknown, source: string): void {
  const bad = (why: string) => new CliError(`${source} is not a flagraft backup: ${why}`, ExitCode.INVALID);
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad('expected a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.format !== undefined && d.format !== BACKUP_FORMAT) throw bad(`"format" is ${JSON.stringify(d.format)}, expected "${BACKUP_FORMAT}"`);
  if (!Array.isArray(d.flags)) throw bad('"flags" must be an array');
  if (d.segments !== undefined && !Array.isArray(d.segments)) throw bad('"segments" must be an array');
  if (typeof d.revision !== 'number' || !Number.isInteger(d.revision) || d.revision < 0) throw bad('"revision" must be a non-negative integer');
}

export function writeBackupFile(path: string, doc: unknown): number {
  const data = Buffer.from(JSON.stringify(doc, null, 1) + '\n');
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    throw new CliError(`cannot write backup to ${path}: ${(err as Error).message}`, ExitCode.ERROR);
  }
  return data.length;
}

export function readBackupFile(path: string): unknown {
  let text: string;
  try {
    const size = path === '-' ? 0 : statSync(path).size;
    if (size > MAX_BACKUP_FILE_BYTES) {
      throw new Error(`file is ${size} bytes, more than MAX_BACKUP_FILE_BYTES (${MAX_BACKUP_FILE_BYTES})`);
    }
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read backup ${path}: ${(err as Error).message}`, ExitCode.USAGE);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${path} is not valid JSON: ${(err as Error).message}`, ExitCode.INVALID);
  }
  checkBackup(doc, path);
  return doc;
}
