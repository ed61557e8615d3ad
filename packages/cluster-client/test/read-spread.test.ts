// readFrom 'any': reads spread over the members named by Status (voters and
// learners), least outstanding first, skipping a member that failed, with the
// leader as the fallback; writes stay on the leader. Scripted gRPC servers
// on loopback, as in client.test.ts.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterError, createClusterClient, parseReadFrom } from '../src/index.js';
import { ReadTargets } from '../src/read-targets.js';
import { errorWith, serve } from './scripted-server.js';

const stored = (node: string) => ({ flag: { key: 'f', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [], description: node }, createRevision: 1, modRevision: 1, version: 1, updatedAt: 0, updatedBy: 'a' });

describe('reads spread over the members (readFrom any)', () => {
  const servers: grpc.Server[] = [];
  afterEach(() => { for (const s of servers.splice(0)) s.forceShutdown(); });

  /** A member: answers GetFlag with its name (or `fail`), Status with the member list, PutFlag only on the leader. */
  async function member(name: string, o: { leader?: () => string; fail?: boolean; counts: Map<string, number>; members: () => string[] }) {
    const m = await serve({
      GetFlag: (_call: any, cb: any) => {
        o.counts.set(name, (o.counts.get(name) ?? 0) + 1);
        if (o.fail) return cb(errorWith(grpc.status.UNAVAILABLE, { code: 'UNAVAILABLE', message: 'no leader: cannot serve a linearizable read' }));
        cb(null, { found: true, itemJson: JSON.stringify(stored(name)), revision: 1 });
      },
      // A follower does not know the learners' client addresses (they talk to the leader alone); it names the leader.
      Status: (_call: any, cb: any) => cb(null, {
        id: o.leader ? 1 : 2, leaderId: 1, leaderAddress: addresses[0],
        members: o.members().map((address, i) => ({ id: i + 1, address: o.leader || i < 3 ? address : '', role: i < 3 ? 'voter' : 'learner' })),
      }),
      PutFlag: (_call: any, cb: any) => {
        o.counts.set(`${name}:write`, (o.counts.get(`${name}:write`) ?? 0) + 1);
        if (!o.leader) return cb(errorWith(grpc.status.FAILED_PRECONDITION, { code: 'NOT_LEADER', message: 'not the leader', leaderId: 1, leaderAddress: addresses[0] }));
        cb(null, { revision: 2, changesJson: '[]' });
      },
    });
    servers.push(m.server);
    return m.address;
  }
  let addresses: string[] = [];

  it('spreads reads over every member Status names, learners included; writes go to the leader', async () => {
    const counts = new Map<string, number>();
    const members = () => addresses;
    addresses = [
      await member('leader', { leader: () => 'leader', counts, members }),
      await member('f2', { counts, members }),
      await member('f3', { counts, members }),
      await member('learner4', { counts, members }),
    ];
    // The client is configured with one follower only: the others come from Status (the learner's address from the leader's).
    const c = createClusterClient({ endpoints: [addresses[1]], clusterId: 'cid', insecure: true, readFrom: 'any' });
    try {
      await c.getFlag('f');
      // Let the background Status calls land.
      for (let i = 0; i < 200 && !counts.has('learner4'); i++) { await c.getFlag('f'); await new Promise((r) => setTimeout(r, 10)); }
      counts.clear();
      const answers = new Map<string, number>();
      await Promise.all(Array.from({ length: 80 }, async () => {
        const f = await c.getFlag('f');
        answers.set(f!.flag.description!, (answers.get(f!.flag.description!) ?? 0) + 1);
      }));
      expect([...answers.keys()].sort()).toEqual(['f2', 'f3', 'leader', 'learner4']);
      // Least outstanding with 80 at once: an even share each.
      for (const n of answers.values()) expect(n).toBe(20);
      await c.putFlag(stored('x').flag as any, { actor: 'a' });
      expect(counts.get('leader:write')).toBe(1);
      // f2 (the configured endpoint) answered NOT_LEADER; nobody else was asked to write.
      expect([...counts.keys()].filter((k) => k.endsWith(':write')).sort()).toEqual(['f2:write', 'leader:write']);
    } finally {
      c.close();
    }
  });

  it('a member that fails a read is skipped for a while and the read is answered by the leader', async () => {
    const counts = new Map<string, number>();
    const members = () => addresses;
    addresses = [await member('leader', { leader: () => 'leader', counts, members }), await member('cut-off', { fail: true, counts, members })];
    const c = createClusterClient({ endpoints: [addresses[0], addresses[1]], clusterId: 'cid', insecure: true, readFrom: 'any', memberRefreshMs: 60_000 });
    try {
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) seen.push((await c.getFlag('f'))!.flag.description!);
      expect(seen.every((s) => s === 'leader')).toBe(true);
      // It was asked once (its turn in the round-robin), then skipped (READ_TARGET_DOWN_MS).
      expect(counts.get('cut-off')).toBe(1);
      expect(counts.get('leader')).toBe(10);
    } finally {
      c.close();
    }
  });

  it('readFrom leader (the default) keeps every read on one node; bad settings are refused by name', async () => {
    const counts = new Map<string, number>();
    const members = () => addresses;
    addresses = [await member('leader', { leader: () => 'leader', counts, members }), await member('f2', { counts, members })];
    const c = createClusterClient({ endpoints: [addresses[0], addresses[1]], clusterId: 'cid', insecure: true });
    try {
      for (let i = 0; i < 10; i++) await c.getFlag('f');
      expect(counts.get('leader')).toBe(10);
      expect(counts.get('f2')).toBeUndefined();
    } finally {
      c.close();
    }
    expect(() => createClusterClient({ endpoints: [addresses[0]], clusterId: 'cid', insecure: true, readFrom: 'all' as any })).toThrow(ClusterError);
    expect(() => parseReadFrom('followers', 'FLAGRAFT_READ_FROM', 'leader')).toThrow(/FLAGRAFT_READ_FROM: expected leader or any, got "followers"/);
    expect(parseReadFrom(undefined, 'X', 'any')).toBe('any');
  });

  it('ReadTargets: least outstanding first, round-robin on ties, down members skipped until their time is up', () => {
    let now = 0;
    const t = new ReadTargets(['a', 'b', 'c'], (x) => x === 'c', () => now);
    const picks = [t.pick(), t.pick(), t.pick(), t.pick()];
    expect(picks).toEqual(['a', 'b', 'a', 'b']); // c's channel is down
    t.begin('a');
    expect([t.pick(), t.pick()]).toEqual(['b', 'b']);
    t.end('a', true); // failed: a is down for a while
    expect([t.pick(), t.pick()]).toEqual(['b', 'b']);
    now += 2_001;
    expect(new Set([t.pick(), t.pick()])).toEqual(new Set(['a', 'b']));
    t.setMembers(['', 'd']);
    expect(t.list()).toEqual(['d']);
    t.setMembers(['']);
    expect(t.list()).toEqual(['d']);
  });
});
