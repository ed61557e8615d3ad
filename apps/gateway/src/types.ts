// The slice of @flagraft/cluster-client the gateway uses, and the change event
// shape (docs/CONTRACTS.md). Typed here so the gateway states exactly what it
// depends on; the real client satisfies it structurally.
import type {
  Change,
  FlagDefinition,
  SegmentDefinition,
  StoredFlag,
  StoredSegment,
  SubCommand,
  TopLevelOp,
} from '@flagraft/flag-model';
import type { ClusterMember } from '@flagraft/api';

export type Consistency = 'linearizable' | 'stale';

/** De-duplication ids from an Idempotency-Key (idempotency.ts); the cluster applies a write with the same ids once. */
export interface WriteIdempotency {
  clientId: string;
  requestId: string;
  fingerprint: string;
}

export interface WriteOptions {
  expectedRevision?: number;
  actor: string;
  idempotency?: WriteIdempotency;
  /** Flags: the environment written (absent = the default environment). */
  environment?: string;
  /** The token's role, vouched for by the gateway (approval policies may name roles). */
  actorRole?: string;
}

/** A read of one environment's flags (absent = the default environment). */
export interface EnvironmentOption { environment?: string }

export interface ListOptions extends EnvironmentOption {
  prefix?: string;
  limit?: number;
  pageToken?: string;
  consistency?: Consistency;
}

export interface WatchHandle {
  close(): void;
}

export interface WatchOptions {
  /** Deliver changes with revision > fromRevision. */
  fromRevision: number;
  onChange(change: unknown): void;
  onProgress?(revision: number): void;
  onCompacted?(): void;
  /** willRetry false: the watch has stopped. */
  onError?(err: unknown, willRetry?: boolean): void;
  /** Also other environments' flags (with `env`) and environment / change request / schedule records. */
  allEnvironments?: boolean;
}

/** A member as the REST API reports it: @flagraft/api's contract (the cluster client's MemberInfo satisfies it). */
export type { ClusterMember };

/** What the gateway reads of the cluster's status; the answer is passed on whole (the client's ClusterStatus has more). */
export interface ClusterStatus {
  clusterId: string;
  leaderId?: number | string;
  term?: number;
  members: ClusterMember[];
  commitIndex?: number;
  appliedIndex?: number;
  /** Revision at the applied index (differs from appliedIndex once the cluster was restored from a backup). */
  appliedRevision?: number;
  publishedRevision?: number;
}

export interface ClusterPort {
  putFlag(flag: FlagDefinition, opts: WriteOptions): Promise<{ revision: number; flag: StoredFlag }>;
  deleteFlag(key: string, opts: WriteOptions): Promise<{ revision: number }>;
  putSegment(segment: SegmentDefinition, opts: WriteOptions): Promise<{ revision: number; segment?: StoredSegment }>;
  deleteSegment(name: string, opts: WriteOptions): Promise<{ revision: number }>;
  batch(ops: SubCommand[], opts: { actor: string; idempotency?: WriteIdempotency; actorRole?: string }): Promise<{ revision: number; changes: Change[] }>;
  getFlag(key: string, opts?: { consistency?: Consistency } & EnvironmentOption): Promise<StoredFlag | undefined>;
  /** Not in the CONTRACTS list; used when the client has it, else a prefix list. */
  getSegment?(name: string, opts?: { consistency?: Consistency }): Promise<StoredSegment | undefined>;
  listFlags(opts?: ListOptions): Promise<{ flags: StoredFlag[]; nextPageToken?: string; revision: number }>;
  listSegments(opts?: ListOptions): Promise<{ segments: StoredSegment[]; nextPageToken?: string; revision: number }>;
  snapshotAll(opts?: EnvironmentOption): Promise<{ revision: number; flags: StoredFlag[]; segments: StoredSegment[] }>;
  history(key: string, opts?: { limit?: number; beforeRevision?: number; kind?: 'flag' | 'segment' } & EnvironmentOption): Promise<Change[]>;
  /**
   * Environment, promotion, change request and schedule commands (issue 16).
   * Optional: a cluster from before environments (a test's stand-in) has
   * neither this nor query; the gateway then holds only the default environment.
   */
  propose?(command: TopLevelOp, opts: { actor: string; actorRole?: string; requestId?: string; idempotency?: WriteIdempotency }): Promise<{ revision: number; changes: Change[] }>;
  /** environments, changeRequests, changeRequest {id}, schedules, schedule {id}, promotionPlan {from, to, keys?}, changes (the audit log, routes/changes.ts). */
  query?<T = unknown>(what: string, args?: Record<string, unknown>, opts?: { consistency?: Consistency }): Promise<T>;
  watch(opts: WatchOptions): WatchHandle;
  status(): Promise<ClusterStatus>;
  /** `address`: the new node's peer (Raft) address. */
  addLearner(id: number, address: string): Promise<unknown>;
  promoteLearner(id: number): Promise<unknown>;
  removeMember(id: number): Promise<unknown>;
  transferLeader(id: number): Promise<unknown>;
  close(): void | Promise<void>;
}

/** A committed change as streamed to clients (CONTRACTS.md "Change events"). */
export type { ChangeEvent } from '@flagraft/cluster-client';
/** What a stream of every environment carries (flag-model's contract). */
export type { AnyChangeEvent, RecordChangeEvent } from '@flagraft/flag-model';
