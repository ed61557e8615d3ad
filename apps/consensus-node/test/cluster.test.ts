// A real 3-node cluster (processes, sockets, SQLite files): the client API,
// then faults: leader SIGKILL under load, restart, wipe + snapshot rebuild,
// Watch across a leader kill.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterError, createClusterClient, type ChangeEvent, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { flag, rawClient, verifyAcked, waitFor, writeLoad } from './helpers.js';

describe('3-node cluster', () => {
  let cluster: LocalCluster;
  let client: ClusterClient;

  beforeAll(async () => {
    cluster = await startLocalCluster({ size: 3, snapshotEvery: 100 });
    client = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 15_000 });
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
  });

  it('writes, linearizable and stale reads, list with pagination, history', async () => {
    const a = await client.putFlag(flag('alpha', 'v1'), { actor: 'alice' });
    expect(a.flag.version).toBe(1);
    expect(a.flag.createRevision).toBe(a.revision);
    const b = await client.putFlag(flag('alpha', 'v2'), { actor: 'bob' });
    expect(b.revision).toBeGreaterThan(a.revision);
    const got = await client.getFlag('alpha');
    expect(got?.flag.description).toBe('v2');
    expect(got?.version).toBe(2);
    expect(got?.updatedBy).toBe('bob');
    for (let i = 0; i < 5; i++) await client.putFlag(flag(`list-${i}`), { actor: 'alice' });
    const p1 = await client.listFlags({ prefix: 'list-', limit: 2 });
    expect(p1.flags.map((f) => f.flag.key)).toEqual(['list-0', 'list-1']);
    const p2 = await client.listFlags({ prefix: 'list-', limit: 2, pageToken: p1.nextPageToken });
    expect(p2.flags.map((f) => f.flag.key)).toEqual(['list-2', 'list-3']);
    const p3 = await client.listFlags({ prefix: 'list-', limit: 2, pageToken: p2.nextPageToken });
    expect(p3.flags.map((f) => f.flag.key)).toEqual(['list-4']);
    expect(p3.nextPageToken).toBeUndefined();
    // stale reads from every node eventually see the write
    for (const ep of cluster.endpoints) {
      const one = createClusterClient({ ...cluster.clientOptions(), endpoints: [ep] });
      await waitFor(`stale read on ${ep}`, async () => (await one.getFlag('alpha', { consistency: 'stale' }))?.version === 2);
      one.close();
    }
    const h = await client.history('alpha');
    expect(h.map((c) => c.revision)).toEqual([b.revision, a.revision]);
    expect(h[0].before && (h[0].before as any).flag.description).toBe('v1');
    expect(await client.getFlag('does-not-exist')).toBeUndefined();
  });

  it('compare-and-set conflicts report the current revision', async () => {
    const a = await client.putFlag(flag('cas'), { actor: 'a', expectedRevision: 0 });
    await expect(client.putFlag(flag('cas'), { actor: 'a', expectedRevision: 0 })).rejects.toMatchObject({ code: 'REVISION_MISMATCH', currentRevision: a.revision });
    const b = await client.putFlag(flag('cas', 'x'), { actor: 'a', expectedRevision: a.revision });
    await expect(client.putFlag(flag('cas'), { actor: 'a', expectedRevision: a.revision })).rejects.toMatchObject({ code: 'REVISION_MISMATCH', currentRevision: b.revision });
    await expect(client.deleteFlag('cas', { actor: 'a', expectedRevision: a.revision })).rejects.toBeInstanceOf(ClusterError);
    await client.deleteFlag('cas', { actor: 'a', expectedRevision: b.revision });
    expect(await client.getFlag('cas')).toBeUndefined();
    await expect(client.putFlag({ ...flag('bad'), defaultVariant: 'nope' }, { actor: 'a' })).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('a batch is atomic; segments in use cannot be deleted', async () => {
    const seg = { name: 'beta-users', conditions: [{ attribute: 'plan', op: 'equals' as const, value: 'beta' }] };
    const withSeg = { ...flag('seg-flag'), rules: [{ conditions: [], segments: ['beta-users'], variant: 'off' }] };
    const r = await client.batch([{ op: 'putSegment', segment: seg }, { op: 'putFlag', flag: withSeg }], { actor: 'a' });
    expect(r.changes.map((c) => c.key).sort()).toEqual(['beta-users', 'seg-flag']);
    expect(new Set(r.changes.map((c) => c.revision))).toEqual(new Set([r.revision]));
    await expect(client.deleteSegment('beta-users', { actor: 'a' })).rejects.toMatchObject({ code: 'SEGMENT_IN_USE' });
    await expect(client.batch([{ op: 'putFlag', flag: flag('batch-half') }, { op: 'deleteFlag', key: 'no-such-flag', expectedRevision: 5 }], { actor: 'a' })).rejects.toBeInstanceOf(ClusterError);
    expect(await client.getFlag('batch-half')).toBeUndefined();
  });

  it('a retried write with the same request id is applied once and answered with the first result', async () => {
    const first = await client.putFlag(flag('dedup', 'one'), { actor: 'a', requestId: 'req-1' });
    const again = await client.putFlag(flag('dedup', 'two'), { actor: 'a', requestId: 'req-1' });
    expect(again.revision).toBe(first.revision);
    expect(again.flag.flag.description).toBe('one');
    const now = await client.getFlag('dedup');
    expect(now?.version).toBe(1);
    expect(now?.flag.description).toBe('one');
  });

  it('survives malformed and oversized messages from an authenticated client', async () => {
    const raw = await rawClient(cluster, cluster.endpoints[0]);
    const rawCall = (method: string, payload: Buffer) => new Promise<grpc.ServiceError | null>((resolve) => {
      raw.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, payload, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err) => resolve(err));
    });
    // garbage protobuf
    const e1 = await rawCall('/flagraft.v1.Flags/PutFlag', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12]));
    expect(e1).not.toBeNull();
    // oversized (over maxMessageBytes, 8 MiB)
    const e3 = await rawCall('/flagraft.v1.Flags/PutFlag', Buffer.alloc(9 * 1024 * 1024, 0x41));
    expect(e3?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // the Raft service is not on the client port at all
    const e4 = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = raw.makeClientStreamRequest('/flagraft.raft.v1.Raft/Send', (b: Buffer) => b, (b: Buffer) => b, new grpc.Metadata(), {}, (err) => resolve(err));
      call.write(Buffer.from([0x0a, 0x01, 0x41]));
      call.end();
    });
    expect(e4?.code).toBe(grpc.status.UNIMPLEMENTED);
    raw.close();
    await expect(client.putFlag({ key: 'bad json' } as any, { actor: 'a' })).rejects.toMatchObject({ code: 'VALIDATION' });
    // every node still serves
    for (const ep of cluster.endpoints) {
      const st = await client.status({ endpoint: ep });
      expect(st.leaderId).toBeGreaterThan(0);
    }
    expect((await client.putFlag(flag('after-garbage'), { actor: 'a' })).revision).toBeGreaterThan(0);
  });

  it('gRPC health reports SERVING', async () => {
    const raw = await rawClient(cluster, cluster.endpoints[1]);
    const res = await new Promise<Buffer>((resolve, reject) => {
      raw.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err, r) => (err ? reject(err) : resolve(r!)));
    });
    raw.close();
    expect([...res]).toEqual([0x08, 0x01]); // status = SERVING
  });

  it('SIGKILL of the leader under write load: a new leader serves, every acknowledged write is there exactly once; a Watch sees every change once and in order', async () => {
    const start = (await client.status()).appliedIndex;
    const seen: ChangeEvent[] = [];
    const watch = client.watch({ fromRevision: start, onChange: (c) => seen.push(c), progressIntervalMs: 200 });
    const load = writeLoad(client, 'kill1', 8);
    await waitFor('writes before the kill', () => load.count() >= 100);
    const leader = await cluster.leader();
    const beforeKill = new Map(load.acked);
    await leader.kill('SIGKILL');
    const killedAt = Date.now();
    const countAtKill = load.count();
    await waitFor('writes after the kill', () => load.count() >= countAtKill + 100, 20_000);
    const firstAfter = Math.min(...[...load.acked.values()].filter((v) => v.at > killedAt).map((v) => v.at));
    await load.stop();
    const newLeader = await cluster.leader();
    expect(newLeader.id).not.toBe(leader.id);
    expect(firstAfter - killedAt).toBeLessThan(5000);
    await verifyAcked(client, beforeKill);
    await verifyAcked(client, load.acked);
    // the watch delivered every acknowledged write exactly once, in revision order
    const lastRev = Math.max(...[...load.acked.values()].map((v) => v.revision));
    await waitFor('watch caught up', () => seen.length > 0 && seen[seen.length - 1].revision >= lastRev, 15_000);
    watch.close();
    const revs = seen.map((c) => c.revision);
    expect([...revs].sort((x, y) => x - y)).toEqual(revs);
    expect(new Set(revs).size).toBe(revs.length);
    const keys = new Set(seen.filter((c) => c.key.startsWith('kill1-')).map((c) => c.key));
    for (const k of load.acked.keys()) expect(keys.has(k)).toBe(true);

    // restart the killed node: it catches up
    await leader.restart();
    const target = (await client.status()).commitIndex;
    const one = createClusterClient({ ...cluster.clientOptions(), endpoints: [leader.address] });
    await waitFor('restarted node caught up', async () => (await one.status()).appliedIndex >= target);
    const sample = [...load.acked.keys()].slice(-5);
    for (const k of sample) expect((await one.getFlag(k, { consistency: 'stale' }))?.flag.description).toBe(k);
    one.close();
  });

  it('a node whose data is wiped comes back through remove + join and is rebuilt from a snapshot', async () => {
    // enough writes that the log is compacted past the start (snapshotEvery 100)
    const load = writeLoad(client, 'wipe', 16);
    await waitFor('log compacted', async () => (await client.status()).firstIndex > 1 && load.count() >= 250, 30_000);
    const leader = await cluster.leader();
    const victim = cluster.nodes.find((n) => n.id !== leader.id)!;
    await victim.wipe();
    await client.removeMember(victim.id);
    await victim.restart({ join: true });
    await client.addLearner(victim.id, victim.peerAddress);
    const one = createClusterClient({ ...cluster.clientOptions(), endpoints: [victim.address] });
    await waitFor('wiped node rebuilt', async () => (await one.status()).appliedIndex >= (await client.status()).commitIndex - 50, 20_000);
    await waitFor('learner promoted', async () => { await client.promoteLearner(victim.id); return true; }, 20_000, 200);
    await load.stop();
    const target = (await client.status()).commitIndex;
    await waitFor('rebuilt node caught up', async () => (await one.status()).appliedIndex >= target, 20_000);
    const st = await one.status();
    expect(st.firstIndex).toBeGreaterThan(1); // it started from a snapshot, not from entry 1
    expect(st.members.find((m) => m.id === victim.id)?.role).toBe('voter');
    for (const k of [...load.acked.keys()].slice(0, 5)) expect((await one.getFlag(k, { consistency: 'stale' }))?.flag.description).toBe(k);
    expect((await one.getFlag('alpha', { consistency: 'stale' }))?.version).toBe(2);
    one.close();
    await verifyAcked(client, load.acked);
  });

  it('a Watch from revision 0 replays the retained history in order', async () => {
    const st = await client.status();
    expect(st.oldestRetainedRevision).toBe(1); // default retention (20,000 revisions) keeps everything here
    const got: number[] = [];
    const w = client.watch({ fromRevision: 0, onChange: (c) => got.push(c.revision) });
    await waitFor('watch from 0 replays history', () => got.length > 10 && got[got.length - 1] >= st.appliedIndex - 50);
    w.close();
    expect([...got].sort((a, b) => a - b)).toEqual(got);
  });
});
