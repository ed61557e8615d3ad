// The configuration of one Raft node. Every limit is a named field with its unit.
import { ConfigError } from './errors.js';
import { createRng, type Rng } from './rng.js';
import type { Storage } from './storage.js';
import type { NodeId } from './types.js';

/**
 * How the leader confirms a linearizable read (thesis §6.4). 'safe': a
 * heartbeat round to a quorum per batch of reads (ReadIndex). 'lease-based':
 * while the leader holds a lease (lease.ts) it answers at once; needs
 * checkQuorum and bounded clock drift between the nodes.
 */
export type ReadOnlyOption = 'safe' | 'lease-based';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Structured log sink: the driver turns these into JSON lines (node id and term are in fields). */
export type Logger = (level: LogLevel, msg: string, fields: Record<string, unknown>) => void;

export interface Config {
  /** This node's id (> 0). */
  id: NodeId;
  /** The node's stable log, hard state and snapshot (read only for the core). */
  storage: Storage;
  /**
   * Ticks without hearing from a leader before a follower campaigns (the
   * actual timeout is randomized in [electionTick, 2*electionTick)). Unit: ticks.
   * Must be > heartbeatTick; 10x is customary.
   */
  electionTick: number;
  /** Ticks between leader heartbeats. Unit: ticks. */
  heartbeatTick: number;
  /** Last index the application applied before a restart (0 for a new node). Unit: log index. */
  applied?: number;
  /** Upper bound on the entries carried by one MsgApp. Unit: bytes (payload + 16-byte header per entry). Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Upper bound on the number of entries in one MsgApp. Unit: entries. Default 4096. */
  maxEntriesPerMsg?: number;
  /** MsgApp messages in flight (sent, not acked) per follower while replicating (pipelining window). Unit: messages. Default 256. */
  maxInflightMsgs?: number;
  /** Bytes of entries in flight per follower; 0 = no byte limit. Unit: bytes. Default 0. */
  maxInflightBytes?: number;
  /** Proposals are dropped while the leader holds more than this in uncommitted entry payloads; 0 = no limit. Unit: bytes. Default 64 MiB. */
  maxUncommittedEntriesSize?: number;
  /** Committed entries handed to the application in one Ready. Unit: bytes. Default 8 MiB. */
  maxCommittedSizePerReady?: number;
  /** Run a pre-election (thesis §9.6) so a partitioned node that rejoins does not bump terms and depose a healthy leader. Default true. */
  preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum within an election timeout; followers ignore vote requests while they hear from a leader (thesis §6.2, §4.2.3). Default true. */
  checkQuorum?: boolean;
  /** How linearizable reads are confirmed (see ReadOnlyOption). Default 'safe'. */
  readOnlyOption?: ReadOnlyOption;
  /**
   * With 'lease-based': how long a quorum's acknowledgement of a heartbeat
   * lets the leader answer reads alone, counted from when the heartbeat was
   * sent. At most electionTick - 2. Unit: ticks. Default electionTick - 2 -
   * floor(electionTick / 10) (a 10 % margin for nodes whose ticks run at
   * different rates).
   */
  leaseTicks?: number;
  /** Seeded randomness for election timeouts. Default createRng(id). */
  rng?: Rng;
  /** Optional structured logger; the core logs state transitions only. */
  logger?: Logger;
}

export interface ResolvedConfig {
  id: NodeId;
  storage: Storage;
  electionTick: number;
  heartbeatTick: number;
  applied: number;
  maxSizePerMsg: number;
  maxEntriesPerMsg: number;
  maxInflightMsgs: number;
  maxInflightBytes: number;
  maxUncommittedEntriesSize: number;
  maxCommittedSizePerReady: number;
  preVote: boolean;
  checkQuorum: boolean;
  readOnlyOption: ReadOnlyOption;
  /** Meaningful only with 'lease-based'. Unit: ticks. */
  leaseTicks: number;
  rng: Rng;
  logger: Logger | undefined;
}

export const DEFAULT_MAX_SIZE_PER_MSG_BYTES = 1 << 20;
export const DEFAULT_MAX_ENTRIES_PER_MSG = 4096;
export const DEFAULT_MAX_INFLIGHT_MSGS = 256;
export const DEFAULT_MAX_UNCOMMITTED_ENTRIES_BYTES = 64 << 20;
export const DEFAULT_MAX_COMMITTED_SIZE_PER_READY_BYTES = 8 << 20;

function posInt(field: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new ConfigError(field, `must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

/** Validate and fill defaults; throws ConfigError naming the field. */
export function resolveConfig(c: Config): ResolvedConfig {
  if (!c || typeof c !== 'object') throw new ConfigError('config', 'must be an object');
  const id = posInt('id', c.id, 1);
  const heartbeatTick = posInt('heartbeatTick', c.heartbeatTick, 1);
  const electionTick = posInt('electionTick', c.electionTick, 1);
  if (electionTick <= heartbeatTick) throw new ConfigError('electionTick', `must be greater than heartbeatTick (${heartbeatTick}), got ${electionTick}`);
  if (!c.storage || typeof c.storage.initialState !== 'function') throw new ConfigError('storage', 'must implement Storage');
  const r: ResolvedConfig = {
    id,
    storage: c.storage,
    electionTick,
    heartbeatTick,
    applied: c.applied === undefined ? 0 : posInt('applied', c.applied, 0),
    maxSizePerMsg: c.maxSizePerMsg === undefined ? DEFAULT_MAX_SIZE_PER_MSG_BYTES : posInt('maxSizePerMsg', c.maxSizePerMsg, 1),
    maxEntriesPerMsg: c.maxEntriesPerMsg === undefined ? DEFAULT_MAX_ENTRIES_PER_MSG : posInt('maxEntriesPerMsg', c.maxEntriesPerMsg, 1),
    maxInflightMsgs: c.maxInflightMsgs === undefined ? DEFAULT_MAX_INFLIGHT_MSGS : posInt('maxInflightMsgs', c.maxInflightMsgs, 1),
    maxInflightBytes: c.maxInflightBytes === undefined ? 0 : posInt('maxInflightBytes', c.maxInflightBytes, 0),
    maxUncommittedEntriesSize:
      c.maxUncommittedEntriesSize === undefined ? DEFAULT_MAX_UNCOMMITTED_ENTRIES_BYTES : posInt('maxUncommittedEntriesSize', c.maxUncommittedEntriesSize, 0),
    maxCommittedSizePerReady:
      c.maxCommittedSizePerReady === undefined ? DEFAULT_MAX_COMMITTED_SIZE_PER_READY_BYTES : posInt('maxCommittedSizePerReady', c.maxCommittedSizePerReady, 1),
    preVote: c.preVote ?? true,
    checkQuorum: c.checkQuorum ?? true,
    readOnlyOption: c.readOnlyOption ?? 'safe',
    leaseTicks: 0,
    rng: c.rng ?? createRng(id),
    logger: c.logger,
  };
  if (r.readOnlyOption !== 'safe' && r.readOnlyOption !== 'lease-based') throw new ConfigError('readOnlyOption', `must be 'safe' or 'lease-based', got ${String(r.readOnlyOption)}`);
  if (r.readOnlyOption === 'lease-based') {
    // Without CheckQuorum followers vote for a candidate while they still hear from the leader: there is no lease to hold.
    if (!r.checkQuorum) throw new ConfigError('readOnlyOption', "'lease-based' requires checkQuorum");
    const most = electionTick - 2;
    if (most < 1) throw new ConfigError('readOnlyOption', `'lease-based' needs electionTick >= 3, got ${electionTick}`);
    r.leaseTicks = c.leaseTicks === undefined ? Math.max(1, most - Math.floor(electionTick / 10)) : posInt('leaseTicks', c.leaseTicks, 1);
    if (r.leaseTicks > most) throw new ConfigError('leaseTicks', `must be at most electionTick - 2 (${most}), got ${r.leaseTicks}`);
  } else if (c.leaseTicks !== undefined) {
    throw new ConfigError('leaseTicks', "is only meaningful with readOnlyOption 'lease-based'");
  }
  if (r.rng && (typeof r.rng.int !== 'function' || typeof r.rng.next !== 'function')) throw new ConfigError('rng', 'must have next() and int(n)');
  return r;
}
