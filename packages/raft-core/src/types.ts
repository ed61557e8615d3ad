// The wire-level and storage-level shapes of raft-core, modelled on etcd's
// raftpb. This file is the contract between the core and its drivers
// (apps/consensus-node, the simulator): change it only with both in mind.
// Ids and indexes are plain numbers (safe integers, > 0 for node ids; 0
// means "none"), because 2^53 entries is beyond any flag store's lifetime.

export type NodeId = number;

/** No node / no leader / no vote. */
export const NONE: NodeId = 0;

export enum EntryType {
  /** An application command (or the empty no-op a new leader appends). */
  Normal = 0,
  /** A membership change; data is encodeConfChange(cc). */
  ConfChange = 1,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Opaque to the core for Normal entries; empty for the leader's no-op. */
  data: Uint8Array;
}

/** What must be on disk before any message that depends on it is sent. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** The membership of the cluster at some point of the log. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
  /** Voters of the outgoing configuration while in a joint configuration (empty otherwise). */
  votersOutgoing: NodeId[];
  /** Learners that become learners once the joint configuration is left. */
  learnersNext: NodeId[];
  /** Leave the joint configuration automatically once it is committed. */
  autoLeave: boolean;
}

export interface SnapshotMetadata {
  /** Last log index covered by the snapshot. */
  index: number;
  /** Term of that entry. */
  term: number;
  /** Membership as of `index`. */
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  /** Opaque application state (the consensus node streams it in chunks). */
  data: Uint8Array;
}

export enum ConfChangeType {
  /** Add a voter, or promote an existing learner to voter. */
  AddNode = 0,
  RemoveNode = 1,
  /** Add a non-voting learner (or demote a voter to learner). */
  AddLearnerNode = 2,
}

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: NodeId;
}

/**
 * A membership change. One change is applied on its own; several at once go
 * through a joint configuration. `transition` as in etcd's ConfChangeV2.
 */
export interface ConfChange {
  changes: ConfChangeSingle[];
  transition?: 'auto' | 'implicit' | 'explicit';
  /** Opaque to the core; the application uses it to carry e.g. the new node's address. */
  context?: Uint8Array;
}

export enum MessageType {
  MsgHup = 0,
  MsgBeat = 1,
  MsgProp = 2,
  MsgApp = 3,
  MsgAppResp = 4,
  MsgVote = 5,
  MsgVoteResp = 6,
  MsgSnap = 7,
  MsgHeartbeat = 8,
  MsgHeartbeatResp = 9,
  MsgUnreachable = 10,
  MsgSnapStatus = 11,
  MsgCheckQuorum = 12,
  MsgTransferLeader = 13,
  MsgTimeoutNow = 14,
  MsgReadIndex = 15,
  MsgReadIndexResp = 16,
  MsgPreVote = 17,
  MsgPreVoteResp = 18,
}

export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  /** Term of the entry at `index` (MsgApp: prev log term; votes: last log term). */
  logTerm: number;
  /** MsgApp: prev log index; MsgAppResp: the acknowledged or rejected index; votes: last index. */
  index: number;
  entries: Entry[];
  commit: number;
  /** Only on MsgSnap. */
  snapshot?: Snapshot;
  reject: boolean;
  /** On a rejected MsgAppResp: the follower's hint for fast back-off. */
  rejectHint: number;
  /** MsgReadIndex / heartbeats: the read request context. */
  context?: Uint8Array;
}

export enum StateType {
  Follower = 'follower',
  Candidate = 'candidate',
  Leader = 'leader',
  PreCandidate = 'pre-candidate',
}

/** Volatile state surfaced in Ready when it changes (not persisted). */
export interface SoftState {
  lead: NodeId;
  raftState: StateType;
}

/** A linearizable read may be served once the node has applied `index`. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/**
 * What the application must do now, in this order: persist hardState,
 * entries and snapshot (fsync if mustSync), send messages, apply the
 * snapshot then committedEntries, then call advance(). Only one Ready is
 * outstanding at a time.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  readStates: ReadState[];
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  mustSync: boolean;
}

export enum SnapshotStatus {
  Finish = 0,
  Failure = 1,
}
