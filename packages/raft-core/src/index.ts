// Public API of @flagraft/raft-core (explicit named exports only): what the
// consensus node, the simulator and the tests use, and the types that make up
// those signatures.
export {
  EntryType, ConfChangeType, MessageType, StateType, SnapshotStatus,
  type NodeId, type Entry, type HardState, type ConfState, type SnapshotMetadata, type Snapshot,
  type ConfChangeSingle, type ConfChange, type Message, type SoftState, type ReadState, type Ready,
} from './types.js';
export { MemoryStorage, type Storage, type InitialState, type MemoryStorageOptions } from './storage.js';
export type { Config, Logger, LogLevel, ReadOnlyOption } from './config.js';
export { createRng, type Rng } from './rng.js';
export {
  RaftError,
  ErrCompacted,
  ErrUnavailable,
  ErrSnapOutOfDate,
  ErrSnapshotTemporarilyUnavailable,
  ErrProposalDropped,
  ErrConfChangePending,
  ErrStepLocalMsg,
  ErrStepPeerNotFound,
  ErrReadyOutstanding,
  ErrNoReady,
  NotLeaderError,
  ConfChangeError,
  ConfigError,
  InvalidMessageError,
  InvariantError,
} from './errors.js';
export { RawNode, validateMessage } from './raw-node.js';
export type { Status, ProgressStatus } from './status.js';
export { ProgressState } from './tracker/progress.js';
export { encodeConfChange, decodeConfChange, MAX_CONF_CHANGES } from './confchange/confchange.js';
export { MAX_PENDING_READ_INDEX } from './read-only.js';
