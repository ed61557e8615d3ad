import {
  CachingTokenStore, EventKeyRing, EventKeySet, loadTokens, watchEventKeysFile, watchTokensFile, type FileWatch, type TokenFileWatch,
} from '@flagraft/auth';
import { createJsonLogger } from './log.js';
import { loadConfigFromEnv } from './config.js';
import { createRelay, type Relay } from './relay.js';

const log = createJsonLogger('notification-relay');
/** How often FLAGRAFT_TOKENS_FILE and FLAGRAFT_EVENT_KEYS_FILE are checked for changes, ms (as the gateway's default). */
const TOKENS_RELOAD_INTERVAL_MS = 2_000;
let relay: Relay;
let tokenWatch: TokenFileWatch | undefined;
let keysWatch: FileWatch | undefined;
try {
  const config = loadConfigFromEnv(process.env, loadTokens, (file) => new EventKeyRing(EventKeySet.load(file)));
  // A key rotation (docs/CONTRACTS.md) needs no restart: the file is re-read when it changes and on SIGHUP.
  keysWatch = watchEventKeysFile(process.env.FLAGRAFT_EVENT_KEYS_FILE!, config.eventKeys, TOKENS_RELOAD_INTERVAL_MS, {}, (r) => (r.ok
    ? log('info', 'event keys reloaded', { keyIds: r.keyIds })
    : log('error', 'event keys file not reloaded; the previous keys stay', { error: r.error })));
  // A revoked or rotated token stops opening new connections without a restart.
  const file = process.env.FLAGRAFT_TOKENS_FILE;
  if (config.auth !== 'none' && file) {
    const tokens = new CachingTokenStore(config.auth);
    config.auth = tokens;
    tokenWatch = watchTokensFile(file, tokens, TOKENS_RELOAD_INTERVAL_MS, (r) =>
      r.ok ? log('info', 'tokens reloaded', { tokens: r.tokens }) : log('error', 'tokens file not reloaded; the previous tokens stay', { error: r.error }));
  }
  relay = createRelay(config);
  await relay.start();
} catch (err) {
  log('error', 'relay failed to start', { error: (err as Error).message });
  process.exit(1);
}
// SIGHUP: re-read FLAGRAFT_TOKENS_FILE and FLAGRAFT_EVENT_KEYS_FILE now.
process.on('SIGHUP', () => { tokenWatch?.reload(); keysWatch?.reload(); });
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    tokenWatch?.close();
    keysWatch?.close();
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
