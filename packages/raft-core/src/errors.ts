// Named, exported error values (etcd style): callers compare with `===` or
// `instanceof RaftError` and read `.code`, never parse messages.
import type { NodeId } from './types.js';

export class RaftError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** The requested index is older than the first index still held (it was compacted into a snapshot). */
export const ErrCompacted = new RaftError('ErrCompacted', 'requested index is unavailable due to compaction');
/** The requested index is newer than the last index held. */
export const ErrUnavailable = new RaftError('ErrUnavailable', 'requested entry at index is unavailable');
/** A snapshot older than the one already held was offered. */
export const ErrSnapOutOfDate = new RaftError('ErrSnapOutOfDate', 'requested index is older than the existing snapshot');
/** Storage is producing a snapshot right now; the core retries later. */
export const ErrSnapshotTemporarilyUnavailable = new RaftError(
  'ErrSnapshotTemporarilyUnavailable',
  'snapshot is temporarily unavailable',
);
/** A proposal was refused: no leader to take it, a leadership transfer is in progress, the uncommitted-size limit was hit, or this node was removed. */
export const ErrProposalDropped = new RaftError('ErrProposalDropped', 'raft proposal dropped');
/** A membership change is already pending (proposed but not yet applied), or the leader has not yet applied an entry of its own term. */
export const ErrConfChangePending = new RaftError(
  'ErrConfChangePending',
  'a configuration change is already pending (or the leader has not applied an entry of its term yet)',
);
/** step() was given a message type that only the local node may generate (MsgHup, MsgBeat, ...). */
export const ErrStepLocalMsg = new RaftError('ErrStepLocalMsg', 'cannot step raft local message');
/** step() was given a response from a peer that is not in the configuration. */
export const ErrStepPeerNotFound = new RaftError('ErrStepPeerNotFound', 'cannot step as peer not found');
/** ready() was called again before advance(). */
export const ErrReadyOutstanding = new RaftError('ErrReadyOutstanding', 'ready() called while a Ready is outstanding; call advance() first');
/** advance() was called without an outstanding Ready. */
export const ErrNoReady = new RaftError('ErrNoReady', 'advance() called without an outstanding Ready');

/** propose/proposeConfChange on a node that is not the leader. `leaderHint` is the leader it knows (0 = none). */
export class NotLeaderError extends RaftError {
  constructor(readonly leaderHint: NodeId) {
    super('NotLeader', leaderHint ? `not the leader; the leader is node ${leaderHint}` : 'not the leader; no leader known');
  }
}

/** A membership change that cannot be applied to the current configuration; the message says why. */
export class ConfChangeError extends RaftError {
  constructor(message: string) {
    super('ErrConfChangeInvalid', message);
  }
}

/** An invalid Config; `field` names the offending field. */
export class ConfigError extends RaftError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('ErrInvalidConfig', `${field}: ${message}`);
  }
}

/** A message given to step() is malformed; `field` names what is wrong. */
export class InvalidMessageError extends RaftError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('ErrInvalidMessage', `${field}: ${message}`);
  }
}

/** Thrown when an internal invariant is broken: a bug, never an input error. */
export class InvariantError extends RaftError {
  constructor(message: string) {
    super('ErrInvariant', message);
  }
}

export function invariant(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new InvariantError(typeof message === 'string' ? message : message());
}
