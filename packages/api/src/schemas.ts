// JSON Schemas (draft 2020-12, the dialect of OpenAPI 3.1) of every body the
// gateway's HTTP API sends or takes, as named components of the generated
// OpenAPI document. Flag and segment definitions are flag-model's own
// schemas, embedded; a "#/components/schemas/X" reference names another
// component. The TypeScript types the client returns are in types.ts, one
// per component; the contract test checks real answers against these.
import { flagJsonSchema, segmentJsonSchema } from '@flagraft/flag-model';

// Untyped inside this file (SCHEMAS' own type is being inferred); routes use schemaRef.
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A reference to a component of this document. */
export const schemaRef = (name: SchemaName) => ref(name);

/**
 * Embeds one of flag-model's JSON Schemas as a component: drops its own
 * $schema/$id (the document's dialect applies) and re-points its internal
 * "#/$defs/..." references at the component's location in the document.
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

export const SCHEMAS = {
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
};

export type SchemaName = keyof typeof SCHEMAS;
