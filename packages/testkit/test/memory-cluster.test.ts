// The conformance suite against the in-memory cluster, and what only it has.
import { afterAll, describe, expect, it } from 'vitest';
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
});
