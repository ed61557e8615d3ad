// Starts the real stack (as the e2e tests do) and keeps it running for manual
// use: `node --import tsx test/dev-stack.ts`. Prints the URLs and tokens; Ctrl-C stops it.
import { NAMES, startStack, TOKENS } from './stack';

const stack = await startStack({ log: (m) => process.stderr.write(m + '\n') });
process.stdout.write(
  JSON.stringify({ dashboard: stack.dashboardUrl, gateway: stack.gatewayUrl, relay: stack.relayUrl, tokens: TOKENS, names: NAMES }, null, 2) + '\n',
);
const stop = async () => {
  await stack.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
