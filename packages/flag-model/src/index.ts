// Public API of @flagraft/flag-model (see docs/CONTRACTS.md and README.md):
// what other packages use, and the types of the contracts. Helpers only the
// package itself uses (semver parsing, bucket maths, encoding constants) stay
// inside; its tests import them from their modules.
export type {
  JsonPrimitive, JsonValue, FlagType, ConditionOp, ConditionScalar, Condition, RolloutWeight, Rollout, Rule,
  FlagDefinition, SegmentDefinition, StoredFlag, StoredSegment, ValidationIssue,
  PutFlagOp, DeleteFlagOp, PutSegmentOp, DeleteSegmentOp, SubCommand, BatchOp, CommandEnvelope, Command,
  CommandErrorCode, CommandError, Change, ChangeKind, StoredItem, ApplyResult, StateView,
  ApprovalPolicy, EnvironmentDefinition, StoredEnvironment, ChangeRequestStatus, ChangeRequestOp, ChangeRequestBase, ChangeConflict,
  ChangeRequestEvent, ChangeRequest, StoredChangeRequest, ScheduleStepStatus, ScheduleStep, Schedule, StoredSchedule,
  PutEnvironmentOp, DeleteEnvironmentOp, PromoteOp, ChangeRequestAction, ChangeRequestCommandOp, ScheduleAction, ScheduleCommandOp, TopLevelOp,
  EvaluationContext, EvaluationReason, EvaluationErrorCode, EvaluationResult, SegmentLookup,
} from './types.js';
export { LIMITS, KEY_PATTERN, NAME_PATTERN } from './limits.js';
export type { Limits } from './limits.js';
export { ValidationError, CommandDecodeError } from './errors.js';
export { validateFlag, validateSegment, flagIssues, referencedSegments, CONDITION_OPS } from './validate.js';
export { encodeCommand, decodeCommand } from './commands.js';
export { applyCommand, MemoryStateView } from './apply.js';
export {
  DEFAULT_ENVIRONMENT, validateEnvironment, isProtected, promotionPlan, defaultConfigFor, withConfig, sameDefinition, CONFIG_FIELDS,
} from './environments.js';
export type { PromotionItem } from './environments.js';
export { validApprovals, conflictsOf } from './change-requests.js';
export { dueStep, nextDueAt } from './schedules.js';
export { CHANGE_REQUEST_OPS, commandProblem } from './commands.js';
export { AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, AUDIT_MAX_FILTER_CHARS, AUDIT_KINDS, parseAuditArgs, auditMatches, auditCursor } from './audit.js';
export type { AuditFilter } from './audit.js';
export { evaluate, explainEvaluation, compileFlag, CompiledFlag } from './evaluate.js';
export type { EvaluationTrace } from './evaluate.js';
export { murmur3 } from './murmur3.js';
export { fractionalIndex } from './bucketing.js';
export { legacyFlagFromValue, legacyValueOf } from './legacy.js';
export { flagJsonSchema, segmentJsonSchema } from './schema.js';
export { FLAG_KIND, SEGMENT_KIND, ITEM_KINDS, itemPath, storedItemId } from './item-kind.js';
export type { ItemKind, FlagKind, SegmentKind, AnyItemKind } from './item-kind.js';
export { BACKUP_FORMAT, MAX_REPORTED_ISSUES, backupIssues, validateBackup, storedItemIssues, storedRecordIssues, changeIssues } from './backup.js';
export type { BackupDocument } from './backup.js';
export {
  RESTORE_KINDS, applyRestoreCommand, encodeRestoreCommand, decodeRestoreCommand, restoreCommandProblem, restoreItemsBytes, chunkItems,
} from './restore.js';
export type {
  RestoreKind, RestoreCounts, RestoreSource, RestoreCommand, RestoreSession, RestoreTarget, StagedRow, RestoreErrorCode, RestoreError, RestoreStep,
} from './restore.js';
export type {
  EventHeader, FlagPutEvent, FlagDeleteEvent, SegmentPutEvent, SegmentDeleteEvent, FlagChangeEvent, SegmentChangeEvent, ChangeEvent,
  RecordChangeEvent, AnyChangeEvent, ChainFields, TruncatedChangeEvent, PublishedChangeEvent, ResetReason, ResetEvent, ChainEvent, Unchained, ReceivedChangeEvent,
  TruncatedRecordEvent, PublishedAnyEvent, ReceivedAnyEvent,
} from './events.js';
export { changeEvent } from './events.js';
export type { ChangeEventSource } from './events.js';
export { JSON_LIMITS, jsonShapeViolations, jsonTextDepthViolation, jsonWithinLimits, safeIntegerViolation, pointerOfPath } from './json-limits.js';
export type { JsonLimits, JsonLimitName, JsonLimitViolation } from './json-limits.js';
