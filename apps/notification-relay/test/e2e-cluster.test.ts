// End to end: a real 3-node flagraft cluster (processes, SQLite, gRPC) whose
// leader publishes through the SNS outbox to the fauxqs emulator, a real
// relay on its own SQS queue, and real WebSocket clients. SNS is reached
// through a TCP proxy so the test can take it away.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster, TcpProxy } from '@flagraft/testkit';
import type { ClusterClient } from '@flagraft/cluster-client';
import type { ChangeEvent } from '../src/index.js';
import { TOKENS, connect, waitFor, type RelayFixture, type TestClient } from './helpers.js';
import { clusterStack } from './cluster-stack.js';

const stack = clusterStack();
let proxy: TcpProxy;
let cluster: LocalCluster | undefined;
let relay: RelayFixture | undefined;
let client: ClusterClient | undefined;
const sockets: TestClient[] = stack.sockets;

const flag = (key: string, n: number) => ({
  key, type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: n % 2 ? 'on' : 'off', enabled: true, rules: [],
  description: `write ${n}`,
});

beforeAll(async () => {
  const s = await stack.start({ proxy: true, relay: { gapTimeoutMs: 20_000 } });
  ({ relay, cluster, client } = s);
  proxy = s.proxy!;
}, 120_000);

afterAll(() => stack.stop(), 60_000);

function ws(since?: number): TestClient {
  const c = connect(`${relay!.wsUrl}${since !== undefined ? `?since=${since}` : ''}`, { token: TOKENS.reader });
  sockets.push(c);
  return c;
}
const hello = (c: TestClient) => waitFor(() => c.messages.some((m) => m.type === 'hello'), 'hello');
/** The cluster's backup as the document restore() takes (what the gateway's backup endpoint returns). */
async function backupDocument(c: ClusterClient): Promise<Parameters<ClusterClient['restore']>[0]> {
  const b = await c.backup();
  return {
    format: 'flagraft-backup', v: 1, clusterId: b.clusterId, revision: b.revision, createdAt: b.createdAt,
    segments: b.segmentsJson.map((j) => JSON.parse(j)), flags: b.flagsJson.map((j) => JSON.parse(j)), changes: b.changesJson.map((j) => JSON.parse(j)),
  };
}
const revsOf = (c: TestClient, pred: (e: ChangeEvent) => boolean = () => true) => c.changes().filter(pred).map((e) => e.revision);

describe('cluster -> SNS -> SQS -> relay -> WebSocket', () => {
  it('a write arrives at two WebSocket clients once each, with its revision', async () => {
    const a = ws(), b = ws();
    await Promise.all([hello(a), hello(b)]);
    const { revision } = await client!.putFlag(flag('e2e-one', 1), { actor: 'alice' });
    await waitFor(() => revsOf(a).includes(revision) && revsOf(b).includes(revision), 'both clients got the write', 15_000);
    // A later write proves no second copy of the first was on its way.
    const { revision: r2 } = await client!.putFlag(flag('e2e-one', 2), { actor: 'alice' });
    await waitFor(() => revsOf(a).includes(r2) && revsOf(b).includes(r2), 'second write', 15_000);
    for (const c of [a, b]) {
      expect(revsOf(c, (e) => e.key === 'e2e-one')).toEqual([revision, r2]);
      const e = c.changes().find((x) => x.revision === revision)!;
      expect(e).toMatchObject({ v: 1, kind: 'flag', key: 'e2e-one', op: 'put', actor: 'alice' });
      expect((e.flag as any).flag.description).toBe('write 1');
    }
  });

  it('keeps per-key order under concurrent writes', async () => {
    const a = ws();
    await hello(a);
    const keys = ['ord-a', 'ord-b', 'ord-c', 'ord-d'];
    const results = await Promise.all(keys.map(async (key) => {
      const revs: number[] = [];
      for (let i = 0; i < 20; i++) revs.push((await client!.putFlag(flag(key, i), { actor: 'bob' })).revision);
      return revs;
    }));
    const all = results.flat();
    await waitFor(() => all.every((r) => revsOf(a).includes(r)), 'all concurrent writes delivered', 20_000);
    keys.forEach((key, i) => {
      const seen = a.changes().filter((e) => e.key === key);
      expect(seen.map((e) => e.revision)).toEqual(results[i]);
      // Each event carries the value written at that revision, in write order.
      expect(seen.map((e) => (e.flag as any).flag.description)).toEqual(results[i]!.map((_, n) => `write ${n}`));
    });
    const global = revsOf(a);
    expect(global).toEqual([...global].sort((x, y) => x - y));
  });

  it('keeps accepting writes while SNS is unreachable and delivers the backlog when it is back', async () => {
    const a = ws();
    await hello(a);
    proxy.setUp(false);
    let revs: number[] = [];
    try {
      for (let i = 0; i < 30; i++) revs.push((await client!.putFlag(flag(`outage-${i % 3}`, i), { actor: 'carol' })).revision);
      const st = await client!.status();
      expect(st.publishLag ?? 0).toBeGreaterThan(0);
      expect(revsOf(a).filter((r) => revs.includes(r))).toEqual([]);
    } finally {
      proxy.setUp(true);
    }
    await waitFor(() => revs.every((r) => revsOf(a).includes(r)), 'backlog delivered', 30_000);
    expect(revsOf(a)).toEqual(revs);
  });

  it('relay restart: a client reconnecting with ?since= gets what it missed', async () => {
    const a = ws();
    await hello(a);
    const r0 = (await client!.putFlag(flag('restart', 0), { actor: 'dan' })).revision;
    await waitFor(() => revsOf(a).includes(r0), 'before restart', 15_000);
    const old = relay!;
    await old.relay.close();
    const missed: number[] = [];
    for (let i = 1; i <= 5; i++) missed.push((await client!.putFlag(flag('restart', i), { actor: 'dan' })).revision);
    relay = await stack.startRelay({ queueName: old.queueName, topicArn: old.topicArn, gapTimeoutMs: 20_000 });
    await waitFor(() => (relay!.relay.frontierRevision() ?? 0) >= missed[4]!, 'new relay caught up', 20_000);
    const back = ws(r0);
    await waitFor(() => back.messages.some((m) => m.type === 'replayed' || m.type === 'resync'), 'answer');
    expect(back.messages.some((m) => m.type === 'resync')).toBe(false);
    expect(revsOf(back)).toEqual(missed);
  });

  it('SIGKILL of the leader during a burst of 1,000 writes: every committed change reaches the clients, once', async () => {
    const a = ws(), b = ws();
    await Promise.all([hello(a), hello(b)]);
    const start = (await client!.status()).appliedIndex;
    const total = 1000;
    const concurrency = 8;
    let next = 0;
    let killed = false;
    const acked: number[] = [];
    const failed: string[] = [];
    const leader = await cluster!.leader();
    const worker = async () => {
      while (next < total) {
        const i = next++;
        if (i === 300 && !killed) { killed = true; await leader.kill('SIGKILL'); }
        try {
          acked.push((await client!.putFlag(flag(`burst-${i % 25}`, i), { actor: 'erin' })).revision);
        } catch (err) {
          failed.push(String(err)); // indeterminate: may or may not have committed
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    expect(killed).toBe(true);
    console.log(JSON.stringify({ burst: { acked: acked.length, indeterminate: failed.length } }));
    expect(acked.length).toBeGreaterThan(total * 0.9);
    // What the cluster committed, from its own change history (Watch from before the burst).
    const committed: ChangeEvent[] = [];
    const top = Math.max(...acked);
    await new Promise<void>((resolve, reject) => {
      const w = client!.watch({
        fromRevision: start,
        onChange: (c) => { if (c.key.startsWith('burst-')) committed.push(c as ChangeEvent); },
        onProgress: (r) => { if (r >= top) { w.close(); resolve(); } },
        onCompacted: () => reject(new Error('history compacted')),
      });
    });
    for (const r of acked) expect(committed.some((c) => c.revision === r)).toBe(true);
    const want = committed.map((c) => `${c.revision}:${c.key}`);
    for (const c of [a, b]) {
      await waitFor(() => want.every((k) => c.changes().some((e) => `${e.revision}:${e.key}` === k)), 'every committed change delivered', 60_000, 50);
      const got = c.changes().filter((e) => e.key.startsWith('burst-')).map((e) => `${e.revision}:${e.key}`);
      expect(got).toEqual(want); // all of them, in order, no duplicates
    }
    await leader.restart();
  }, 240_000);

  it('a forced restore reaches WebSocket clients as an immediate resync (not after the gap timeout); changes after it flow without a gap', async () => {
    const a = ws();
    await hello(a);
    const doc = await backupDocument(client!);
    const b = { revision: doc.revision };
    const live = (await client!.putFlag(flag('replaced-by-restore', 1), { actor: 'frank' })).revision;
    await waitFor(() => revsOf(a).includes(live), 'the write before the restore', 15_000);
    const gapsBefore = (await relay!.relay.metrics.gaps.get()).values[0]?.value ?? 0;
    const started = Date.now();
    const r = await client!.restore(doc, { actor: 'admin', force: true });
    // The relay waits 20 s for a missing predecessor; the marker must beat that by far.
    await waitFor(() => a.messages.some((m) => m.type === 'resync'), 'resync after the restore', 5_000);
    console.log(JSON.stringify({ restoreToResyncMs: Date.now() - started }));
    expect(a.messages.filter((m) => m.type === 'resync')).toEqual([{ type: 'resync', reason: 'restore', revision: r.revision }]);
    // Nothing from the imported history reaches the client.
    expect(revsOf(a).filter((x) => x > live)).toEqual([]);
    const after = (await client!.putFlag(flag('after-restore', 1), { actor: 'frank' })).revision;
    await waitFor(() => revsOf(a).includes(after), 'the change after the restore', 15_000);
    expect(revsOf(a).filter((x) => x > live)).toEqual([after]);
    expect(a.messages.filter((m) => m.type === 'resync')).toHaveLength(1);
    expect((await relay!.relay.metrics.gaps.get()).values[0]?.value ?? 0).toBe(gapsBefore);
    expect(relay!.relay.frontierRevision()).toBe(after);
  }, 60_000);

  it('disaster recovery: a new cluster restored from an older backup rewinds the relay; clients resync and get its changes', async () => {
    const a = ws();
    await hello(a);
    const doc = await backupDocument(client!);
    const b = { revision: doc.revision };
    // The old cluster goes on after the backup; the relay releases all of it.
    const lost: number[] = [];
    for (let i = 0; i < 10; i++) lost.push((await client!.putFlag(flag('after-backup', i), { actor: 'gina' })).revision);
    await waitFor(() => relay!.relay.frontierRevision() === lost[9], 'relay at the old cluster\'s last revision', 15_000);
    // The old cluster is lost; a new one (same topic) is restored from the backup.
    client!.close();
    await cluster!.stop();
    // A new cluster: its own CA and cluster id.
    ({ cluster, client } = await stack.startCluster({ clusterId: 'recovered-cluster' }));
    const r = await client.restore(doc, { actor: 'admin' });
    expect(r.revision).toBe(b.revision); // below what the relay already released
    await waitFor(() => a.messages.some((m) => m.type === 'resync'), 'resync from the new cluster\'s marker', 10_000);
    expect(a.messages.filter((m) => m.type === 'resync')).toEqual([{ type: 'resync', reason: 'restore', revision: b.revision }]);
    // Its own changes reuse revisions the relay released from the old cluster: delivered anyway.
    const fresh = (await client.putFlag(flag('after-recovery', 1), { actor: 'gina' })).revision;
    expect(fresh).toBeLessThanOrEqual(lost[9]!);
    await waitFor(() => a.changes().some((e) => e.key === 'after-recovery'), 'the new cluster\'s change', 15_000);
    expect(a.changes().find((e) => e.key === 'after-recovery')!.revision).toBe(fresh);
  }, 120_000);
});
