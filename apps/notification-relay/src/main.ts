import { loadTokens } from '@flagraft/auth';
import { createJsonLogger } from './log.js';
import { loadConfigFromEnv } from './config.js';
import { createRelay } from './relay.js';

const log = createJsonLogger('notification-relay');
let relay;
try {
  relay = createRelay(loadConfigFromEnv(process.env, loadTokens));
  await relay.start();
} catch (err) {
  log('error', 'relay failed to start', { error: (err as Error).message });
  process.exit(1);
}
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log('info', 'shutting down', { signal: sig });
    relay.close().then(() => process.exit(0), (err: unknown) => {
      log('error', 'shutdown failed', { error: String(err) });
      process.exit(1);
    });
  });
}
