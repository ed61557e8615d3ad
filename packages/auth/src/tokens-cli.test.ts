import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTokenStore, parseTokens } from './tokens.js';
import { runTokensCommand } from './tokens-cli.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function tmpFile(): string {
  const d = mkdtempSync(join(tmpdir(), 'tokens-cli-'));
  dirs.push(d);
  return join(d, 'tokens.json');
}

async function run(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runTokensCommand(argv, { env, stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

describe('flagraft tokens', () => {
  it('add makes a token that authenticates with its role and environments, stores only its hash (0600), and prints the secret once on stdout', async () => {
    const file = tmpFile();
    const a = await run(['add', '--file', file, '--name', 'bob', '--role', 'editor', '--env', 'staging', '--env', 'development']);
    expect(a.code).toBe(0);
    const token = a.stdout.trim();
    expect(token).toMatch(/^fr_[A-Za-z0-9_-]{32}$/);
    expect(a.stderr).toContain('token "bob" (editor in staging, development) added');
    expect(a.stderr).not.toContain(token);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const store = createTokenStore(parseTokens(text, file));
    expect(store.authenticate(token)).toMatchObject({ name: 'bob', role: 'editor', environments: ['staging', 'development'] });
    // A second token from FLAGRAFT_TOKENS_FILE, --json: the entries before it are kept.
    const b = await run(['add', '--name', 'ci', '--role', 'evaluator', '--env', 'staging', '--json'], { FLAGRAFT_TOKENS_FILE: file });
    expect(b.code).toBe(0);
    const body = JSON.parse(b.stdout) as { token: string; role: string; environments: string[] };
    expect(body).toMatchObject({ name: 'ci', role: 'evaluator', environments: ['staging'] });
    const store2 = createTokenStore(parseTokens(readFileSync(file, 'utf8'), file));
    expect(store2.size).toBe(2);
    expect(store2.authenticate(body.token)?.name).toBe('ci');
    expect(store2.authenticate(token)?.name).toBe('bob');
  });

  it('list shows names, roles and environments, never hashes; remove revokes by name', async () => {
    const file = tmpFile();
    await run(['add', '--file', file, '--name', 'alice', '--role', 'admin']);
    await run(['add', '--file', file, '--name', 'bob', '--role', 'reader', '--env', 'staging']);
    const list = await run(['list', '--file', file]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^alice\s+admin\s+\(every environment\)\nbob\s+reader\s+staging\n$/);
    expect(list.stdout).not.toMatch(/[0-9a-f]{64}/);
    expect(JSON.parse((await run(['list', '--file', file, '--json'])).stdout)).toEqual([{ name: 'alice', role: 'admin' }, { name: 'bob', role: 'reader', environments: ['staging'] }]);
    expect((await run(['remove', '--file', file, '--name', 'alice'])).code).toBe(0);
    expect(parseTokens(readFileSync(file, 'utf8'), file).map((e) => e.name)).toEqual(['bob']);
    const missing = await run(['remove', '--file', file, '--name', 'alice']);
    expect(missing).toMatchObject({ code: 4, stderr: expect.stringContaining('no token named "alice"') });
  });

  it('refuses what would make a bad file or an ambiguous audit trail, naming the problem, and leaves the file as it was', async () => {
    const file = tmpFile();
    await run(['add', '--file', file, '--name', 'bob', '--role', 'editor']);
    const before = readFileSync(file, 'utf8');
    const cases: [string[], number, string][] = [
      [['add', '--file', file, '--name', 'bob', '--role', 'reader'], 2, 'a token named "bob" already exists'],
      [['add', '--file', file, '--name', 'ev', '--role', 'evaluator', '--env', 'a', '--env', 'b'], 1, 'an evaluator token belongs to exactly one environment'],
      [['add', '--file', file, '--name', 'x', '--role', 'root'], 2, '--role must be one of admin, editor, reader, evaluator, got "root"'],
      [['add', '--file', file, '--role', 'reader'], 2, '--name is required'],
      [['add', '--file', file, '--name', 'x', '--role', 'reader', '--env', 'no spaces'], 1, 'must be an environment name'],
      [['add', '--name', 'x', '--role', 'reader'], 2, '--file <tokens.json> is required'],
      [['list', '--file', file, '--name', 'bob'], 2, 'tokens list does not take --name'],
      [['rotate', '--file', file], 2, "unknown command 'tokens rotate'"],
      [['add', '--file', file, '--bogus'], 2, "Unknown option '--bogus'"],
    ];
    for (const [argv, code, message] of cases) {
      const r = await run(argv);
      expect({ argv, code: r.code }).toEqual({ argv, code });
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe('');
    }
    expect(readFileSync(file, 'utf8')).toBe(before);
    writeFileSync(file, '{"not":"a list"}');
    expect(await run(['list', '--file', file])).toMatchObject({ code: 1, stderr: expect.stringContaining('expected a JSON array') });
  });
});
