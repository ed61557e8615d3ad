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
        reason: { type: 'string', description: 'conflict: PROTECTED (the environment needs a change request), INVALID_STATE, ENVIRONMENT_IN_USE, CONFLICTED (a change request\'s base moved)' },
        environment: { type: 'string', description: 'The environment concerned (PROTECTED, or a token limited to other environments: 403)' },
        conflicts: { type: 'array', description: 'CONFLICTED: per item, the base it was made from (item, revision), the current item and what the request proposes', items: ref('ChangeConflict') },
        changeRequest: ref('StoredChangeRequest'),
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
    AuditEntry: {
      type: 'object',
      description: 'One change of the global audit log: any kind of item, with the environment of a flag change',
      required: ['revision', 'kind', 'key', 'op', 'actor', 'time', 'before', 'after'],
      properties: {
        revision: { type: 'integer' },
        kind: { enum: ['flag', 'segment', 'environment', 'changeRequest', 'schedule'] },
        key: { type: 'string' },
        environment: { type: 'string', description: 'Flag changes only: the environment the change was made in' },
        op: { enum: ['put', 'delete'] },
        actor: { type: 'string' },
        time: { type: 'string', format: 'date-time' },
        before: { type: ['object', 'null'] },
        after: { type: ['object', 'null'] },
      },
    },
    ChangePage: {
      type: 'object',
      required: ['changes'],
      properties: { changes: { type: 'array', items: ref('AuditEntry') }, nextPageToken: { type: 'string', description: 'Pass as pageToken for the next (older) page; absent on the last' } },
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
        env: { type: 'string', description: 'A flag change outside the default environment' },
      },
    },
    BackupDocument: {
      type: 'object', required: ['format', 'v', 'revision', 'flags', 'segments', 'changes'],
      properties: {
        format: { const: 'flagraft-backup' }, v: { const: 1 }, clusterId: { type: 'string' }, revision: { type: 'integer', minimum: 0 },
        createdAt: { type: 'string', format: 'date-time' }, oldestRetainedRevision: { type: 'integer' },
        flags: { type: 'array', items: ref('StoredFlag') }, segments: { type: 'array', items: ref('StoredSegment') },
        changes: { type: 'array', description: 'Every retained change, ascending by revision', items: ref('BackupChange') },
        environments: { type: 'array', description: 'The environments (exactly one isDefault: flags are its flags); absent in backups from before environments', items: ref('StoredEnvironment') },
        envFlags: {
          type: 'array', description: 'Every other environment\'s flag configurations',
          items: { type: 'object', required: ['env', 'stored'], properties: { env: { type: 'string' }, stored: ref('StoredFlag') } },
        },
        changeRequests: { type: 'array', description: 'Change requests of every status (docs/ENVIRONMENTS.md "Backups"); absent when the cluster has none', items: ref('StoredChangeRequest') },
        schedules: { type: 'array', description: 'Schedules, pending steps included; absent when the cluster has none', items: ref('StoredSchedule') },
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
    Principal: {
      type: 'object',
      required: ['name', 'role', 'permissions'],
      properties: {
        name: { type: 'string', description: 'The token\'s name: the actor the audit trail records for its writes' },
        role: { enum: ['admin', 'editor', 'reader', 'evaluator'] },
        environments: { type: 'array', items: { type: 'string' }, description: 'The environments the token is limited to; absent = every environment. An evaluator has exactly one: the one OFREP evaluates in' },
        permissions: { type: 'array', items: { enum: ['evaluate', 'read', 'write', 'admin'] }, description: 'What the role allows' },
      },
    },
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
    ApprovalPolicy: {
      type: 'object', required: ['approvalsRequired'],
      properties: {
        approvalsRequired: { type: 'integer', minimum: 0, description: '0 = direct writes allowed; N > 0 = every write goes through a change request with N approvals' },
        authorCannotApprove: { type: 'boolean' },
        approverRoles: { type: 'array', items: { type: 'string' }, description: 'Who may approve or reject, by role (neither list = anyone who may write)' },
        approvers: { type: 'array', items: { type: 'string' }, description: '... or by token name' },
      },
    },
    EnvironmentDefinition: {
      type: 'object', required: ['name'],
      properties: {
        name: { type: 'string', description: 'Stable id (key characters)' }, displayName: { type: 'string' },
        production: { type: 'boolean', description: 'New flags arrive here switched off' }, policy: ref('ApprovalPolicy'),
      },
    },
    EnvironmentCreate: {
      type: 'object', required: ['name'],
      properties: {
        name: { type: 'string' }, displayName: { type: 'string' }, production: { type: 'boolean' }, policy: ref('ApprovalPolicy'),
        copyFrom: { type: 'string', description: 'Every flag\'s configuration is copied from this environment (default: the default one)' },
      },
    },
    EnvironmentUpdate: {
      type: 'object', description: 'Fields to change; null removes one (policy: null = direct writes again, itself protected)',
      properties: { displayName: { type: ['string', 'null'] }, production: { type: ['boolean', 'null'] }, policy: { anyOf: [ref('ApprovalPolicy'), { type: 'null' }] } },
    },
    StoredEnvironment: {
      type: 'object', required: ['environment', 'isDefault', 'createRevision', 'modRevision', 'version', 'updatedAt', 'updatedBy'],
      // The default environment made with (or upgraded into) a data dir has revisions 0.
      properties: { environment: ref('EnvironmentDefinition'), isDefault: { type: 'boolean' }, ...storedMeta, createRevision: { type: 'integer', minimum: 0 }, modRevision: { type: 'integer', minimum: 0 } },
    },
    EnvironmentList: { type: 'object', required: ['environments'], properties: { environments: { type: 'array', items: ref('StoredEnvironment') }, defaultEnvironment: { type: 'string' } } },
    EnvironmentDeleted: {
      type: 'object', required: ['name', 'deleted', 'revision', 'flagConfigurations'],
      properties: { name: { type: 'string' }, deleted: { const: true }, revision: { type: 'integer' }, flagConfigurations: { type: 'integer', description: 'Flag configurations deleted with it (force)' } },
    },
    PromotionRequest: {
      type: 'object', required: ['from', 'to'],
      properties: { from: { type: 'string' }, to: { type: 'string' }, keys: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string' }, description: 'Absent = every flag' } },
    },
    PromotionPlan: {
      type: 'object', required: ['from', 'to', 'items'],
      properties: {
        from: { type: 'string' }, to: { type: 'string' }, keys: { type: 'array', items: { type: 'string' } },
        items: {
          type: 'array', description: 'The flags whose configuration in `to` would change',
          items: { type: 'object', required: ['key', 'before', 'after'], properties: { key: { type: 'string' }, before: { anyOf: [ref('StoredFlag'), { type: 'null' }] }, after: ref('FlagDefinition') } },
        },
      },
    },
    PromotionResult: { type: 'object', required: ['from', 'to', 'revision', 'flags'], properties: { from: { type: 'string' }, to: { type: 'string' }, revision: { type: 'integer' }, flags: { type: 'array', items: { type: 'string' } } } },
    ChangeRequestOp: {
      type: 'object', required: ['op'],
      description: 'putFlag / deleteFlag / putSegment / deleteSegment (as in a batch; flag ops act in the request\'s environment), promote {from, to: the request\'s environment, keys?}, or putEnvironment {environment} of the request\'s environment',
      properties: { op: { enum: ['putFlag', 'deleteFlag', 'putSegment', 'deleteSegment', 'promote', 'putEnvironment'] } },
    },
    ChangeRequestEvent: { type: 'object', required: ['actor', 'time'], properties: { actor: { type: 'string' }, time: { type: 'number', description: 'ms since the epoch' }, text: { type: 'string' }, role: { type: 'string' } } },
    ChangeConflict: {
      type: 'object', required: ['kind', 'key', 'revision', 'item', 'currentRevision', 'current', 'proposed'],
      properties: {
        kind: { enum: ['flag', 'segment', 'environment'] }, key: { type: 'string' }, env: { type: 'string' },
        revision: { type: 'integer', description: 'The base: the item\'s revision when the request was made (0 = absent)' }, item: { type: ['object', 'null'], description: 'The base item' },
        currentRevision: { type: 'integer' }, current: { type: ['object', 'null'] }, proposed: { type: ['object', 'null'] },
      },
    },
    ChangeRequest: {
      type: 'object', required: ['id', 'env', 'title', 'author', 'status', 'ops', 'bases', 'approvals', 'rejections', 'comments'],
      properties: {
        id: { type: 'string' }, env: { type: 'string' }, title: { type: 'string' }, description: { type: 'string' }, author: { type: 'string' },
        status: { enum: ['draft', 'inReview', 'approved', 'applied', 'rejected', 'withdrawn', 'conflicted'] },
        ops: { type: 'array', items: ref('ChangeRequestOp') }, bases: { type: 'array', items: { type: 'object' } },
        approvals: { type: 'array', items: ref('ChangeRequestEvent') }, rejections: { type: 'array', items: ref('ChangeRequestEvent') }, comments: { type: 'array', items: ref('ChangeRequestEvent') },
        conflicts: { type: 'array', items: ref('ChangeConflict') }, applyError: { type: 'string' }, appliedRevision: { type: 'integer' },
      },
    },
    StoredChangeRequest: {
      type: 'object', required: ['changeRequest', 'createRevision', 'modRevision', 'version', 'updatedAt', 'updatedBy'],
      properties: { changeRequest: ref('ChangeRequest'), ...storedMeta },
    },
    ChangeRequestList: { type: 'object', required: ['changeRequests'], properties: { changeRequests: { type: 'array', items: ref('StoredChangeRequest') }, more: { const: true } } },
    ChangeRequestCreate: {
      type: 'object', required: ['title', 'ops'],
      properties: {
        environment: { type: 'string', description: 'Absent = the default environment' }, title: { type: 'string', maxLength: 200 }, description: { type: 'string' },
        ops: { type: 'array', minItems: 1, maxItems: 100, items: ref('ChangeRequestOp') }, submit: { type: 'boolean', description: 'true = straight into review' },
      },
    },
    ChangeRequestStep: { type: 'object', description: 'Optional (no body is fine)', properties: { comment: { type: 'string' } } },
    ChangeRequestComment: { type: 'object', required: ['comment'], properties: { comment: { type: 'string' } } },
    ChangeRequestRebase: { type: 'object', description: 'New ops, or none to re-base the same ops on the current state', properties: { ops: { type: 'array', minItems: 1, maxItems: 100, items: ref('ChangeRequestOp') } } },
    ScheduleStep: {
      type: 'object', required: ['at', 'status'],
      properties: {
        at: { type: 'integer', description: 'UTC, ms since the epoch' }, ops: { type: 'array', items: ref('ChangeRequestOp') }, changeRequest: { type: 'string' },
        status: { enum: ['pending', 'applied', 'conflicted', 'failed', 'cancelled'] }, revision: { type: 'integer' }, conflicts: { type: 'array', items: ref('ChangeConflict') }, error: { type: 'string' },
      },
    },
    Schedule: {
      type: 'object', required: ['id', 'env', 'title', 'createdBy', 'steps', 'bases'],
      properties: { id: { type: 'string' }, env: { type: 'string' }, title: { type: 'string' }, createdBy: { type: 'string' }, steps: { type: 'array', items: ref('ScheduleStep') }, bases: { type: 'array', items: { type: 'object' } } },
    },
    StoredSchedule: { type: 'object', required: ['schedule', 'createRevision', 'modRevision', 'version', 'updatedAt', 'updatedBy'], properties: { schedule: ref('Schedule'), ...storedMeta } },
    ScheduleList: { type: 'object', required: ['schedules'], properties: { schedules: { type: 'array', items: ref('StoredSchedule') } } },
    ScheduleCreate: {
      type: 'object', required: ['title', 'steps'],
      properties: {
        environment: { type: 'string', description: 'Absent = the default environment' }, title: { type: 'string', maxLength: 200 },
        steps: {
          type: 'array', minItems: 1, maxItems: 20, description: 'In time order; each has `at` and exactly one of ops, changeRequest, toggle, rollout',
          items: {
            type: 'object', required: ['at'],
            properties: {
              at: { anyOf: [{ type: 'string', format: 'date-time', description: 'RFC 3339 with its zone' }, { type: 'integer', description: 'ms since the epoch (UTC)' }] },
              ops: { type: 'array', items: ref('ChangeRequestOp'), description: 'Unprotected environments only' },
              changeRequest: { type: 'string', description: 'A change request of the environment, approved by the time the step is due (the way into a protected environment)' },
              toggle: { type: 'object', required: ['flag', 'enabled'], properties: { flag: { type: 'string' }, enabled: { type: 'boolean' } }, description: 'Short form: switch one flag on or off' },
              rollout: {
                type: 'object', required: ['flag', 'weights'], description: 'Short form: the weights of a flag\'s rollout (the rule with this id, else its first rule with a rollout, else a new last rule for everyone)',
                properties: { flag: { type: 'string' }, rule: { type: 'string' }, weights: { type: 'array', minItems: 1, items: { type: 'object', required: ['variant', 'weight'], properties: { variant: { type: 'string' }, weight: { type: 'integer', minimum: 0 } } } } },
              },
            },
          },
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
