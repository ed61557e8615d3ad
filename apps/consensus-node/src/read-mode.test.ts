// FLAGRAFT_READ_MODE: 'safe' by default, 'lease' on request, anything else
// refused by name; a lease needs at least 3 ticks per election timeout.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFromEnv } from './config.js';

const BASE = { FLAGRAFT_NODE_ID: '1', FLAGRAFT_INSECURE: '1', FLAGRAFT_CLUSTER_ID: 'c1', FLAGRAFT_DATA_DIR: '/tmp/unused' };

describe('FLAGRAFT_READ_MODE', () => {
  it('is safe by default, lease on request', () => {
    expect(loadConfigFromEnv({ ...BASE }).readMode).toBe('safe');
    expect(loadConfigFromEnv({ ...BASE, FLAGRAFT_READ_MODE: 'lease' }).readMode).toBe('lease');
  });
  it('refuses other values and a lease with fewer than 3 ticks per election timeout, naming the variable', () => {
    expect(() => loadConfigFromEnv({ ...BASE, FLAGRAFT_READ_MODE: 'fast' })).toThrow(ConfigError);
    expect(() => loadConfigFromEnv({ ...BASE, FLAGRAFT_READ_MODE: 'fast' })).toThrow(/FLAGRAFT_READ_MODE: expected safe or lease, got "fast"/);
    expect(() => loadConfigFromEnv({ ...BASE, FLAGRAFT_READ_MODE: 'lease', FLAGRAFT_TICK_MS: '50', FLAGRAFT_HEARTBEAT_MS: '50', FLAGRAFT_ELECTION_TIMEOUT_MS: '100' }))
      .toThrow(/FLAGRAFT_READ_MODE=lease needs FLAGRAFT_ELECTION_TIMEOUT_MS \(100\) >= 3 x FLAGRAFT_TICK_MS \(50\)/);
  });
});
