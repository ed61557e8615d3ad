// A real gateway in this process, on a free loopback port, over testkit's
// in-memory cluster (flag-model's own command application: environments,
// approval policies, change requests and schedules enforced as on a node),
// with a clock the test moves for schedules. The gateway is loaded from its
// build by path, as testkit finds its programs: @flagraft/gateway's tests
// depend on this CLI, so a package dependency back would be a cycle.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createTokenStore, hashToken, type Role } from '@flagraft/auth';
import { createMemoryCluster, waitFor, type MemoryCluster } from '@flagraft/testkit';
import { runCli, type CliIo } from '../../src/index.js';

/** The gateway's build in this repository (pnpm exec turbo run build --filter @flagraft/gateway). */
export const GATEWAY_INDEX_JS = fileURLToPath(new URL('../../../gateway/dist/index.js', import.meta.url));

/** What the tests use of @flagraft/gateway's createGateway (its config has defaults for the rest). */
interface GatewayLike { start(): Promise<void>; waitUntilReady(timeoutMs: number): Promise<void>; url(): string; close(): Promise<void> }

/** Token holders: name, role, token, and environments the token is limited to. */
export const USERS = {
  admin: { name: 'alice', role: 'admin', token: 'tok-cli-admin-1f2e' },
  editor: { name: 'ed', role: 'editor', token: 'tok-cli-editor-3c4d' },
  reviewer: { name: 'eve', role: 'editor', token: 'tok-cli-reviewer-5a6b' },
  reader: { name: 'rita', role: 'reader', token: 'tok-cli-reader-7e8f' },
  stagingEditor: { name: 'sam', role: 'editor', token: 'tok-cli-staging-9a0b', environments: ['staging'] },
} as const satisfies Record<string, { name: string; role: Role; token: string; environments?: readonly string[] }>;
export type User = keyof typeof USERS;

export interface CliStack {
  url: string;
  cluster: MemoryCluster;
  /** The cluster's clock (ms since the epoch): stamped on every command, read by runSchedules. */
  now: number;
  /** Runs `flagraft <argv>` in this process as `user`. */
  cli(user: User, argv: string[], o?: { confirm?: CliIo['confirm']; env?: Record<string, string> }): Promise<{ code: number; out: string; err: string }>;
  stop(): Promise<void>;
}

export async function startCliStack(): Promise<CliStack> {
  if (!existsSync(GATEWAY_INDEX_JS)) throw new Error(`no gateway build at ${GATEWAY_INDEX_JS}: run pnpm exec turbo run build --filter @flagraft/gateway first`);
  const { createGateway } = (await import(pathToFileURL(GATEWAY_INDEX_JS).href)) as { createGateway(config: Record<string, unknown>): GatewayLike };
  const stack = { now: Date.now() } as CliStack;
  const cluster = createMemoryCluster({ now: () => stack.now });
  const tokens = createTokenStore(Object.values(USERS).map((u) => ({
    name: u.name, role: u.role, sha256: hashToken(u.token), ...('environments' in u ? { environments: [...u.environments] } : {}),
  })));
  const gateway = createGateway({
    port: 0, cluster, tokens, logWrite: () => {}, shutdownTimeoutMs: 2_000,
    // Off: a test sends many writes a second from one token.
    rateLimitWritesPerSec: 0, rateLimitEvaluationsPerSec: 0,
  });
  try {
    await gateway.start();
    await gateway.waitUntilReady(30_000);
  } catch (err) {
    await gateway.close().catch(() => {});
    await cluster.close();
    throw err;
  }
  const url = gateway.url();
  return Object.assign(stack, {
    url,
    cluster,
    async cli(user: User, argv: string[], o: { confirm?: CliIo['confirm']; env?: Record<string, string> } = {}) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(argv, {
        env: { FLAGRAFT_URL: url, FLAGRAFT_TOKEN: USERS[user].token, ...o.env },
        stdout: { write: (s: string) => out.push(s) },
        stderr: { write: (s: string) => err.push(s) },
        ...(o.confirm ? { confirm: o.confirm } : {}),
      });
      return { code, out: out.join(''), err: err.join('') };
    },
    async stop() {
      await gateway.close();
      await cluster.close();
    },
  });
}

export { waitFor };
