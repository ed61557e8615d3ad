// Dashboard configuration, read once from the environment (README.md lists
// every variable). Route loaders and actions read it through getConfig().

export interface DashboardConfig {
  /** Base URL of the gateway REST API, e.g. http://127.0.0.1:8080 (no trailing slash). */
  gatewayUrl: string;
  /** Base URL of the notification relay, e.g. http://127.0.0.1:8090; its WebSocket is <relayUrl>/ws. */
  relayUrl: string;
  /** Secret the session cookie is encrypted and authenticated with (>= 32 chars). */
  cookieSecret: string;
  /** Listen port (0 = any free port). */
  port: number;
  /** Listen address; loopback unless told otherwise. */
  host: string;
  /** Session lifetime in seconds. */
  sessionTtlSec: number;
  /** Mark the cookie Secure (set when served over https, e.g. behind Caddy). */
  cookieSecure: boolean;
  /** Gateway request timeout in milliseconds. */
  gatewayTimeoutMs: number;
  /**
   * The dashboard's own token (a reader is enough) for the change stream that
   * keeps its flag-list index current (flag-feed.ts). Unset: no index, each
   * list load reads every page from the gateway (slower with many flags).
   */
  feedToken: string | undefined;
  /** Sign-in attempts allowed per client address and minute (0 = no limit); the burst is the same number. */
  signInPerMinute: number;
}

/** Default sign-in attempts per client address and minute. */
export const DEFAULT_SIGNIN_PER_MINUTE = 10;

/** Shortest accepted cookie secret, in characters. */
export const MIN_COOKIE_SECRET_CHARS = 32;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function parseUrl(name: string, value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
    return u.href.replace(/\/+$/, '');
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
}

function parseIntIn(name: string, value: string | undefined, dflt: number, min: number, max: number): number {
  if (value === undefined || value === '') return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return n;
}

export function loadConfigFromEnv(env: Record<string, string | undefined>): DashboardConfig {
  const cookieSecret = env.FLAGRAFT_DASHBOARD_COOKIE_SECRET ?? '';
  if (cookieSecret.length < MIN_COOKIE_SECRET_CHARS) {
    throw new ConfigError(
      `FLAGRAFT_DASHBOARD_COOKIE_SECRET must be set to at least ${MIN_COOKIE_SECRET_CHARS} characters (e.g. \`openssl rand -hex 32\`)`,
    );
  }
  return {
    gatewayUrl: parseUrl('FLAGRAFT_GATEWAY_URL', env.FLAGRAFT_GATEWAY_URL ?? 'http://127.0.0.1:8080'),
    relayUrl: parseUrl('FLAGRAFT_RELAY_URL', env.FLAGRAFT_RELAY_URL ?? 'http://127.0.0.1:8090'),
    cookieSecret,
    port: parseIntIn('PORT', env.FLAGRAFT_DASHBOARD_PORT ?? env.PORT, 3000, 0, 65535),
    host: env.FLAGRAFT_DASHBOARD_HOST || env.HOST || '127.0.0.1',
    sessionTtlSec: parseIntIn('FLAGRAFT_DASHBOARD_SESSION_TTL_SEC', env.FLAGRAFT_DASHBOARD_SESSION_TTL_SEC, 8 * 3600, 60, 30 * 86400),
    cookieSecure: env.FLAGRAFT_DASHBOARD_COOKIE_SECURE === '1' || env.FLAGRAFT_DASHBOARD_COOKIE_SECURE === 'true',
    gatewayTimeoutMs: parseIntIn('FLAGRAFT_DASHBOARD_GATEWAY_TIMEOUT_MS', env.FLAGRAFT_DASHBOARD_GATEWAY_TIMEOUT_MS, 10_000, 100, 120_000),
    feedToken: env.FLAGRAFT_DASHBOARD_FEED_TOKEN || undefined,
    signInPerMinute: parseIntIn('FLAGRAFT_DASHBOARD_SIGNIN_PER_MINUTE', env.FLAGRAFT_DASHBOARD_SIGNIN_PER_MINUTE, DEFAULT_SIGNIN_PER_MINUTE, 0, 10_000),
  };
}

let current: DashboardConfig | undefined;

/** Installed by the server entry before it listens. */
export function setConfig(config: DashboardConfig): void {
  current = config;
}

export function getConfig(): DashboardConfig {
  // `vite dev` has no server entry: fall back to the environment.
  if (!current) current = loadConfigFromEnv(process.env);
  return current;
}
