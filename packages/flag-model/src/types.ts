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

// ---- commands -------------------------------------------------------------

export interface PutFlagOp { op: 'putFlag'; flag: FlagDefinition; expectedRevision?: number }
export interface DeleteFlagOp { op: 'deleteFlag'; key: string; expectedRevision?: number }
export interface PutSegmentOp { op: 'putSegment'; segment: SegmentDefinition; expectedRevision?: number }
export interface DeleteSegmentOp { op: 'deleteSegment'; name: string; expectedRevision?: number }
export type SubCommand = PutFlagOp | DeleteFlagOp | PutSegmentOp | DeleteSegmentOp;
export interface BatchOp { op: 'batch'; ops: SubCommand[] }

export interface CommandEnvelope {
  v: 1;
  /** Who: the authenticated principal. */
  actor: string;
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

export type Command = CommandEnvelope & (SubCommand | BatchOp);

export type CommandErrorCode =
  | 'REVISION_MISMATCH' | 'VALIDATION' | 'NOT_FOUND' | 'SEGMENT_MISSING' | 'SEGMENT_IN_USE' | 'BAD_COMMAND'
  | 'IDEMPOTENCY_KEY_REUSED';

export interface CommandError {
  code: CommandErrorCode;
  message: string;
  /** The flag key or segment name concerned. */
  key?: string;
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

export interface Change {
  kind: 'flag' | 'segment';
  key: string;
  op: 'put' | 'delete';
  before: StoredFlag | StoredSegment | null;
  after: StoredFlag | StoredSegment | null;
  actor: string;
  time: number;
  revision: number;
}

export type ApplyResult = { ok: true; changes: Change[] } | { ok: false; error: CommandError };

/** Read access to the current state, e.g. inside the node's SQLite transaction. */
export interface StateView {
  getFlag(key: string): StoredFlag | undefined;
  getSegment(name: string): StoredSegment | undefined;
  /** Keys of the flags whose rules reference the segment. */
  segmentUsers(name: string): string[];
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
