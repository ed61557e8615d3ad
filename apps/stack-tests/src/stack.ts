// Starts and stops the local stack exactly as `npm start` does (after the
// build): `node scripts/start.mjs`, here with free ports and a data folder of
// the test's own. Everything is found through the stack.json the launcher
// writes once all components answer; everything is stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, stopPid as tkStopPid, waitFor as tkWaitFor } from '@flagraft/testkit';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** How long the whole stack may take to become ready, in milliseconds. */
export const STACK_START_TIMEOUT_MS = 150_000;
/** How long a stop (SIGTERM, then SIGKILL) may take, in milliseconds. */
export const STACK_STOP_TIMEOUT_MS = 30_000;
const POLL_MS = 200;

export interface StackInfo {
  pid: number;
  dataDir: string;
  clusterId: string;
  /** The cluster's certificates (flagraft certs layout). */
  pkiDir: string;
  /** The nodes' Raft (peer) addresses; `nodes` are their client addresses. */
  peers: string[];
  url: string;
  caFile?: string;
  gateways: string[];
  relay: string;
  dashboard: string;
  nodes: string[];
  sqs: string;
  ports: Record<string, number>;
  processes: Array<{ name: string; pid: number }>;
}

export interface RunningStack {
  info: StackInfo;
  pid: number;
  /** Everything the launcher printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export { isAlive };

/** Polls `fn` until it returns a value (testkit's waitFor, every POLL_MS; errors are retried). */
export function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined> | T | undefined): Promise<T> {
  return tkWaitFor(what, { timeoutMs, everyMs: POLL_MS }, fn) as Promise<T>;
}

/** Stops a process by PID: SIGTERM, then SIGKILL after the grace period; resolves once it is gone. */
export function stopPid(pid: number, graceMs = STACK_STOP_TIMEOUT_MS): Promise<void> {
  return tkStopPid(pid, graceMs);
}

export function readStackInfo(dataDir: string): StackInfo | undefined {
  const file = join(dataDir, 'stack.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackInfo;
  } catch {
    return undefined; // being written
  }
}

export interface StartOptions {
  dataDir: string;
  adminToken: string;
  args?: string[];
}

export async function startStack(opts: StartOptions): Promise<RunningStack> {
  rmSync(join(opts.dataDir, 'stack.json'), { force: true });
  // The launcher writes straight into <dataDir>/launcher.log, not into a pipe
  // of this process: the stack outlives the test file (worker) that started
  // it, and a launcher whose pipe closed would die writing its next line.
  const logPath = join(opts.dataDir, 'launcher.log');
  const logFd = openSync(logPath, 'a');
  const from = fstatSync(logFd).size;
  const child: ChildProcess = spawn(process.execPath, [join(repoRoot, 'scripts', 'start.mjs'), '--ports', 'free', '--data-dir', opts.dataDir, '--no-install', ...(opts.args ?? [])], {
    cwd: repoRoot,
    env: { ...process.env, FLAGRAFT_ADMIN_TOKEN: opts.adminToken },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  /** Kept bounded: the last characters of this launcher's output. */
  const MAX_OUTPUT_CHARS = 200_000;
  const out = () => {
    try {
      return readFileSync(logPath).subarray(from).toString('utf8').slice(-MAX_OUTPUT_CHARS);
    } catch {
      return '';
    }
  };
  let exited = false;
  child.on('exit', () => { exited = true; });
  const pid = child.pid!;
  const stop = async () => {
    await stopPid(pid);
    // A launcher killed hard cannot stop its children: do it from stack.json.
    const info = readStackInfo(opts.dataDir);
    for (const p of info?.processes ?? []) if (isAlive(p.pid)) await stopPid(p.pid, 5_000);
  };
  try {
    const info = await waitFor('the stack to be ready (stack.json)', STACK_START_TIMEOUT_MS, () => {
      const i = readStackInfo(opts.dataDir);
      return i && i.pid === pid ? i : exited ? ({ exited: true } as const) : undefined;
    });
    if ('exited' in info) throw new Error('the launcher exited during start-up');
    return { info, pid, output: out, stop };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- launcher output (last 8000 chars) ---\n${out().slice(-8000)}`);
  }
}

/** The last `chars` characters the launcher(s) of this data folder printed. */
export function launcherLogTail(dataDir: string, chars = 6000): string {
  try {
    return readFileSync(join(dataDir, 'launcher.log'), 'utf8').slice(-chars);
  } catch {
    return '(no launcher.log)';
  }
}
