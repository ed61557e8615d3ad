// The dashboard's token list reloads like the gateway's and the relay's: a
// real tokens file in a temp directory, rewritten while sessions are open.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashToken } from '@flagraft/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTokenConfig, identify, sessions, watchTokens } from './identity';

const dir = mkdtempSync(join(tmpdir(), 'dash-identity-'));
const file = join(dir, 'tokens.json');
const entries = {
  ada: { name: 'ada', role: 'admin', sha256: hashToken('tok-ada') },
  eve: { name: 'eve', role: 'editor', sha256: hashToken('tok-eve') },
  bot: { name: 'bot', role: 'evaluator', sha256: hashToken('tok-bot') },
  new: { name: 'newcomer', role: 'reader', sha256: hashToken('tok-new') },
};
function writeTokens(...names: (keyof typeof entries)[]): void {
  writeFileSync(file, JSON.stringify(names.map((n) => entries[n])), { mode: 0o600 });
}
// Nothing listens here: a token the list knows gets as far as the gateway check and fails there (503), an unknown one never does (401).
const NO_GATEWAY = 'http://127.0.0.1:9';
const HOUR = 3_600_000;

async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const saved = { file: process.env.FLAGRAFT_TOKENS_FILE, inline: process.env.FLAGRAFT_TOKENS };
beforeAll(() => {
  writeTokens('ada', 'eve', 'bot');
  delete process.env.FLAGRAFT_TOKENS;
  process.env.FLAGRAFT_TOKENS_FILE = file;
});
afterAll(() => {
  if (saved.file === undefined) delete process.env.FLAGRAFT_TOKENS_FILE;
  else process.env.FLAGRAFT_TOKENS_FILE = saved.file;
  if (saved.inline !== undefined) process.env.FLAGRAFT_TOKENS = saved.inline;
  rmSync(dir, { recursive: true, force: true });
});

describe('tokens: sign-in checks and reload without a restart', () => {
  it('reads the file at start and says how many tokens it holds', () => {
    expect(checkTokenConfig()).toBe(3);
  });

  it('an unknown token is refused without asking the gateway; an evaluator token cannot sign in', async () => {
    await expect(identify('tok-nobody', NO_GATEWAY, 500)).resolves.toMatchObject({ ok: false, status: 401 });
    await expect(identify('tok-bot', NO_GATEWAY, 500)).resolves.toMatchObject({ ok: false, status: 403 });
    const known = await identify('tok-eve', NO_GATEWAY, 500);
    expect(known.ok).toBe(false);
    expect((known as { status: number }).status).toBeGreaterThanOrEqual(500);
  });

  it('a token removed from the file ends its sessions at once; a broken file keeps the previous list; SIGHUP reload adds a token', async () => {
    const watch = watchTokens(20)!;
    try {
      const ended: string[] = [];
      const stop = sessions.onEnd((sid) => ended.push(sid));
      const eve = sessions.create({ token: 'tok-eve', name: 'eve', role: 'editor', exp: Date.now() + HOUR });
      const ada = sessions.create({ token: 'tok-ada', name: 'ada', role: 'admin', exp: Date.now() + HOUR });
      writeTokens('ada', 'bot');
      await until(() => ended.includes(eve.sid), "eve's session ended by the watcher");
      expect(sessions.get(eve.sid)).toBeUndefined();
      expect(sessions.get(ada.sid)).toBeDefined();

      writeFileSync(file, '{ not json', { mode: 0o600 });
      expect(watch.reload()).toBe(false);
      expect(sessions.get(ada.sid)).toBeDefined();
      await expect(identify('tok-eve', NO_GATEWAY, 500)).resolves.toMatchObject({ status: 401 });

      writeTokens('ada', 'new');
      expect(watch.reload()).toBe(true);
      const newcomer = await identify('tok-new', NO_GATEWAY, 500);
      expect((newcomer as { status: number }).status).not.toBe(401);
      stop();
    } finally {
      watch.close();
    }
  });
});
