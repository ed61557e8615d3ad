// Backup and restore between two real 3-node clusters (processes, sockets,
// SQLite files): the backup is one consistent read on the leader; the restore
// goes through Raft in chunks, so every node has it, a Watch from before it is
// told to resync, and it survives snapshots, restarts and a node rebuilt from
// a snapshot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { validateBackup, type BackupDocument, type Change } from '@flagraft/flag-model';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { flag, waitFor } from './helpers.js';

function toDocument(b: Awaited<ReturnType<ClusterClient['backup']>>): BackupDocument {
  return {
    format: 'flagraft-backup', v: 1, clusterId: b.clusterId, revision: b.revision, createdAt: b.createdAt,
    segments: b.segmentsJson.map((j) => JSON.parse(j)), flags: b.flagsJson.map((j) => JSON.parse(j)), changes: b.changesJson.map((j) => JSON.parse(j)),
  };
}

/** Flag writes in the source cluster (its revision must stay above the restore's own entry count). */
const WRITES = 40;

async function allHistory(c: ClusterClient, key: string): Promise<Change[]> {
  return c.history(key, { limit: 1000 });
}

describe('backup and restore between clusters', () => {
  let src: LocalCluster;
  let dst: LocalCluster;
  let a: ClusterClient;
  let b: ClusterClient;
  let doc: BackupDocument;

  beforeAll(async () => {
    [src, dst] = await Promise.all([
      startLocalCluster({ size: 3 }),
      // Small snapshot interval: the restore's own entries get compacted behind snapshots.
      startLocalCluster({ size: 3, snapshotEvery: 10, clusterId: 'backup-target' }),
    ]);
    a = createClusterClient({ ...src.clientOptions(), retryDeadlineMs: 15_000 });
    b = createClusterClient({ ...dst.clientOptions(), retryDeadlineMs: 15_000 });
  });
  afterAll(async () => {
    a?.close();
    b?.close();
    await Promise.all([src?.stop(), dst?.stop()]);
  });

  it('reads a consistent backup on the leader', async () => {
    await a.putSegment({ name: 'beta', conditions: [{ attribute: 'plan', op: 'equals', value: 'beta' }] }, { actor: 'alice' });
    for (let i = 0; i < WRITES; i++) await a.putFlag(flag(`f${i % 4}`, `v${i}`), { actor: i % 2 ? 'alice' : 'bob' });
    await a.batch([
      { op: 'putFlag', flag: { ...flag('seg-user'), rules: [{ conditions: [], segments: ['beta'], variant: 'off' }] } },
      { op: 'deleteFlag', key: 'f3' },
    ], { actor: 'carol' });
    const last = await a.putFlag(flag('f0', 'final'), { actor: 'dave' });
    const data = await a.backup();
    expect(data.clusterId).toBe(src.clusterId);
    expect(data.revision).toBe(last.revision);
    doc = validateBackup(toDocument(data));
    expect(doc.flags.map((f) => f.flag.key)).toEqual(['f0', 'f1', 'f2', 'seg-user']);
    expect(doc.segments.map((s) => s.segment.name)).toEqual(['beta']);
    expect(doc.changes.length).toBe(1 + WRITES + 2 + 1);
    expect(doc.changes.map((c) => c.revision)).toEqual([...doc.changes.map((c) => c.revision)].sort((x, y) => x - y));
    const f0 = await a.getFlag('f0');
    expect(doc.flags[0]).toEqual(f0);
  });

  it('restores into a new empty cluster: flags, segments, revisions and history are equal, and a live Watch is told to resync', async () => {
    const before = await b.status();
    expect(before.appliedRevision).toBeLessThan(doc.revision);
    let compacted = false;
    const w = b.watch({ fromRevision: before.appliedRevision ?? 0, onChange: () => undefined, onCompacted: () => { compacted = true; } });
    try {
      // 1 KiB chunks: many Raft entries, several snapshots while the session is open.
      const r = await b.restore(doc, { actor: 'admin', chunkBytes: 1024 });
      expect(r.entries).toBeGreaterThan(10);
      expect(r.revision).toBe(doc.revision);
      expect(r.restoredRevision).toBe(doc.revision);
      await waitFor('watch told to resync', () => compacted, 10_000);
    } finally {
      w.close();
    }
    const snap = await b.snapshotAll();
    expect(snap.revision).toBeGreaterThanOrEqual(doc.revision);
    expect(snap.flags).toEqual(doc.flags);
    expect(snap.segments).toEqual(doc.segments);
    for (const key of ['f0', 'f1', 'f2', 'f3', 'seg-user']) expect(await allHistory(b, key), key).toEqual(await allHistory(a, key));
    expect((await allHistory(b, 'f3'))[0]).toMatchObject({ op: 'delete', actor: 'carol' });
    // Every node has it (stale reads on each).
    for (const ep of dst.endpoints) {
      const one = createClusterClient({ ...dst.clientOptions(), endpoints: [ep] });
      await waitFor(`restore applied on ${ep}`, async () => (await one.getFlag('seg-user', { consistency: 'stale' }))?.modRevision === doc.flags[3].modRevision);
      one.close();
    }
    // Revisions continue after the backup's; a Watch from the restore sees only the new change.
    const seen: number[] = [];
    const w2 = b.watch({ fromRevision: snap.revision, onChange: (c) => seen.push(c.revision) });
    const next = await b.putFlag(flag('f1', 'after restore'), { actor: 'erin' });
    expect(next.revision).toBeGreaterThan(doc.revision);
    await waitFor('new change watched', () => seen.includes(next.revision), 10_000);
    w2.close();
    expect(seen).toEqual([next.revision]);
    const h = await allHistory(b, 'f1');
    expect(h[0]).toMatchObject({ revision: next.revision, actor: 'erin' });
    expect(h.slice(1)).toEqual(await allHistory(a, 'f1'));
    const st = await b.status();
    expect(st.restoredRevision).toBe(doc.revision);
    expect(st.appliedRevision).toBeGreaterThan(doc.revision);
  });

  it('refuses a non-empty cluster (NOT_EMPTY) and bad documents (naming the field), changing nothing', async () => {
    const flagsBefore = (await b.snapshotAll()).flags;
    await expect(b.restore(doc, { actor: 'admin' })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', details: { reason: 'NOT_EMPTY' } });
    const bad: BackupDocument = JSON.parse(JSON.stringify(doc));
    bad.changes[5].revision = 1;
    const err = await b.restore(bad, { actor: 'admin', force: true, chunkBytes: 2048 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'VALIDATION' });
    expect(err.issues?.[0]?.path).toBe('changes[5].revision');
    expect((await b.snapshotAll()).flags).toEqual(flagsBefore);
  });

  it('a forced restore replaces everything and never moves revisions backwards', async () => {
    const rev0 = (await b.status()).appliedRevision!;
    await b.putFlag(flag('extra'), { actor: 'x' });
    const r = await b.restore(doc, { actor: 'admin', force: true });
    expect(r.revision).toBeGreaterThan(rev0);
    const snap = await b.snapshotAll();
    expect(snap.flags).toEqual(doc.flags);
    expect(await b.getFlag('extra')).toBeUndefined();
    expect(await allHistory(b, 'extra')).toEqual([]);
    expect(await allHistory(b, 'f1')).toEqual(await allHistory(a, 'f1'));
  });

  it('a restore that loses its leader half way is finished by the client retrying the same steps', async () => {
    const startIndex = (await b.status()).appliedIndex;
    const leader = await dst.leader();
    let killed = false;
    // Small chunks: ~50 entries, so the kill lands in the middle of the session.
    let finished = false;
    const restoring = b.restore(doc, { actor: 'admin', force: true, chunkBytes: 300 }).finally(() => { finished = true; });
    try {
      await waitFor('restore under way', async () => (await b.status({ endpoint: leader.address })).appliedIndex >= startIndex + 10, 10_000, 5);
      await leader.kill('SIGKILL');
      killed = true;
      // ~60 sequential steps, each waiting for a commit: about 50 were still to come.
      expect(finished).toBe(false);
      const r = await restoring;
      expect(r.entries).toBeGreaterThan(30);
      expect(r.restoredRevision).toBe(doc.revision);
    } finally {
      if (!killed) await restoring.catch(() => undefined);
      await leader.restart();
    }
    expect((await b.snapshotAll()).flags).toEqual(doc.flags);
    expect(await allHistory(b, 'f1')).toEqual(await allHistory(a, 'f1'));
    // The restarted node catches up to the same state.
    const one = createClusterClient({ ...dst.clientOptions(), endpoints: [leader.address] });
    try {
      const target = (await b.status()).appliedIndex;
      await waitFor('killed node caught up', async () => (await one.status()).appliedIndex >= target, 20_000);
      expect(await one.history('f1', { limit: 1000 })).toEqual(await allHistory(a, 'f1'));
    } finally {
      one.close();
    }
  });

  it('the restored state survives a restart of every node and a node rebuilt from a snapshot', async () => {
    const expected = await b.snapshotAll();
    const histories = await Promise.all(['f0', 'f1', 'seg-user'].map((k) => allHistory(b, k)));
    for (const n of dst.nodes) { await n.kill('SIGTERM'); await n.restart(); }
    await waitFor('cluster serving again', async () => (await b.snapshotAll()).revision >= expected.revision, 20_000);
    expect((await b.snapshotAll()).flags).toEqual(expected.flags);
    expect(await Promise.all(['f0', 'f1', 'seg-user'].map((k) => allHistory(b, k)))).toEqual(histories);
    // Wipe a follower: it rejoins and is rebuilt from a snapshot taken after the restore.
    const leader = await dst.leader();
    const victim = dst.nodes.find((n) => n.id !== leader.id)!;
    await victim.wipe();
    await b.removeMember(victim.id);
    await victim.restart({ join: true });
    await b.addLearner(victim.id, victim.peerAddress);
    const one = createClusterClient({ ...dst.clientOptions(), endpoints: [victim.address] });
    try {
      await waitFor('wiped node rebuilt', async () => (await one.status()).appliedRevision! >= expected.revision, 20_000);
      const local = await Promise.all(expected.flags.map((f) => one.getFlag(f.flag.key, { consistency: 'stale' })));
      expect(local).toEqual(expected.flags);
      expect(await one.history('f1', { limit: 1000 })).toEqual(histories[1]);
      expect((await one.status()).restoredRevision).toBe((await b.status()).restoredRevision);
      const next = await b.putFlag(flag('after-rebuild'), { actor: 'z' });
      expect(next.revision).toBeGreaterThan(expected.revision);
    } finally {
      one.close();
    }
  });
});
