// Shared pieces of the notification benchmarks: a relay process, percentiles.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';

export const RELAY_MAIN = fileURLToPath(new URL('../../apps/notification-relay/dist/main.js', import.meta.url));
export const GATEWAY_MAIN = fileURLToPath(new URL('../../apps/gateway/dist/main.js', import.meta.url));

export interface Proc { p: ChildProcess; lines: any[]; stop(): Promise<void>; cpuSeconds(): number }

/** Spawns `node <main>` and collects its JSON log lines; stop() sends SIGTERM, then SIGKILL by PID. */
export function spawnJson(main: string, env: Record<string, string>): Proc {
  if (!existsSync(main)) throw new Error(`${main} is missing: build it first (pnpm --filter ... build)`);
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const p = spawn(process.execPath, [...nodeArgs, main], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: any[] = [];
  let buf = '';
  p.stdout!.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try { lines.push(JSON.parse(line)); } catch { /* not JSON */ }
    }
  });
  const exited = new Promise<void>((res) => p.once('exit', () => res()));
  return {
    p, lines,
    cpuSeconds() {
      // utime + stime from /proc (Linux), in clock ticks of 1/100 s.
      try {
        const f = readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return (Number(f[11]) + Number(f[12])) / 100;
      } catch { return NaN; }
    },
    async stop() {
      if (p.exitCode !== null || !p.pid) return;
      process.kill(p.pid, 'SIGTERM');
      const t = setTimeout(() => { if (p.exitCode === null && p.pid) process.kill(p.pid, 'SIGKILL'); }, 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export function percentiles(xs: number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1] ?? NaN), mean: r(s.reduce((a, b) => a + b, 0) / (s.length || 1)) };
}

export async function waitUntil(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
