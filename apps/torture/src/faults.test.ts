// connectedMajority: the harness's own view of whether the voters left after a
// removal can still elect a leader (membership-churn removes only then). The
// seed-4301 rerun case: voters {1,2,4}, partition [2,4] | [1,3]; removing 2
// leaves {1,4}, which are cut off from each other.
import { describe, expect, it } from 'vitest';
import type { TortureCluster } from './cluster.js';
import { connectedMajority } from './faults.js';
import { LinkMesh } from './proxy.js';
import { Rng } from './rng.js';

/** The parts of a cluster connectedMajority reads: a mesh, which nodes run, which are paused. */
function fakeCluster(maxId: number, dead: number[] = [], paused: number[] = []): TortureCluster {
  const mesh = new LinkMesh(maxId, () => undefined, new Rng(1));
  return {
    mesh,
    paused: new Set(paused),
    node: (id: number) => ({ id, pid: dead.includes(id) ? 0 : 1000 + id }),
  } as unknown as TortureCluster;
}

describe('connectedMajority', () => {
  it('is false for two remaining voters a partition separates, true once healed', () => {
    const c = fakeCluster(6);
    c.mesh.partition([[2, 4], [1, 3]]);
    expect(connectedMajority(c, [1, 4])).toBe(false);
    // {2,4} is on one side: a majority of those two is connected.
    expect(connectedMajority(c, [2, 4])).toBe(true);
    c.mesh.heal();
    expect(connectedMajority(c, [1, 4])).toBe(true);
  });

  it('a one-way cut separates two voters as well', () => {
    const c = fakeCluster(4);
    c.mesh.link(1, 3).set({ blocked: true });
    expect(connectedMajority(c, [1, 3])).toBe(false);
    // Three voters: {1,2} or {2,3} is a connected majority.
    expect(connectedMajority(c, [1, 2, 3])).toBe(true);
  });

  it('a killed or paused voter does not count', () => {
    expect(connectedMajority(fakeCluster(4, [3]), [1, 3])).toBe(false);
    expect(connectedMajority(fakeCluster(4, [], [1]), [1, 3])).toBe(false);
    expect(connectedMajority(fakeCluster(4, [3]), [1, 2, 3])).toBe(true);
    expect(connectedMajority(fakeCluster(4, [2, 3]), [1, 2, 3])).toBe(false);
  });

  it('delay and drop leave a link connected (messages still arrive, late or resent)', () => {
    const c = fakeCluster(3);
    c.mesh.setAll({ delayMs: 200, dropProbability: 0.3 });
    expect(connectedMajority(c, [1, 2])).toBe(true);
  });
});
