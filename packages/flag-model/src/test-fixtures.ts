// Builders shared by the unit tests (excluded from nothing: tiny and pure).
import type { Command, FlagDefinition, SegmentDefinition } from './types.js';

export function boolFlag(key = 'new-checkout', extra: Partial<FlagDefinition> = {}): FlagDefinition {
  return { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules: [], ...extra };
}

export function segment(name = 'beta', extra: Partial<SegmentDefinition> = {}): SegmentDefinition {
  return { name, conditions: [{ attribute: 'plan', op: 'equals', value: 'beta' }], ...extra };
}

export function cmd<T extends object>(body: T, actor = 'alice', time = 1_700_000_000_000): Command {
  return { v: 1, actor, time, requestId: 'r1', clientId: 'c1', ...body } as unknown as Command;
}
