// OpenAPI 3.1 description of the gateway's HTTP API, served at
// /api/v1/openapi.json. test/openapi.test.ts checks real responses against it,
// so it stays true. Flag and segment bodies use flag-model's JSON Schemas.
import { flagJsonSchema, KEY_PATTERN, LIMITS, segmentJsonSchema } from '@flagraft/flag-model';
import { IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_CHARS } from './idempotency.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
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

const keyParam = { name: 'key', in: 'path', required: true, schema: { type: 'string', pattern: KEY_PATTERN.source, maxLength: LIMITS.maxKeyChars } };
const nameParam = { ...keyParam, name: 'name' };
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
const idempotencyKey = {
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
const ofrepFreshness = { name: 'flagConfigEtag', in: 'query', description: 'OFREP ADR-0008: the revision an event announced; the answer waits (bounded) until the replica has it', schema: { type: 'string' } };

/**
 * Embeds one of flag-model's JSON Schemas as a component: drops its own
 * $schema/$id (the document's dialect applies) and re-points its internal
 * "#/$defs/..." references at the component's location in this document.
 */
function embedSchema(schema: unknown, component: string): object {
  if (!schema || typeof schema !== 'object') return {};
  const { $schema: _s, $id: _i, ...rest } = schema as Record<string, unknown>;
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (!v || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [
        k,
        k === '$ref' && typeof x === 'string' && x.startsWith('#/') ? `#/components/schemas/${component}/${x.slice(2)}` : rewrite(x),
      ]),
    );
  };
  return rewrite(rest) as object;
}

const storedMeta = {
  createRevision: { type: 'integer', minimum: 1 },
  modRevision: { type: 'integer', minimum: 1 },
  version: { type: 'integer', minimum: 1 },
  updatedAt: { type: 'number', description: 'ms since the epoch' },
  updatedBy: { type: 'string' },
};

export const openapiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'flagraft gateway',
    version: '1.0.0',
    description:
      'REST API for flags and segments (ETag = revision, If-Match for compare-and-set), the original endpoints, ' +
      'the live change stream and cluster operations. OFREP evaluation (/ofrep/v1) follows the OpenFeature protocol. ' +
      'Errors are RFC 9457 problem documents. Auth: Authorization: Bearer <token> or X-API-Key, checked before any body byte is read. ' +
      'Limits, each named in its refusal: body bytes after decompression (maxBodyBytes 1 MiB; maxBatchBodyBytes 8 MiB; ' +
      'maxEvaluationBodyBytes 64 KiB; maxEvaluationCountsBodyBytes 256 KiB; maxFlagdImportBodyBytes 8 MiB; maxRestoreBodyBytes 128 MiB; ' +
      'FLAGRAFT_MAX_*_BODY_BYTES) -> 413 payload-too-large; JSON shape (maxJsonDepth 64, maxJsonStringChars 65536, maxJsonKeyChars 1024, ' +
      'maxJsonArrayItems 10000, maxJsonObjectKeys 10000, maxJsonNodes 1000000, jsonNumberRange: finite numbers) -> 422 json-limit with ' +
      'limit and issues[].pointer (OFREP: 400 INVALID_CONTEXT); per-token rate limits per gateway (writes FLAGRAFT_RATE_LIMIT_WRITES_PER_SEC ' +
      '50/s burst 100, evaluations FLAGRAFT_RATE_LIMIT_EVALUATIONS_PER_SEC 1000/s burst 2000; 0 = off) -> 429 with Retry-After.',
  },
  jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
  security: [{ bearer: [] }, { apiKey: [] }],
  paths: {
    '/api/v1/flags': {
      get: {
        operationId: 'listFlags',
        summary: 'List flags (role reader)',
        description:
          'Pages in key order. consistency=stale pages are served from this gateway\'s in-memory replica (no cluster round trip); ' +
          'their revision is the replica\'s, i.e. the position its /api/v1/stream has delivered up to, and a write this gateway ' +
          'answered is already in them. nextPageToken works with either consistency.',
        parameters: listParams,
        responses: { '200': { description: 'A page of flags', ...json(ref('FlagPage')) }, ...commonErrors },
      },
    },
    '/api/v1/flags/{key}': {
      parameters: [keyParam],
      get: {
        operationId: 'getFlag',
        summary: 'Read a flag (role reader); ETag = modRevision',
        parameters: [consistencyParam, { name: 'If-None-Match', in: 'header', schema: { type: 'string' } }],
        responses: {
          '200': { description: 'The flag', headers: etagHeader, ...json(ref('StoredFlag')) },
          '304': { description: 'Unchanged since the given ETag' },
          '404': problem('No such flag'),
          ...commonErrors,
        },
      },
      put: {
        operationId: 'putFlag',
        summary: 'Create or replace a flag (role editor)',
        parameters: [ifMatch, ifNoneMatchStar, idempotencyKey],
        requestBody: { required: true, ...json(ref('FlagDefinition')) },
        responses: {
          '200': { description: 'Replaced', headers: etagHeader, ...json(ref('StoredFlag')) },
          '201': { description: 'Created', headers: etagHeader, ...json(ref('StoredFlag')) },
          ...writeErrors,
        },
      },
      patch: {
        operationId: 'patchFlag',
        summary: 'Edit a flag (role editor): JSON Merge Patch (object) or JSON Patch (array)',
        parameters: [ifMatch, idempotencyKey],
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
      delete: {
        operationId: 'deleteFlag',
        summary: 'Delete a flag (role editor)',
        parameters: [ifMatch, idempotencyKey],
        responses: { '200': { description: 'Deleted', ...json(ref('Deleted')) }, '404': problem('No such flag'), ...writeErrors },
      },
    },
    '/api/v1/flags/{key}/history': {
      parameters: [keyParam],
      get: {
        operationId: 'getFlagHistory',
        summary: 'Audit trail of a flag, newest first (role reader)',
        parameters: historyParams,
        responses: { '200': { description: 'Changes', ...json(ref('FlagHistory')) }, ...commonErrors, '410': problem('Older than retained') },
      },
    },
    '/api/v1/segments': {
      get: {
        operationId: 'listSegments',
        summary: 'List segments (role reader)',
        parameters: listParams,
        responses: { '200': { description: 'A page of segments', ...json(ref('SegmentPage')) }, ...commonErrors },
      },
    },
    '/api/v1/segments/{name}': {
      parameters: [nameParam],
      get: {
        operationId: 'getSegment',
        summary: 'Read a segment (role reader)',
        parameters: [consistencyParam],
        responses: { '200': { description: 'The segment', headers: etagHeader, ...json(ref('StoredSegment')) }, '404': problem('No such segment'), ...commonErrors },
      },
      put: {
        operationId: 'putSegment',
        summary: 'Create or replace a segment (role editor)',
        parameters: [ifMatch, ifNoneMatchStar, idempotencyKey],
        requestBody: { required: true, ...json(ref('SegmentDefinition')) },
        responses: {
          '200': { description: 'Replaced', headers: etagHeader, ...json(ref('StoredSegment')) },
          '201': { description: 'Created', headers: etagHeader, ...json(ref('StoredSegment')) },
          ...writeErrors,
        },
      },
      delete: {
        operationId: 'deleteSegment',
        summary: 'Delete a segment (role editor); 409 while flags use it',
        parameters: [ifMatch, idempotencyKey],
        responses: { '200': { description: 'Deleted', ...json(ref('SegmentDeleted')) }, '404': problem('No such segment'), ...writeErrors },
      },
    },
    '/api/v1/segments/{name}/history': {
      parameters: [nameParam],
      get: {
        operationId: 'getSegmentHistory',
        summary: 'Audit trail of a segment (role reader)',
        parameters: historyParams,
        responses: { '200': { description: 'Changes', ...json(ref('SegmentHistory')) }, ...commonErrors },
      },
    },
    '/api/v1/batch': {
      post: {
        operationId: 'applyBatch',
        parameters: [idempotencyKey],
        summary: 'Atomic multi-flag/segment change (role editor): all operations commit at one revision or none',
        requestBody: { required: true, ...json(ref('BatchRequest')) },
        responses: { '200': { description: 'Committed', ...json(ref('BatchResult')) }, '404': problem('A deleted key does not exist'), ...writeErrors },
      },
    },
    '/api/v1/cluster': {
      get: { operationId: 'getClusterStatus', summary: 'Cluster status (role reader)', responses: { '200': { description: 'Status', ...json(ref('ClusterStatus')) }, ...commonErrors } },
    },
    '/api/v1/cluster/members': {
      post: {
        operationId: 'addClusterMember',
        summary: 'Add a learner (role admin)',
        requestBody: { required: true, ...json({ type: 'object', required: ['id', 'address'], properties: { id: { type: 'integer', minimum: 1 }, address: { type: 'string', description: "the new node's peer (Raft) address, host:port (FLAGRAFT_PEER_ADVERTISE)" } } }) },
        responses: { '201': { description: 'Added', ...json({ type: 'object' }) }, ...writeErrors },
      },
    },
    '/api/v1/cluster/members/{id}/promote': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }],
      post: { operationId: 'promoteClusterMember', summary: 'Promote a learner to voter (role admin)', responses: { '200': { description: 'Promoted', ...json({ type: 'object' }) }, ...writeErrors } },
    },
    '/api/v1/cluster/members/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }],
      delete: { operationId: 'removeClusterMember', summary: 'Remove a member (role admin)', responses: { '200': { description: 'Removed', ...json({ type: 'object' }) }, ...writeErrors } },
    },
    '/api/v1/cluster/leader': {
      post: {
        operationId: 'transferLeadership',
        summary: 'Transfer leadership (role admin)',
        requestBody: { required: true, ...json({ type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } }) },
        responses: { '200': { description: 'Transferred', ...json({ type: 'object' }) }, ...writeErrors },
      },
    },
    '/api/v1/admin/backup': {
      get: {
        operationId: 'getBackup',
        summary: 'Consistent backup of every flag, segment and retained change at one revision, read on the Raft leader (role admin)',
        responses: {
          '200': { description: 'The backup document (ETag: its revision)', headers: etagHeader, ...json(ref('BackupDocument')) },
          '409': problem('The backup would exceed maxBackupBytes (134217728); reason backup-too-large'),
          ...commonErrors,
        },
      },
    },
    '/api/v1/admin/restore': {
      post: {
        operationId: 'restoreBackup',
        summary: 'Load a backup into an empty cluster through Raft, keeping revisions and history (role admin); atomic for readers',
        parameters: [{ name: 'force', in: 'query', description: 'true = replace all flags, segments and history the cluster holds', schema: { enum: ['true', 'false'] } }],
        requestBody: { required: true, ...json(ref('BackupDocument')) },
        responses: {
          '200': { description: 'Restored', ...json(ref('RestoreResult')) },
          ...writeErrors,
          '409': problem('The cluster is not empty (reason not-empty, liveCounts) and force is not set'),
          '413': problem('The document is larger than maxBackupBytes (134217728)'),
          '422': problem('Invalid backup document; issues name each bad field, e.g. changes[12].revision'),
        },
      },
    },
    '/api/v1/stream': {
      get: {
        operationId: 'streamChanges',
        summary: 'Server-Sent Events of committed changes (role reader)',
        description:
          'Each change is `id: <id>` + `data: <ChangeEvent JSON>`. The id is the revision, or `<revision>:<index>` for all but the last ' +
          'event of a multi-change revision (a batch). Resume with Last-Event-ID (or ?since=<revision>): no change is lost or repeated. ' +
          '`event: ready` opens the stream; `event: reset` means the client must re-read the state (history no longer retained). ' +
          'Comment lines are heartbeats. A client that cannot keep up is disconnected.',
        parameters: [
          { name: 'since', in: 'query', schema: { type: 'string', pattern: '^\\d+(:\\d+)?$' } },
          { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } },
          { name: 'prefix', in: 'query', schema: { type: 'string' } },
          { name: 'kind', in: 'query', schema: { enum: ['flag', 'segment'] } },
          { name: 'ticket', in: 'query', description: 'A stream ticket (POST /api/v1/stream-tickets?stream=changes) instead of a token header, for EventSource', schema: { type: 'string', maxLength: 128 } },
        ],
        responses: { '200': { description: 'The stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...commonErrors },
      },
    },
    '/api/v1/snapshot': {
      get: {
        operationId: 'getSnapshot',
        summary: 'Every flag (optionally by key prefix) and every segment at one revision, from the gateway replica (role reader): the in-process provider\'s initial load',
        parameters: [{ name: 'prefix', in: 'query', schema: { type: 'string', maxLength: 128 } }],
        responses: {
          '200': {
            description: 'The snapshot; follow /api/v1/stream?since=<revision> from here',
            headers: etagHeader,
            ...json({ type: 'object', required: ['revision', 'flags', 'segments'], properties: { revision: { type: 'integer' }, flags: { type: 'array', items: ref('StoredFlag') }, segments: { type: 'array', items: ref('StoredSegment') } } }),
          },
          ...commonErrors,
        },
      },
    },
    '/api/v1/stream-tickets': {
      post: {
        operationId: 'createStreamTicket',
        summary: 'A short-lived, single-purpose ticket that opens a stream from a URL (for EventSource, which cannot send a token); any role for ofrep-events, reader for changes',
        parameters: [{ name: 'stream', in: 'query', schema: { enum: ['ofrep-events', 'changes'] } }],
        responses: {
          '200': { description: 'The ticket', ...json({ type: 'object', required: ['stream', 'ticket', 'path', 'expiresAt'], properties: { stream: { type: 'string' }, ticket: { type: 'string' }, path: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } } }) },
          ...commonErrors,
        },
      },
    },
    '/api/v1/flagd/import': {
      post: {
        operationId: 'importFlagd',
        summary: 'Import a flagd flag-definition document (role editor): flags, $evaluators as segments, targeting. dryRun=true answers the plan only',
        parameters: [{ name: 'dryRun', in: 'query', schema: { enum: ['true', 'false'] } }, { name: 'skipUnmappable', in: 'query', schema: { enum: ['true', 'false'] } }],
        requestBody: { required: true, ...json({ type: 'object', description: 'A flagd document: {"flags": {...}, "$evaluators"?: {...}, "metadata"?: {...}}' }) },
        responses: {
          '200': {
            description: 'The plan (create / update / unchanged per flag and segment), counts, issues by JSON path, and (when applied) the last revision written',
            ...json({ type: 'object', required: ['dryRun', 'plan', 'counts', 'issues'], properties: { dryRun: { type: 'boolean' }, revision: { type: 'integer' }, batches: { type: 'integer' }, plan: { type: 'array', items: { type: 'object' } }, counts: { type: 'object' }, issues: { type: 'array', items: { type: 'object', required: ['path', 'severity', 'message'] } } } }),
          },
          ...writeErrors,
          '409': problem('A flag or segment changed since the plan was made'),
          '413': problem('Body larger than FLAGRAFT_MAX_FLAGD_IMPORT_BODY_BYTES'),
          '422': problem('Some flags cannot be mapped (issues with JSON paths, plan of the rest); nothing written'),
        },
      },
    },
    '/api/v1/flagd/export': {
      get: {
        operationId: 'exportFlagd',
        summary: 'Every flag (optionally by key prefix) as a flagd flag-definition document, with what flagd cannot express reported by path (role reader)',
        parameters: [{ name: 'prefix', in: 'query', schema: { type: 'string', maxLength: 128 } }],
        responses: {
          '200': { description: 'The document and the issues', headers: etagHeader, ...json({ type: 'object', required: ['revision', 'document', 'issues'], properties: { revision: { type: 'integer' }, document: { type: 'object' }, issues: { type: 'array', items: { type: 'object' } } } }) },
          ...commonErrors,
        },
      },
    },
    '/api/v1/evaluation-counts': {
      post: {
        operationId: 'reportEvaluationCounts',
        summary: 'In-process evaluation counts reported by OpenFeature providers (any role); added to the evaluation metrics. Unknown flags and variants are ignored (counted in ignored)',
        requestBody: {
          required: true,
          ...json({ type: 'object', required: ['counts'], properties: { counts: { type: 'array', maxItems: 1000, items: { type: 'object', required: ['flag', 'reason', 'count'], properties: { flag: { type: 'string' }, variant: { type: 'string' }, reason: { type: 'string' }, count: { type: 'integer', minimum: 1 } } } } } }),
        },
        responses: {
          '200': { description: 'Recorded', ...json({ type: 'object', required: ['accepted', 'ignored'], properties: { accepted: { type: 'integer' }, ignored: { type: 'integer' } } }) },
          '413': problem('Body larger than FLAGRAFT_MAX_EVALUATION_COUNTS_BODY_BYTES'),
          '422': problem('Invalid report; issues name each bad field'),
          '429': tooMany('Over the per-token evaluation rate limit (FLAGRAFT_RATE_LIMIT_EVALUATIONS_PER_SEC, default 1000/s, burst 2000)'),
          ...commonErrors,
        },
      },
    },
    '/set': {
      post: {
        operationId: 'legacySetFlag',
        parameters: [idempotencyKey],
        summary: 'Original API: set a flag from a text value (role editor); answers after commit',
        requestBody: { required: true, ...json(ref('LegacySet')) },
        responses: { '200': { description: 'Committed', ...json(ref('LegacyValue')) }, ...writeErrors },
      },
    },
    '/api/v1/flags/set': {
      post: {
        operationId: 'legacySetFlagV1',
        parameters: [idempotencyKey],
        summary: 'Original API (dashboard): same as POST /set',
        requestBody: { required: true, ...json(ref('LegacySet')) },
        responses: { '200': { description: 'Committed', ...json(ref('LegacyValue')) }, ...writeErrors },
      },
    },
    '/get/{key}': {
      parameters: [keyParam],
      get: {
        operationId: 'legacyGetFlag',
        summary: 'Original API: a flag as a text value (role reader)',
        parameters: [consistencyParam],
        responses: { '200': { description: 'The value', ...json(ref('LegacyValue')) }, '404': problem('No such flag'), ...commonErrors },
      },
    },
    '/api/v1/flags/all': {
      get: {
        operationId: 'legacyListFlags',
        summary: 'Original API: every flag as {key: text value} (role reader)',
        parameters: [consistencyParam],
        responses: { '200': { description: 'The map', ...json({ type: 'object', additionalProperties: { type: 'string' } }) }, ...commonErrors },
      },
    },
    '/ofrep/v1/evaluate/flags/{key}': {
      parameters: [{ name: 'key', in: 'path', required: true, description: 'The flag key, percent-encoded', schema: { type: 'string' } }],
      post: {
        operationId: 'evaluateFlag',
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
    },
    '/ofrep/v1/evaluate/flags': {
      post: {
        operationId: 'evaluateAllFlags',
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
    },
    '/ofrep/v1/events': {
      get: {
        operationId: 'streamOfrepEvents',
        summary: 'OFREP: server-sent events, data {"type":"refetchEvaluation"} on every change (role evaluator, or a stream ticket)',
        parameters: [
          { name: 'ticket', in: 'query', description: 'Stream ticket from the bulk answer\'s eventStreams url (EventSource cannot send headers)', schema: { type: 'string' } },
          { name: 'since', in: 'query', description: 'Revision the client has seen; the stream starts after it', schema: { type: 'string' } },
        ],
        responses: {
          '200': { description: 'The event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          '400': { description: 'Bad since or ticket', ...json(ref('OfrepError')) },
          ...ofrepErrors,
        },
      },
    },
    '/api/v1/openapi.json': { get: { operationId: 'getOpenApiDocument', summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1', ...json({ type: 'object' }) } } } },
    '/health': { get: { operationId: 'getHealth', summary: 'The process is alive', security: [], responses: { '200': { description: 'Alive', ...json({ type: 'object', required: ['status'], properties: { status: { const: 'ok' } } }) } } } },
    '/ready': {
      get: {
        operationId: 'getReadiness',
        summary: 'Replica loaded and cluster reachable',
        security: [],
        responses: { '200': { description: 'Ready', ...json(ref('Readiness')) }, '503': { description: 'Not ready', ...json(ref('Readiness')) } },
      },
    },
    '/metrics': { get: { operationId: 'getMetrics', summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'Text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    },
    schemas: {
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer', minimum: 400, maximum: 599 },
          detail: { type: 'string' },
          instance: { type: 'string' },
          issues: {
            type: 'array',
            description: 'Every problem at once (validation, json-limit)',
            items: {
              type: 'object',
              required: ['path', 'message'],
              properties: {
                path: { type: 'string', description: 'Field path: rules[1].rollout.weights' },
                pointer: { type: 'string', description: 'RFC 6901 JSON pointer to the same place: /rules/1/rollout/weights' },
                limit: { type: 'string', description: 'json-limit: the limit this issue broke, e.g. maxJsonDepth' },
                message: { type: 'string' },
              },
            },
          },
          limit: { type: 'string', description: 'payload-too-large: the byte limit\'s name (maxBodyBytes...); json-limit: the first JSON shape limit hit (maxJsonDepth...)' },
          limitBytes: { type: 'integer', description: 'payload-too-large: the byte limit' },
          retryAfterSeconds: { type: 'integer', description: 'too-many-requests: as Retry-After' },
          currentRevision: { type: ['integer', 'null'] },
          key: { type: 'string' },
        },
      },
      FlagDefinition: embedSchema(flagJsonSchema, 'FlagDefinition'),
      SegmentDefinition: embedSchema(segmentJsonSchema, 'SegmentDefinition'),
      StoredFlag: { type: 'object', required: ['flag', 'createRevision', 'modRevision', 'version', 'updatedAt', 'updatedBy'], properties: { flag: ref('FlagDefinition'), ...storedMeta } },
      StoredSegment: {
        type: 'object',
        required: ['segment', 'createRevision', 'modRevision', 'version', 'updatedAt', 'updatedBy'],
        properties: { segment: ref('SegmentDefinition'), ...storedMeta },
      },
      FlagPage: { type: 'object', required: ['flags', 'revision'], properties: { flags: { type: 'array', items: ref('StoredFlag') }, nextPageToken: { type: 'string' }, revision: { type: 'integer' } } },
      SegmentPage: {
        type: 'object',
        required: ['segments', 'revision'],
        properties: { segments: { type: 'array', items: ref('StoredSegment') }, nextPageToken: { type: 'string' }, revision: { type: 'integer' } },
      },
      Deleted: { type: 'object', required: ['key', 'deleted', 'revision'], properties: { key: { type: 'string' }, deleted: { const: true }, revision: { type: 'integer' } } },
      SegmentDeleted: { type: 'object', required: ['name', 'deleted', 'revision'], properties: { name: { type: 'string' }, deleted: { const: true }, revision: { type: 'integer' } } },
      HistoryEntry: {
        type: 'object',
        required: ['revision', 'op', 'actor', 'time', 'before', 'after'],
        properties: {
          revision: { type: 'integer' },
          kind: { enum: ['flag', 'segment'] },
          key: { type: 'string' },
          op: { enum: ['put', 'delete'] },
          actor: { type: 'string' },
          time: { type: 'string', format: 'date-time' },
          before: { type: ['object', 'null'] },
          after: { type: ['object', 'null'] },
        },
      },
      FlagHistory: { type: 'object', required: ['key', 'changes'], properties: { key: { type: 'string' }, changes: { type: 'array', items: ref('HistoryEntry') } } },
      SegmentHistory: { type: 'object', required: ['name', 'changes'], properties: { name: { type: 'string' }, changes: { type: 'array', items: ref('HistoryEntry') } } },
      BatchRequest: {
        type: 'object',
        required: ['ops'],
        properties: {
          ops: {
            type: 'array',
            minItems: 1,
            maxItems: 100,
            items: {
              oneOf: [
                { type: 'object', required: ['op', 'flag'], properties: { op: { const: 'putFlag' }, flag: ref('FlagDefinition'), expectedRevision: { type: 'integer', minimum: 0 } } },
                { type: 'object', required: ['op', 'key'], properties: { op: { const: 'deleteFlag' }, key: { type: 'string' }, expectedRevision: { type: 'integer', minimum: 0 } } },
                { type: 'object', required: ['op', 'segment'], properties: { op: { const: 'putSegment' }, segment: ref('SegmentDefinition'), expectedRevision: { type: 'integer', minimum: 0 } } },
                { type: 'object', required: ['op', 'name'], properties: { op: { const: 'deleteSegment' }, name: { type: 'string' }, expectedRevision: { type: 'integer', minimum: 0 } } },
              ],
            },
          },
        },
      },
      BackupChange: {
        type: 'object', required: ['revision', 'kind', 'key', 'op', 'before', 'after', 'actor', 'time'],
        properties: {
          revision: { type: 'integer', minimum: 1 }, kind: { enum: ['flag', 'segment'] }, key: { type: 'string' }, op: { enum: ['put', 'delete'] },
          before: { type: ['object', 'null'] }, after: { type: ['object', 'null'] }, actor: { type: 'string' }, time: { type: 'integer', description: 'ms since the epoch' },
        },
      },
      BackupDocument: {
        type: 'object', required: ['format', 'v', 'revision', 'flags', 'segments', 'changes'],
        properties: {
          format: { const: 'flagraft-backup' }, v: { const: 1 }, clusterId: { type: 'string' }, revision: { type: 'integer', minimum: 0 },
          createdAt: { type: 'string', format: 'date-time' }, oldestRetainedRevision: { type: 'integer' },
          flags: { type: 'array', items: ref('StoredFlag') }, segments: { type: 'array', items: ref('StoredSegment') },
          changes: { type: 'array', description: 'Every retained change, ascending by revision', items: ref('BackupChange') },
        },
      },
      RestoreResult: {
        type: 'object', required: ['revision', 'restoredRevision', 'restored', 'historyPreserved'],
        properties: {
          revision: { type: 'integer', description: 'The cluster revision after the restore (later writes get higher ones)' },
          restoredRevision: { type: 'integer', description: 'The backup\'s revision' },
          restored: { type: 'object', properties: { flags: { type: 'integer' }, segments: { type: 'integer' }, changes: { type: 'integer' } } },
          flags: { type: 'integer' }, segments: { type: 'integer' }, changes: { type: 'integer' },
          historyPreserved: { const: true }, force: { type: 'boolean' }, entries: { type: 'integer', description: 'Raft entries the import took' },
        },
      },
      BatchResult: { type: 'object', required: ['revision', 'changes'], properties: { revision: { type: 'integer' }, changes: { type: 'array', items: ref('HistoryEntry') } } },
      ClusterStatus: {
        type: 'object',
        required: ['members', 'gateway'],
        properties: {
          clusterId: { type: 'string' },
          leaderId: { type: ['integer', 'string'] },
          term: { type: 'integer' },
          commitIndex: { type: 'integer' },
          appliedIndex: { type: 'integer' },
          members: {
            type: 'array',
            items: { type: 'object', required: ['id', 'address', 'role'], properties: { id: { type: ['integer', 'string'] }, address: { type: 'string', description: 'client address' }, peerAddress: { type: 'string', description: 'Raft address' }, role: { type: 'string' }, lag: { type: 'integer' } } },
          },
          gateway: { type: 'object', required: ['replicaRevision', 'replicaLoaded'], properties: { replicaRevision: { type: 'integer' }, replicaLoaded: { type: 'boolean' }, flags: { type: 'integer' } } },
        },
      },
      LegacySet: { type: 'object', required: ['key', 'value'], properties: { key: { type: 'string' }, value: { type: ['string', 'number', 'boolean'] } } },
      LegacyValue: { type: 'object', required: ['key', 'value', 'revision'], properties: { key: { type: 'string' }, value: { type: 'string' }, revision: { type: 'integer' } } },
      OfrepRequest: { type: 'object', description: 'Empty body or {} means an empty context', properties: { context: { type: ['object', 'null'], properties: { targetingKey: { type: 'string' } } } } },
      OfrepSuccess: {
        type: 'object', required: ['key', 'reason'],
        properties: { key: { type: 'string' }, reason: { type: 'string' }, variant: { type: 'string' }, value: {}, metadata: { type: 'object' } },
      },
      OfrepError: { type: 'object', required: ['errorCode'], properties: { key: { type: 'string' }, errorCode: { type: 'string' }, errorDetails: { type: 'string' } } },
      OfrepBulk: {
        type: 'object', required: ['flags', 'metadata', 'eventStreams'],
        properties: {
          flags: { type: 'array', items: { anyOf: [ref('OfrepSuccess'), ref('OfrepError')] } },
          metadata: { type: 'object', required: ['revision'], properties: { revision: { type: 'integer' } } },
          eventStreams: {
            type: 'array',
            items: { type: 'object', required: ['type', 'url'], properties: { type: { const: 'sse' }, url: { type: 'string' }, inactivityDelaySec: { type: 'integer' } } },
          },
        },
      },
      Readiness: {
        type: 'object',
        required: ['ready', 'replicaLoaded', 'replicaRevision', 'clusterReachable'],
        properties: { ready: { type: 'boolean' }, replicaLoaded: { type: 'boolean' }, replicaRevision: { type: 'integer' }, clusterReachable: { type: 'boolean' }, clusterLeader: { type: 'boolean' }, shuttingDown: { type: 'boolean' }, clusterError: { type: 'string' } },
      },
    },
  },
} as const;
