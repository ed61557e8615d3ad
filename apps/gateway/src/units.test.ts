import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFromEnv } from './config.js';
import { canonicalJson } from './http-util.js';
import { problemFromClusterError } from './problem.js';
import { toChangeEvent } from './replica.js';
import { parsePosition } from './sse.js';

// Plain text towards the nodes, for tests of the rest of the configuration.
const INSECURE = { FLAGRAFT_INSECURE: '1', FLAGRAFT_CLUSTER_ID: 'c1' };

describe('loadConfigFromEnv', () => {
  it('needs TLS files towards the nodes, or FLAGRAFT_INSECURE=1 with a cluster id', () => {
    expect(() => loadConfigFromEnv({})).toThrow(/mutual TLS is required: FLAGRAFT_TLS_CA, FLAGRAFT_TLS_CERT, FLAGRAFT_TLS_KEY not set/);
    expect(() => loadConfigFromEnv({ FLAGRAFT_INSECURE: '1' })).toThrow(/FLAGRAFT_CLUSTER_ID is required with FLAGRAFT_INSECURE=1/);
    expect(loadConfigFromEnv({ FLAGRAFT_TLS_CA: 'ca', FLAGRAFT_TLS_CERT: 'c', FLAGRAFT_TLS_KEY: 'k' }).clusterTls).toEqual({ caFile: 'ca', certFile: 'c', keyFile: 'k' });
  });
  it('has documented defaults', () => {
    const c = loadConfigFromEnv(INSECURE);
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, clusterId: 'c1', clusterInsecure: true, anonymousEvaluation: false, maxBodyBytes: 1048576, accessLog: 'all' });
    expect(c.clusterEndpoints).toEqual(['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003']);
    expect(c.tokens.size).toBe(0);
    // Reads spread over every member (README, FLAGRAFT_READ_FROM); 'leader' keeps them on the leader.
    expect(c.clusterReadFrom).toBe('any');
    expect(loadConfigFromEnv({ ...INSECURE, FLAGRAFT_READ_FROM: 'leader' }).clusterReadFrom).toBe('leader');
    // Rate limits are on unless set to 0: 1,000 evaluations and 50 writes per second and token.
    expect(c).toMatchObject({ rateLimitEvaluationsPerSec: 1000, rateLimitWritesPerSec: 50, tokensReloadIntervalMs: 2000 });
    expect(c.rateLimitEvaluationsBurst).toBeUndefined(); // two seconds' worth: 2,000 (rate-limit.test.ts)
    expect(c.tokensFile).toBeUndefined();
  });
  it('reads the rate limits and the tokens reload interval', () => {
    const c = loadConfigFromEnv({
      ...INSECURE,
      FLAGRAFT_RATE_LIMIT_EVALUATIONS_PER_SEC: '1000',
      FLAGRAFT_RATE_LIMIT_EVALUATIONS_BURST: '2000',
      FLAGRAFT_RATE_LIMIT_WRITES_PER_SEC: '0',
      FLAGRAFT_TOKENS_RELOAD_INTERVAL_MS: '0',
    });
    // 0 turns a limit off explicitly (the benchmarks do).
    expect(c).toMatchObject({ rateLimitEvaluationsPerSec: 1000, rateLimitEvaluationsBurst: 2000, rateLimitWritesPerSec: 0, tokensReloadIntervalMs: 0 });
    expect(c.rateLimitWritesBurst).toBeUndefined();
  });
  it('reads variables', () => {
    const c = loadConfigFromEnv({
      ...INSECURE,
      FLAGRAFT_GATEWAY_PORT: '0',
      FLAGRAFT_CLUSTER_ENDPOINTS: 'a:1, b:2',
      FLAGRAFT_ANONYMOUS_EVALUATION: 'true',
      FLAGRAFT_CORS_ORIGINS: 'https://x.example,https://y.example',
      FLAGRAFT_PUBLIC_URL: 'https://flags.example/',
      FLAGRAFT_TOKENS: '[{"name":"a","role":"admin","sha256":"' + 'a'.repeat(64) + '"}]',
    });
    expect(c.port).toBe(0);
    expect(c.clusterEndpoints).toEqual(['a:1', 'b:2']);
    expect(c.anonymousEvaluation).toBe(true);
    expect(c.corsOrigins).toEqual(['https://x.example', 'https://y.example']);
    expect(c.publicBaseUrl).toBe('https://flags.example');
    expect(c.tokens.size).toBe(1);
  });
  it.each([
    [{ FLAGRAFT_GATEWAY_PORT: 'eighty' }, /FLAGRAFT_GATEWAY_PORT: expected a non-negative integer/],
    [{ FLAGRAFT_GATEWAY_PORT: '70000' }, /port: must be 0..65535/],
    [{ FLAGRAFT_MAX_BODY_BYTES: '0' }, /maxBodyBytes: must be a positive integer/],
    [{ FLAGRAFT_ANONYMOUS_EVALUATION: 'maybe' }, /FLAGRAFT_ANONYMOUS_EVALUATION: expected true or false/],
    [{ FLAGRAFT_ACCESS_LOG: 'loud' }, /FLAGRAFT_ACCESS_LOG/],
    [{ FLAGRAFT_READ_FROM: 'followers' }, /FLAGRAFT_READ_FROM: expected leader or any, got "followers"/],
    [{ FLAGRAFT_PUBLIC_URL: 'not a url' }, /publicBaseUrl: not a URL/],
    [{ FLAGRAFT_RATE_LIMIT_WRITES_PER_SEC: '-1' }, /FLAGRAFT_RATE_LIMIT_WRITES_PER_SEC: expected a non-negative integer/],
    [{ FLAGRAFT_RATE_LIMIT_EVALUATIONS_BURST: '0' }, /rateLimitEvaluationsBurst: must be an integer of at least 1/],
    [{ FLAGRAFT_TOKENS_RELOAD_INTERVAL_MS: 'soon' }, /FLAGRAFT_TOKENS_RELOAD_INTERVAL_MS/],
    [{ FLAGRAFT_TOKENS: '[{"name":"a","role":"god","sha256":"x"}]' }, /FLAGRAFT_TOKENS\[0\]\.role/],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => loadConfigFromEnv({ ...INSECURE, ...env })).toThrow(ConfigError);
    expect(() => loadConfigFromEnv({ ...INSECURE, ...env })).toThrow(message);
  });
});

describe('stream positions', () => {
  it('parses R and R:i, rejects the rest', () => {
    expect(parsePosition('42')).toEqual({ revision: 42 });
    expect(parsePosition(' 42:3 ')).toEqual({ revision: 42, index: 3 });
    for (const bad of ['', 'x', '-1', '1.5', '4:', ':4', '1:2:3', '9'.repeat(16)]) expect(parsePosition(bad)).toBeUndefined();
  });
});

describe('toChangeEvent', () => {
  it('accepts contract events and flag-model changes', () => {
    const stored = { flag: { key: 'k' } };
    expect(toChangeEvent({ v: 1, revision: 3, kind: 'flag', key: 'k', op: 'put', flag: stored, actor: 'a', time: '2026-01-01T00:00:00.000Z' })).toMatchObject({ revision: 3, flag: stored });
    expect(toChangeEvent({ revision: 4, kind: 'segment', key: 's', op: 'delete', before: {}, after: null, actor: 'a', time: 0 })).toEqual({
      v: 1, revision: 4, kind: 'segment', key: 's', op: 'delete', segment: null, actor: 'a', time: '1970-01-01T00:00:00.000Z',
    });
    expect(toChangeEvent({ revision: 'x', kind: 'flag', key: 'k', op: 'put' })).toBeUndefined();
    // A put without its item cannot be applied: the replica reloads rather than guess.
    expect(toChangeEvent({ v: 1, revision: 5, kind: 'flag', key: 'k', op: 'put', flag: null, actor: 'a', time: '2026-01-01T00:00:00.000Z' })).toBeUndefined();
    expect(toChangeEvent(null)).toBeUndefined();
  });

  it('uses a contract event as it is, and rebuilds one with fields beyond the contract without them', () => {
    const put = { v: 1, revision: 3, kind: 'flag', key: 'k', op: 'put', flag: { flag: { key: 'k' } }, actor: 'a', time: '2026-01-01T00:00:00.000Z' };
    expect(toChangeEvent(put)).toBe(put);
    const del = { v: 1, revision: 4, kind: 'segment', key: 's', op: 'delete', segment: null, actor: 'a', time: '2026-01-01T00:00:00.000Z' };
    expect(toChangeEvent(del)).toBe(del);
    const extra = { ...put, part: 1 };
    const out = toChangeEvent(extra);
    expect(out).not.toBe(extra);
    expect(out).toEqual(put);
  });
});

describe('problemFromClusterError', () => {
  const err = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`boom ${code}`), { code, ...extra });
  it('maps codes to statuses', () => {
    const opts = { retryAfterSeconds: 2 };
    expect(problemFromClusterError(err('REVISION_MISMATCH', { currentRevision: 7 }), { ...opts, precondition: true })).toMatchObject({ status: 412, extensions: { currentRevision: 7 } });
    expect(problemFromClusterError(err('REVISION_MISMATCH'), opts).status).toBe(409);
    expect(problemFromClusterError(err('NOT_FOUND'), opts).status).toBe(404);
    expect(problemFromClusterError(err('VALIDATION', { issues: [{ path: 'x', message: 'y' }] }), opts).extensions.issues).toEqual([{ path: 'x', message: 'y' }]);
    expect(problemFromClusterError(err('SEGMENT_IN_USE', { details: { usedBy: ['f'] } }), opts)).toMatchObject({ status: 409, extensions: { usedBy: ['f'] } });
    const unavailable = problemFromClusterError(err('UNAVAILABLE'), opts);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers['retry-after']).toBe('2');
    expect(problemFromClusterError(err('DEADLINE'), opts).status).toBe(503);
    expect(problemFromClusterError(err('INTERNAL'), opts).status).toBe(500);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"x":2,"y":1}]},"b":1}');
  });
});
