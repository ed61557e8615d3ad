// Node-to-node transport over gRPC: one long-lived client stream per peer that
// carries batches of Raft messages, bounded queues that drop (Raft
// retransmits), reconnection with jittered backoff, and chunked snapshots.
import * as grpc from '@grpc/grpc-js';
import { MessageType, type Message, type NodeId } from '@flagraft/raft-core';
import type { IdleNotice } from './idle.js';
import { checkBatch, checkSnapshotHead, DEFAULT_PEER_LIMITS, type PeerLimits } from './peer-messages.js';
import { serviceOf } from './proto-files.js';
import { MD_CLUSTER, MD_FROM, type NodeSecurity, type StatusError } from './security.js';
import type { Logger } from './log.js';

export interface TransportLimits {
  /** Messages waiting per peer before new ones are dropped. */
  maxQueuedMsgsPerPeer: number;
  /** Bytes waiting per peer before new messages are dropped. */
  maxQueuedBytesPerPeer: number;
  /** Upper bound of one batch on the wire (bytes). */
  maxBatchBytes: number;
  /** gRPC message size limit for node-to-node traffic (bytes). */
  maxPeerMessageBytes: number;
  /** Snapshot data is streamed in chunks of this size (bytes). */
  snapshotChunkBytes: number;
  /** A received snapshot larger than this is refused (bytes). */
  maxSnapshotBytes: number;
  /** Reconnect backoff bounds (ms). */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** What one message and one batch from a peer may hold. */
  peer: PeerLimits;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxQueuedMsgsPerPeer: 4096,
  maxQueuedBytesPerPeer: 64 * 1024 * 1024,
  maxBatchBytes: 2 * 1024 * 1024,
  maxPeerMessageBytes: 8 * 1024 * 1024,
  snapshotChunkBytes: 1024 * 1024,
  maxSnapshotBytes: 1024 * 1024 * 1024,
  minBackoffMs: 20,
  maxBackoffMs: 1000,
  peer: DEFAULT_PEER_LIMITS,
};

export interface TransportOptions {
  nodeId: NodeId;
  clusterId: string;
  log: Logger;
  /** Authenticates callers, says who is a member, counts refusals; also gives the credentials to dial a peer. */
  security: NodeSecurity;
  limits: TransportLimits;
  /** This node's client address (told to peers, so a follower can point clients at its leader). */
  clientAddress(): string;
  /** A peer told us its client address. */
  onPeerClientAddress(id: NodeId, address: string): void;
  onMessage(msg: Message): void;
  onUnreachable(id: NodeId): void;
  /** An idle-mode notice from a peer (src/idle.ts), after the batch's messages were stepped. */
  onIdleNotice(from: NodeId, notice: IdleNotice, term: number): void;
  /** A peer's wall clock as it stamped a batch (clock.ts ClusterClock). */
  onPeerClock(from: NodeId, wallMs: number): void;
  /** This node's wall clock, stamped on every batch (wall_ms). */
  wallNow(): number;
  /** A peer's stream to this node ended (its process died, the connection broke, it restarted). */
  onPeerStreamEnded(from: NodeId): void;
  /** `from` is no longer a member but is the leader that just removed itself: its MsgTimeoutNow (only) is still taken. */
  handoffFrom(from: NodeId): boolean;
  onSnapshotStatus(id: NodeId, ok: boolean): void;
  random(): number;
}

interface Peer {
  id: NodeId;
  address: string;
  client: grpc.Client;
  stream?: grpc.ClientWritableStream<unknown>;
  blocked: boolean;
  queue: Message[];
  queuedBytes: number;
  failures: number;
  retryTimer?: NodeJS.Timeout;
  snapshotInFlight: boolean;
  dropped: number;
  /** An idle-mode notice to write after the queued messages. */
  notice?: { kind: IdleNotice; term: number };
}

/** Metadata on every stream a node opens to a peer: its client address (host:port). */
export const MD_CLIENT_ADDRESS = 'flagraft-client-address';
/** Longest client address accepted from a peer (characters). */
export const MAX_CLIENT_ADDRESS_CHARS = 260;
/** Metadata on every stream: this node understands idle-mode notices (src/idle.ts). */
export const MD_IDLE = 'flagraft-idle';

function msgBytes(m: Message): number {
  let n = 64 + (m.context?.length ?? 0);
  for (const e of m.entries) n += e.data.length + 24;
  return n;
}

export function toWire(m: Message): Record<string, unknown> {
  return {
    type: m.type, to: m.to, from: m.from, term: m.term, logTerm: m.logTerm, index: m.index,
    entries: m.entries, commit: m.commit, reject: m.reject, rejectHint: m.rejectHint,
    context: m.context ?? Buffer.alloc(0), hasContext: m.context !== undefined,
    snapshot: m.snapshot ? { index: m.snapshot.metadata.index, term: m.snapshot.metadata.term, confState: m.snapshot.metadata.confState } : undefined,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fromWire(w: any, snapshotData?: Uint8Array): Message {
  const m: Message = {
    type: w.type, to: w.to, from: w.from, term: w.term, logTerm: w.logTerm, index: w.index,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    entries: (w.entries ?? []).map((e: any) => ({ term: e.term, index: e.index, type: e.type, data: e.data })),
    commit: w.commit, reject: w.reject, rejectHint: w.rejectHint,
  };
  if (w.hasContext) m.context = w.context;
  if (w.snapshot && snapshotData) {
    const cs = w.snapshot.confState ?? {};
    m.snapshot = {
      metadata: { index: w.snapshot.index, term: w.snapshot.term, confState: {
        voters: cs.voters ?? [], learners: cs.learners ?? [], votersOutgoing: cs.votersOutgoing ?? [], learnersNext: cs.learnersNext ?? [], autoLeave: !!cs.autoLeave,
      } },
      data: snapshotData,
    };
  }
  return m;
}

export class Transport {
  private readonly peers = new Map<NodeId, Peer>();
  private readonly RaftClient = serviceOf('flagraft.raft.v1.Raft');
  private closed = false;
  /** Open streams to this node, per peer, whose metadata said they understand idle-mode notices (count). */
  private readonly idleCapable = new Map<NodeId, number>();

  constructor(private readonly o: TransportOptions) {}

  setPeer(id: NodeId, address: string): void {
    if (id === this.o.nodeId) return;
    const cur = this.peers.get(id);
    if (cur && cur.address === address) return;
    if (cur) this.removePeer(id);
    const client = new this.RaftClient(address, this.o.security.peerChannelCredentials(id), {
      ...this.o.security.channelOptions(),
      'grpc.max_send_message_length': this.o.limits.maxPeerMessageBytes,
      'grpc.max_receive_message_length': this.o.limits.maxPeerMessageBytes,
      'grpc.initial_reconnect_backoff_ms': this.o.limits.minBackoffMs,
      'grpc.max_reconnect_backoff_ms': this.o.limits.maxBackoffMs,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    });
    this.peers.set(id, { id, address, client, blocked: false, queue: [], queuedBytes: 0, failures: 0, snapshotInFlight: false, dropped: 0 });
    // Connect now, not at the first message: a follower sends nothing to the other followers, and isReachable asks the channel.
    client.getChannel().getConnectivityState(true);
  }

  removePeer(id: NodeId): void {
    const p = this.peers.get(id);
    if (!p) return;
    this.peers.delete(id);
    clearTimeout(p.retryTimer);
    p.stream?.end();
    p.client.close();
  }

  peerIds(): NodeId[] {
    return [...this.peers.keys()];
  }

  peerAddress(id: NodeId): string | undefined {
    return this.peers.get(id)?.address;
  }

  /**
   * With a stream open (a leader's peers): no error was seen since, or the
   * channel is connected again. The error count itself is only reset by the
   * next flush, which may be an idle heartbeat away: Status would show a
   * restarted peer unreachable for that long. Without a stream and without
   * an error (a follower's view of another follower, to which it sends
   * nothing): the channel is connected; asking also starts a connection when
   * the channel idles, so Status from a follower does not call a live
   * follower unreachable. A peer whose stream failed is not asked to
   * connect: a call started while a connection attempt has just failed fails
   * at once, and would lengthen the retry backoff of the stream that carries
   * its entries.
   */
  isReachable(id: NodeId): boolean {
    const p = this.peers.get(id);
    if (!p) return false;
    const neverFailed = !p.stream && p.failures === 0;
    const ready = p.client.getChannel().getConnectivityState(neverFailed) === grpc.connectivityState.READY;
    return p.stream ? p.failures === 0 || ready : neverFailed && ready;
  }

  /** True when `id` has an open stream to this node and understands idle-mode notices. */
  supportsIdle(id: NodeId): boolean {
    return (this.idleCapable.get(id) ?? 0) > 0;
  }

  /** Sends an idle-mode notice to every peer, after what is queued for it. */
  notify(kind: IdleNotice, term: number): void {
    for (const p of this.peers.values()) {
      p.notice = { kind, term };
      this.flush(p);
    }
  }

  send(msgs: Message[]): void {
    const touched = new Set<Peer>();
    for (const m of msgs) {
      const p = this.peers.get(m.to);
      if (!p) {
        this.o.onUnreachable(m.to);
        continue;
      }
      if (m.type === MessageType.MsgSnap) {
        this.sendSnapshot(p, m);
        continue;
      }
      const size = msgBytes(m);
      if (p.queue.length >= this.o.limits.maxQueuedMsgsPerPeer || p.queuedBytes + size > this.o.limits.maxQueuedBytesPerPeer) {
        // Dropping is safe: Raft retransmits. Growing without bound is not.
        p.dropped++;
        if (p.dropped % 1000 === 1) this.o.log.warn('peer queue full, dropping messages', { peer: p.id, dropped: p.dropped });
        this.o.onUnreachable(p.id);
        continue;
      }
      p.queue.push(m);
      p.queuedBytes += size;
      touched.add(p);
    }
    for (const p of touched) this.flush(p);
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set(MD_CLUSTER, this.o.clusterId);
    md.set(MD_FROM, String(this.o.nodeId));
    md.set(MD_CLIENT_ADDRESS, this.o.clientAddress());
    md.set(MD_IDLE, '1');
    return md;
  }

  private openStream(p: Peer): void {
    if (this.closed || p.stream || p.retryTimer) return;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const stream = (p.client as any).Send(this.metadata(), (err: grpc.ServiceError | null) => {
      if (p.stream === stream) p.stream = undefined;
      if (!err || this.closed || this.peers.get(p.id) !== p) return;
      this.onStreamFailure(p, err);
    }) as grpc.ClientWritableStream<unknown>;
    stream.on('error', () => { /* reported through the callback */ });
    stream.on('drain', () => { p.blocked = false; this.flush(p); });
    p.stream = stream;
    p.blocked = false;
  }

  private onStreamFailure(p: Peer, err: grpc.ServiceError): void {
    p.failures++;
    // Everything queued for a dead stream is dropped; Raft will retransmit.
    p.queue = [];
    p.queuedBytes = 0;
    this.o.onUnreachable(p.id);
    if (p.failures === 1 || p.failures % 50 === 0) {
      // UNIMPLEMENTED: something answers there, but not Raft (typically a member added with its client address).
      const hint = err.code === grpc.status.UNIMPLEMENTED ? 'no Raft service at this address: is it the client port? members are added with their peer address' : undefined;
      this.o.log.warn('peer stream failed', { peer: p.id, address: p.address, code: err.code, error: err.details, failures: p.failures, hint });
    }
    const base = Math.min(this.o.limits.maxBackoffMs, this.o.limits.minBackoffMs * 2 ** Math.min(p.failures - 1, 10));
    const delay = base * (0.5 + this.o.random() * 0.5);
    p.retryTimer = setTimeout(() => {
      p.retryTimer = undefined;
      if (p.queue.length) this.flush(p);
    }, delay);
  }

  private flush(p: Peer): void {
    if (this.closed) return;
    if (!p.stream) this.openStream(p);
    const s = p.stream;
    if (!s) return;
    if (p.failures && p.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY) p.failures = 0;
    while (p.queue.length && !p.blocked) {
      const batch: Record<string, unknown>[] = [];
      let bytes = 0;
      while (p.queue.length && (batch.length === 0 || bytes + msgBytes(p.queue[0]) <= this.o.limits.maxBatchBytes)) {
        const m = p.queue.shift()!;
        const b = msgBytes(m);
        bytes += b;
        p.queuedBytes -= b;
        batch.push(toWire(m));
      }
      const ok = s.write({ clusterId: this.o.clusterId, from: this.o.nodeId, messages: batch, wallMs: this.o.wallNow() });
      if (!ok) p.blocked = true;
    }
    if (p.notice && !p.blocked && !p.queue.length) {
      const { kind, term } = p.notice;
      p.notice = undefined;
      if (!s.write({ clusterId: this.o.clusterId, from: this.o.nodeId, messages: [], idle: kind === 'idle' ? 1 : 2, idleTerm: term, wallMs: this.o.wallNow() })) p.blocked = true;
    }
  }

  private sendSnapshot(p: Peer, m: Message): void {
    if (p.snapshotInFlight || !m.snapshot) return;
    p.snapshotInFlight = true;
    const data = m.snapshot.data;
    const started = Date.now();
    this.o.log.info('sending snapshot', { peer: p.id, index: m.snapshot.metadata.index, bytes: data.length });
    const done = (ok: boolean, err?: string) => {
      if (!p.snapshotInFlight) return;
      p.snapshotInFlight = false;
      this.o.log.info(ok ? 'snapshot sent' : 'snapshot send failed', { peer: p.id, index: m.snapshot!.metadata.index, ms: Date.now() - started, error: err });
      this.o.onSnapshotStatus(p.id, ok);
    };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const call = (p.client as any).Snapshot(this.metadata(), { deadline: Date.now() + 300_000 }, (err: grpc.ServiceError | null) => {
      done(!err, err?.details);
    }) as grpc.ClientWritableStream<unknown>;
    call.on('error', () => { /* reported through the callback */ });
    const chunk = this.o.limits.snapshotChunkBytes;
    let off = 0;
    const writeMore = () => {
      while (off < data.length) {
        const part = Buffer.from(data.buffer, data.byteOffset + off, Math.min(chunk, data.length - off));
        off += part.length;
        if (!call.write({ clusterId: this.o.clusterId, from: this.o.nodeId, data: part })) {
          call.once('drain', writeMore);
          return;
        }
      }
      call.end();
    };
    call.write({ clusterId: this.o.clusterId, from: this.o.nodeId, message: toWire(m), totalBytes: data.length });
    writeMore();
  }

  /** Authenticates a Raft call (security.ts) and notes the caller's client address. */
  private caller(call: grpc.ServerReadableStream<any, unknown>): { from: number } | { error: StatusError } {
    const who = this.o.security.authenticatePeer(call);
    if ('from' in who) {
      const addr = call.metadata.get(MD_CLIENT_ADDRESS)[0];
      if (typeof addr === 'string' && addr.length <= MAX_CLIENT_ADDRESS_CHARS && /^[^\s,]+:\d{1,5}$/.test(addr)) this.o.onPeerClientAddress(who.from, addr);
    }
    return who;
  }

  /** Handlers for the Raft service on this node's peer port. */
  serverHandlers(): grpc.UntypedServiceImplementation {
    return {
      Send: (call: grpc.ServerReadableStream<any, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const who = this.caller(call);
        if ('error' in who) { cb(who.error); return; }
        const from = who.from;
        const capable = call.metadata.get(MD_IDLE)[0] === '1';
        if (capable) this.idleCapable.set(from, (this.idleCapable.get(from) ?? 0) + 1);
        let finished = false;
        let ended = false;
        const finish = (err: StatusError | null) => {
          if (finished) return;
          finished = true;
          if (err) cb(err); else cb(null, {});
        };
        // The peer's stream is gone: a node idling on that peer's word must not wait for a slow election timeout.
        const gone = () => {
          if (ended) return;
          ended = true;
          if (capable) this.idleCapable.set(from, (this.idleCapable.get(from) ?? 1) - 1);
          if (!this.closed) this.o.onPeerStreamEnded(from);
        };
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        call.on('data', (batch: any) => {
          if (finished) return;
          // Membership can change while a stream is open: a removed node is cut off at its next batch,
          // except a leader that removed itself, whose leadership handoff is still taken for a moment.
          const member = this.o.security.isMember(from);
          const handoff = !member && this.o.handoffFrom(from);
          if (!member && !handoff) {
            finish(this.o.security.refuse('peer_not_member', `node ${from} is no longer a member`, { peer: call.getPeer() }));
            return;
          }
          const checked = checkBatch(batch, from, this.o.nodeId, this.o.limits.peer, (w) => fromWire(w));
          if ('reason' in checked) {
            // Nothing of a bad batch is stepped, and the stream ends: a correct peer never sends one.
            finish(this.o.security.refuse(checked.reason, checked.details, { peer: call.getPeer(), from }));
            return;
          }
          if (handoff) {
            for (const m of checked.messages) if (m.type === MessageType.MsgTimeoutNow) this.o.onMessage(m);
            return;
          }
          this.o.onPeerClock(from, checked.wallMs);
          for (const m of checked.messages) this.o.onMessage(m);
          if (checked.notice) this.o.onIdleNotice(from, checked.notice.kind, checked.notice.term);
        });
        call.on('end', () => { gone(); finish(null); });
        call.on('error', () => { gone(); finish(null); });
        call.on('close', gone);
      },
      Snapshot: (call: grpc.ServerReadableStream<any, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const who = this.caller(call);
        if ('error' in who) { cb(who.error); return; }
        const from = who.from;
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        let head: any;
        let total = 0;
        let buf: Buffer | undefined;
        let got = 0;
        let failed = false;
        const fail = (err: StatusError) => {
          if (failed) return;
          failed = true;
          cb(err);
        };
        const invalid = (details: string) => fail({ code: grpc.status.INVALID_ARGUMENT, details });
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        call.on('data', (c: any) => {
          if (failed) return;
          if (!head) {
            if (Number(c.from) !== from) return fail(this.o.security.refuse('peer_from_mismatch', `snapshot names node ${String(c.from)} as sender, the connection is node ${from}`, { peer: call.getPeer() }));
            const problem = checkSnapshotHead(c.message, from, this.o.nodeId, this.o.limits.peer);
            if (problem) return fail(this.o.security.refuse(problem.reason, problem.details, { peer: call.getPeer(), from }));
            total = Number(c.totalBytes);
            if (!Number.isSafeInteger(total) || total < 0 || total > this.o.limits.maxSnapshotBytes) return invalid(`snapshot of ${c.totalBytes} bytes exceeds maxSnapshotBytes ${this.o.limits.maxSnapshotBytes}`);
            head = c.message;
            buf = Buffer.allocUnsafe(total);
            return;
          }
          const d: Buffer = c.data;
          if (got + d.length > total) return invalid(`snapshot data exceeds announced ${total} bytes`);
          d.copy(buf!, got);
          got += d.length;
        });
        call.on('end', () => {
          if (failed) return;
          if (!head || got !== total) return invalid(`snapshot incomplete: ${got} of ${total} bytes`);
          this.o.onMessage(fromWire(head, buf!));
          cb(null, { receivedBytes: got });
        });
        call.on('error', () => { failed = true; });
      },
    };
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.peers.keys()]) this.removePeer(id);
  }
}
