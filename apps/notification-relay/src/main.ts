import { loadTokens } from '@flagraft/auth';
import { createJsonLogger } from './log.js';
import { loadConfigFromEnv } from './config.js';
import { createRelay, type Relay } from './relay.js';

const log = createJsonLogger('notification-relay');
let relay: Relay;
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
// A bug must leave one JSON log line, then let the supervisor restart us
// (SQS redelivers whatever was not fanned out).
for (const ev of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(ev, (err: unknown) => {
    log('error', 'fatal error; exiting', { event: ev, error: String((err as Error)?.stack ?? err) });
    process.exit(1);
  });
}
