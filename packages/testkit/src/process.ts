// The process primitives every launcher of this repository shares
// (scripts/start.mjs, the local cluster, the dashboard's and relay's test
// stacks, apps/torture): free loopback ports, spawning a child whose output
// is kept for failure messages, waiting for a condition (never a fixed
// sleep), and stopping by PID — SIGTERM, then SIGKILL after a named grace.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createInterface } from 'node:readline';

/** How often waitFor checks its condition unless told otherwise (ms). */
export const DEFAULT_POLL_MS = 25;
/** SIGTERM -> SIGKILL when a stop does not say (ms). */
export const DEFAULT_STOP_GRACE_MS = 5_000;
/** Lines of a child's output kept for failure messages (count). */
export const DEFAULT_TAIL_LINES = 200;

/** `count` distinct free TCP ports on 127.0.0.1 (held together while chosen, so no two are the same). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/** Whether 127.0.0.1:`port` can be bound now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export interface WaitOptions {
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** Check every this long (ms; default DEFAULT_POLL_MS). */
  everyMs?: number;
  /** false: an error thrown by the check ends the wait at once (default true: it is retried). */
  retryErrors?: boolean;
}

/**
 * Calls `check` until it returns a truthy value (returned) or the time is up
 * (throws naming `what`, with the last error `check` threw). A check that
 * throws is retried unless `retryErrors: false`: "not answering yet" is the
 * normal state while waiting. GiveUp stops at once either way.
 */
export async function waitFor<T>(what: string, o: WaitOptions, check: () => T | Promise<T>): Promise<NonNullable<T>> {
  const deadline = Date.now() + o.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      if (err instanceof GiveUp) throw err.cause;
      if (o.retryErrors === false) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${o.timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message ?? String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, o.everyMs ?? DEFAULT_POLL_MS));
  }
}

/** Thrown by a waitFor check to stop waiting at once with `cause` (e.g. the process being waited for exited). */
export class GiveUp extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops a process that is not our child (or whose handle is gone) by PID:
 * SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone.
 */
export async function stopPid(pid: number, graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
  if (!isAlive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  try {
    await waitFor(`pid ${pid} to exit`, { timeoutMs: graceMs, everyMs: 50 }, () => !isAlive(pid));
  } catch {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    await waitFor(`pid ${pid} to exit after SIGKILL`, { timeoutMs: 5_000, everyMs: 50 }, () => !isAlive(pid));
  }
}

export interface SpawnOptions {
  /** A name for messages ("node-2", "dashboard"). */
  name: string;
  command: string;
  args?: string[];
  /** The whole environment of the child (nothing is inherited unless passed). */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Where the output goes: 'pipe' (default) reads it line by line (onLine,
   * tail()); a file path appends stdout and stderr to that file instead,
   * which outlives this process (a launcher's children may outlive a test worker).
   */
  output?: 'pipe' | { file: string };
  /** Called with every output line (pipe mode). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Own process group (a terminal's Ctrl-C then reaches only the parent, which stops children in order). */
  detached?: boolean;
  /** Lines kept for tail() (count; default DEFAULT_TAIL_LINES). */
  tailLines?: number;
  /**
   * SIGKILL it when this process exits while it still runs (default true):
   * a test that failed before its stop() leaves nothing behind. A
   * supervisor whose children are meant to outlive it (or that stops them
   * in order itself) says false.
   */
  stopOnExit?: boolean;
}

/** Children to kill when this process exits (stopOnExit). */
const orphans = new Set<ChildProcess>();
let exitHookInstalled = false;
function killOnExit(child: ChildProcess): void {
  orphans.add(child);
  child.once('exit', () => orphans.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: signals only, by PID.
  process.once('exit', () => {
    for (const c of orphans) if (c.pid !== undefined) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
  });
}

/** A child process we started: stopped by its PID only. */
export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** PID while it runs, 0 once it exited. */
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** The last lines of its output (pipe mode), for failure messages. */
  tail(lines?: number): string[];
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnProcess(o: SpawnOptions): Proc {
  const keep = o.tailLines ?? DEFAULT_TAIL_LINES;
  const lines: string[] = [];
  let child: ChildProcess;
  if (o.output && o.output !== 'pipe') {
    const fd = openSync(o.output.file, 'a');
    try {
      child = spawn(o.command, o.args ?? [], { env: o.env, cwd: o.cwd, stdio: ['ignore', fd, fd], detached: o.detached });
    } finally {
      closeSync(fd);
    }
  } else {
    child = spawn(o.command, o.args ?? [], { env: o.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: o.detached });
    const take = (stream: 'stdout' | 'stderr') => (line: string) => {
      lines.push(line);
      if (lines.length > keep) lines.shift();
      o.onLine?.(line, stream);
    };
    createInterface({ input: child.stdout! }).on('line', take('stdout'));
    createInterface({ input: child.stderr! }).on('line', take('stderr'));
  }
  if (o.stopOnExit !== false) killOnExit(child);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { done = true; resolve({ code, signal }); });
    // A command that cannot start emits 'error' and no 'exit'.
    child.once('error', (err) => { done = true; lines.push(`${o.name}: cannot start ${o.command}: ${err.message}`); resolve({ code: null, signal: null }); });
  });
  const proc: Proc = {
    name: o.name,
    child,
    get pid() { return done || child.pid === undefined ? 0 : child.pid; },
    exited,
    alive: () => !done,
    tail: (n = keep) => lines.slice(-n),
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (done || child.pid === undefined) return;
      try { process.kill(child.pid, signal); } catch { /* gone */ }
      await exited;
    },
    async stop(graceMs = DEFAULT_STOP_GRACE_MS) {
      if (done || child.pid === undefined) return;
      const pid = child.pid;
      const timer = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      await exited;
      clearTimeout(timer);
    },
  };
  return proc;
}
