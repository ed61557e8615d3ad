// Public data shapes of flagraft flags, segments, commands and evaluation
// results. These are the contract other packages code against
// (docs/CONTRACTS.md, "flag-model"): change them only backward compatibly.

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };

export type FlagType = 'boolean' | 'string' | 'number' | 'object';

/** Condition operators. Negated operators are the exact negation of their positive form. */
export type ConditionOp =
  | 'equals' | 'notEquals'
  | 'in' | 'notIn'
  | 'contains' | 'notContains'
  | 'startsWith' | 'endsWith'
  | 'lt' | 'lte' | 'gt' | 'gte'
  | 'semverEq' | 'semverNeq' | 'semverLt' | 'semverLte' | 'semverGt' | 'semverGte'
  | 'exists' | 'notExists'
  | 'matches';

export type ConditionScalar = string | number | boolean;

/**
 * A test on one context attribute. `attribute` is a top-level context key
 * (e.g. `country`, `targetingKey`); if no such key exists and the name
 * contains dots, it is read as a path into nested objects (`user.plan`).
 */
export interface Condition {
  attribute: string;
  op: ConditionOp;
  /** Absent for exists/notExists; a list for in/notIn; a number for lt..gte; a semver string for semver*. */
  value?: ConditionScalar | ConditionScalar[];
}

export interface RolloutWeight {
  variant: string;
  /** Non-negative integer. Share = weight / sum of weights. */
  weight: number;
}

export interface Rollout {
  /** Ordered: the order decides which users land in which variant (flagd fractional v2). */
  weights: RolloutWeight[];
  /** Context attribute whose value is hashed; default `targetingKey`. */
  bucketBy?: string;
  /**
   * What to do when the bucketBy attribute is missing: `error` (default)
   * answers ERROR / TARGETING_KEY_MISSING (or INVALID_CONTEXT for another
   * attribute); `skip` treats the rule as not matching and goes on.
   */
  onMissing?: 'error' | 'skip';
}

/** An ordered targeting rule: all conditions and segments must match; serves a variant or a rollout. */
export interface Rule {
  id?: string;
  description?: string;
  conditions: Condition[];
  /** Segments the context must match (all of them). */
  segments?: string[];
  /** Segments the context must NOT match (none of them). */
  excludeSegments?: string[];
  variant?: string;
  rollout?: Rollout;
}

export interface FlagDefinition {
  key: string;
  type: FlagType;
  variants: Record<string, JsonValue>;
  defaultVariant: string;
  /** Served while `enabled` is false. Booleans without one serve `false`. */
  offVariant?: string;
  /** The kill switch. */
  enabled: boolean;
  rules: Rule[];
  description?: string;
  tags?: string[];
  owner?: string;
  /** Returned with every evaluation of this flag. */
  metadata?: Record<string, string | number | boolean>;
}

export interface SegmentDefinition {
  name: string;
  description?: string;
  /** All must match for a context to be in the segment. */
  conditions: Condition[];
}

export interface StoredFlag {
  flag: FlagDefinition;
  createRevision: number;
  modRevision: number;
  version: number;
  /** ms since the epoch, from the command's `time`. */
  updatedAt: number;
  updatedBy: string;
}

export interface StoredSegment {
  segment: SegmentDefinition;
  createRevision: number;
  modRevision: number;
  version: number;
  updatedAt: number;
  updatedBy: string;
}

export interface ValidationIssue {
  /** Field path such as `rules[2].rollout.weights` ('' = the whole value). */
  path: string;
  message: string;
}

// ---- environments, change requests, schedules (environments.ts) -----------

/**
 * Who must agree before a change reaches an environment. approvalsRequired
 * 0 = direct writes allowed; N > 0 = the environment is protected: every write
 * into it goes through a change request with N approvals (apply.ts enforces it).
 */
export interface ApprovalPolicy {
  approvalsRequired: number;
  /** The author of a change request cannot approve it. */
  authorCannotApprove?: boolean;
  /** Who may approve or reject: actors with one of these roles (the envelope's actorRole), or these named actors. Neither = anyone. */
  approverRoles?: string[];
  approvers?: string[];
}

export interface EnvironmentDefinition {
  /** Stable id (key characters); what commands, tokens and rows name. */
  name: string;
  /** What people see; renaming an environment changes this only. */
  displayName?: string;
  /** New flags arrive here switched off (and without an offVariant). */
  production?: boolean;
  policy?: ApprovalPolicy;
}

export interface StoredEnvironment {
  environment: EnvironmentDefinition;
  /** The environment commands without `env` (and the legacy endpoints, OFREP) act on; exactly one, never deleted. */
  isDefault: boolean;
  createRevision: number;
  modRevision: number;
  version: number;
  updatedAt: number;
  updatedBy: string;
}

export type ChangeRequestStatus = 'draft' | 'inReview' | 'approved' | 'applied' | 'rejected' | 'withdrawn' | 'conflicted';

/** What a change request may hold: writes into its own environment (each op's env is the request's). */
export type ChangeRequestOp = SubCommand | PromoteOp | PutEnvironmentOp;

/** An item a change request was made against: its revision then (0 = absent) and its content then. */
export interface ChangeRequestBase {
  kind: 'flag' | 'segment' | 'environment';
  key: string;
  env?: string;
  revision: number;
  item: StoredFlag | StoredSegment | StoredEnvironment | null;
}

/** A three-way conflict found on apply: base (when the request was made), current, and what the request would write. */
export interface ChangeConflict extends ChangeRequestBase {
  currentRevision: number;
  current: StoredFlag | StoredSegment | StoredEnvironment | null;
  proposed: FlagDefinition | SegmentDefinition | EnvironmentDefinition | null;
}

export interface ChangeRequestEvent { actor: string; time: number; text?: string; /** The actor's role when it acted (approver roles are checked against it). */ role?: string }

export interface ChangeRequest {
  id: string;
  env: string;
  title: string;
  description?: string;
  author: string;
  status: ChangeRequestStatus;
  ops: ChangeRequestOp[];
  bases: ChangeRequestBase[];
  approvals: ChangeRequestEvent[];
  rejections: ChangeRequestEvent[];
  comments: ChangeRequestEvent[];
  conflicts?: ChangeConflict[];
  /** Why the last apply did not happen (conflicted: an op no longer valid). */
  applyError?: string;
  appliedRevision?: number;
}

export interface StoredChangeRequest {
  changeRequest: ChangeRequest;
  createRevision: number;
  modRevision: number;
  version: number;
  updatedAt: number;
  updatedBy: string;
}

export type ScheduleStepStatus = 'pending' | 'applied' | 'conflicted' | 'failed' | 'cancelled';

/** One timed step: ops (an unprotected environment only) or an approved change request. */
export interface ScheduleStep {
  /** UTC, ms since the epoch. */
  at: number;
  ops?: ChangeRequestOp[];
  changeRequest?: string;
  status: ScheduleStepStatus;
  /** applied: the revision it applied at; conflicted / failed: what was found. */
  revision?: number;
  conflicts?: ChangeConflict[];
  error?: string;
}

export interface Schedule {
  id: string;
  env: string;
  title: string;
  createdBy: string;
  steps: ScheduleStep[];
  /** Revision each flag/segment a step touches must still be at (kept current as steps apply): a step on a stale base is conflicted. */
  bases: ChangeRequestBase[];
}

export interface StoredSchedule {
  schedule: Schedule;
  createRevision: number;
  modRevision: number;
  version: number;
  updatedAt: number;
  updatedBy: string;
}

// ---- commands -------------------------------------------------------------

/** `env`: the environment written (absent = the default environment). */
export interface PutFlagOp { op: 'putFlag'; flag: FlagDefinition; expectedRevision?: number; env?: string }
/** Deletes the flag everywhere (it has one definition); `env` names where expectedRevision is checked. */
export interface DeleteFlagOp { op: 'deleteFlag'; key: string; expectedRevision?: number; env?: string }
export interface PutSegmentOp { op: 'putSegment'; segment: SegmentDefinition; expectedRevision?: number }
export interface DeleteSegmentOp { op: 'deleteSegment'; name: string; expectedRevision?: number }
export type SubCommand = PutFlagOp | DeleteFlagOp | PutSegmentOp | DeleteSegmentOp;
export interface BatchOp { op: 'batch'; ops: SubCommand[] }

/** Creates or updates an environment; a new one copies every flag's configuration from `copyFrom` (default: the default environment). */
export interface PutEnvironmentOp { op: 'putEnvironment'; environment: EnvironmentDefinition; expectedRevision?: number; copyFrom?: string }
/** Refused while flags are configured in it unless `force` (which deletes those configurations too); never the default environment. */
export interface DeleteEnvironmentOp { op: 'deleteEnvironment'; name: string; force?: boolean; expectedRevision?: number }
/** Copies the configuration (enabled, rules, default/off variants) of `keys` (absent = every flag) from one environment to another, atomically. */
export interface PromoteOp { op: 'promote'; from: string; to: string; keys?: string[] }

export type ChangeRequestAction =
  | { action: 'create'; env?: string; title: string; description?: string; ops: ChangeRequestOp[]; submit?: boolean }
  | { action: 'submit' | 'approve' | 'reject' | 'withdraw' | 'apply'; id: string; comment?: string }
  | { action: 'comment'; id: string; comment: string }
  | { action: 'rebase'; id: string; ops?: ChangeRequestOp[] };
export type ChangeRequestCommandOp = { op: 'changeRequest' } & ChangeRequestAction;

export type ScheduleAction =
  | { action: 'create'; env?: string; title: string; steps: { at: number; ops?: ChangeRequestOp[]; changeRequest?: string }[] }
  | { action: 'cancel'; id: string }
  /** Proposed by the leader when a step is due; idempotent by (id, step). */
  | { action: 'fire'; id: string; step: number };
export type ScheduleCommandOp = { op: 'schedule' } & ScheduleAction;

export type TopLevelOp = PutEnvironmentOp | DeleteEnvironmentOp | PromoteOp | ChangeRequestCommandOp | ScheduleCommandOp;

export interface CommandEnvelope {
  v: 1;
  /** Who: the authenticated principal. */
  actor: string;
  /** The actor's role as authenticated (approval policies may name roles). */
  actorRole?: string;
  /** Client identity and request id: the node de-duplicates retried writes by (clientId, requestId). */
  clientId?: string;
  requestId?: string;
  /**
   * What the request that carried (clientId, requestId) said, hashed by the
   * caller (the gateway: an HTTP Idempotency-Key's method, path, preconditions
   * and body). A retry with the same ids but another fingerprint is refused
   * (IDEMPOTENCY_KEY_REUSED) instead of being answered with the first result.
   */
  fingerprint?: string;
  /** ms since the epoch, stamped by the proposing node so every replica applies the same value. */
  time: number;
}

export type Command = CommandEnvelope & (SubCommand | BatchOp | TopLevelOp);

export type CommandErrorCode =
  | 'REVISION_MISMATCH' | 'VALIDATION' | 'NOT_FOUND' | 'SEGMENT_MISSING' | 'SEGMENT_IN_USE' | 'BAD_COMMAND'
  | 'IDEMPOTENCY_KEY_REUSED'
  /** A direct write into an environment whose policy requires change requests. */
  | 'PROTECTED'
  /** The actor may not do this (approve their own request, not an approver, not the author). */
  | 'FORBIDDEN'
  /** The change request / schedule is not in a state that allows this. */
  | 'INVALID_STATE'
  /** An environment still has flags configured (deleteEnvironment without force), or is the default. */
  | 'ENVIRONMENT_IN_USE';

export interface CommandError {
  code: CommandErrorCode;
  message: string;
  /** The flag key or segment name concerned. */
  key?: string;
  /** The environment concerned. */
  env?: string;
  /** For REVISION_MISMATCH: the current modRevision (0 = does not exist). */
  currentRevision?: number;
  /** For REVISION_MISMATCH: what the command expected. */
  expectedRevision?: number;
  /** For VALIDATION. */
  issues?: ValidationIssue[];
  /** For SEGMENT_IN_USE: the flags referencing the segment. */
  usedBy?: string[];
  /** For errors inside a batch: the index of the failing op. */
  opIndex?: number;
}

export type ChangeKind = 'flag' | 'segment' | 'environment' | 'changeRequest' | 'schedule';
export type StoredItem = StoredFlag | StoredSegment | StoredEnvironment | StoredChangeRequest | StoredSchedule;

export interface Change {
  kind: ChangeKind;
  key: string;
  /** Flag changes outside the default environment: the environment (absent = the default environment, as before environments existed). */
  env?: string;
  op: 'put' | 'delete';
  before: StoredItem | null;
  after: StoredItem | null;
  actor: string;
  time: number;
  revision: number;
}

export type ApplyResult = { ok: true; changes: Change[] } | { ok: false; error: CommandError };

/** Read access to the current state, e.g. inside the node's SQLite transaction. */
export interface StateView {
  /** A flag of the default environment. */
  getFlag(key: string): StoredFlag | undefined;
  getSegment(name: string): StoredSegment | undefined;
  /** Keys of the flags (any environment) whose rules reference the segment. */
  segmentUsers(name: string): string[];
  /** The default environment's name. */
  defaultEnvironment(): string;
  getEnvironment(name: string): StoredEnvironment | undefined;
  /** Every environment's name, in name order. */
  environmentNames(): string[];
  /** A flag's configuration in an environment (the default one included). */
  getFlagIn(env: string, key: string): StoredFlag | undefined;
  /** Keys of the flags configured in an environment, in key order. */
  flagKeysIn(env: string): string[];
  /** Keys of the flags of one environment whose rules reference the segment. */
  segmentUsersIn(env: string, name: string): string[];
  getChangeRequest(id: string): StoredChangeRequest | undefined;
  getSchedule(id: string): StoredSchedule | undefined;
  /** Ids of every change request or schedule (all environments), in id order. */
  recordIds(kind: 'changeRequest' | 'schedule'): string[];
}

// ---- evaluation -----------------------------------------------------------

export type EvaluationContext = { targetingKey?: string } & Record<string, unknown>;

export type EvaluationReason = 'STATIC' | 'TARGETING_MATCH' | 'SPLIT' | 'DISABLED' | 'DEFAULT' | 'ERROR';
export type EvaluationErrorCode =
  | 'FLAG_NOT_FOUND' | 'TARGETING_KEY_MISSING' | 'INVALID_CONTEXT' | 'PARSE_ERROR' | 'GENERAL';

export interface EvaluationResult {
  key: string;
  /** Absent on errors and when a disabled non-boolean flag has no offVariant: the client uses its code default. */
  value?: JsonValue;
  variant?: string;
  reason: EvaluationReason;
  errorCode?: EvaluationErrorCode;
  errorDetails?: string;
  /** The flag's metadata (shared, frozen: do not mutate). */
  metadata: Record<string, string | number | boolean>;
}

export type SegmentLookup = (name: string) => SegmentDefinition | undefined;
