// JSON Schema (draft 2020-12) of flag and segment definitions, for the HTTP
// API docs and the dashboard's editor. Built from the same LIMITS the
// validator enforces. The schema cannot express the cross-field rules
// (variants referenced by name exist, variant values match `type`, weights
// sum to > 0, total size); validateFlag is the authority.
import { KEY_PATTERN, LIMITS, NAME_PATTERN } from './limits.js';
import { CONDITION_OPS, FLAG_TYPES } from './validate.js';

const KEY = { type: 'string', minLength: 1, maxLength: LIMITS.maxKeyChars, pattern: KEY_PATTERN.source };
const NAME = { type: 'string', minLength: 1, maxLength: LIMITS.maxNameChars, pattern: NAME_PATTERN.source };
const SCALAR = {
  oneOf: [{ type: 'string', maxLength: LIMITS.maxStringValueChars }, { type: 'number' }, { type: 'boolean' }],
};

const condition = {
  type: 'object',
  description: 'A test on one context attribute (top-level key, or a dotted path into nested objects).',
  additionalProperties: false,
  required: ['attribute', 'op'],
  properties: {
    attribute: { type: 'string', minLength: 1, maxLength: LIMITS.maxAttributeChars },
    op: { enum: [...CONDITION_OPS] },
    value: {
      description: 'scalar for equals/notEquals; list for in/notIn; string for contains/startsWith/endsWith/matches; number for lt/lte/gt/gte; semver string for semver*; absent for exists/notExists',
      oneOf: [...SCALAR.oneOf, { type: 'array', minItems: 1, maxItems: LIMITS.maxListItems, items: SCALAR }],
    },
  },
};

const conditions = { type: 'array', maxItems: LIMITS.maxConditions, items: { $ref: '#/$defs/condition' } };

export const segmentJsonSchema = Object.freeze({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://flagraft.dev/schema/v1/segment.json',
  title: 'flagraft segment definition',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'conditions'],
  properties: {
    name: KEY,
    description: { type: 'string', maxLength: LIMITS.maxDescriptionChars },
    conditions: { ...conditions, description: 'All must match for a context to be in the segment.' },
  },
  $defs: { condition },
});

export const flagJsonSchema = Object.freeze({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://flagraft.dev/schema/v1/flag.json',
  title: 'flagraft flag definition',
  type: 'object',
  additionalProperties: false,
  required: ['key', 'type', 'variants', 'defaultVariant'],
  properties: {
    key: KEY,
    type: { enum: [...FLAG_TYPES] },
    variants: {
      type: 'object',
      description: 'variant name -> value of the flag type',
      minProperties: 1,
      maxProperties: LIMITS.maxVariants,
      propertyNames: NAME,
      additionalProperties: true,
    },
    defaultVariant: { type: 'string', description: 'served when no rule matches' },
    offVariant: { type: 'string', description: 'served while disabled (booleans: false when absent)' },
    enabled: { type: 'boolean', default: true, description: 'the kill switch' },
    rules: { type: 'array', maxItems: LIMITS.maxRules, items: { $ref: '#/$defs/rule' }, default: [] },
    description: { type: 'string', maxLength: LIMITS.maxDescriptionChars },
    tags: { type: 'array', maxItems: LIMITS.maxTags, uniqueItems: true, items: NAME },
    owner: { type: 'string', maxLength: LIMITS.maxOwnerChars },
    metadata: {
      type: 'object',
      maxProperties: LIMITS.maxMetadataEntries,
      propertyNames: NAME,
      additionalProperties: { oneOf: [{ type: 'string', maxLength: LIMITS.maxMetadataValueChars }, { type: 'number' }, { type: 'boolean' }] },
    },
  },
  $defs: {
    condition,
    rule: {
      type: 'object',
      description: 'First matching rule wins. Matches when every condition matches, the context is in every `segments` entry and in none of `excludeSegments`.',
      additionalProperties: false,
      properties: {
        id: NAME,
        description: { type: 'string', maxLength: LIMITS.maxDescriptionChars },
        conditions: { ...conditions, default: [] },
        segments: { type: 'array', maxItems: LIMITS.maxSegmentRefsPerRule, uniqueItems: true, items: KEY },
        excludeSegments: { type: 'array', maxItems: LIMITS.maxSegmentRefsPerRule, uniqueItems: true, items: KEY },
        variant: { type: 'string' },
        rollout: { $ref: '#/$defs/rollout' },
      },
      oneOf: [{ required: ['variant'], not: { required: ['rollout'] } }, { required: ['rollout'], not: { required: ['variant'] } }],
    },
    rollout: {
      type: 'object',
      description: 'flagd fractional v2: murmur3_x86_32(flagKey + bucketBy value) * total >> 32 picks the first variant whose cumulative weight exceeds it.',
      additionalProperties: false,
      required: ['weights'],
      properties: {
        weights: {
          type: 'array',
          minItems: 1,
          maxItems: LIMITS.maxVariants,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['variant', 'weight'],
            properties: { variant: { type: 'string' }, weight: { type: 'integer', minimum: 0, maximum: LIMITS.maxWeightTotal } },
          },
        },
        bucketBy: { type: 'string', minLength: 1, maxLength: LIMITS.maxAttributeChars, default: 'targetingKey' },
        onMissing: { enum: ['error', 'skip'], default: 'error' },
      },
    },
  },
});
