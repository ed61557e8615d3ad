// The hook between the node core and the SNS outbox (apps/consensus-node/src/outbox/,
// owned by the notifications work). The node defines and drives it; the outbox only
// reads changes and proposes `published(R)` through Raft. See docs/CONTRACTS.md.

import type { AnyChangeEvent, ChangeEvent } from '@flagraft/flag-model';

/** A change as it travels on Watch, SSE, SNS and WebSocket (JSON): defined in @flagraft/flag-model (src/events.ts). */
export type { ChangeEvent };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface OutboxContext {
  nodeId: number;
  isLeader(): boolean;
  /** Called on every leadership change of this node; returns an unsubscribe function. */
  onLeadershipChange(cb: (isLeader: boolean, term: number) => void): () => void;
  /** Called after each apply batch with the highest applied revision. */
  onApplied(cb: (revision: number) => void): () => void;
  /**
   * Changes with revision > afterRevision, in revision order, at most `limit` of them (whole revisions).
   * `events`: 'all' = every change (flags of every environment, segments, environments, change requests,
   * schedules); 'legacy' = only what consumers from before environments know (default-environment flags, segments).
   */
  readChanges(afterRevision: number, limit: number, events?: OutboxEvents): AnyChangeEvent[];
  /** The replicated published revision (from the state machine). */
  publishedRevision(): number;
  /** Replicates published(R) through Raft; resolves once applied locally. Rejects when not leader. */
  proposePublished(revision: number): Promise<void>;
  /** Every change with revision >= this value is still in the changes table (older ones were pruned). */
  oldestRetainedRevision(): number;
  /**
   * Revision of the last restore from a backup (0 = never): changes at or below it are imported history, not to be
   * published. When it is above the published revision, the outbox publishes one reset marker at this revision
   * (src/outbox/event-body.ts, ResetEvent) and then published(it), so consumers resync at once.
   */
  restoredRevision?(): number;
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export interface Outbox {
  start(ctx: OutboxContext): void;
  stop(): Promise<void>;
  metrics(): Record<string, number>;
}

/** Which changes the outbox publishes (FLAGRAFT_SNS_EVENTS): every one (default), or only the old kinds. */
export type OutboxEvents = 'all' | 'legacy';

export interface SnsOutboxConfig {
  topicArn: string;
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  fifo?: boolean;
  batchSize?: number;
  /** FLAGRAFT_EVENT_KEYS_FILE: the keys that sign every published event (the active one signs). */
  eventKeysFile?: string;
  /**
   * FLAGRAFT_SNS_EVENTS: 'all' (default) publishes every change; 'legacy' only default-environment flags and
   * segments, for a rolling upgrade while relays from before environments still read the topic (they would
   * refuse the new kinds and pass other environments' flag events to their clients).
   */
  events?: OutboxEvents;
}
