// A read-only picture of a node, for the driver's status endpoint and tests.
import type { ProgressState } from './tracker/progress.js';
import type { ConfState, NodeId, StateType } from './types.js';

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  isLearner: boolean;
  recentActive: boolean;
  /** MsgApp messages in flight to this peer. */
  inflight: number;
  pendingSnapshot: number;
}

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lead: NodeId;
  raftState: StateType;
  /** First and last index of the log this node holds. */
  firstIndex: number;
  lastIndex: number;
  /** Per-peer replication state; only on the leader (empty otherwise). */
  progress: Record<NodeId, ProgressStatus>;
  confState: ConfState;
  leadTransferee: NodeId;
  isLearner: boolean;
}
