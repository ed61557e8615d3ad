import { describe, expect, it } from 'vitest';
import { EventKeyRing, EventKeySet, createTokenStore, hashToken, loadTokens } from '@flagraft/auth';
import { loadConfigFromEnv, RelayConfigError } from './config.js';

const tokens = JSON.stringify([{ name: 'r', role: 'reader', sha256: hashToken('t') }]);
const ring = new EventKeyRing(EventKeySet.parse(JSON.stringify({ v: 1, keys: [{ id: 'k', secret: Buffer.alloc(32, 1).toString('base64') }] }), 'test'));
const keysFiles: string[] = [];
/** Stands in for reading FLAGRAFT_EVENT_KEYS_FILE (config.ts does no I/O itself). */
const loadKeys = (file: string) => { keysFiles.push(file); return ring; };
const KEYS = { FLAGRAFT_EVENT_KEYS_FILE: '/etc/flagraft/event-keys.json' };

describe('loadConfigFromEnv', () => {
  it('reads the queue, endpoint and limits; emulator endpoints get dummy credentials', () => {
    const c = loadConfigFromEnv({
      FLAGRAFT_TOKENS: tokens, FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_AWS_ENDPOINT: 'http://127.0.0.1:4566',
      FLAGRAFT_RELAY_PORT: '0', FLAGRAFT_RELAY_POLLERS: '5', FLAGRAFT_RELAY_MAX_CLIENT_BUFFER_BYTES: '65536', ...KEYS,
      FLAGRAFT_RELAY_MAX_SIGNATURE_AGE_SECONDS: '60', FLAGRAFT_RELAY_MAX_REVISION_GAP: '500', FLAGRAFT_RELAY_REPLAY_MEMORY: '1000', FLAGRAFT_RELAY_SIGNER_CLOCK_SKEW_MS: '250',
    }, loadTokens, loadKeys);
    expect(c).toMatchObject({ queueName: 'q', port: 0, pollers: 5, maxClientBufferBytes: 65536, waitTimeSeconds: 20, maxMessagesPerReceive: 10 });
    expect(c).toMatchObject({ maxSignatureAgeSeconds: 60, maxRevisionGap: 500, replayMemorySignatures: 1000, signerClockSkewMs: 250 });
    expect(c.eventKeys).toBe(ring);
    expect(keysFiles.at(-1)).toBe('/etc/flagraft/event-keys.json');
    expect(c.aws).toMatchObject({ region: 'us-east-1', endpoint: 'http://127.0.0.1:4566', credentials: { accessKeyId: 'local' } });
    expect(c.provision).toBeUndefined();
    const remote = loadConfigFromEnv({ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_AWS_ENDPOINT: 'https://sqs.vpce.example.com', ...KEYS }, loadTokens, loadKeys);
    expect(remote.aws.credentials).toBeUndefined();
  });

  it('creates resources only when asked', () => {
    const c = loadConfigFromEnv({ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_RELAY_CREATE_RESOURCES: 'true', FLAGRAFT_RELAY_MAX_RECEIVE_COUNT: '3', ...KEYS }, loadTokens, loadKeys);
    expect(c.provision).toEqual({ maxReceiveCount: 3, rawDelivery: false, topicName: 'flagraft-changes' });
    expect(c.auth).toBe('none');
  });

  it.each([
    [{ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_EVENT_KEYS_FILE: '' }, /FLAGRAFT_EVENT_KEYS_FILE: required/],
    [{ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_RELAY_MAX_REVISION_GAP: '0' }, /maxRevisionGap/],
    [{ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_RELAY_MAX_SIGNATURE_AGE_SECONDS: '-5' }, /maxSignatureAgeSeconds/],
    [{ FLAGRAFT_RELAY_AUTH: 'none' }, /queueUrl or queueName/],
    [{ FLAGRAFT_RELAY_QUEUE_NAME: 'q' }, /no tokens configured/],
    [{ FLAGRAFT_RELAY_AUTH: 'maybe', FLAGRAFT_RELAY_QUEUE_NAME: 'q' }, /FLAGRAFT_RELAY_AUTH/],
    [{ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_RELAY_PORT: 'eighty' }, /FLAGRAFT_RELAY_PORT/],
    [{ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_RELAY_WAIT_TIME_SECONDS: '30' }, /waitTimeSeconds/],
    [{ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_RELAY_CREATE_RESOURCES: 'perhaps' }, /FLAGRAFT_RELAY_CREATE_RESOURCES/],
    [{ FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_RELAY_QUEUE_NAME: 'q', FLAGRAFT_AWS_ENDPOINT: 'not a url' }, /aws.endpoint/],
  ])('refuses %j', (env, re) => {
    const e = { ...KEYS, ...env } as Record<string, string>;
    expect(() => loadConfigFromEnv(e, loadTokens, loadKeys)).toThrow(RelayConfigError);
    expect(() => loadConfigFromEnv(e, loadTokens, loadKeys)).toThrow(re);
  });

  it('uses the token store it is given', () => {
    const c = loadConfigFromEnv({ FLAGRAFT_RELAY_QUEUE_URL: 'http://x/q', ...KEYS }, () => createTokenStore([{ name: 'r', role: 'reader', sha256: hashToken('t') }]), loadKeys);
    expect(c.auth !== 'none' && c.auth.authenticate('t')).toEqual({ name: 'r', role: 'reader' });
  });
});
