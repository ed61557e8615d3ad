// Entry point: config from env + flags, start, stop cleanly on SIGTERM/SIGINT.
import { ConfigError, loadConfigFromEnv } from './config.js';
import { createConsensusNode } from './create.js';
import { StoreCorruptError, StoreOpenError } from './storage/sqlite-store.js';
import { TlsConfigError } from '@flagraft/identity';

function fatal(msg: string, extra: Record<string, unknown> = {}): never {
  process.stdout.write(JSON.stringify({ t: new Date().toISOString(), level: 'error', msg, app: 'consensus-node', ...extra }) + '\n');
  process.exit(1);
}

let node: ReturnType<typeof createConsensusNode> | undefined;
// SIGHUP: reload the certificate files now (they are also checked every
// FLAGRAFT_TLS_RELOAD_INTERVAL_MS). Installed first: SIGHUP's default action would end the process.
process.on('SIGHUP', () => node?.reloadCertificates());
try {
  node = createConsensusNode(loadConfigFromEnv(process.env, process.argv.slice(2)));
  await node.start();
} catch (e) {
  if (e instanceof ConfigError || e instanceof StoreOpenError || e instanceof StoreCorruptError || e instanceof TlsConfigError) fatal(`cannot start: ${e.message}`, { error: e.name });
  fatal(`cannot start: ${(e as Error).message}`, { stack: (e as Error).stack });
}
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    node!.close().then(() => process.exit(0), (e: Error) => fatal(`shutdown failed: ${e.message}`));
  });
}
