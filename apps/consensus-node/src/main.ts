// Entry point: config from env + flags, start, stop cleanly on SIGTERM/SIGINT.
import { ConfigError, loadConfigFromEnv } from './config.js';
import { createConsensusNode } from './create.js';
import { StoreCorruptError, StoreOpenError } from './storage/sqlite-store.js';

function fatal(msg: string, extra: Record<string, unknown> = {}): never {
  process.stdout.write(JSON.stringify({ t: new Date().toISOString(), level: 'error', msg, app: 'consensus-node', ...extra }) + '\n');
  process.exit(1);
}

let node;
try {
  node = createConsensusNode(loadConfigFromEnv(process.env, process.argv.slice(2)));
  await node.start();
} catch (e) {
  if (e instanceof ConfigError || e instanceof StoreOpenError || e instanceof StoreCorruptError) fatal(`cannot start: ${e.message}`, { error: e.name });
  fatal(`cannot start: ${(e as Error).message}`, { stack: (e as Error).stack });
}
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    node.close().then(() => process.exit(0), (e: Error) => fatal(`shutdown failed: ${e.message}`));
  });
}
