// Transport.isReachable (Status's `reachable`, idle mode's "every peer
// reachable") over real gRPC on loopback, plain text (insecure mode, as the
// transport tests of other files; TLS is not what is tested here): a peer
// that goes away is unreachable, and once it is back and a message reopened
// the stream it is reachable as soon as the channel is connected, without
// waiting for yet another message.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageType, type Message } from '@flagraft/raft-core';
import { createLogger } from './log.js';
import { serviceOf } from './proto-files.js';
import { NodeSecurity } from './security.js';
import { DEFAULT_TRANSPORT_LIMITS, Transport } from './transport.js';

const log = createLogger({ test: 'reachable' }, 'error', () => undefined);
const heartbeat = (to: number, from: number): Message => ({ type: MessageType.MsgHeartbeat, to, from, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });

async function waitFor(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function node(id: number) {
  const security = new NodeSecurity({ nodeId: id, clusterId: 'c', security: { mode: 'insecure' }, tlsReloadIntervalMs: 0, log, isMember: () => true });
  const received: Message[] = [];
  const transport = new Transport({
    nodeId: id, clusterId: 'c', log, security, limits: { ...DEFAULT_TRANSPORT_LIMITS, minBackoffMs: 10, maxBackoffMs: 50 },
    clientAddress: () => '127.0.0.1:1', onPeerClientAddress: () => undefined,
    onMessage: (m) => received.push(m), onUnreachable: () => undefined, onIdleNotice: () => undefined,
    onPeerClock: () => undefined, wallNow: () => Date.now(), onPeerStreamEnded: () => undefined,
    handoffFrom: () => false, onSnapshotStatus: () => undefined, random: () => 0.5,
  });
  return { security, transport, received };
}

function serve(handlers: grpc.UntypedServiceImplementation, port = 0): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(serviceOf('flagraft.raft.v1.Raft').service, handlers);
  return new Promise((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve({ server, port: p }))));
}

describe('whether a peer is reachable', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => { for (const c of cleanup.splice(0)) c(); });
  /** Node 1 with node 2 as its peer; node 2 serving the Raft port (`first`; a test may serve it again on that port). */
  const pair = async () => {
    const a = node(1);
    const b = node(2);
    cleanup.push(() => { a.transport.close(); a.security.close(); b.transport.close(); b.security.close(); });
    const first = await serve(b.transport.serverHandlers());
    let current = first;
    cleanup.push(() => current.server.forceShutdown());
    a.transport.setPeer(2, `127.0.0.1:${first.port}`);
    return { a, b, first, served: (s: typeof first) => { current = s; } };
  };

  it('goes false when the peer goes away and true again once it is back and connected', async () => {
    const { a, b, first, served } = await pair();
    let up = first;
    a.transport.send([heartbeat(2, 1)]);
    await waitFor('first heartbeat delivered', () => b.received.length === 1);
    await waitFor('reachable', () => a.transport.isReachable(2));

    up.server.forceShutdown();
    await waitFor('unreachable once the peer is gone', () => !a.transport.isReachable(2));

    up = await serve(b.transport.serverHandlers(), up.port);
    served(up);
    // One message after the peer is back (as an idle heartbeat would be): it reopens the stream
    // before the channel is connected again (so the failure is not forgotten yet) ...
    a.transport.send([heartbeat(2, 1)]);
    expect(a.transport.isReachable(2)).toBe(false);
    await waitFor('the message gets through', () => b.received.length === 2);
    // ... and with nothing more sent, the peer counts as reachable again.
    await waitFor('reachable again without another message', () => a.transport.isReachable(2), 3000);
  });

  it('to which nothing was sent (a follower\'s view of another follower): reachable while it is up, not once it is gone', async () => {
    const { a, b, first: up } = await pair();
    await waitFor('reachable without a stream', () => a.transport.isReachable(2));
    expect(b.received).toHaveLength(0);
    up.server.forceShutdown();
    await waitFor('unreachable once the peer is gone', () => !a.transport.isReachable(2));
  });
});
