// Flags and segments are the two kinds of stored item. Everything that treats
// them alike (the gateway's REST routes, the API client's helpers, the
// dashboard's save/delete actions) reads what differs from one descriptor
// instead of being written twice; a new kind of item is a new descriptor.
import { KEY_PATTERN, LIMITS } from './limits.js';
import type { FlagDefinition, SegmentDefinition, StoredFlag, StoredSegment } from './types.js';
import { validateFlag, validateSegment } from './validate.js';

export interface ItemKind<K extends string, Def, Stored> {
  /** The kind's name: also the field of a stored item holding its definition ({flag: ...}, {segment: ...}), and a change's `kind`. */
  readonly kind: K;
  /** Plural, as in REST collections and list pages ({flags: [...]}, {segments: [...]}). */
  readonly plural: string;
  /** The definition's identifying field (`key` of a flag, `name` of a segment). */
  readonly idField: 'key' | 'name';
  /** What the identifier must match, and its length limit in characters. */
  readonly pattern: RegExp;
  readonly maxIdChars: number;
  /** The REST collection path; one item is `${path}/<percent-encoded id>`. */
  readonly path: string;
  /** Validates a definition (throws ValidationError naming every bad field). */
  validate(input: unknown): Def;
  /** The identifier of a definition / of a stored item. */
  idOf(def: Def): string;
  definitionOf(stored: Stored): Def;
}

export type FlagKind = ItemKind<'flag', FlagDefinition, StoredFlag>;
export type SegmentKind = ItemKind<'segment', SegmentDefinition, StoredSegment>;
export type AnyItemKind = FlagKind | SegmentKind;

export const FLAG_KIND: FlagKind = Object.freeze({
  kind: 'flag',
  plural: 'flags',
  idField: 'key',
  pattern: KEY_PATTERN,
  maxIdChars: LIMITS.maxKeyChars,
  path: '/api/v1/flags',
  validate: validateFlag,
  idOf: (def: FlagDefinition) => def.key,
  definitionOf: (stored: StoredFlag) => stored.flag,
});

export const SEGMENT_KIND: SegmentKind = Object.freeze({
  kind: 'segment',
  plural: 'segments',
  idField: 'name',
  // Segment names follow the key rule: rules reference them as keys.
  pattern: KEY_PATTERN,
  maxIdChars: LIMITS.maxKeyChars,
  path: '/api/v1/segments',
  validate: validateSegment,
  idOf: (def: SegmentDefinition) => def.name,
  definitionOf: (stored: StoredSegment) => stored.segment,
});

export const ITEM_KINDS: readonly AnyItemKind[] = Object.freeze([FLAG_KIND, SEGMENT_KIND]);

/** The REST path of one item of a kind. */
export function itemPath(kind: AnyItemKind, id: string): string {
  return `${kind.path}/${encodeURIComponent(id)}`;
}

/** The identifier of a stored item of a kind ({flag: {key}} -> key, {segment: {name}} -> name). */
export function storedItemId(kind: AnyItemKind, stored: StoredFlag | StoredSegment): string {
  const def = (stored as unknown as Record<string, Record<string, unknown> | undefined>)[kind.kind];
  const id = def?.[kind.idField];
  if (typeof id !== 'string') throw new TypeError(`a stored ${kind.kind} without its ${kind.idField}`);
  return id;
}
