// Entry point: config from the environment, start, drain on SIGTERM/SIGINT.
import { ConfigError, createGateway, loadConfigFromEnv } from './index.js';

function fatal(msg: string, err: unknown): never {
  // Synchronous on purpose: the process exits right after.
  process.stdout.write(JSON.stringify({ t: new Date().toISOString(), level: 'error', msg, app: 'gateway', error: (err as Error)?.message ?? String(err) }) + '\n');
  process.exit(err instanceof ConfigError ? 2 : 1);
}

let gateway: ReturnType<typeof createGateway> | undefined;
// SIGHUP: re-read FLAGRAFT_TOKENS_FILE and the TLS files now (both are also checked for changes).
// Installed first: SIGHUP's default action would end the process.
process.on('SIGHUP', () => { gateway?.reloadTokens(); gateway?.reloadCertificates(); });
try {
  gateway = createGateway(loadConfigFromEnv());
  await gateway.start();
} catch (err) {
  fatal('gateway failed to start', err);
}
const gw = gateway!;
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    gw.close().then(
      () => process.exit(0),
      (err) => fatal('shutdown failed', err),
    );
  });
}
