// The change events of docs/CONTRACTS.md "Change events", defined once for
// every package that produces or consumes them: the node's Watch stream and
// SNS outbox (apps/consensus-node), the relay (apps/notification-relay) and
// the dashboard's live feed. Types only: browser code imports them type-only.
//
// Three layers, each a discriminated union so a consumer narrows by `kind`
// (and `op`, `truncated`) instead of casting:
//   ChangeEvent           one change, as on Watch and SSE
//   PublishedChangeEvent  the same with the outbox's chain fields, possibly truncated (SNS)
//   ResetEvent            the marker a restore puts into that chain (SNS only)
import type { StoredChangeRequest, StoredEnvironment, StoredFlag, StoredSchedule, StoredSegment } from './types.js';

/** Fields every event carries. */
export interface EventHeader {
  v: 1;
  /** Raft log index of the entry that made the change (plus the restore offset after a restore). */
  revision: number;
  /** Who made the change (the reset marker's is the system, "flagraft"). */
  actor: string;
  /** ISO 8601 time stamped by the proposing node (by the outbox for a marker). */
  time: string;
}

/** A flag created or replaced: `flag` is the StoredFlag after the change. */
export interface FlagPutEvent extends EventHeader {
  kind: 'flag';
  key: string;
  op: 'put';
  flag: StoredFlag;
  segment?: never;
  /** Only on streams that asked for every environment: a flag outside the default environment (absent = the default one). */
  env?: string;
}

/** A flag deleted: `flag` is null. */
export interface FlagDeleteEvent extends EventHeader {
  kind: 'flag';
  key: string;
  op: 'delete';
  flag: null;
  segment?: never;
  /** Only on streams that asked for every environment: a flag outside the default environment (absent = the default one). */
  env?: string;
}

/** A segment created or replaced: `segment` is the StoredSegment after the change (`key` is its name). */
export interface SegmentPutEvent extends EventHeader {
  kind: 'segment';
  key: string;
  op: 'put';
  segment: StoredSegment;
  flag?: never;
}

/** A segment deleted: `segment` is null. */
export interface SegmentDeleteEvent extends EventHeader {
  kind: 'segment';
  key: string;
  op: 'delete';
  segment: null;
  flag?: never;
}

export type FlagChangeEvent = FlagPutEvent | FlagDeleteEvent;
export type SegmentChangeEvent = SegmentPutEvent | SegmentDeleteEvent;

/** One change as it travels on Watch and SSE (JSON); the body of an SNS message without its chain fields. */
export type ChangeEvent = FlagChangeEvent | SegmentChangeEvent;

/**
 * An environment, change request or schedule created, changed (a review
 * step, a comment, a schedule step applied, conflicted or failed) or deleted:
 * the item after the change, null on delete. Only on Watch streams that ask
 * for every environment (WatchRequest.all_environments): consumers from
 * before environments never see them, nor flags of other environments.
 */
export type RecordChangeEvent = EventHeader & { key: string; op: 'put' | 'delete'; flag?: never; segment?: never } & (
  | { kind: 'environment'; environment: StoredEnvironment | null }
  | { kind: 'changeRequest'; changeRequest: StoredChangeRequest | null }
  | { kind: 'schedule'; schedule: StoredSchedule | null });

/** What a stream of every environment carries. */
export type AnyChangeEvent = ChangeEvent | RecordChangeEvent;

/**
 * What the SNS outbox adds to put its events into one revision chain, so a
 * consumer can restore revision order and prove it has missed nothing.
 */
export interface ChainFields {
  /** Position of this change among those of its revision (an atomic batch makes several at one revision). */
  part: number;
  parts: number;
  /** Revision of the previous event published in this chain. */
  prevRevision: number;
}

/**
 * A chained change whose flag/segment was left out because the message would
 * exceed SNS's size limit: consumers reload the item through the gateway.
 */
export interface TruncatedChangeEvent extends EventHeader, ChainFields {
  kind: 'flag' | 'segment';
  key: string;
  op: 'put' | 'delete';
  truncated: true;
  flag?: never;
  segment?: never;
  /** A flag outside the default environment (kept when the flag is left out). */
  env?: string;
}

/** A change as the SNS outbox publishes it: chained, and whole or truncated (narrow on `truncated`). */
export type PublishedChangeEvent = (ChangeEvent & ChainFields & { truncated?: never }) | TruncatedChangeEvent;

/** Why a reset marker was published (today only restores). */
export type ResetReason = 'restore';

/**
 * The reset marker: "everything you hold is void, reload through the
 * gateway". No key, op or payload; `revision` is the restore's revision and
 * `prevRevision` the last revision published before it; always one part.
 * `Reason` is ResetReason for the producer; a consumer, which must treat an
 * unknown reason like a known one, reads `ResetEvent<string>`.
 */
export interface ResetEvent<Reason extends string = ResetReason> extends EventHeader {
  kind: 'reset';
  reason: Reason;
  prevRevision: number;
  part: 0;
  parts: 1;
}

/**
 * A truncated environment, change request or schedule event: the item was
 * left out (too large for SNS); `env` names the environment it belongs to
 * (a change request's or schedule's `env`, an environment's own name), so a
 * consumer limited to environments can still route it.
 */
export interface TruncatedRecordEvent extends EventHeader, ChainFields {
  kind: RecordChangeEvent['kind'];
  key: string;
  op: 'put' | 'delete';
  truncated: true;
  env?: string;
  flag?: never;
  segment?: never;
}

/**
 * Every event the SNS outbox publishes besides reset markers: the old
 * (PublishedChangeEvent) ones, flags of other environments (with `env`), and
 * environment / change request / schedule events, chained, whole or truncated.
 */
export type PublishedAnyEvent = PublishedChangeEvent | (RecordChangeEvent & ChainFields & { truncated?: never }) | TruncatedRecordEvent;

/** Anything the SNS outbox publishes in its revision chain. */
export type ChainEvent = PublishedAnyEvent | ResetEvent;

/** No chain fields: a change on the topic that the flagraft outbox did not chain (published by something else). */
export interface Unchained {
  part?: undefined;
  parts?: undefined;
  prevRevision?: undefined;
  truncated?: undefined;
}

/**
 * A change as a consumer of the SNS topic (the relay) receives it and hands
 * it on (WebSocket): chained by the outbox, or unchained. Test
 * `prevRevision === undefined` to tell them apart.
 */
export type ReceivedChangeEvent = PublishedChangeEvent | (ChangeEvent & Unchained);

/** Any event a consumer of the SNS topic receives (besides reset markers), of any kind. */
export type ReceivedAnyEvent = PublishedAnyEvent | (AnyChangeEvent & Unchained);

/** What a change event is made from: the change's header fields and the item after it (null on delete). */
export interface ChangeEventSource {
  revision: number;
  kind: AnyChangeEvent['kind'];
  key: string;
  op: 'put' | 'delete';
  actor: string;
  /** ms since the epoch. */
  time: number;
  /** Set only for a flag outside the default environment. */
  env?: string | null;
}

/**
 * A change as Watch and SSE carry it: keys in the order consumers have
 * always seen, time as ISO text, `env` only on flags outside the default
 * environment. One function for the node (from its changes rows) and the
 * in-memory cluster (from applied changes), so the two cannot drift apart.
 */
export function changeEvent(c: ChangeEventSource, after: unknown): AnyChangeEvent {
  const { revision, key, op, actor } = c;
  const time = new Date(c.time).toISOString();
  const a = after as never;
  switch (c.kind) {
    case 'flag': return c.env ? { v: 1, revision, kind: 'flag', key, op, actor, time, flag: a, env: c.env } : { v: 1, revision, kind: 'flag', key, op, actor, time, flag: a };
    case 'segment': return { v: 1, revision, kind: 'segment', key, op, actor, time, segment: a };
    // Streams that asked for every environment only.
    case 'environment': return { v: 1, revision, kind: 'environment', key, op, actor, time, environment: a };
    case 'changeRequest': return { v: 1, revision, kind: 'changeRequest', key, op, actor, time, changeRequest: a };
    case 'schedule': return { v: 1, revision, kind: 'schedule', key, op, actor, time, schedule: a };
  }
}
