// The conformance suite against the in-memory cluster, and what only it has.
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENVIRONMENT } from '@flagraft/flag-model';
import { createMemoryCluster } from '../src/index.js';
import { clusterConformance, flag } from './conformance.js';

const cluster = createMemoryCluster({ clusterId: 'memory-conformance' });
afterAll(() => cluster.close());
clusterConformance('in-memory', () => cluster);

describe('in-memory cluster', () => {
  it('every command takes a revision, failed ones too (a log index each, as on a node)', async () => {
    const c = createMemoryCluster();
    const a = await c.putFlag(flag('rev-a'), { actor: 't' });
    await expect(c.deleteFlag('rev-missing', { actor: 't' })).rejects.toMatchObject({ code: 'NOT_FOUND', details: { revision: a.revision + 1 } });
    expect((await c.putFlag(flag('rev-b'), { actor: 't' })).revision).toBe(a.revision + 2);
    expect(c.revision).toBe(a.revision + 2);
  });

  it('answers are copies: changing one never changes the store', async () => {
    const c = createMemoryCluster();
    const a = await c.putFlag(flag('copy'), { actor: 't' });
    a.flag.flag.enabled = false;
    (await c.getFlag('copy'))!.flag.enabled = false;
    expect((await c.getFlag('copy'))!.flag.enabled).toBe(true);
  });

  it('a closed cluster refuses calls, as a closed client does', async () => {
    const c = createMemoryCluster();
    c.close();
    await expect(c.getFlag('x')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('holds only the default environment: environment calls are not in its type, and passed anyway they are refused by name', async () => {
    const c = createMemoryCluster();
    // @ts-expect-error propose (environments, change requests, schedules) is not part of ClusterApi
    expect(c.propose).toBeUndefined();
    // @ts-expect-error query is not part of ClusterApi
    expect(c.query).toBeUndefined();
    // The default environment by name is the same as none.
    await c.putFlag(flag('env-default'), { actor: 't', ...{ environment: DEFAULT_ENVIRONMENT } });
    expect((await c.getFlag('env-default'))?.flag.key).toBe('env-default');
    const past = (o: object) => o as Record<string, never>;
    await expect(c.putFlag(flag('env-x'), { actor: 't', ...past({ environment: 'staging' }) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('environment "staging"') });
    await expect(c.getFlag('env-default', past({ environment: 'staging' }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.listFlags(past({ environment: 'staging' }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.history('env-default', past({ environment: 'staging' }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.deleteFlag('env-default', { actor: 't', ...past({ actorRole: 'approver' }) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('actorRole') });
    expect(() => c.watch({ fromRevision: 0, onChange: () => {}, ...past({ allEnvironments: true }) })).toThrow(/allEnvironments/);
    expect(await c.getFlag('env-default')).toBeDefined();
    c.close();
  });
});
