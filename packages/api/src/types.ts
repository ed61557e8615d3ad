// The TypeScript shapes of the API's bodies, one per schema component
// (schemas.ts) or inline schema of routes.ts. Flag and segment shapes are
// flag-model's. Fields the gateway may add later are not listed: clients
// read what is here, and a new field is added here and in schemas.ts.
import type {
  ApprovalPolicy, BackupDocument, ChangeConflict, ChangeRequest, ChangeRequestOp, ChangeRequestStatus, EnvironmentDefinition, FlagDefinition, PromotionItem,
  Schedule, SegmentDefinition, StoredChangeRequest, StoredEnvironment, StoredFlag, StoredSchedule, StoredSegment,
} from '@flagraft/flag-model';

export type {
  ApprovalPolicy, BackupDocument, ChangeConflict, ChangeRequest, ChangeRequestOp, ChangeRequestStatus, EnvironmentDefinition, FlagDefinition, PromotionItem,
  Schedule, SegmentDefinition, StoredChangeRequest, StoredEnvironment, StoredFlag, StoredSchedule, StoredSegment,
};

export type Consistency = 'linearizable' | 'stale';

export interface FlagPage {
  flags: StoredFlag[];
  nextPageToken?: string;
  /** The revision the page was read at. */
  revision: number;
}
export interface SegmentPage {
  segments: StoredSegment[];
  nextPageToken?: string;
  revision: number;
}

export interface FlagDeleted { key: string; deleted: true; revision: number }
export interface SegmentDeleted { name: string; deleted: true; revision: number }

/** One change; S is the stored shape of the item kind (a flag's history holds StoredFlags). */
export interface HistoryEntry<S extends StoredFlag | StoredSegment = StoredFlag | StoredSegment> {
  revision: number;
  kind?: 'flag' | 'segment';
  key?: string;
  op: 'put' | 'delete';
  actor: string;
  /** ISO 8601. */
  time: string;
  /** The stored item before and after (StoredFlag / StoredSegment), null when absent. */
  before: S | null;
  after: S | null;
}
export interface FlagHistory { key: string; changes: HistoryEntry<StoredFlag>[] }
export interface SegmentHistory { name: string; changes: HistoryEntry<StoredSegment>[] }

/** One change of the global audit log (GET /api/v1/changes). */
export interface AuditEntry {
  revision: number;
  kind: 'flag' | 'segment' | 'environment' | 'changeRequest' | 'schedule';
  key: string;
  /** Flag changes: the environment the change was made in. */
  environment?: string;
  op: 'put' | 'delete';
  actor: string;
  /** ISO 8601. */
  time: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}
export interface ChangePage { changes: AuditEntry[]; nextPageToken?: string }
/** Filters of the audit log; `since` / `until` are ISO 8601 times. */
export interface ChangeQuery {
  limit?: number;
  pageToken?: string;
  kind?: AuditEntry['kind'];
  key?: string;
  actor?: string;
  environment?: string;
  since?: string;
  until?: string;
}

export type BatchOp =
  | { op: 'putFlag'; flag: FlagDefinition; expectedRevision?: number }
  | { op: 'deleteFlag'; key: string; expectedRevision?: number }
  | { op: 'putSegment'; segment: SegmentDefinition; expectedRevision?: number }
  | { op: 'deleteSegment'; name: string; expectedRevision?: number };
export interface BatchRequest { ops: BatchOp[] }
export interface BatchResult { revision: number; changes: HistoryEntry[] }

export interface ClusterMember {
  id: number;
  /** Client address ('' while the answering node does not know it). */
  address: string;
  /** Raft address. */
  peerAddress?: string;
  role: string;
  matchIndex?: number;
  lag?: number;
  reachable?: boolean;
}
/** GET /api/v1/me: the caller as the gateway sees its token. */
export interface PrincipalInfo {
  name: string;
  role: 'admin' | 'editor' | 'reader' | 'evaluator';
  /** Absent = every environment. */
  environments?: string[];
  permissions: ('evaluate' | 'read' | 'write' | 'admin')[];
}

export interface ClusterStatus {
  clusterId?: string;
  nodeId?: number;
  leaderId?: number;
  term?: number;
  commitIndex?: number;
  appliedIndex?: number;
  /** The flag revision applied; differs from appliedIndex after a restore. */
  appliedRevision?: number;
  publishedRevision?: number;
  publishLag?: number;
  members: ClusterMember[];
  gateway: { replicaRevision: number; replicaLoaded: boolean; flags?: number };
}
export interface MemberAdded { added: { id: number; address: string; role: 'learner' }; result: unknown }
export interface MemberPromoted { promoted: number; result: unknown }
export interface MemberRemoved { removed: number; result: unknown }
export interface LeaderTransferred { transferredTo: number; result: unknown }

export interface RestoreResult {
  /** The cluster revision after the restore (later writes get higher ones). */
  revision: number;
  restoredRevision: number;
  restored: { flags: number; segments: number; changes: number };
  historyPreserved: true;
  force?: boolean;
  entries?: number;
}

export interface Snapshot { revision: number; flags: StoredFlag[]; segments: StoredSegment[] }
export interface StreamTicket { stream: string; ticket: string; path: string; expiresAt: string }

export interface FlagdImportIssue { path: string; severity: 'error' | 'warning'; message: string }
export interface FlagdImportResult {
  dryRun: boolean;
  revision?: number;
  batches?: number;
  plan: { action: 'create' | 'update' | 'unchanged'; kind: 'flag' | 'segment'; key: string }[];
  counts: { create: number; update: number; unchanged: number; unmappable: number };
  issues: FlagdImportIssue[];
}
export interface FlagdExport { revision: number; document: { flags: Record<string, unknown>; [k: string]: unknown }; issues: FlagdImportIssue[] }

export interface EvaluationCount { flag: string; variant?: string; reason: string; count: number }
export interface EvaluationCountsResult { accepted: number; ignored: number }

export interface LegacyValue { key: string; value: string; revision: number }

export interface OfrepRequest { context?: Record<string, unknown> | null }
export interface OfrepSuccess { key: string; reason: string; variant?: string; value?: unknown; metadata?: Record<string, unknown> }
export interface OfrepError { key?: string; errorCode: string; errorDetails?: string }
export interface OfrepBulk {
  flags: (OfrepSuccess | OfrepError)[];
  metadata: { revision: number };
  eventStreams: { type: 'sse'; url: string; inactivityDelaySec?: number }[];
}

export interface Readiness {
  ready: boolean;
  replicaLoaded: boolean;
  replicaRevision: number;
  clusterReachable: boolean;
  clusterLeader?: boolean;
  shuttingDown?: boolean;
  clusterError?: string;
}

// ---- environments, promotion, change requests, schedules (issue 16) ---------

export interface EnvironmentList { environments: StoredEnvironment[]; defaultEnvironment?: string }
export interface EnvironmentCreate extends EnvironmentDefinition { copyFrom?: string }
/** Fields to change; null removes one. */
export interface EnvironmentUpdate { displayName?: string | null; production?: boolean | null; policy?: ApprovalPolicy | null }
export interface EnvironmentDeleted { name: string; deleted: true; revision: number; flagConfigurations: number }

export interface PromotionRequest { from: string; to: string; keys?: string[] }
export interface PromotionPlan { from: string; to: string; keys?: string[]; items: PromotionItem[] }
export interface PromotionResult { from: string; to: string; revision: number; flags: string[] }

export interface ChangeRequestList { changeRequests: StoredChangeRequest[]; more?: true }
export interface ChangeRequestCreate { environment?: string; title: string; description?: string; ops: ChangeRequestOp[]; submit?: boolean }
export interface ChangeRequestQuery { state?: ChangeRequestStatus; environment?: string; author?: string; toReview?: boolean; limit?: number }

export interface ScheduleList { schedules: StoredSchedule[] }
/** One step: `at` (RFC 3339 with its zone, or ms since the epoch, UTC) and exactly one of ops, changeRequest, toggle, rollout. */
export interface ScheduleStepCreate {
  at: string | number;
  ops?: ChangeRequestOp[];
  changeRequest?: string;
  toggle?: { flag: string; enabled: boolean };
  /** The weights of the flag's rollout: the rule with id `rule`, else its first rule with a rollout, else a new last rule for everyone. */
  rollout?: { flag: string; rule?: string; weights: { variant: string; weight: number }[] };
}
export interface ScheduleCreate { environment?: string; title: string; steps: ScheduleStepCreate[] }
