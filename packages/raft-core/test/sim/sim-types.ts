// Types, constants and the per-node state of the simulator.
import type { Config, ConfState, NodeId, RawNode } from '../../src/index.js';
import type { Violation } from './checker.js';
import type { DurableMemoryStorage } from './durable-storage.js';
import { KvStore, type KvCommand } from './kv.js';
import type { Op } from '@flagraft/history-check';
import type { SimParams } from './params.js';

/** A node ticks about every TICK_UNITS time units (per-node skew of +-1). */
export const TICK_UNITS = 10;
export const ELECTION_TICK = 10;
export const HEARTBEAT_TICK = 2;
/** Reads that got no ReadState within this many time units are abandoned (the client times out). */
export const READ_TIMEOUT_UNITS = 3000;
/** Fault phase length: 300 ticks, i.e. 30 election timeouts. Unit: time units. */
export const DEFAULT_FAULT_UNITS = 3000;
/** At most this many members (voters + learners) at once. */
export const MAX_MEMBERS = 6;
/** Never go below this many voters through removals (so a removal never needs the removed node). */
export const MIN_VOTERS = 3;


export interface SimOptions {
  seed: number;
  /** Length of the fault phase. Unit: time units (a tick is ~10). */
  faultUnits?: number;
  /** Bound on the liveness phase. Unit: time units. */
  livenessUnits?: number;
  /** Build the RawNode (tests inject buggy variants here; never a switch in the core). */
  makeRawNode?: (cfg: Config) => RawNode;
  /** Stop at the first violation (default true). */
  stopOnViolation?: boolean;
  /** Check the clients' history for linearizability at the end of run() (default true; the CLI times it separately). */
  checkHistory?: boolean;
  /** A client-facing bug in the simulated application (test-only; see bugs.ts). */
  clientBug?: ClientBug;
  /**
   * Check the membership rules themselves (membership-checks.ts: conf-change-pending,
   * conf-change-before-noop, stale-config-campaign); default true. Off, only
   * their consequences are checked (to measure what the rules add).
   */
  membershipRuleChecks?: boolean;
  /** Replace some of the seed's drawn parameters (targeted tests: e.g. keep removed servers running, PreVote off). */
  params?: Partial<SimParams>;
}

/**
 * ack-put-on-propose: the application answers a write as soon as the leader accepted the proposal, before it commits;
 * cas-ignores-revision: the state machine applies compare-and-set writes without comparing the expected revision.
 */
export type ClientBug = 'ack-put-on-propose' | 'cas-ignores-revision';

export interface SimStats {
  faults: Record<string, number>;
  elections: number;
  snapshotsCreated: number;
  snapshotsInstalled: number;
  membershipChanges: number;
  writesCommitted: number;
  readsChecked: number;
  transfers: number;
  messagesDelivered: number;
  /** Membership changes proposed (accepted by the leader), by kind. */
  confChangesProposed: Record<string, number>;
  /** Client ops in the history (writes and reads, writes that certainly failed excluded), and how many stayed pending. */
  historyOps: number;
  historyPending: number;
  /** Client ops invoked (writes a leader accepted, reads a node took), by kind (put, cas, create, delete, cas-delete, batch, read, stale-read). */
  clientOps: Record<string, number>;
  /** Search steps of the hardest partition (how close the checker came to its bound, DEFAULT_MAX_STEPS). */
  historyMaxKeySteps: number;
  /** Entries the healed cluster had to catch up on, and the liveness bound that gave it (livenessBound). */
  livenessBacklog: number;
  livenessBound: number;
  /** Disruptive-server windows run (removed servers running, healthy cluster), those in which a removed server campaigned, and its campaign steps. */
  stabilityWindows: number;
  stabilityWindowsWithCampaigns: number;
  removedCampaignSteps: number;
  /** Windows without CheckQuorum in which a removed server did depose the leader (expected; not a violation). */
  disruptionsWithoutCheckQuorum: number;
}

/** All-zero stats (a run's start; the CLI's totals). */
export function newSimStats(): SimStats {
  return {
    faults: {},
    elections: 0,
    snapshotsCreated: 0,
    snapshotsInstalled: 0,
    membershipChanges: 0,
    writesCommitted: 0,
    readsChecked: 0,
    transfers: 0,
    messagesDelivered: 0,
    confChangesProposed: {},
    historyOps: 0,
    historyPending: 0,
    clientOps: {},
    historyMaxKeySteps: 0,
    livenessBacklog: 0,
    livenessBound: 0,
    stabilityWindows: 0,
    stabilityWindowsWithCampaigns: 0,
    removedCampaignSteps: 0,
    disruptionsWithoutCheckQuorum: 0,
  };
}

export interface SimResult {
  seed: number;
  params: SimParams;
  violations: Violation[];
  stats: SimStats;
  timeUnits: number;
}

export interface PendingRead {
  ctx: string;
  key: string;
  minIndex: number;
  invokedAt: number;
  readIndex?: number;
  /** The client's read in the history. */
  op: Op;
}

export class SimNode {
  raw: RawNode | undefined;
  kv = new KvStore();
  applied = 0;
  confState!: ConfState;
  incarnation = 0;
  restartAt = -1;
  decommissioned = false;
  decommissionAt = -1;
  /** Removed from the configuration but left running (params.keepRemovedRunning). */
  removed = false;
  reads = new Map<string, PendingRead>();
  /** Writes this incarnation proposed, by log index (with the command's text): answered when it applies that index. */
  writes = new Map<number, { op: Op; cmd: KvCommand; data: string }>();

  constructor(
    readonly id: NodeId,
    readonly storage: DurableMemoryStorage,
    readonly tickEvery: number,
    readonly tickPhase: number,
  ) {}

  get up(): boolean {
    return this.raw !== undefined;
  }
}

/** The keys the simulated clients read and write. */
export const KEYS = ['a', 'b', 'c', 'd'];
