import { describe, expect, it } from 'vitest';
import { loadConfigFromEnv } from './config';

const base = { FLAGRAFT_DASHBOARD_COOKIE_SECRET: 'x'.repeat(32) };

describe('dashboard configuration', () => {
  it('takes the dashboard\'s own feed token, and has none when it is unset or empty', () => {
    expect(loadConfigFromEnv({ ...base, FLAGRAFT_DASHBOARD_FEED_TOKEN: 'fr_feed' }).feedToken).toBe('fr_feed');
    expect(loadConfigFromEnv(base).feedToken).toBeUndefined();
    expect(loadConfigFromEnv({ ...base, FLAGRAFT_DASHBOARD_FEED_TOKEN: '' }).feedToken).toBeUndefined();
  });
});
