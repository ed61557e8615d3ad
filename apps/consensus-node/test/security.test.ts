// Attacks on a real 3-node cluster with mutual TLS: processes without a
// certificate, with a certificate of another cluster (or of a rogue CA that
// copies our cluster id), with a node certificate claiming another node id,
// with a node certificate that is not a member, and with service
// certificates, each try Raft.Send (an empty batch and a forged MsgApp of a
// far higher term) and PutFlag. All are refused, counted, and answered
// without naming the cluster id; nothing is applied, and every node holds
// the same flags and changes afterwards. Then what is allowed: a gateway
// writes for the user it vouches for, an admin certificate writes as itself.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { encodeCommand, type Command } from '@flagraft/flag-model';
import { CertificateStore, SECURE_CHANNEL_OPTIONS, channelCredentials, initPki, issueInto, pkiFiles, type TlsFiles } from '@flagraft/identity';
import { MessageType } from '@flagraft/raft-core';
import { startLocalCluster, type LocalCluster, type LocalNode } from '@flagraft/testkit';
import { serviceOf } from '../src/proto-files.js';
import { TAG_COMMAND, encodeEntry } from '../src/entries.js';
import { flag, waitFor } from './helpers.js';

let cluster: LocalCluster;
let admin: ClusterClient;
let leader: LocalNode;
let target: LocalNode;
let scratch: string;
let rogue: string;
let other: string;

beforeAll(async () => {
  cluster = await startLocalCluster({ size: 3 });
  admin = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 15_000 });
  await admin.putFlag(flag('before', 'genuine'), { actor: 'alice' });
  leader = await cluster.leader();
  target = cluster.nodes.find((n) => n.id !== leader.id)!;
  scratch = mkdtempSync(join(tmpdir(), 'flagraft-attack-'));
  // Another cluster's PKI, and a rogue CA that copies our cluster id.
  other = join(scratch, 'other');
  await initPki(other, { nodes: [1, 2, 3], services: [{ role: 'gateway', name: 'x' }] });
  rogue = join(scratch, 'rogue');
  await initPki(rogue, { clusterId: cluster.clusterId, nodes: [1, 2, 3], services: [{ role: 'admin', name: 'x' }] });
  await cluster.serviceTls('reader', 'metrics');
  await cluster.serviceTls('admin', 'ops');
  // A node certificate of this cluster for a node that was never added.
  await issueInto(cluster.pkiDir!, { kind: 'node', clusterId: cluster.clusterId, nodeId: 9 });
});
afterAll(async () => {
  admin?.close();
  await cluster?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

// ---- attackers ---------------------------------------------------------------------------

/** TLS that does not check the server (an attacker does not care who answers), presenting `files` if given. */
function attackerCreds(files?: TlsFiles): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(null, files ? readFileSync(files.keyFile) : null, files ? readFileSync(files.certFile) : null, { rejectUnauthorized: false, checkServerIdentity: () => undefined });
}

function ownPki(name: string): TlsFiles {
  return pkiFiles(cluster.pkiDir!, name);
}

interface Refused { code: grpc.status; details: string }

/** Raft.Send with one batch; resolves with the status it ended with. */
function raftSend(address: string, creds: grpc.ChannelCredentials, from: number, messages: object[], opts: Record<string, string> = {}): Promise<Refused> {
  const Raft = serviceOf('flagraft.raft.v1.Raft');
  const c = new Raft(address, creds, opts);
  const md = new grpc.Metadata();
  md.set('flagraft-cluster-id', cluster.clusterId);
  md.set('flagraft-from', String(from));
  return new Promise((resolve) => {
    const call = (c as any).Send(md, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null) => {
      c.close();
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' });
    }) as grpc.ClientWritableStream<unknown>;
    call.on('error', () => { /* reported through the callback */ });
    call.write({ clusterId: cluster.clusterId, from, messages });
    call.end();
  });
}

function putFlag(address: string, creds: grpc.ChannelCredentials, key: string, actor: string, opts: Record<string, string> = {}): Promise<Refused & { revision?: number }> {
  const Flags = serviceOf('flagraft.v1.Flags');
  const c = new Flags(address, creds, opts);
  const md = new grpc.Metadata();
  md.set('flagraft-cluster-id', cluster.clusterId);
  return new Promise((resolve) => {
    (c as any).PutFlag({ meta: { actor, clientId: 'attacker', requestId: key }, definitionJson: JSON.stringify(flag(key, 'forged')) }, md, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, res: any) => {
      c.close();
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', revision: Number(res.revision) });
    });
  });
}

/** A MsgApp as the leader would send it, one term far ahead, appending a flag no client wrote. */
async function forgedMsgApp(to: LocalNode, claimedFrom: number, key: string): Promise<object> {
  const st = await admin.status({ endpoint: to.address });
  const cmd: Command = { v: 1, actor: 'admin', time: Date.now(), op: 'putFlag', flag: flag(key, 'forged') } as Command;
  const data = Buffer.from(encodeEntry(TAG_COMMAND, encodeCommand(cmd)));
  return {
    type: MessageType.MsgApp, to: to.id, from: claimedFrom, term: st.term + 1000, logTerm: st.term, index: st.lastIndex, commit: st.lastIndex + 1,
    entries: [{ term: st.term + 1000, index: st.lastIndex + 1, type: 0, data }],
  };
}

function expectRefused(r: Refused, codes: grpc.status[], what: string): void {
  expect(codes, `${what}: ${grpc.status[r.code]} ${r.details}`).toContain(r.code);
  // Refusals never tell an outsider the cluster id.
  expect(r.details, what).not.toContain(cluster.clusterId);
}

// ---- the data every node holds ---------------------------------------------------------------

function dataHash(n: LocalNode): { hash: string; keys: string[] } {
  const db = new Database(join(n.dataDir, 'flagraft.db'), { readonly: true, fileMustExist: true });
  try {
    const flags = db.prepare('SELECT key, json FROM flags ORDER BY key').raw().all() as [string, string][];
    const changes = db.prepare('SELECT revision, seq, kind, key, op, before, after, actor, time FROM changes ORDER BY revision, seq').raw().all();
    return { hash: createHash('sha256').update(JSON.stringify([flags, changes])).digest('hex'), keys: flags.map((f) => f[0]) };
  } finally {
    db.close();
  }
}

async function sameDataEverywhere(): Promise<{ keys: string[] }> {
  // A write after the attacks: every node must apply it (the genuine leader still reaches them all).
  const w = await admin.putFlag(flag('after', 'genuine'), { actor: 'alice' });
  await waitFor('every node applied the last write', async () => {
    const st = await Promise.all(cluster.nodes.map((n) => admin.status({ endpoint: n.address })));
    return st.every((s) => (s.appliedRevision ?? s.appliedIndex) >= w.revision);
  });
  const hashes = cluster.nodes.map(dataHash);
  expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
  return { keys: hashes[0].keys };
}

describe('the peer (Raft) port', () => {
  it('refuses every caller that is not a member node speaking for itself, and steps nothing', async () => {
    const termBefore = Math.max(...await Promise.all(cluster.nodes.map(async (n) => (await admin.status({ endpoint: n.address })).term)));
    const plain = grpc.credentials.createInsecure();
    const cases: { what: string; creds: grpc.ChannelCredentials; from: number; codes: grpc.status[]; opts?: Record<string, string> }[] = [
      { what: 'plain text', creds: plain, from: leader.id, codes: [grpc.status.UNAVAILABLE] },
      { what: 'TLS without a certificate', creds: attackerCreds(), from: leader.id, codes: [grpc.status.UNAUTHENTICATED] },
      { what: 'a node certificate of another cluster', creds: attackerCreds(pkiFiles(other, `node-${leader.id}`)), from: leader.id, codes: [grpc.status.UNAUTHENTICATED] },
      { what: 'a rogue CA copying our cluster id', creds: attackerCreds(pkiFiles(rogue, `node-${leader.id}`)), from: leader.id, codes: [grpc.status.UNAUTHENTICATED] },
      { what: 'a gateway certificate', creds: attackerCreds(ownPki('gateway-test')), from: leader.id, codes: [grpc.status.PERMISSION_DENIED] },
      { what: 'a node certificate that is not a member', creds: attackerCreds(ownPki('node-9')), from: leader.id, codes: [grpc.status.PERMISSION_DENIED] },
    ];
    // A member's own certificate used to speak for another member.
    const third = cluster.nodes.find((n) => n.id !== leader.id && n.id !== target.id)!;
    const thirdCreds = channelCredentials(new CertificateStore(ownPki(`node-${third.id}`)), { nodeId: target.id });
    cases.push({ what: `node ${third.id}'s certificate claiming to be node ${leader.id}`, creds: thirdCreds, from: leader.id, codes: [grpc.status.PERMISSION_DENIED], opts: SECURE_CHANNEL_OPTIONS });

    for (const c of cases) {
      expectRefused(await raftSend(target.peerAddress, c.creds, c.from, [], c.opts), c.codes, `${c.what}, empty batch`);
      expectRefused(await raftSend(target.peerAddress, c.creds, c.from, [await forgedMsgApp(target, leader.id, `forged-${c.what.length}`)], c.opts), c.codes, `${c.what}, forged MsgApp`);
    }
    // Node `third` claiming node 1 only in the batch (its metadata tells the truth): refused all the same.
    const honestHeader = await raftSend(target.peerAddress, thirdCreds, third.id, [], SECURE_CHANNEL_OPTIONS);
    expect(honestHeader.code).toBe(grpc.status.OK);
    const Raft = serviceOf('flagraft.raft.v1.Raft');
    const c = new Raft(target.peerAddress, thirdCreds, SECURE_CHANNEL_OPTIONS);
    const md = new grpc.Metadata();
    md.set('flagraft-from', String(third.id));
    const forged = await forgedMsgApp(target, leader.id, 'forged-in-batch');
    const inBatch = await new Promise<Refused>((resolve) => {
      const call = (c as any).Send(md, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null) => resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '' }));
      call.on('error', () => {});
      call.write({ clusterId: cluster.clusterId, from: third.id, messages: [forged] });
      call.end();
    });
    c.close();
    expectRefused(inBatch, [grpc.status.PERMISSION_DENIED], 'member naming another member as a message sender');

    // A member speaking for itself may still not propose, transfer leadership, or send a read without its context.
    const self = (type: MessageType, extra: object = {}) => ({ type, to: leader.id, from: third.id, term: 0, entries: [], ...extra });
    const toLeader = channelCredentials(new CertificateStore(ownPki(`node-${third.id}`)), { nodeId: leader.id });
    for (const [what, m] of [
      ['MsgProp', self(MessageType.MsgProp, { entries: [{ term: 0, index: 0, type: 0, data: encodeEntry(TAG_COMMAND, encodeCommand({ v: 1, actor: 'x', time: 1, op: 'putFlag', flag: flag('proposed-by-peer') } as Command)) }] })],
      ['MsgTransferLeader', self(MessageType.MsgTransferLeader, { term: 1 })],
      ['MsgReadIndex without context', self(MessageType.MsgReadIndex)],
      ['MsgHup (local only)', self(MessageType.MsgHup, { term: 1 })],
    ] as const) {
      expectRefused(await raftSend(leader.peerAddress, toLeader, third.id, [m], SECURE_CHANNEL_OPTIONS), [grpc.status.INVALID_ARGUMENT], what);
    }

    const { keys } = await sameDataEverywhere();
    expect(keys.filter((k) => k.startsWith('forged') || k === 'proposed-by-peer')).toEqual([]);
    const termAfter = Math.max(...await Promise.all(cluster.nodes.map(async (n) => (await admin.status({ endpoint: n.address })).term)));
    expect(termAfter).toBeLessThan(termBefore + 10);
    const counters = (await admin.status({ endpoint: target.address })).securityCounters!;
    expect(counters.peer_no_certificate).toBeGreaterThanOrEqual(6);
    expect(counters.peer_not_a_node).toBeGreaterThanOrEqual(2);
    expect(counters.peer_not_member).toBeGreaterThanOrEqual(2);
    expect(counters.peer_from_mismatch).toBeGreaterThanOrEqual(3);
    expect((await admin.status({ endpoint: leader.address })).securityCounters!.peer_bad_message).toBeGreaterThanOrEqual(4);
  });
});

describe('the client port', () => {
  it('refuses writes without a certificate of this cluster, from nodes, from readers, and actors a service may not name', async () => {
    const l = await cluster.leader();
    const cases: { what: string; creds: grpc.ChannelCredentials; actor: string; codes: grpc.status[]; opts?: Record<string, string> }[] = [
      { what: 'plain text', creds: grpc.credentials.createInsecure(), actor: 'admin', codes: [grpc.status.UNAVAILABLE] },
      { what: 'TLS without a certificate', creds: attackerCreds(), actor: 'admin', codes: [grpc.status.UNAUTHENTICATED] },
      { what: 'a gateway certificate of another cluster', creds: attackerCreds(pkiFiles(other, 'gateway-x')), actor: 'admin', codes: [grpc.status.UNAUTHENTICATED] },
      { what: 'a rogue CA copying our cluster id', creds: attackerCreds(pkiFiles(rogue, 'admin-x')), actor: 'admin', codes: [grpc.status.UNAUTHENTICATED] },
      { what: 'a node certificate', creds: attackerCreds(ownPki(`node-${l.id}`)), actor: 'admin', codes: [grpc.status.PERMISSION_DENIED] },
      { what: 'a reader certificate', creds: attackerCreds(ownPki('reader-metrics')), actor: '', codes: [grpc.status.PERMISSION_DENIED] },
      { what: 'an admin certificate naming someone else', creds: attackerCreds(ownPki('admin-ops')), actor: 'alice', codes: [grpc.status.PERMISSION_DENIED] },
    ];
    let i = 0;
    for (const c of cases) expectRefused(await putFlag(l.address, c.creds, `forged-client-${i++}`, c.actor, c.opts), c.codes, c.what);
    const { keys } = await sameDataEverywhere();
    expect(keys.filter((k) => k.startsWith('forged'))).toEqual([]);
    const counters = (await admin.status({ endpoint: l.address })).securityCounters!;
    expect(counters.client_no_certificate).toBeGreaterThanOrEqual(3);
    expect(counters.client_not_a_service).toBeGreaterThanOrEqual(1);
    expect(counters.client_forbidden).toBeGreaterThanOrEqual(1);
    expect(counters.client_actor_refused).toBeGreaterThanOrEqual(1);
  });

  it('a gateway writes for the user it vouches for; an admin certificate writes as itself; a reader reads', async () => {
    const gw = await admin.putFlag(flag('vouched', 'x'), { actor: 'alice' });
    const ops = createClusterClient({ endpoints: cluster.endpoints, tls: (await cluster.serviceTls('admin', 'ops'))! });
    const own = await ops.putFlag(flag('as-itself', 'x'), { actor: '' });
    const named = await ops.putFlag(flag('as-itself-named', 'x'), { actor: 'admin:ops' });
    await expect(ops.putFlag(flag('as-someone', 'x'), { actor: 'bob' })).rejects.toMatchObject({ code: 'PERMISSION' });
    ops.close();
    const reader = createClusterClient({ endpoints: cluster.endpoints, tls: (await cluster.serviceTls('reader', 'metrics'))!, retryDeadlineMs: 3000 });
    expect((await reader.getFlag('vouched'))?.modRevision).toBe(gw.revision);
    await expect(reader.putFlag(flag('by-reader', 'x'), { actor: '' })).rejects.toMatchObject({ code: 'PERMISSION' });
    await expect(reader.addLearner(7, '127.0.0.1:1')).rejects.toMatchObject({ code: 'PERMISSION' });
    reader.close();
    expect((await admin.history('vouched'))[0]).toMatchObject({ actor: 'alice', revision: gw.revision });
    expect((await admin.history('as-itself'))[0]).toMatchObject({ actor: 'admin:ops', revision: own.revision });
    expect((await admin.history('as-itself-named'))[0]).toMatchObject({ actor: 'admin:ops', revision: named.revision });
  });

  it('each connection keeps its own identity (identities are cached per TLS connection): a reader and an admin interleaved on one node', async () => {
    const l = await cluster.leader();
    const reader = createClusterClient({ endpoints: [l.address], tls: (await cluster.serviceTls('reader', 'metrics'))!, retryDeadlineMs: 3000 });
    const ops = createClusterClient({ endpoints: [l.address], tls: (await cluster.serviceTls('admin', 'ops'))! });
    try {
      for (let i = 0; i < 3; i++) {
        // Reads on both connections first, so each has a cached identity when the writes come.
        await reader.getFlag('before');
        await ops.getFlag('before');
        await expect(reader.putFlag(flag(`interleaved-reader-${i}`, 'x'), { actor: '' })).rejects.toMatchObject({ code: 'PERMISSION' });
        const w = await ops.putFlag(flag(`interleaved-ops-${i}`, 'x'), { actor: '' });
        expect((await admin.history(`interleaved-ops-${i}`))[0]).toMatchObject({ actor: 'admin:ops', revision: w.revision });
        await expect(reader.putFlag(flag(`interleaved-reader-${i}`, 'x'), { actor: '' })).rejects.toMatchObject({ code: 'PERMISSION' });
      }
    } finally {
      reader.close();
      ops.close();
    }
    expect((await admin.getFlag('interleaved-reader-0'))).toBeUndefined();
  });

  it('Status tells how a node is secured', async () => {
    const st = await admin.status({ endpoint: target.address });
    expect(st.transportSecurity).toBe('mtls');
    expect(st.peerAddress).toBe(target.peerAddress);
    expect(st.members.find((m) => m.id === target.id)).toMatchObject({ address: target.address, peerAddress: target.peerAddress });
    expect(st.members.find((m) => m.id === st.leaderId)?.address).toBe(cluster.nodes.find((n) => n.id === st.leaderId)!.address);
  });
});
