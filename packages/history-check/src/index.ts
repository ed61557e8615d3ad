// Public API of @flagraft/history-check (explicit named exports only).
export type {
  BatchOp,
  CheckOptions,
  CheckResult,
  DeleteOp,
  Failure,
  FailureKind,
  InitialItem,
  Op,
  OpBase,
  PutOp,
  ReadOp,
  ReadResult,
  Write,
  WriteOp,
  WriteResult,
} from './types.js';
export { HistoryError } from './types.js';
export { checkHistory, describeFailure, describeOp } from './check.js';
export { DEFAULT_MAX_STEPS } from './search.js';
export { MAX_SHRINK_OPS, minimalWindow } from './window.js';
export type { CommittedLog, StreamChange, StreamEvent, StreamFailure, StreamFailureKind, StreamOptions, StreamResult } from './stream.js';
export { checkStream, committedLog } from './stream.js';
