// The process primitives: waiting by condition, stopping by PID, and that a
// child left running is killed when its parent exits.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isAlive, spawnProcess, stopPid, waitFor } from '../src/index.js';

const DIST_INDEX = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const sleeper = (extra: Record<string, unknown> = {}) =>
  spawnProcess({ name: 'sleeper', command: process.execPath, args: ['-e', 'process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)'], env: {}, ...extra });

describe('process primitives', () => {
  it('waitFor returns the first truthy value, retries errors, and names what timed out', async () => {
    let n = 0;
    expect(await waitFor('n to reach 3', { timeoutMs: 2000, everyMs: 1 }, () => (++n >= 3 ? n : undefined))).toBe(3);
    let calls = 0;
    expect(await waitFor('a throwing check', { timeoutMs: 2000, everyMs: 1 }, () => { if (++calls < 3) throw new Error('not yet'); return 'ok'; })).toBe('ok');
    await expect(waitFor('never', { timeoutMs: 50, everyMs: 5 }, () => { throw new Error('still down'); })).rejects.toThrow(/timed out after 50 ms waiting for never: still down/);
    await expect(waitFor('fail fast', { timeoutMs: 5000, retryErrors: false }, () => { throw new Error('boom'); })).rejects.toThrow('boom');
  });

  it('stop() sends SIGTERM, then SIGKILL after the grace to a child that ignores it; output is kept', async () => {
    const p = sleeper();
    await waitFor('the sleeper to print', { timeoutMs: 10_000 }, () => p.tail().includes('up'));
    const started = Date.now();
    await p.stop(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(p.alive()).toBe(false);
    expect(p.pid).toBe(0);
    expect((await p.exited).signal).toBe('SIGKILL');
  });

  it('stopPid stops a process by PID alone', async () => {
    const p = sleeper();
    const pid = p.child.pid!;
    await waitFor('the sleeper to print', { timeoutMs: 10_000 }, () => p.tail().includes('up'));
    await stopPid(pid, 300);
    expect(isAlive(pid)).toBe(false);
  });

  it('a child still running when its parent exits is killed (stopOnExit); stopOnExit: false leaves it', async () => {
    const script = (stopOnExit: boolean) => `import(${JSON.stringify(DIST_INDEX)}).then(({ spawnProcess }) => {
      const p = spawnProcess({ name: 'orphan', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], env: {}, stopOnExit: ${stopOnExit} });
      console.log(p.child.pid);
      setTimeout(() => process.exit(0), 100);
    });`;
    const pidOf = (src: string) => new Promise<number>((resolve, reject) => execFile(process.execPath, ['-e', src], (err, out) => (err ? reject(err) : resolve(Number(out.trim())))));
    const killed = await pidOf(script(true));
    await waitFor('the orphan to be gone', { timeoutMs: 5000 }, () => !isAlive(killed));
    const kept = await pidOf(script(false));
    try {
      expect(isAlive(kept)).toBe(true);
    } finally {
      await stopPid(kept, 1000);
    }
  });
});
