// The gateway's HTTP API as a route table: one entry per operation, keyed by
// its operationId, with method, path, parameters, request body and every
// response (success bodies by schema, errors as problem documents with what
// each status means). The OpenAPI document (openapi.ts) is generated from
// this table, the client (client.ts) calls by it, and the gateway's tests
// check that it serves exactly these routes with these bodies.
import { FLAG_KIND, ITEM_KINDS, KEY_PATTERN, LIMITS, SEGMENT_KIND, type AnyItemKind } from '@flagraft/flag-model';
import { IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_CHARS } from './idempotency.js';
import { schemaRef as ref, type SchemaName } from './schemas.js';
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
/** A problem+json answer; the description says which problem types (urn:flagraft:problem:<kind>) and when. */
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const retryAfter = { 'Retry-After': { description: 'Whole seconds until a request would be allowed', schema: { type: 'integer', minimum: 1 } } };
const tooMany = (description: string) => ({ ...problem(description), headers: retryAfter });
const etagHeader = { ETag: { description: 'The revision, quoted: "42"', schema: { type: 'string' } } };

const commonErrors = {
  '400': problem('Bad request (query, headers or path)'),
  '401': problem('No valid token'),
  '403': problem('The token\'s role does not allow this'),
  '503': problem('No leader / cluster unreachable / no answer in time (type ...:timeout: a write\'s outcome is unknown); see Retry-After'),
};
const writeErrors = {
  ...commonErrors,
  '409': problem('Conflict (a segment in use, or a revision mismatch inside a batch)'),
  '412': problem('If-Match / If-None-Match did not hold; has currentRevision'),
  '413': problem('Body larger than its limit once decompressed (type ...:payload-too-large; limit names it, e.g. maxBodyBytes, limitBytes its value)'),
  '415': problem('The body is not JSON, not UTF-8, or in an unknown Content-Encoding'),
  '422': problem('An Idempotency-Key reused for a different request (type ...:idempotency-key-reused; header names it), or an invalid definition (type ...:validation; issues name every bad field with path and pointer), or a JSON shape limit (type ...:json-limit; limit names the first one hit, e.g. maxJsonDepth; issues[] have path, pointer, limit, message)'),
  '429': tooMany('Over the token\'s write rate limit (FLAGRAFT_RATE_LIMIT_WRITES_PER_SEC, default 50/s, burst 100); type ...:too-many-requests with retryAfterSeconds'),
};

/** A write that takes no If-Match / If-None-Match cannot fail one (412). */
const { '412': _412, ...unconditionalWriteErrors } = writeErrors;
/** A write without a body cannot be too large or of the wrong media type. */
const { '413': _413, '415': _415, ...bodilessWriteErrors } = writeErrors;
/** ... and without a body, a precondition or a key (membership), nor fail either (412, 422). */
const { '412': _b412, '422': _b422, ...bodilessUnconditionalWriteErrors } = bodilessWriteErrors;

const keyParam = { name: 'key', in: 'path', required: true, schema: { type: 'string', pattern: KEY_PATTERN.source, maxLength: LIMITS.maxKeyChars } };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };
const consistencyParam = { name: 'consistency', in: 'query', schema: { enum: ['linearizable', 'stale'] } };
const listParams = [
  { name: 'prefix', in: 'query', schema: { type: 'string', maxLength: 128 } },
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
  { name: 'pageToken', in: 'query', schema: { type: 'string' } },
  consistencyParam,
];
const historyParams = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
  { name: 'before', in: 'query', description: 'Only changes with a smaller revision', schema: { type: 'integer', minimum: 1 } },
];
const ifMatch = { name: 'If-Match', in: 'header', description: 'Compare-and-set: "<revision>" (or *: must exist)', schema: { type: 'string' } };
/** The Idempotency-Key header, added by the generator to every idempotent route's parameters. */
export const IDEMPOTENCY_KEY_PARAMETER = {
  name: 'Idempotency-Key',
  in: 'header',
  description: `Names this write (draft-ietf-httpapi-idempotency-key-header): sent again with the same key by the same token, on any gateway, it is applied once and answered with the first outcome (same revision). The same key with a different request (method, path, query, If-Match/If-None-Match, Content-Type, body) is refused with 422 (type ...:idempotency-key-reused). Keys are kept for the cluster's de-duplication window. At most ${MAX_IDEMPOTENCY_KEY_CHARS} characters of A-Z a-z 0-9 - _ . ~ : + / = (a bare token or a Structured Field string "..."); 400 naming Idempotency-Key otherwise.`,
  schema: { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_CHARS, pattern: IDEMPOTENCY_KEY_PATTERN.source },
};
const ifNoneMatchStar = { name: 'If-None-Match', in: 'header', description: '* = create only', schema: { type: 'string' } };

// OFREP answers errors in its own shape ({errorCode, errorDetails}), not as problem documents.
const ofrepError = (description: string) => ({ description, ...json(ref('OfrepError')) });
const ofrepErrors = {
  '401': ofrepError('No valid token'),
  '403': ofrepError('The token\'s role does not allow evaluation'),
  '405': ofrepError('Wrong method; Allow names the right one'),
  '413': ofrepError('Body larger than maxEvaluationBodyBytes (FLAGRAFT_MAX_EVALUATION_BODY_BYTES)'),
  '415': ofrepError('A Content-Encoding other than identity'),
  '429': { ...ofrepError('Over the per-token evaluation rate limit'), headers: retryAfter },
  '503': { ...ofrepError('The replica has not loaded the flag configuration yet'), headers: retryAfter },
};
const { '413': _o413, '415': _o415, ...ofrepBodilessErrors } = ofrepErrors;
const ofrepFreshness = { name: 'flagConfigEtag', in: 'query', description: 'OFREP ADR-0008: the revision an event announced; the answer waits (bounded) until the replica has it', schema: { type: 'string' } };

const changeRequestIdParam = { name: 'changeRequestId', in: 'path', required: true, schema: { type: 'string', pattern: '^cr-\\d{1,15}$' } };
const scheduleIdParam = { name: 'scheduleId', in: 'path', required: true, schema: { type: 'string', pattern: '^sch-\\d{1,15}$' } };

export type HttpMethod = 'get' | 'put' | 'post' | 'patch' | 'delete';

export interface RouteSpec {
  method: HttpMethod;
  /** OpenAPI form: /api/v1/flags/{key}. */
  path: string;
  /** Takes an Idempotency-Key (applied once per key): the client sends one per logical write, the same on its repeats. Other writes refuse a key (400). */
  idempotent?: boolean;
  summary: string;
  description?: string;
  /** [] = no authentication (the document's default is a token). */
  security?: readonly never[];
  parameters?: readonly object[];
  requestBody?: object;
  /** By status: a description and, where there is a body, its media type and schema. */
  responses: Record<string, { description: string; content?: object; headers?: object }>;
}

/** Parameters of the path templates, shared by every operation on that path. */
export const PATH_PARAMETERS: Record<string, readonly object[]> = {
  ...Object.fromEntries(ITEM_KINDS.flatMap((kind) => {
    const param = [{ name: kind.idField, in: 'path', required: true, schema: { type: 'string', pattern: kind.pattern.source, maxLength: kind.maxIdChars } }];
    return [[`${kind.path}/{${kind.idField}}`, param], [`${kind.path}/{${kind.idField}}/history`, param]];
  })),
  '/api/v1/cluster/members/{id}/promote': [idParam],
  '/api/v1/cluster/members/{id}': [idParam],
  '/get/{key}': [keyParam],
  '/api/v1/environments/{name}': [{ name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: KEY_PATTERN.source, maxLength: LIMITS.maxKeyChars } }],
  ...Object.fromEntries(['', '/comments', '/submit', '/approve', '/reject', '/apply', '/withdraw', '/rebase'].map((p) => [`/api/v1/change-requests/{changeRequestId}${p}`, [changeRequestIdParam]])),
  ...Object.fromEntries(['', '/cancel'].map((p) => [`/api/v1/schedules/{scheduleId}${p}`, [scheduleIdParam]])),
  '/ofrep/v1/evaluate/flags/{key}': [{ name: 'key', in: 'path', required: true, description: 'The flag key, percent-encoded', schema: { type: 'string' } }],
};

type ItemSchemas = { definition: SchemaName; stored: SchemaName; page: SchemaName; deleted: SchemaName; history: SchemaName };

/** A flag route's environment (issue 16); a token limited to other environments is refused 403 naming it. */
const environmentParam = {
  name: 'environment',
  in: 'query',
  description: 'The environment acted in (absent = the default environment, as every route before environments). A token limited to other environments gets 403 naming this one.',
  schema: { type: 'string', pattern: KEY_PATTERN.source, maxLength: LIMITS.maxKeyChars },
};

/** The five routes every item kind has (flags.ts and segments.ts of the gateway serve them from one table, items.ts). `extra`: parameters of every one (flags: the environment). */
function itemRoutes(kind: AnyItemKind, schemas: ItemSchemas, extra: readonly object[] = []) {
  const one = `${kind.path}/{${kind.idField}}`;
  const missing = problem(`No such ${kind.kind}`);
  return {
    list: { method: 'get', path: kind.path, summary: `List ${kind.plural} (role reader)`, parameters: [...listParams, ...extra], responses: { '200': { description: `A page of ${kind.plural}`, ...json(ref(schemas.page)) }, ...commonErrors } },
    get: {
      method: 'get', path: one, summary: `Read a ${kind.kind} (role reader)`, parameters: [consistencyParam, ...extra],
      responses: { '200': { description: `The ${kind.kind}`, headers: etagHeader, ...json(ref(schemas.stored)) }, '404': missing, ...commonErrors },
    },
    put: {
      method: 'put', path: one, idempotent: true, summary: `Create or replace a ${kind.kind} (role editor)`, parameters: [ifMatch, ifNoneMatchStar, ...extra],
      requestBody: { required: true, ...json(ref(schemas.definition)) },
      responses: {
        '200': { description: 'Replaced', headers: etagHeader, ...json(ref(schemas.stored)) },
        '201': { description: 'Created', headers: etagHeader, ...json(ref(schemas.stored)) },
        ...writeErrors,
      },
    },
    delete: {
      method: 'delete', path: one, idempotent: true, summary: `Delete a ${kind.kind} (role editor)`, parameters: [ifMatch, ...extra],
      responses: { '200': { description: 'Deleted', ...json(ref(schemas.deleted)) }, '404': missing, ...bodilessWriteErrors },
    },
    history: {
      method: 'get', path: `${one}/history`, summary: `Audit trail of a ${kind.kind}, newest first (role reader)`, parameters: [...historyParams, ...extra],
      responses: { '200': { description: 'Changes', ...json(ref(schemas.history)) }, ...commonErrors, '410': problem('Older than retained') },
    },
  } satisfies Record<string, RouteSpec>;
}
const flagRoutes = itemRoutes(FLAG_KIND, { definition: 'FlagDefinition', stored: 'StoredFlag', page: 'FlagPage', deleted: 'Deleted', history: 'FlagHistory' }, [environmentParam]);
const segmentRoutes = itemRoutes(SEGMENT_KIND, { definition: 'SegmentDefinition', stored: 'StoredSegment', page: 'SegmentPage', deleted: 'SegmentDeleted', history: 'SegmentHistory' });

const LEGACY_SET = {
  method: 'post',
  path: '/set',
  idempotent: true,
  summary: 'Original API: set a flag from a text value (role editor); answers after commit',
  requestBody: { required: true, ...json(ref('LegacySet')) },
  responses: { '200': { description: 'Committed', ...json(ref('LegacyValue')) }, ...unconditionalWriteErrors },
} satisfies RouteSpec;

/** A write an environment's policy or a record's state may refuse. */
const recordConflict = problem('Conflict: reason PROTECTED (the environment requires a change request: POST /api/v1/change-requests), INVALID_STATE, ENVIRONMENT_IN_USE, or a revision that moved (currentRevision)');
/** A bodiless write's 422: its Idempotency-Key used before for another request. */
const keyReused = problem('An Idempotency-Key reused for a different request (type ...:idempotency-key-reused)');
/** The body answers of a route that takes one. */
const recordBodyErrors = {
  '413': writeErrors['413'],
  '415': writeErrors['415'],
  '422': problem('Invalid body (type ...:validation): issues name every bad field with path and pointer, or a JSON shape limit (type ...:json-limit), or an Idempotency-Key reused for another request (type ...:idempotency-key-reused)'),
  '429': writeErrors['429'],
};

/** A step of a change request's lifecycle: POST /api/v1/change-requests/{id}/<action>, answered with the request after it. */
function crStep(action: string, summary: string, body: SchemaName, bodyRequired = false) {
  return {
    method: 'post', path: `/api/v1/change-requests/{changeRequestId}/${action}`, idempotent: true, summary,
    requestBody: { required: bodyRequired, ...json(ref(body)) },
    responses: {
      '200': { description: 'The change request after the step', ...json(ref('StoredChangeRequest')) },
      '404': problem('No such change request'),
      '409': problem('Not in a state that allows this step (reason INVALID_STATE)'),
      ...recordBodyErrors,
      ...commonErrors,
    },
  } satisfies RouteSpec;
}

export const ROUTES = {
  listFlags: {
    ...flagRoutes.list,
    description:
      'Pages in key order. consistency=stale pages are served from this gateway\'s in-memory replica (no cluster round trip); ' +
      'their revision is the replica\'s, i.e. the position its /api/v1/stream has delivered up to, and a write this gateway ' +
      'answered is already in them. nextPageToken works with either consistency.',
  },
  getFlag: {
    ...flagRoutes.get,
    summary: 'Read a flag (role reader); ETag = modRevision',
    parameters: [consistencyParam, environmentParam, { name: 'If-None-Match', in: 'header', schema: { type: 'string' } }],
    responses: { ...flagRoutes.get.responses, '304': { description: 'Unchanged since the given ETag' } },
  },
  putFlag: flagRoutes.put,
  patchFlag: {
    method: 'patch',
    path: flagRoutes.put.path,
    idempotent: true,
    summary: 'Edit a flag (role editor): JSON Merge Patch (object) or JSON Patch (array)',
    parameters: [ifMatch, environmentParam],
    requestBody: {
      required: true,
      content: {
        'application/merge-patch+json': { schema: { type: 'object' } },
        'application/json-patch+json': { schema: { type: 'array', items: { type: 'object' } } },
      },
    },
    responses: {
      '200': { description: 'Edited', headers: etagHeader, ...json(ref('StoredFlag')) },
      '404': problem('No such flag'),
      ...writeErrors,
    },
  },
  deleteFlag: flagRoutes.delete,
  getFlagHistory: flagRoutes.history,
  listSegments: segmentRoutes.list,
  getSegment: segmentRoutes.get,
  putSegment: segmentRoutes.put,
  deleteSegment: { ...segmentRoutes.delete, summary: 'Delete a segment (role editor); 409 while flags use it' },
  getSegmentHistory: segmentRoutes.history,
  listChanges: {
    method: 'get',
    path: '/api/v1/changes',
    summary: 'The global audit log: every retained change of every flag, segment, environment, change request and schedule, newest first (role reader)',
    description: 'Filters combine (all must hold); an environment filter keeps flag changes made in that environment. Pages follow nextPageToken; a batch\'s changes (one revision) are never repeated or lost across pages.',
    parameters: [
      { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
      { name: 'pageToken', in: 'query', schema: { type: 'string', pattern: '^\\d{1,15}:\\d{1,9}$' } },
      { name: 'kind', in: 'query', schema: { enum: ['flag', 'segment', 'environment', 'changeRequest', 'schedule'] } },
      { name: 'key', in: 'query', description: 'Flag key, segment name, or the id of the item', schema: { type: 'string', maxLength: 256 } },
      { name: 'actor', in: 'query', description: 'Who made the change (a token\'s name)', schema: { type: 'string', maxLength: 256 } },
      { name: 'environment', in: 'query', schema: { type: 'string', maxLength: 256 } },
      { name: 'since', in: 'query', description: 'Changes at or after this time', schema: { type: 'string', format: 'date-time' } },
      { name: 'until', in: 'query', description: 'Changes before this time', schema: { type: 'string', format: 'date-time' } },
    ],
    responses: { '200': { description: 'A page of changes', ...json(ref('ChangePage')) }, ...commonErrors },
  },
  applyBatch: {
    method: 'post',
    path: '/api/v1/batch',
    idempotent: true,
    summary: 'Atomic multi-flag/segment change (role editor): all operations commit at one revision or none',
    requestBody: { required: true, ...json(ref('BatchRequest')) },
    responses: { '200': { description: 'Committed', ...json(ref('BatchResult')) }, '404': problem('A deleted key does not exist'), ...unconditionalWriteErrors },
  },
  getCurrentPrincipal: {
    method: 'get', path: '/api/v1/me', summary: 'Who the token is: its name (the audit actor), role, environments and permissions (any role)',
    responses: { '200': { description: 'The caller', ...json(ref('Principal')) }, '401': commonErrors['401'] },
  },
  getClusterStatus: { method: 'get', path: '/api/v1/cluster', summary: 'Cluster status (role reader)', responses: { '200': { description: 'Status', ...json(ref('ClusterStatus')) }, ...commonErrors } },
  addClusterMember: {
    method: 'post',
    path: '/api/v1/cluster/members',
    summary: 'Add a learner (role admin)',
    requestBody: { required: true, ...json({ type: 'object', required: ['id', 'address'], properties: { id: { type: 'integer', minimum: 1 }, address: { type: 'string', description: "the new node's peer (Raft) address, host:port (FLAGRAFT_PEER_ADVERTISE)" } } }) },
    responses: { '201': { description: 'Added', ...json({ type: 'object' }) }, ...unconditionalWriteErrors },
  },
  promoteClusterMember: { method: 'post', path: '/api/v1/cluster/members/{id}/promote', summary: 'Promote a learner to voter (role admin)', responses: { '200': { description: 'Promoted', ...json({ type: 'object' }) }, ...bodilessUnconditionalWriteErrors } },
  removeClusterMember: { method: 'delete', path: '/api/v1/cluster/members/{id}', summary: 'Remove a member (role admin)', responses: { '200': { description: 'Removed', ...json({ type: 'object' }) }, ...bodilessUnconditionalWriteErrors } },
  transferLeadership: {
    method: 'post',
    path: '/api/v1/cluster/leader',
    summary: 'Transfer leadership (role admin)',
    requestBody: { required: true, ...json({ type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } }) },
    responses: { '200': { description: 'Transferred', ...json({ type: 'object' }) }, ...unconditionalWriteErrors },
  },
  getBackup: {
    method: 'get',
    path: '/api/v1/admin/backup',
    summary: 'Consistent backup of every flag, segment and retained change at one revision, read on the Raft leader (role admin)',
    responses: {
      '200': { description: 'The backup document (ETag: its revision)', headers: etagHeader, ...json(ref('BackupDocument')) },
      '409': problem('The backup would exceed maxBackupBytes (134217728); reason backup-too-large'),
      ...commonErrors,
    },
  },
  restoreBackup: {
    method: 'post',
    path: '/api/v1/admin/restore',
    summary: 'Load a backup into an empty cluster through Raft, keeping revisions and history (role admin); atomic for readers',
    parameters: [{ name: 'force', in: 'query', description: 'true = replace all flags, segments and history the cluster holds', schema: { enum: ['true', 'false'] } }],
    requestBody: { required: true, ...json(ref('BackupDocument')) },
    responses: {
      '200': { description: 'Restored', ...json(ref('RestoreResult')) },
      ...unconditionalWriteErrors,
      '409': problem('The cluster is not empty (reason not-empty, liveCounts) and force is not set'),
      '413': problem('The document is larger than maxBackupBytes (134217728)'),
      '422': problem('Invalid backup document; issues name each bad field, e.g. changes[12].revision'),
    },
  },
  streamChanges: {
    method: 'get',
    path: '/api/v1/stream',
    summary: 'Server-Sent Events of committed changes (role reader)',
    description:
      'Each change is `id: <id>` + `data: <ChangeEvent JSON>`. The id is the revision, or `<revision>:<index>` for all but the last ' +
      'event of a multi-change revision (a batch). Resume with Last-Event-ID (or ?since=<revision>): no change is lost or repeated. ' +
      '`event: ready` opens the stream; `event: reset` means the client must re-read the state (history no longer retained). ' +
      'Comment lines are heartbeats. A client that cannot keep up is disconnected. ' +
      'Without `environments`: the default environment\'s flags and segments, exactly as before environments (a token limited to ' +
      'other environments: 403). With `environments=all`: also other environments\' flag events (`env` names the environment; absent = ' +
      'the default one) and records, `{"v":1,"revision","kind":"environment"|"changeRequest"|"schedule","key","op":"put"|"delete","actor","time", ' +
      '"environment"|"changeRequest"|"schedule": <StoredEnvironment|StoredChangeRequest|StoredSchedule> or null}` (every review step, comment, ' +
      'schedule step applied, conflicted or failed is a put of the record); a limited token gets its environments\' events (and segments). ' +
      'Its ids are its own sequence (resume a stream with the same parameters). With `environment=<name>`: that environment\'s flag ' +
      'events and the segments, with the ids of the environments=all stream (what the in-process provider of that environment follows ' +
      'after GET /api/v1/snapshot?environment=<name>); 404 if the environment does not exist.',
    parameters: [
      { name: 'since', in: 'query', schema: { type: 'string', pattern: '^\\d+(:\\d+)?$' } },
      { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } },
      { name: 'prefix', in: 'query', schema: { type: 'string' } },
      { name: 'environments', in: 'query', description: 'all = every environment, with environment, change request and schedule events', schema: { enum: ['all'] } },
      { ...environmentParam, description: 'One environment\'s flags and the segments (not with environments); a token limited to other environments gets 403' },
      { name: 'kind', in: 'query', description: 'environment, changeRequest and schedule with environments=all only', schema: { enum: ['flag', 'segment', 'environment', 'changeRequest', 'schedule'] } },
      { name: 'ticket', in: 'query', description: 'A stream ticket (POST /api/v1/stream-tickets?stream=changes) instead of a token header, for EventSource', schema: { type: 'string', maxLength: 128 } },
    ],
    responses: { '200': { description: 'The stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '404': problem('environment names no environment'), ...commonErrors },
  },
  getSnapshot: {
    method: 'get',
    path: '/api/v1/snapshot',
    summary: 'Every flag of one environment (optionally by key prefix) and every segment at one revision, from the gateway replica (role reader): the in-process provider\'s initial load',
    parameters: [{ name: 'prefix', in: 'query', schema: { type: 'string', maxLength: 128 } }, { ...environmentParam, description: 'Whose flags (absent = the default environment); a token limited to other environments gets 403' }],
    responses: {
      '200': {
        description: 'The snapshot; follow /api/v1/stream?since=<revision> from here',
        headers: etagHeader,
        ...json({ type: 'object', required: ['revision', 'flags', 'segments'], properties: { revision: { type: 'integer' }, flags: { type: 'array', items: ref('StoredFlag') }, segments: { type: 'array', items: ref('StoredSegment') } } }),
      },
      '404': problem('environment names no environment'),
      ...commonErrors,
    },
  },
  createStreamTicket: {
    method: 'post',
    path: '/api/v1/stream-tickets',
    summary: 'A short-lived, single-purpose ticket that opens a stream from a URL (for EventSource, which cannot send a token); any role for ofrep-events, reader for changes',
    parameters: [{ name: 'stream', in: 'query', schema: { enum: ['ofrep-events', 'changes'] } }],
    responses: {
      '200': { description: 'The ticket', ...json({ type: 'object', required: ['stream', 'ticket', 'path', 'expiresAt'], properties: { stream: { type: 'string' }, ticket: { type: 'string' }, path: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } } }) },
      ...commonErrors,
    },
  },
  importFlagd: {
    method: 'post',
    path: '/api/v1/flagd/import',
    summary: 'Import a flagd flag-definition document (role editor): flags, $evaluators as segments, targeting. dryRun=true answers the plan only',
    parameters: [{ name: 'dryRun', in: 'query', schema: { enum: ['true', 'false'] } }, { name: 'skipUnmappable', in: 'query', schema: { enum: ['true', 'false'] } }, { ...environmentParam, description: 'Whose flag configurations are compared and written (absent = the default environment); changing a segment (shared) needs a token of every environment' }],
    requestBody: { required: true, ...json({ type: 'object', description: 'A flagd document: {"flags": {...}, "$evaluators"?: {...}, "metadata"?: {...}}' }) },
    responses: {
      '200': {
        description: 'The plan (create / update / unchanged per flag and segment), counts, issues by JSON path, and (when applied) the last revision written',
        ...json({ type: 'object', required: ['dryRun', 'plan', 'counts', 'issues'], properties: { dryRun: { type: 'boolean' }, revision: { type: 'integer' }, batches: { type: 'integer' }, plan: { type: 'array', items: { type: 'object' } }, counts: { type: 'object' }, issues: { type: 'array', items: { type: 'object', required: ['path', 'severity', 'message'] } } } }),
      },
      ...unconditionalWriteErrors,
      '404': problem('environment names no environment'),
      '409': problem('A flag or segment changed since the plan was made'),
      '413': problem('Body larger than FLAGRAFT_MAX_FLAGD_IMPORT_BODY_BYTES'),
      '422': problem('Some flags cannot be mapped (issues with JSON paths, plan of the rest); nothing written'),
    },
  },
  exportFlagd: {
    method: 'get',
    path: '/api/v1/flagd/export',
    summary: 'Every flag of one environment (optionally by key prefix) as a flagd flag-definition document, with what flagd cannot express reported by path (role reader)',
    parameters: [{ name: 'prefix', in: 'query', schema: { type: 'string', maxLength: 128 } }, { ...environmentParam, description: 'Whose flag configurations (absent = the default environment)' }],
    responses: {
      '200': { description: 'The document and the issues', headers: etagHeader, ...json({ type: 'object', required: ['revision', 'document', 'issues'], properties: { revision: { type: 'integer' }, document: { type: 'object' }, issues: { type: 'array', items: { type: 'object' } } } }) },
      '404': problem('environment names no environment'),
      ...commonErrors,
    },
  },
  reportEvaluationCounts: {
    method: 'post',
    path: '/api/v1/evaluation-counts',
    summary: 'In-process evaluation counts reported by OpenFeature providers (any role); added to the evaluation metrics. Unknown flags and variants are ignored (counted in ignored)',
    requestBody: {
      required: true,
      ...json({ type: 'object', required: ['counts'], properties: { counts: { type: 'array', maxItems: 1000, items: { type: 'object', required: ['flag', 'reason', 'count'], properties: { flag: { type: 'string' }, variant: { type: 'string' }, reason: { type: 'string' }, count: { type: 'integer', minimum: 1 } } } } } }),
    },
    responses: {
      '200': { description: 'Recorded', ...json({ type: 'object', required: ['accepted', 'ignored'], properties: { accepted: { type: 'integer' }, ignored: { type: 'integer' } } }) },
      '413': problem('Body larger than FLAGRAFT_MAX_EVALUATION_COUNTS_BODY_BYTES'),
      '415': writeErrors['415'],
      '422': problem('Invalid report; issues name each bad field'),
      '429': tooMany('Over the per-token evaluation rate limit (FLAGRAFT_RATE_LIMIT_EVALUATIONS_PER_SEC, default 1000/s, burst 2000)'),
      ...commonErrors,
    },
  },
  legacySetFlag: LEGACY_SET,
  legacySetFlagV1: { ...LEGACY_SET, path: '/api/v1/flags/set', summary: 'Original API (dashboard): same as POST /set' },
  legacyGetFlag: {
    method: 'get',
    path: '/get/{key}',
    summary: 'Original API: a flag as a text value (role reader)',
    parameters: [consistencyParam],
    responses: { '200': { description: 'The value', ...json(ref('LegacyValue')) }, '404': problem('No such flag'), ...commonErrors },
  },
  legacyListFlags: {
    method: 'get',
    path: '/api/v1/flags/all',
    summary: 'Original API: every flag as {key: text value} (role reader)',
    parameters: [consistencyParam],
    responses: { '200': { description: 'The map', ...json({ type: 'object', additionalProperties: { type: 'string' } }) }, ...commonErrors },
  },
  evaluateFlag: {
    method: 'post',
    path: '/ofrep/v1/evaluate/flags/{key}',
    summary: 'OFREP: evaluate one flag for a context (role evaluator; anonymous if FLAGRAFT_ANONYMOUS_EVALUATION). Served from the replica',
    parameters: [ofrepFreshness],
    requestBody: { required: false, ...json(ref('OfrepRequest')) },
    responses: {
      '200': { description: 'The evaluation', ...json(ref('OfrepSuccess')) },
      '400': { description: 'PARSE_ERROR / INVALID_CONTEXT / TARGETING_KEY_MISSING / TYPE_MISMATCH / GENERAL', ...json(ref('OfrepError')) },
      '404': { description: 'FLAG_NOT_FOUND', ...json(ref('OfrepError')) },
      ...ofrepErrors,
    },
  },
  evaluateAllFlags: {
    method: 'post',
    path: '/ofrep/v1/evaluate/flags',
    summary: 'OFREP: evaluate every flag for a context (role evaluator; anonymous if allowed). ETag covers revision and context',
    parameters: [ofrepFreshness, { name: 'If-None-Match', in: 'header', schema: { type: 'string' } }],
    requestBody: { required: false, ...json(ref('OfrepRequest')) },
    responses: {
      '200': { description: 'Every flag\'s evaluation or error, the revision, and the events stream to watch', headers: { ETag: { schema: { type: 'string' } } }, ...json(ref('OfrepBulk')) },
      '304': { description: 'Unchanged since the given ETag' },
      '400': { description: 'PARSE_ERROR / INVALID_CONTEXT', ...json(ref('OfrepError')) },
      ...ofrepErrors,
    },
  },
  streamOfrepEvents: {
    method: 'get',
    path: '/ofrep/v1/events',
    summary: 'OFREP: server-sent events, data {"type":"refetchEvaluation"} on every change (role evaluator, or a stream ticket)',
    parameters: [
      { name: 'ticket', in: 'query', description: 'Stream ticket from the bulk answer\'s eventStreams url (EventSource cannot send headers)', schema: { type: 'string' } },
      { name: 'since', in: 'query', description: 'Revision the client has seen; the stream starts after it', schema: { type: 'string' } },
    ],
    responses: {
      '200': { description: 'The event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
      '400': { description: 'Bad since or ticket', ...json(ref('OfrepError')) },
      ...ofrepBodilessErrors,
    },
  },
  // ---- environments, promotion, change requests, schedules (issue 16) -------
  listEnvironments: {
    method: 'get', path: '/api/v1/environments', summary: 'Every environment the token may act in, and the default one\'s name (role reader)',
    responses: { '200': { description: 'The environments', ...json(ref('EnvironmentList')) }, ...commonErrors },
  },
  createEnvironment: {
    method: 'post', idempotent: true, path: '/api/v1/environments', summary: 'Create an environment (role admin); every flag\'s configuration is copied from copyFrom (default: the default environment), switched off in a production or protected one',
    requestBody: { required: true, ...json(ref('EnvironmentCreate')) },
    responses: { '201': { description: 'Created', headers: etagHeader, ...json(ref('StoredEnvironment')) }, '409': recordConflict, ...recordBodyErrors, ...commonErrors },
  },
  getEnvironment: {
    method: 'get', path: '/api/v1/environments/{name}', summary: 'Read an environment (role reader)',
    responses: { '200': { description: 'The environment', headers: etagHeader, ...json(ref('StoredEnvironment')) }, '404': problem('No such environment'), ...commonErrors },
  },
  updateEnvironment: {
    method: 'patch', idempotent: true, path: '/api/v1/environments/{name}', summary: 'Change an environment\'s display name, production flag or approval policy (role admin); lowering a protected environment\'s policy is itself refused (409 PROTECTED)',
    requestBody: { required: true, ...json(ref('EnvironmentUpdate')) },
    responses: { '200': { description: 'Updated', headers: etagHeader, ...json(ref('StoredEnvironment')) }, '404': problem('No such environment'), '409': recordConflict, ...recordBodyErrors, ...commonErrors },
  },
  deleteEnvironment: {
    method: 'delete', idempotent: true, path: '/api/v1/environments/{name}', summary: 'Delete an environment (role admin): refused (409 ENVIRONMENT_IN_USE) while flags are configured in it unless force=true; never the default one',
    parameters: [{ name: 'force', in: 'query', description: 'true = delete its flag configurations too (each audited)', schema: { enum: ['true', 'false'] } }],
    responses: { '200': { description: 'Deleted', ...json(ref('EnvironmentDeleted')) }, '404': problem('No such environment'), '409': recordConflict, '422': keyReused, '429': writeErrors['429'], ...commonErrors },
  },
  getPromotionPlan: {
    method: 'get', path: '/api/v1/promotions/plan', summary: 'Dry run of a promotion: the flags whose configuration in `to` would change, with the current row and the result (role reader, both environments)',
    parameters: [
      { name: 'from', in: 'query', required: true, schema: { type: 'string' } }, { name: 'to', in: 'query', required: true, schema: { type: 'string' } },
      { name: 'keys', in: 'query', description: 'Comma-separated flag keys (absent = every flag)', schema: { type: 'string' } },
    ],
    responses: { '200': { description: 'The plan', ...json(ref('PromotionPlan')) }, '404': problem('No such environment'), ...commonErrors },
  },
  planPromotion: {
    method: 'post', path: '/api/v1/promotions/plan', summary: 'The same dry run with the request in the body (role reader)',
    requestBody: { required: true, ...json(ref('PromotionRequest')) },
    responses: {
      '200': { description: 'The plan', ...json(ref('PromotionPlan')) }, '404': problem('No such environment'),
      '413': recordBodyErrors['413'], '415': recordBodyErrors['415'], '422': recordBodyErrors['422'], ...commonErrors,
    },
  },
  applyPromotion: {
    method: 'post', idempotent: true, path: '/api/v1/promotions', summary: 'Copy the configuration of some or all flags from one environment to another in one atomic change (role editor, both environments); into a protected environment: 409 PROTECTED, put a promote op in a change request',
    requestBody: { required: true, ...json(ref('PromotionRequest')) },
    responses: { '200': { description: 'Applied at one revision', ...json(ref('PromotionResult')) }, '404': problem('No such environment'), '409': recordConflict, ...recordBodyErrors, ...commonErrors },
  },
  listChangeRequests: {
    method: 'get', path: '/api/v1/change-requests', summary: 'Change requests, newest first, of the environments the token may act in (role reader)',
    parameters: [
      { name: 'state', in: 'query', schema: { enum: ['draft', 'inReview', 'approved', 'applied', 'rejected', 'withdrawn', 'conflicted'] } },
      environmentParam,
      { name: 'author', in: 'query', schema: { type: 'string', maxLength: 128 } },
      { name: 'toReview', in: 'query', description: 'true = in review, and the token may still approve it (not its author where the policy says so, not already approved by it, an eligible approver)', schema: { enum: ['true', 'false'] } },
      { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
    ],
    responses: { '200': { description: 'The change requests (more: true when limit cut the list)', ...json(ref('ChangeRequestList')) }, ...commonErrors },
  },
  createChangeRequest: {
    method: 'post', idempotent: true, path: '/api/v1/change-requests', summary: 'Propose changes to an environment (role editor): tried at once against the current state, the revisions they touch recorded as bases',
    requestBody: { required: true, ...json(ref('ChangeRequestCreate')) },
    responses: { '201': { description: 'Created (draft, or inReview with submit: true)', ...json(ref('StoredChangeRequest')) }, '404': problem('No such environment, or an item an op deletes'), '409': recordConflict, ...recordBodyErrors, ...commonErrors },
  },
  getChangeRequest: {
    method: 'get', path: '/api/v1/change-requests/{changeRequestId}', summary: 'Read a change request with its ops, bases, reviews, comments and conflicts (role reader)',
    responses: { '200': { description: 'The change request', ...json(ref('StoredChangeRequest')) }, '404': problem('No such change request'), ...commonErrors },
  },
  commentChangeRequest: crStep('comments', 'Comment on a change request (role editor)', 'ChangeRequestComment', true),
  submitChangeRequest: crStep('submit', 'Put a draft into review (its author)', 'ChangeRequestStep'),
  approveChangeRequest: crStep('approve', 'Approve (an eligible reviewer: the policy\'s approver roles or names; not the author when authorCannotApprove: 403)', 'ChangeRequestStep'),
  rejectChangeRequest: crStep('reject', 'Reject (an eligible reviewer)', 'ChangeRequestStep'),
  applyChangeRequest: {
    ...crStep('apply', 'Apply an approved request (role editor): approvals re-counted under the policy now, bases re-checked; its ops commit atomically at one revision', 'ChangeRequestStep'),
    responses: {
      ...crStep('apply', '', 'ChangeRequestStep').responses,
      '409': problem('Not applied: reason CONFLICTED (something it was made against changed: conflicts[] has base, current and proposed per item, changeRequest the request now conflicted; its author rebases), or INVALID_STATE (not approved, or fewer approvals than the policy now requires)'),
    },
  },
  withdrawChangeRequest: crStep('withdraw', 'Withdraw an open request (its author)', 'ChangeRequestStep'),
  rebaseChangeRequest: crStep('rebase', 'Re-make a request on the current state, with new ops or the same (its author); approvals reset', 'ChangeRequestRebase'),
  listSchedules: {
    method: 'get', path: '/api/v1/schedules', summary: 'Schedules, newest first, of the environments the token may act in (role reader)',
    parameters: [environmentParam, { name: 'pending', in: 'query', description: 'true = with a step still pending; false = without', schema: { enum: ['true', 'false'] } }],
    responses: { '200': { description: 'The schedules', ...json(ref('ScheduleList')) }, ...commonErrors },
  },
  createSchedule: {
    method: 'post', idempotent: true, path: '/api/v1/schedules', summary: 'Schedule changes at UTC times (role editor): steps of ops (unprotected environments), toggles, or change requests (approved by the time they are due); the leader applies each exactly once, or marks it conflicted when its base moved',
    requestBody: { required: true, ...json(ref('ScheduleCreate')) },
    responses: { '201': { description: 'Created', ...json(ref('StoredSchedule')) }, '404': problem('No such environment, change request, or flag to toggle'), '409': recordConflict, ...recordBodyErrors, ...commonErrors },
  },
  getSchedule: {
    method: 'get', path: '/api/v1/schedules/{scheduleId}', summary: 'Read a schedule and the state of each step (role reader)',
    responses: { '200': { description: 'The schedule', ...json(ref('StoredSchedule')) }, '404': problem('No such schedule'), ...commonErrors },
  },
  cancelSchedule: {
    method: 'post', idempotent: true, path: '/api/v1/schedules/{scheduleId}/cancel', summary: 'Cancel every pending step of a schedule (role editor)',
    responses: { '200': { description: 'Cancelled', ...json(ref('StoredSchedule')) }, '404': problem('No such schedule'), '409': problem('No pending step (reason INVALID_STATE)'), '422': keyReused, '429': writeErrors['429'], ...commonErrors },
  },
  getOpenApiDocument: { method: 'get', path: '/api/v1/openapi.json', summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1', ...json({ type: 'object' }) } } },
  getHealth: { method: 'get', path: '/health', summary: 'The process is alive', security: [], responses: { '200': { description: 'Alive', ...json({ type: 'object', required: ['status'], properties: { status: { const: 'ok' } } }) } } },
  getReadiness: {
    method: 'get',
    path: '/ready',
    summary: 'Replica loaded and cluster reachable',
    security: [],
    responses: { '200': { description: 'Ready', ...json(ref('Readiness')) }, '503': { description: 'Not ready', ...json(ref('Readiness')) } },
  },
  getMetrics: { method: 'get', path: '/metrics', summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'Text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } },
} satisfies Record<string, RouteSpec>;

export type OperationId = keyof typeof ROUTES;

/** Literal paths first (/api/v1/flags/set before /api/v1/flags/{key}), then templates. */
const MATCHERS = (Object.entries(ROUTES) as [OperationId, RouteSpec][])
  .map(([id, r]) => ({ id, method: r.method, literal: !r.path.includes('{'), re: new RegExp(`^${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`) }))
  .sort((a, b) => Number(b.literal) - Number(a.literal));

/** The operation a request is, by method and path (without the query); undefined when the table has none. */
export function operationOf(method: string, path: string): OperationId | undefined {
  const m = method.toLowerCase();
  return MATCHERS.find((x) => x.method === m && x.re.test(path))?.id;
}
