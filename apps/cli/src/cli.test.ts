import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, ExitCode, exitCodeForStatus, formatTable, checkBackup, writeBackupFile, readBackupFile } from './index.js';
import { restoreSummary } from './commands.js';

function io(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { env, stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

describe('command line parsing', () => {
  it('prints help and exits 0 with --help, 2 with no command', async () => {
    const a = io();
    expect(await runCli(['--help'], a.io)).toBe(ExitCode.OK);
    expect(a.out()).toContain('flags list');
    expect(a.out()).toContain('snapshot restore');
    const b = io();
    expect(await runCli([], b.io)).toBe(ExitCode.USAGE);
  });

  it('certs: makes a cluster PKI and issues certificates, on files, with no gateway', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'flagraft-cli-certs-')), 'pki');
    const a = io();
    expect(await runCli(['certs', 'init', '--dir', dir, '--nodes', '3', '--service', 'gateway:gw-1'], a.io)).toBe(ExitCode.OK);
    expect(a.out()).toMatch(/created the PKI of cluster fr-[a-z2-7]{12} in .*\nissued: node-1, node-2, node-3, gateway-gw-1/);
    expect(readdirSync(dir).sort()).toEqual(['ca.crt', 'ca.key', 'cluster-id', 'gateway-gw-1.crt', 'gateway-gw-1.key', 'node-1.crt', 'node-1.key', 'node-2.crt', 'node-2.key', 'node-3.crt', 'node-3.key']);
    const b = io({ FLAGRAFT_PKI_DIR: dir });
    expect(await runCli(['certs', 'issue', 'admin', 'ops'], b.io)).toBe(ExitCode.OK);
    const c = io();
    expect(await runCli(['certs', 'issue', 'root', 'x', '--dir', dir], c.io)).toBe(ExitCode.USAGE);
    const d = io();
    expect(await runCli(['--help'], d.io)).toBe(ExitCode.OK);
    expect(d.out()).toContain('certs init|issue|rotate');
  });

  it('tokens: adds a token to the tokens file and lists it, with no gateway', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'flagraft-cli-tokens-')), 'tokens.json');
    const a = io({ FLAGRAFT_TOKENS_FILE: file });
    expect(await runCli(['tokens', 'add', '--name', 'bob', '--role', 'editor', '--env', 'staging'], a.io)).toBe(ExitCode.OK);
    expect(a.out()).toMatch(/^fr_\S+\n$/);
    expect(readFileSync(file, 'utf8')).not.toContain(a.out().trim());
    const b = io();
    expect(await runCli(['tokens', 'list', '--file', file], b.io)).toBe(ExitCode.OK);
    expect(b.out()).toMatch(/^bob\s+editor\s+staging\n$/);
    const c = io();
    expect(await runCli(['tokens', 'add', '--file', file, '--name', 'bob', '--role', 'editor'], c.io)).toBe(ExitCode.USAGE);
    const d = io();
    expect(await runCli(['--help'], d.io)).toBe(ExitCode.OK);
    expect(d.out()).toContain('tokens add|list|remove');
  });

  it('names the unknown command and the known ones', async () => {
    const a = io();
    expect(await runCli(['flags', 'lsit'], a.io)).toBe(ExitCode.USAGE);
    expect(a.err()).toContain("unknown command 'flagraft flags lsit'");
    expect(a.err()).toContain('list, get, set, delete, history');
    const b = io();
    expect(await runCli(['nodes'], b.io)).toBe(ExitCode.USAGE);
    expect(b.err()).toContain("unknown command 'nodes'");
  });

  it('rejects options that the command does not take, and unknown options', async () => {
    const a = io();
    expect(await runCli(['cluster', 'status', '--prefix', 'x'], a.io)).toBe(ExitCode.USAGE);
    expect(a.err()).toContain('does not take --prefix');
    const b = io();
    expect(await runCli(['flags', 'list', '--colour'], b.io)).toBe(ExitCode.USAGE);
    expect(b.err()).toContain('--colour');
  });

  it('checks argument counts and values before any request', async () => {
    const cases: Array<[string[], string]> = [
      [['flags', 'get'], 'usage: flagraft flags get'],
      [['flags', 'set', 'a'], 'exactly one of'],
      [['flags', 'set', 'a', '--enable', '--disable'], 'exclude each other'],
      [['flags', 'list', '--limit=-3'], '--limit must be a non-negative integer'],
      [['cluster', 'promote', 'abc'], 'member id must be a positive integer'],
      [['cluster', 'add-learner', '4', 'nohost'], 'address must be host:port'],
      [['flags', 'list', '--url', 'ftp://x'], 'must be an http(s) URL'],
    ];
    for (const [argv, msg] of cases) {
      const a = io();
      expect(await runCli(argv, a.io), argv.join(' ')).toBe(ExitCode.USAGE);
      expect(a.err(), argv.join(' ')).toContain(msg);
    }
  });

  it('reports an unreachable server as UNAVAILABLE, as JSON with --json', async () => {
    const a = io({ FLAGRAFT_URL: 'http://127.0.0.1:1' });
    expect(await runCli(['flags', 'list', '--json'], a.io)).toBe(ExitCode.UNAVAILABLE);
    const e = JSON.parse(a.err());
    expect(e.exitCode).toBe(ExitCode.UNAVAILABLE);
    expect(e.error).toContain('cannot reach http://127.0.0.1:1');
  });
});

describe('exit codes', () => {
  it('maps HTTP statuses to distinct codes', () => {
    expect(exitCodeForStatus(401)).toBe(ExitCode.AUTH);
    expect(exitCodeForStatus(403)).toBe(ExitCode.AUTH);
    expect(exitCodeForStatus(404)).toBe(ExitCode.NOT_FOUND);
    expect(exitCodeForStatus(412)).toBe(ExitCode.CONFLICT);
    expect(exitCodeForStatus(422)).toBe(ExitCode.INVALID);
    expect(exitCodeForStatus(503)).toBe(ExitCode.UNAVAILABLE);
    expect(exitCodeForStatus(500)).toBe(ExitCode.ERROR);
  });
});

describe('tables', () => {
  it('aligns columns and shows missing values as -', () => {
    const t = formatTable(['KEY', 'ON'], [['a', true], ['longer-key', undefined]]);
    expect(t).toBe('KEY         ON\na           true\nlonger-key  -\n');
  });
});

describe('backup files', () => {
  it('writes atomically and reads back, refusing what is not a backup', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flagraft-cli-'));
    const file = join(dir, 'b.json');
    const doc = { format: 'flagraft-backup', v: 1, revision: 7, flags: [{ flag: { key: 'a' } }], segments: [], changes: [] };
    writeBackupFile(file, doc);
    expect(readdirSync(dir)).toEqual(['b.json']);
    expect(readBackupFile(file)).toEqual(doc);
    expect(() => checkBackup({ flags: {} }, 'x')).toThrow('"flags" must be an array');
    expect(() => checkBackup({ format: 'other', flags: [] }, 'x')).toThrow('"format" is "other"');
    expect(() => checkBackup({ flags: [], revision: -1 }, 'x')).toThrow('"revision" must be a non-negative integer');
    writeFileSync(file, '{nope');
    expect(() => readBackupFile(file)).toThrow('is not valid JSON');
    expect(readFileSync(file, 'utf8')).toBe('{nope');
  });

  it('restore checks the file before contacting the server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flagraft-cli-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ flags: 'no' }));
    const a = io({ FLAGRAFT_URL: 'http://127.0.0.1:1' });
    expect(await runCli(['snapshot', 'restore', file], a.io)).toBe(ExitCode.INVALID);
    expect(a.err()).toContain('"flags" must be an array');
  });
});

describe('restore summary', () => {
  const s = { revision: 40, flags: 3, segments: 1, changes: 17 };
  it('says the history came back when the server kept it', () => {
    expect(restoreSummary(s, { revision: 40, historyPreserved: true }, 'b.json'))
      .toBe('restored 3 flag(s), 1 segment(s) and 17 historical change(s) from b.json (cluster revision now 40); flags keep their revisions and history\n');
  });
  it('warns when a gateway without the import endpoint could not load it', () => {
    const out = restoreSummary(s, { revision: 9, historyPreserved: false }, 'b.json');
    expect(out).toContain('restored 3 flag(s) and 1 segment(s) from b.json (cluster revision now 9)');
    expect(out).toContain('the 17 historical change(s) in the file were not loaded');
  });
});

describe('import / export flagd', () => {
  it('refuses before any request: no file, unreadable file, not JSON (YAML), options of other commands', async () => {
    const env = { FLAGRAFT_URL: 'http://127.0.0.1:9' }; // nothing listens there: a request would fail with 7
    const a = io(env);
    expect(await runCli(['import', 'flagd'], a.io)).toBe(ExitCode.USAGE);
    const b = io(env);
    expect(await runCli(['import', 'flagd', '/no/such/file.json'], b.io)).toBe(ExitCode.USAGE);
    expect(b.err()).toContain('cannot read /no/such/file.json');
    const dir = mkdtempSync(join(tmpdir(), 'cli-flagd-'));
    writeFileSync(join(dir, 'flags.yaml'), 'flags:\n  a: {}\n');
    const c = io(env);
    expect(await runCli(['import', 'flagd', join(dir, 'flags.yaml')], c.io)).toBe(ExitCode.INVALID);
    expect(c.err()).toMatch(/is not JSON[\s\S]*YAML/);
    const d = io(env);
    expect(await runCli(['export', 'flagd', '--dry-run'], d.io)).toBe(ExitCode.USAGE);
    const e = io(env);
    expect(await runCli(['--help'], e.io)).toBe(ExitCode.OK);
    expect(e.out()).toContain('import flagd <file.json|->');
    expect(e.out()).toContain('export flagd [--prefix p]');
  });
});

