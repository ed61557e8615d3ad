// The Raft port's membership check on an open stream, driven through the
// real Send handler with a stand-in for grpc-js's server stream (an
// EventEmitter with metadata; named so). A node removed from the
// configuration is cut off at its next batch, except the leader that just
// removed itself: its MsgTimeoutNow (the leadership handoff) is still
// stepped while the node says so (handoffFrom), and nothing else it sends.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { MessageType, type Message } from '@flagraft/raft-core';
import { createLogger } from './log.js';
import { MD_CLUSTER, MD_FROM, NodeSecurity } from './security.js';
import { DEFAULT_TRANSPORT_LIMITS, Transport, toWire } from './transport.js';

const msg = (type: MessageType): Message => ({ type, to: 1, from: 2, term: 5, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });

function setup(handoff: boolean) {
  let member = true;
  const stepped: MessageType[] = [];
  const log = createLogger({ test: 'handoff' }, 'error', () => undefined);
  const security = new NodeSecurity({ nodeId: 1, clusterId: 'c', security: { mode: 'insecure' }, tlsReloadIntervalMs: 0, log, isMember: (id) => id === 1 || member });
  const transport = new Transport({
    nodeId: 1, clusterId: 'c', log, security, limits: DEFAULT_TRANSPORT_LIMITS,
    clientAddress: () => '127.0.0.1:1', onPeerClientAddress: () => undefined,
    onMessage: (m) => stepped.push(m.type), onUnreachable: () => undefined, onIdleNotice: () => undefined,
    onPeerClock: () => undefined, wallNow: () => Date.now(), onPeerStreamEnded: () => undefined,
    handoffFrom: (from) => handoff && from === 2, onSnapshotStatus: () => undefined, random: () => 0.5,
  });
  const md = new grpc.Metadata();
  md.set(MD_CLUSTER, 'c');
  md.set(MD_FROM, '2');
  const call = Object.assign(new EventEmitter(), { metadata: md, getPeer: () => '127.0.0.1:9' });
  let result: { code?: number; details?: string } | null | undefined;
  transport.serverHandlers().Send(call as never, ((err: { code?: number; details?: string } | null) => { result = err; }) as never);
  const batch = (...types: MessageType[]) => call.emit('data', { clusterId: 'c', from: 2, messages: types.map((t) => toWire(msg(t))), wallMs: Date.now() });
  return {
    stepped, batch, result: () => result,
    remove: () => { member = false; },
    close: () => { transport.close(); security.close(); },
  };
}

describe('a stream from a node removed from the configuration', () => {
  it('is cut off at its next batch, nothing of which is stepped', () => {
    const s = setup(false);
    try {
      s.batch(MessageType.MsgHeartbeat);
      expect(s.stepped).toEqual([MessageType.MsgHeartbeat]);
      s.remove();
      s.batch(MessageType.MsgTimeoutNow);
      expect(s.stepped).toEqual([MessageType.MsgHeartbeat]);
      expect(s.result()?.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(s.result()?.details).toContain('node 2 is no longer a member');
    } finally {
      s.close();
    }
  });

  it('from the leader that removed itself: its MsgTimeoutNow is stepped, the rest dropped, the stream kept', () => {
    const s = setup(true);
    try {
      s.remove();
      s.batch(MessageType.MsgHeartbeat, MessageType.MsgApp);
      s.batch(MessageType.MsgHeartbeat, MessageType.MsgTimeoutNow);
      expect(s.stepped).toEqual([MessageType.MsgTimeoutNow]);
      expect(s.result()).toBeUndefined();
    } finally {
      s.close();
    }
  });
});
