// Every size the model accepts is bounded; the names carry the unit.
// Lengths counted in UTF-16 code units ("Chars") unless named "Bytes".

export const LIMITS = Object.freeze({
  /** Flag key and segment name length. */
  maxKeyChars: 128,
  /** Variants per flag. */
  maxVariants: 64,
  /** Variant name, metadata key, tag, rule id length. */
  maxNameChars: 64,
  /** Rules per flag. */
  maxRules: 64,
  /** Conditions per rule or segment. */
  maxConditions: 32,
  /** Segment references (segments + excludeSegments) per rule. */
  maxSegmentRefsPerRule: 16,
  /** Items in an in/notIn list. */
  maxListItems: 1000,
  /** A string compared in a condition, a string variant value, a string inside an object variant. */
  maxStringValueChars: 4096,
  /** Context attribute name / dotted path length. */
  maxAttributeChars: 256,
  /** Levels of nesting inside an object variant (the object itself is level 1). */
  maxObjectDepth: 8,
  /** Keys + array items in one object variant, all levels together. */
  maxObjectNodes: 10_000,
  /** Metadata entries per flag. */
  maxMetadataEntries: 32,
  /** A metadata string value. */
  maxMetadataValueChars: 1024,
  /** Tags per flag. */
  maxTags: 32,
  /** description fields. */
  maxDescriptionChars: 2048,
  /** owner field. */
  maxOwnerChars: 256,
  /** Sum of rollout weights (integers). Keeps h * W below 2^53. */
  maxWeightTotal: 1_000_000,
  /** A regex pattern in a `matches` condition. */
  maxRegexChars: 256,
  /** A context string a `matches` condition is run against (longer: no match). */
  maxRegexInputChars: 1024,
  /** Whole flag definition, as compact JSON, UTF-8. */
  maxFlagBytes: 256 * 1024,
  /** Whole segment definition, as compact JSON, UTF-8. */
  maxSegmentBytes: 256 * 1024,
  /** Sub-commands in one batch. */
  maxBatchOps: 100,
  /** An encoded command. */
  maxCommandBytes: 4 * 1024 * 1024,
  /** Items of one restore chunk (one Raft entry), as JSON, UTF-8. Far below maxCommandBytes and the gRPC message limits. */
  maxRestoreChunkBytes: 1024 * 1024,
  /** A whole backup document (GET /api/v1/admin/backup, POST /api/v1/admin/restore), as JSON, UTF-8. */
  maxBackupBytes: 128 * 1024 * 1024,
  /** actor, clientId, requestId, fingerprint length. */
  maxActorChars: 256,
  maxRequestIdChars: 256,
  /** Environments in a cluster. */
  maxEnvironments: 32,
  /** Ops in one change request or one schedule step. */
  maxChangeRequestOps: 100,
  /** Comments on one change request (approvals and rejections count apart, each bounded by the approvers there can be). */
  maxComments: 200,
  /** A change request comment or title. */
  maxCommentChars: 4096,
  /** Approvals a policy may require; also the approver list length. */
  maxApprovals: 16,
  /** Steps of one schedule (e.g. 5 % -> 25 % -> 100 %). */
  maxScheduleSteps: 20,
});

export type Limits = typeof LIMITS;

/** `^[A-Za-z0-9][A-Za-z0-9._:-]*$` — flag keys and segment names. */
export const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
/** `^[A-Za-z0-9][A-Za-z0-9_.:-]*$` — variant names, metadata keys, tags, rule ids: today the same characters as keys, a separate constant so either rule can change alone. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
