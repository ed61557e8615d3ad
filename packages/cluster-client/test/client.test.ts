// The client's routing and retry logic against real gRPC servers on loopback
// that implement proto/flags.proto with scripted answers (the real cluster is
// exercised by apps/consensus-node's integration tests, which use this client).
// Plain text (insecure: true) on purpose: these are tests of the routing; the
// mutual TLS options are checked at the end, the TLS itself in packages/identity
// and apps/consensus-node/test/security.test.ts.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki, tlsFilesFor } from '@flagraft/identity';
import { ClusterError, createClusterClient } from '../src/index.js';
import { errorWith, serve } from './scripted-server.js';

const flag = { key: 'f', type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [] };

describe('cluster-client', () => {
  const servers: grpc.Server[] = [];
  afterEach(() => { for (const s of servers.splice(0)) s.forceShutdown(); });

  it('validates its options: TLS unless plain text is asked for, a service certificate, the right cluster', async () => {
    expect(() => createClusterClient({ endpoints: [], clusterId: 'c', insecure: true })).toThrow(ClusterError);
    expect(() => createClusterClient({ endpoints: ['127.0.0.1:1'], clusterId: '', insecure: true })).toThrow(/clusterId/);
    expect(() => createClusterClient({ endpoints: ['127.0.0.1:1'], clusterId: 'c' })).toThrow(/tls .* is required; insecure: true for plain text/);
    const dir = mkdtempSync(join(tmpdir(), 'flagraft-cc-'));
    try {
      await initPki(dir, { clusterId: 'c1', nodes: [1], services: [{ role: 'gateway', name: 'gw' }] });
      const gw = tlsFilesFor(dir, { kind: 'service', clusterId: 'c1', role: 'gateway', name: 'gw' });
      const c = createClusterClient({ endpoints: ['127.0.0.1:1'], tls: gw });
      expect([c.clusterId, c.transportSecurity]).toEqual(['c1', 'mtls']);
      c.close();
      expect(() => createClusterClient({ endpoints: ['127.0.0.1:1'], tls: gw, clusterId: 'c2' })).toThrow(/differs from the cluster/);
      expect(() => createClusterClient({ endpoints: ['127.0.0.1:1'], tls: tlsFilesFor(dir, { kind: 'node', clusterId: 'c1', nodeId: 1 }) })).toThrow(/clients need a service certificate/);
      expect(() => createClusterClient({ endpoints: ['127.0.0.1:1'], tls: { ...gw, keyFile: join(dir, 'node-1.key') } })).toThrow(/does not belong/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follows NOT_LEADER to the leader and keeps the request id across retries', async () => {
    const seen: { node: string; requestId: string; cluster: string }[] = [];
    let leaderFailures = 1;
    const leader = await serve({
      PutFlag: (call: any, cb: any) => {
        seen.push({ node: 'leader', requestId: call.request.meta.requestId, cluster: String(call.metadata.get('flagraft-cluster-id')[0]) });
        if (leaderFailures-- > 0) return cb(errorWith(grpc.status.UNAVAILABLE, { code: 'UNAVAILABLE', message: 'leadership lost; retry' }));
        const stored = { flag: JSON.parse(call.request.definitionJson), createRevision: 7, modRevision: 7, version: 1, updatedAt: 0, updatedBy: 'a' };
        cb(null, { revision: 7, changesJson: JSON.stringify([{ kind: 'flag', key: 'f', op: 'put', before: null, after: stored, actor: 'a', time: 0, revision: 7 }]) });
      },
    });
    const follower = await serve({
      PutFlag: (call: any, cb: any) => {
        seen.push({ node: 'follower', requestId: call.request.meta.requestId, cluster: String(call.metadata.get('flagraft-cluster-id')[0]) });
        cb(errorWith(grpc.status.FAILED_PRECONDITION, { code: 'NOT_LEADER', message: 'not the leader', leaderId: 1, leaderAddress: leader.address }));
      },
    });
    servers.push(leader.server, follower.server);
    const c = createClusterClient({ endpoints: [follower.address], clusterId: 'cid', insecure: true });
    const r = await c.putFlag(flag, { actor: 'a' });
    c.close();
    expect(r.revision).toBe(7);
    expect(r.flag.version).toBe(1);
    // after UNAVAILABLE from the leader it asks another node, which points back to the leader
    expect(seen.map((s) => s.node)).toEqual(['follower', 'leader', 'follower', 'leader']);
    expect(new Set(seen.map((s) => s.requestId)).size).toBe(1);
    expect(seen.every((s) => s.cluster === 'cid')).toBe(true);
  });

  it('rotates past a node that is down to the nodes after it, not back to the first one (torture finding 6)', async () => {
    // Endpoints as the torture clients had them after membership changes: a
    // removed node that keeps running and knows no leader, a stopped node,
    // then the leader. Skipping the stopped node used to pick the first
    // endpoint not down (the removed node again): the client went back and
    // forth between those two and never asked the third.
    const asked: string[] = [];
    const status = (_call: any, cb: any) => cb(null, { clusterId: 'cid', id: 1, role: 'follower' });
    const removed = await serve({
      Status: status,
      PutFlag: (_call: any, cb: any) => {
        asked.push('removed');
        cb(errorWith(grpc.status.FAILED_PRECONDITION, { code: 'NOT_LEADER', message: 'node 1 is not the leader and knows no leader', leaderId: 0 }));
      },
    });
    const leader = await serve({
      Status: status,
      PutFlag: (call: any, cb: any) => {
        asked.push('leader');
        const stored = { flag: JSON.parse(call.request.definitionJson), createRevision: 9, modRevision: 9, version: 1, updatedAt: 0, updatedBy: 'a' };
        cb(null, { revision: 9, changesJson: JSON.stringify([{ kind: 'flag', key: 'f', op: 'put', before: null, after: stored, actor: 'a', time: 0, revision: 9 }]) });
      },
    });
    const stopped = await serve({});
    stopped.server.forceShutdown();
    servers.push(removed.server, leader.server);
    const c = createClusterClient({ endpoints: [removed.address, stopped.address, leader.address], clusterId: 'cid', insecure: true, requestTimeoutMs: 2000, retryDeadlineMs: 500 });
    try {
      // Connections as a long-running client has them: the live nodes connected, the stopped node's refused
      // (its channel is then down, TRANSIENT_FAILURE, for gRPC's first reconnect backoff: 1 s - 20 %, longer
      // than the write's 500 ms retry deadline).
      await c.status({ endpoint: removed.address });
      await c.status({ endpoint: leader.address });
      await expect(c.status({ endpoint: stopped.address })).rejects.toBeInstanceOf(ClusterError);
      const r = await c.putFlag(flag, { actor: 'a' });
      expect(r.revision).toBe(9);
      expect(asked).toEqual(['removed', 'leader']);
    } finally {
      c.close();
    }
  });

  it('maps node errors to typed ClusterErrors without retrying them', async () => {
    let calls = 0;
    const node = await serve({
      PutFlag: (_call: any, cb: any) => { calls++; cb(errorWith(grpc.status.ABORTED, { code: 'REVISION_MISMATCH', message: 'mismatch', currentRevision: 12 })); },
    });
    servers.push(node.server);
    const c = createClusterClient({ endpoints: [node.address], clusterId: 'cid', insecure: true });
    const err = await c.putFlag(flag, { actor: 'a', expectedRevision: 3 }).catch((e) => e);
    c.close();
    expect(err).toBeInstanceOf(ClusterError);
    expect(err.code).toBe('REVISION_MISMATCH');
    expect(err.currentRevision).toBe(12);
    expect(calls).toBe(1);
  });

  it('gives up with UNAVAILABLE/DEADLINE after the retry deadline when nothing answers', async () => {
    const c = createClusterClient({ endpoints: ['127.0.0.1:1'], clusterId: 'cid', insecure: true, retryDeadlineMs: 300, requestTimeoutMs: 100 });
    const t0 = Date.now();
    const err = await c.getFlag('x').catch((e) => e);
    c.close();
    expect(err).toBeInstanceOf(ClusterError);
    expect(['UNAVAILABLE', 'DEADLINE']).toContain(err.code);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('reports an unreachable cluster within the retry deadline for backup and restore too, not their long streaming deadline', async () => {
    const c = createClusterClient({ endpoints: ['127.0.0.1:1'], clusterId: 'cid', insecure: true, retryDeadlineMs: 300, requestTimeoutMs: 100, backupTimeoutMs: 60_000 });
    try {
      for (const op of [() => c.backup(), () => c.restore({ clusterId: 'cid', revision: 1, createdAt: new Date(0).toISOString(), segments: [], flags: [], changes: [] } as never, { actor: 't' })]) {
        const t0 = Date.now();
        const err = await op().catch((e) => e);
        expect(err).toBeInstanceOf(ClusterError);
        expect(err.code).toBe('UNAVAILABLE');
        expect(Date.now() - t0).toBeLessThan(5000);
      }
    } finally {
      c.close();
    }
  });

  it('a backup stream that sends no header is given up after the retry deadline', async () => {
    const { address, server } = await serve({ Backup: () => { /* accepts the call and never answers */ } });
    servers.push(server);
    const c = createClusterClient({ endpoints: [address], clusterId: 'cid', insecure: true, retryDeadlineMs: 400, requestTimeoutMs: 100, backupTimeoutMs: 60_000 });
    try {
      const t0 = Date.now();
      const err = await c.backup().catch((e) => e);
      expect(err).toBeInstanceOf(ClusterError);
      expect(err.code).toBe('UNAVAILABLE');
      expect(err.message).toMatch(/no backup header within 400 ms/);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      c.close();
    }
  });

  it('resumes a watch after the stream breaks, from the last delivered revision, without duplicates', async () => {
    const froms: number[] = [];
    let first = true;
    const node = await serve({
      Watch: (call: any) => {
        const from = Number(call.request.fromRevision);
        froms.push(from);
        const ev = (rev: number) => ({ revision: rev, eventsJson: [JSON.stringify({ v: 1, revision: rev, kind: 'flag', key: `k${rev}`, op: 'put', flag: null, actor: 'a', time: '' })], progress: false });
        if (first) {
          first = false;
          call.write(ev(from + 1));
          call.write(ev(from + 2));
          call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'node going away' });
          return;
        }
        // the resumed stream repeats one old revision: the client must skip it
        call.write(ev(from));
        call.write(ev(from + 1));
      },
    });
    servers.push(node.server);
    const c = createClusterClient({ endpoints: [node.address], clusterId: 'cid', insecure: true });
    const got: number[] = [];
    const w = c.watch({ fromRevision: 10, onChange: (e) => got.push(e.revision) });
    const deadline = Date.now() + 5000;
    while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    w.close();
    c.close();
    expect(got).toEqual([11, 12, 13]);
    expect(froms).toEqual([10, 12]);
  });
});
