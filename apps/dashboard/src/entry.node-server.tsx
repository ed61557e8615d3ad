/*
 * The dashboard's production server: Qwik City's Node middleware on a plain
 * node:http server, plus the /live WebSocket proxy. `node server/entry.node-server.js`
 * reads its config from the environment (README.md) and listens.
 */
import { createQwikCity } from '@builder.io/qwik-city/middleware/node';
import qwikCityPlan from '@qwik-city-plan';
import render from './entry.ssr';
import { createDashboard } from './server/dashboard';
import { ConfigError, loadConfigFromEnv } from './server/config';
import { checkTokenConfig, watchTokens } from './server/identity';
import { log } from './server/log';

const qwik = createQwikCity({
  render,
  qwikCityPlan,
  static: { cacheControl: 'public, max-age=31536000, immutable' },
});

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfigFromEnv(process.env);
    const tokens = checkTokenConfig();
    if (tokens === 0) log('warn', 'no gateway tokens configured (FLAGRAFT_TOKENS / FLAGRAFT_TOKENS_FILE): nobody can sign in');
  } catch (err) {
    // ConfigError (ours) or TokenConfigError (@flagraft/auth): both name the variable.
    if (err instanceof ConfigError || (err as Error).name === 'TokenConfigError') {
      log('error', 'bad configuration', { err: (err as Error).message });
      process.exit(2);
    }
    throw err;
  }
  // Revoking or adding a token needs no restart: the file is re-read when it
  // changes and on SIGHUP (as in the gateway and the relay); SIGHUP's default
  // action would end the process, so the handler is installed first.
  const tokenWatch = watchTokens();
  process.on('SIGHUP', () => {
    if (tokenWatch) tokenWatch.reload();
    else log('warn', 'SIGHUP: no FLAGRAFT_TOKENS_FILE to re-read');
  });
  const app = createDashboard(config, qwik);
  await app.start();
  const stop = async (signal: string) => {
    log('info', 'shutting down', { signal });
    tokenWatch?.close();
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

void main();
