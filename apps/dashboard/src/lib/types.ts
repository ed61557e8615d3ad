// The flag shapes the dashboard edits: @flagraft/flag-model's public types,
// imported type-only so browser code never pulls the package's runtime.
export type {
  JsonPrimitive, JsonValue, FlagType, ConditionScalar, Condition, RolloutWeight, Rollout, Rule,
  FlagDefinition, SegmentDefinition, StoredFlag, StoredSegment, ValidationIssue,
  StoredEnvironment, StoredChangeRequest, ChangeRequest, ChangeRequestOp, ChangeRequestStatus, ChangeConflict, StoredSchedule, ScheduleStep,
} from '@flagraft/flag-model';
import type { ReceivedChangeEvent } from '@flagraft/flag-model';

/**
 * A change event as the relay sends it (docs/CONTRACTS.md "Change events"):
 * flag-model's ReceivedChangeEvent, chained or not, and possibly `truncated`
 * (no `flag`/`segment`: the item must be re-read from the gateway).
 */
export type ChangeEvent = ReceivedChangeEvent;

/** Operators offered by the editor, with how their value is entered. */
export const CONDITION_OPS: { op: string; label: string; value: 'none' | 'list' | 'number' | 'text' }[] = [
  { op: 'equals', label: 'equals', value: 'text' },
  { op: 'notEquals', label: 'not equals', value: 'text' },
  { op: 'in', label: 'in list', value: 'list' },
  { op: 'notIn', label: 'not in list', value: 'list' },
  { op: 'contains', label: 'contains', value: 'text' },
  { op: 'notContains', label: 'does not contain', value: 'text' },
  { op: 'startsWith', label: 'starts with', value: 'text' },
  { op: 'endsWith', label: 'ends with', value: 'text' },
  { op: 'lt', label: '<', value: 'number' },
  { op: 'lte', label: '≤', value: 'number' },
  { op: 'gt', label: '>', value: 'number' },
  { op: 'gte', label: '≥', value: 'number' },
  { op: 'semverEq', label: 'semver =', value: 'text' },
  { op: 'semverNeq', label: 'semver ≠', value: 'text' },
  { op: 'semverLt', label: 'semver <', value: 'text' },
  { op: 'semverLte', label: 'semver ≤', value: 'text' },
  { op: 'semverGt', label: 'semver >', value: 'text' },
  { op: 'semverGte', label: 'semver ≥', value: 'text' },
  { op: 'exists', label: 'exists', value: 'none' },
  { op: 'notExists', label: 'does not exist', value: 'none' },
  { op: 'matches', label: 'matches regex', value: 'text' },
];
