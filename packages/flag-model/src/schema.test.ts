import { describe, expect, it } from 'vitest';
import { flagJsonSchema, segmentJsonSchema } from './schema.js';
import { LIMITS } from './limits.js';
import { CONDITION_OPS, FLAG_TYPES } from './validate.js';

// No JSON Schema validator is a dependency of this package; these tests
// check the schema's structure and that it carries the validator's limits.
describe('JSON Schema export', () => {
  it('is plain JSON (serializable, draft 2020-12)', () => {
    const round = JSON.parse(JSON.stringify(flagJsonSchema));
    expect(round).toEqual(flagJsonSchema);
    expect(flagJsonSchema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(JSON.parse(JSON.stringify(segmentJsonSchema)).required).toEqual(['name', 'conditions']);
  });
  it('lists every field, type and operator the validator knows, with the same limits', () => {
    expect(Object.keys(flagJsonSchema.properties).sort()).toEqual(['defaultVariant', 'description', 'enabled', 'key', 'metadata', 'offVariant', 'owner', 'rules', 'tags', 'type', 'variants']);
    expect(flagJsonSchema.properties.type.enum).toEqual([...FLAG_TYPES]);
    expect(flagJsonSchema.$defs.condition.properties.op.enum).toEqual([...CONDITION_OPS]);
    expect(flagJsonSchema.properties.variants.maxProperties).toBe(LIMITS.maxVariants);
    expect(flagJsonSchema.properties.rules.maxItems).toBe(LIMITS.maxRules);
    expect(flagJsonSchema.properties.key.maxLength).toBe(LIMITS.maxKeyChars);
    expect(flagJsonSchema.properties.metadata.maxProperties).toBe(LIMITS.maxMetadataEntries);
    expect(flagJsonSchema.$defs.rollout.properties.weights.items.properties.weight.maximum).toBe(LIMITS.maxWeightTotal);
    expect(new RegExp(flagJsonSchema.properties.key.pattern).test('a.b:c-d')).toBe(true);
    expect(new RegExp(flagJsonSchema.properties.key.pattern).test('-a')).toBe(false);
  });
});
