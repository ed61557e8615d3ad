// Public API of @flagraft/raft-core (explicit named exports only).
export * from './types.js';
export type { Storage, InitialState, MemoryStorageOptions } from './storage.js';
export { MemoryStorage } from './storage.js';
export type { Config, Logger, LogLevel } from './config.js';
export {
  DEFAULT_MAX_COMMITTED_SIZE_PER_READY_BYTES,
  DEFAULT_MAX_ENTRIES_PER_MSG,
  DEFAULT_MAX_INFLIGHT_MSGS,
  DEFAULT_MAX_SIZE_PER_MSG_BYTES,
  DEFAULT_MAX_UNCOMMITTED_ENTRIES_BYTES,
  resolveConfig,
} from './config.js';
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
export { RawNode, validateMessage, confChangeOf } from './raw-node.js';
export type { Status, ProgressStatus } from './status.js';
export { ProgressState } from './tracker/progress.js';
export { encodeConfChange, decodeConfChange, MAX_CONF_CHANGES } from './confchange/confchange.js';
export { ENTRY_OVERHEAD_BYTES, entrySize, limitSize } from './util.js';
export { MAX_PENDING_READ_INDEX } from './read-only.js';
