// Entry point: config from env + flags, the node with its SNS outbox, start,
// stop cleanly on SIGTERM/SIGINT.
import { TlsConfigError } from '@flagraft/identity';
import { installClockFault } from './clock.js';
import { ConfigError, loadConfigFromEnv } from './config.js';
import { createConsensusNode, type OutboxFactory } from './create.js';
import { createLogger } from './log.js';
import { StoreCorruptError, StoreOpenError } from './storage/sqlite.js';

function fatal(msg: string, extra: Record<string, unknown> = {}): never {
  process.stdout.write(JSON.stringify({ t: new Date().toISOString(), level: 'error', msg, app: 'consensus-node', ...extra }) + '\n');
  process.exit(1);
}

// The SNS outbox (src/outbox/), loaded only when a topic is configured: the AWS SDK adds about 0.3 s to a start.
const outbox: OutboxFactory = async (config) => (await import('./outbox/index.js')).createSnsOutbox(config);

let node: ReturnType<typeof createConsensusNode> | undefined;
// SIGHUP: reload the certificate files now (they are also checked every
// FLAGRAFT_TLS_RELOAD_INTERVAL_MS). Installed first: SIGHUP's default action would end the process.
process.on('SIGHUP', () => node?.reloadCertificates());
try {
  const config = loadConfigFromEnv(process.env, process.argv.slice(2));
  // Process-wide (it replaces Date.now), so here and not in createConsensusNode, which tests embed several times in one process.
  if (config.clockControlFile) {
    const log = createLogger({ app: 'consensus-node', node: config.nodeId, component: 'clock' }, config.logLevel);
    log.warn('CLOCK FAULT INJECTION enabled: this node\'s wall clock follows a control file (testing only)', { file: config.clockControlFile });
    installClockFault(config.clockControlFile, (msg, fields) => log.warn(msg, fields));
  }
  node = createConsensusNode(config, { outbox });
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
