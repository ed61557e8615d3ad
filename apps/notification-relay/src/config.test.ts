import { describe, expect, it } from 'vitest';
import { createTokenStore, hashToken, loadTokens } from '@flagraft/auth';
import { loadConfigFromEnv, RelayConfigError } from './config.js';

const tokens = JSON.stringify([{ name: 'r', role: 'reader', sha256: hashToken('t') }]);

describe('loadConfigFromEnv', () => {
  it('reads the queue, endpoint and limits; emulator endpoints get dummy credentials', () => {
    const c = loadConfigFromEnv({
      FLAGRAFT_TOKENS: tokens, FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_AWS_ENDPOINT: 'http://127.0.0.1:4566',
      FLAGRAFT_RELAY_PORT: '0', FLAGRAFT_RELAY_POLLERS: '5', FLAGRAFT_RELAY_MAX_CLIENT_BUFFER_BYTES: '65536',
    }, loadTokens);
    expect(c).toMatchObject({ queueName: 'q', port: 0, pollers: 5, maxClientBufferBytes: 65536, waitTimeSeconds: 20, maxMessagesPerReceive: 10 });
    expect(c.aws).toMatchObject({ region: 'us-east-1', endpoint: 'http://127.0.0.1:4566', credentials: { accessKeyId: 'local' } });
    expect(c.provision).toBeUndefined();
    const remote = loadConfigFromEnv({ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_AWS_ENDPOINT: 'https://sqs.vpce.example.com' }, loadTokens);
    expect(remote.aws.credentials).toBeUndefined();
  });

  it('creates resources only when asked', () => {
    const c = loadConfigFromEnv({ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_RELAY_CREATE_RESOURCES: 'true', FLAGRAFT_RELAY_MAX_RECEIVE_COUNT: '3' }, loadTokens);
    expect(c.provision).toEqual({ maxReceiveCount: 3, rawDelivery: false, topicName: 'flagraft-changes' });
    expect(c.auth).toBe('none');
  });

  it.each([
    [{ FLAGRAFT_RELAY_AUTH: 'none' }, /queueUrl or queueName/],
    [{ FLAGRAFT_RELAY_QUEUE_NAME: 'q' }, /no tokens configured/],
    [{ FLAGRAFT_RELAY_AUTH: 'maybe', FLAGRAFT_RELAY_QUEUE_NAME: 'q' }, /FLAGRAFT_RELAY_AUTH/],
    [{ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_RELAY_PORT: 'eighty' }, /FLAGRAFT_RELAY_PORT/],
    [{ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_RELAY_WAIT_TIME_SECONDS: '30' }, /waitTimeSeconds/],
    [{ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_RELAY_CREATE_RESOURCES: 'perhaps' }, /FLAGRAFT_RELAY_CREATE_RESOURCES/],
    [{ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_AWS_ENDPOINT: 'not a url' }, /aws.endpoint/],
  ])('refuses %j', (env, re) => {
    expect(() => loadConfigFromEnv(env as Record<string, string>, loadTokens)).toThrow(RelayConfigError);
    expect(() => loadConfigFromEnv(env as Record<string, string>, loadTokens)).toThrow(re);
  });

  it('uses the token store it is given', () => {
    const c = loadConfigFromEnv({ FLAGRAFT_RELAY_QUEUE_URL: 'http://x/q' }, () => createTokenStore([{ name: 'r', role: 'reader', sha256: hashToken('t') }]));
    expect(c.auth !== 'none' && c.auth.authenticate('t')).toEqual({ name: 'r', role: 'reader' });
  });
});
