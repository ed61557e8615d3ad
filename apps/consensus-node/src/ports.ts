// What the client-facing gRPC services (api.ts, backup-api.ts) may use of
// the node, and nothing more: node-core.ts builds these from its parts.
import type * as grpc from '@grpc/grpc-js';
import type { Change, ChangeKind, StoredFlag, StoredSegment } from '@flagraft/flag-model';
import type { ConfChangeType } from '@flagraft/raft-core';
import type { ApiError } from './errors.js';
import type { Logger } from './log.js';
import type { MemberStatus, NodeStatus } from './node-core.js';
import type { CommandInput, RestoreInput } from './proposer.js';
import type { RestoreOutcome, WriteOutcome } from './state-machine.js';
import type { ItemKind } from './storage/state-store.js';
import type { WatchHub } from './watch-hub.js';

/** Checks every client call passes after the TLS interceptor, and who a write is for. */
export interface CallGate {
  /** The cluster id header (a client pointed at the wrong cluster) and shutdown. */
  check(md: grpc.Metadata): ApiError | undefined;
  /** The actor a write is recorded for: the caller's own, or the user a gateway vouches for (security.ts). */
  writeActor(call: grpc.ServerUnaryCall<unknown, unknown>, claimed: string): string;
  /** The role a write is recorded with (security.ts writeRole). */
  writeRole(call: grpc.ServerUnaryCall<unknown, unknown>, claimed: string): string | undefined;
  /** The de-duplication client id of a write (per caller identity; `keyed`: an Idempotency-Key write, see security.ts). */
  dedupClientId(call: grpc.ServerUnaryCall<unknown, unknown>, clientId: string | undefined, keyed: boolean): string | undefined;
}

/** Proposing writes; each resolves with the outcome once applied on this node (the leader). */
export interface WritePort {
  propose(cmd: CommandInput): Promise<WriteOutcome>;
  proposeRestore(cmd: RestoreInput): Promise<RestoreOutcome>;
}

/** Reading the state, after a ReadIndex barrier for linearizable reads. */
export interface ReadPort {
  /** Resolves once this node's state is at least as new as any write acknowledged before the call. */
  barrier(): Promise<void>;
  /** The cluster revision of what this node has applied. */
  appliedRevision(): number;
  getFlag(key: string): StoredFlag | undefined;
  getSegment(name: string): StoredSegment | undefined;
  /** Items (JSON text) in key order after `afterKey` with the prefix. */
  list(kind: ItemKind, prefix: string, afterKey: string, limit: number): string[];
  /** Every item of a kind (JSON text), in key order. */
  allItems(kind: ItemKind): string[];
  history(kind: ChangeKind, key: string, beforeRevision: number, limit: number, env?: string): Change[];
  /** Environments: undefined = the default one. */
  environmentExists(env: string): boolean;
  getFlagIn(env: string | undefined, key: string): StoredFlag | undefined;
  allFlagsIn(env: string | undefined): string[];
  /** QueryRequest.what with its args (api.ts checks them): a JSON-able result. */
  query(what: string, args: Record<string, unknown>): unknown;
}

/** Changing who is in the cluster (on the leader). */
export interface MembershipPort {
  members(): MemberStatus[];
  isLeader(): boolean;
  /** A learner may be promoted when it is at most this many entries behind. */
  readonly maxPromoteLag: number;
  change(type: ConfChangeType, nodeId: number, address?: string): Promise<void>;
  transferLeader(nodeId: number): Promise<void>;
}

/** A backup is read on the leader from the state file, on a connection of its own. */
export interface BackupPort {
  readonly clusterId: string;
  readonly nodeId: number;
  /** The state file (flagraft.db) backup-reader.ts opens read-only. */
  readonly stateFilePath: string;
  readonly log: Logger;
  isLeader(): boolean;
  /** The leader as this node knows it (for NOT_LEADER answers). */
  leader(): { leaderId: number; leaderAddress: string };
  barrier(): Promise<void>;
  proposeRestore(cmd: RestoreInput): Promise<RestoreOutcome>;
}

/** Everything the Flags service uses. */
export interface FlagsPorts {
  calls: CallGate;
  writes: WritePort;
  reads: ReadPort;
  membership: MembershipPort;
  watch: WatchHub;
  backup: BackupPort;
  status(): NodeStatus;
}
