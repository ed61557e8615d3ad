// Entry point: config from the environment, start, drain on SIGTERM/SIGINT.
import { createGateway, loadConfigFromEnv } from './index.js';

const gateway = createGateway(loadConfigFromEnv());
await gateway.start();
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    gateway.close().then(
      () => process.exit(0),
      (err) => {
        gateway.log.log('error', 'shutdown failed', { error: String(err) });
        gateway.log.flush();
        process.exit(1);
      },
    );
  });
}
