// An in-memory cluster with the client API of @flagraft/cluster-client, for
// tests of what sits above the cluster (gateway routes, dashboard pages) that
// need no node processes. Every write goes through flag-model's public
// applyCommand, as the node's state machine does, so validation, revisions,
// preconditions and errors are the model's own; what the node adds around it
// (request checks, page tokens, history order, de-duplication, Watch
// delivery) is done here the way the node does it. test/conformance.ts runs
// one suite against this and a real cluster to keep the two the same.
//
// What it cannot show: durability, failover, compaction and anything about
// timing; those tests keep real processes (startLocalCluster).
import { ClusterError, type ClusterClient, type ClusterStatus, type MemberInfo, type WatchOptions, type WriteOptions } from '@flagraft/cluster-client';
import {
  DEFAULT_ENVIRONMENT, MemoryStateView, ValidationError, applyCommand, validateFlag, validateSegment,
  type Change, type ChangeEvent, type Command, type CommandError,
  type StoredFlag, type StoredSegment, type SubCommand,
} from '@flagraft/flag-model';

/** Items per list page (default and upper bound, count): the node's (consensus-node api.ts). */
export const MEMORY_DEFAULT_PAGE_LIMIT = 100;
export const MEMORY_MAX_PAGE_LIMIT = 1000;
/** Watch progress interval when the caller asks for none (ms), as the node's DEFAULT_PROGRESS_MS. */
export const MEMORY_PROGRESS_MS = 1000;

/** Per-call options of the cluster client without the environment ones (issue 16). */
type DefaultEnvironmentOnly<O> = Omit<O, 'environment' | 'actorRole' | 'allEnvironments'>;
type EnvironmentMethod = 'putFlag' | 'deleteFlag' | 'putSegment' | 'deleteSegment' | 'getFlag' | 'listFlags' | 'snapshotAll' | 'history' | 'watch';
type Opts<K extends EnvironmentMethod, I extends number> = DefaultEnvironmentOnly<NonNullable<Parameters<ClusterClient[K]>[I]>>;
type Answer<K extends EnvironmentMethod> = ReturnType<ClusterClient[K]>;

/**
 * The cluster client's API as the in-memory cluster has it: without what
 * needs a real cluster's storage (backup, restore) and without environments
 * (issue 16: propose, query, and the `environment` / `actorRole` /
 * `allEnvironments` options). It holds only the default environment; tests
 * of environments, change requests and schedules run on real nodes
 * (startLocalCluster). A caller that passes an environment anyway (past the
 * type) gets INVALID_ARGUMENT naming it.
 */
export interface ClusterApi extends Omit<ClusterClient, 'backup' | 'restore' | 'propose' | 'query' | EnvironmentMethod> {
  putFlag(flag: Parameters<ClusterClient['putFlag']>[0], o: Opts<'putFlag', 1>): Answer<'putFlag'>;
  deleteFlag(key: string, o: Opts<'deleteFlag', 1>): Answer<'deleteFlag'>;
  putSegment(segment: Parameters<ClusterClient['putSegment']>[0], o: Opts<'putSegment', 1>): Answer<'putSegment'>;
  deleteSegment(name: string, o: Opts<'deleteSegment', 1>): Answer<'deleteSegment'>;
  getFlag(key: string, o?: Opts<'getFlag', 1>): Answer<'getFlag'>;
  listFlags(o?: Opts<'listFlags', 0>): Answer<'listFlags'>;
  snapshotAll(): Answer<'snapshotAll'>;
  history(key: string, o?: Opts<'history', 1>): Answer<'history'>;
  watch(o: Opts<'watch', 0>): ReturnType<ClusterClient['watch']>;
}

export interface MemoryClusterOptions {
  clusterId?: string;
  /** The clock stamped on commands (ms since the epoch); default Date.now. */
  now?: () => number;
}

export interface MemoryCluster extends ClusterApi {
  /** The revision of the last applied write (0 before the first). */
  readonly revision: number;
}

type Outcome = { ok: true; revision: number; changes: Change[] } | { ok: false; revision: number; error: CommandError };

export function createMemoryCluster(o: MemoryClusterOptions = {}): MemoryCluster {
  const clusterId = o.clusterId ?? 'memory';
  const now = o.now ?? Date.now;
  const view = new MemoryStateView();
  /** Every change, in revision order (the node's changes table, never pruned here). */
  const log: Change[] = [];
  /**
   * Written writes by (clientId, requestId): a retried write is answered from
   * here, as from the node's client_requests table; `fingerprint` is what the
   * caller said the request was (Idempotency-Key: the same ids for another
   * request are refused).
   */
  const requests = new Map<string, { revision: number; outcome: Outcome; fingerprint: string }>();
  const watchers = new Set<() => void>();
  const members: MemberInfo[] = [1, 2, 3].map((id) => member(id, 'voter'));
  let index = 0;
  let closed = false;

  const open = () => {
    if (closed) throw new ClusterError('UNAVAILABLE', 'client is closed');
  };

  /**
   * Proposes a command: every command takes a revision (a log index), whether
   * it applies, fails, or repeats an earlier one (then the answer is the
   * earlier one's, at its revision).
   */
  const propose = async (body: Record<string, unknown>, w: Pick<WriteOptions, 'actor' | 'requestId' | 'idempotency'>): Promise<Outcome> => {
    open();
    const ids = w.idempotency ?? (w.requestId ? { clientId: cluster.clientId, requestId: w.requestId, fingerprint: '' } : undefined);
    const dedupKey = ids ? JSON.stringify([ids.clientId, ids.requestId]) : undefined;
    const prior = dedupKey ? requests.get(dedupKey) : undefined;
    const revision = ++index;
    if (prior && ids) {
      if (prior.fingerprint !== ids.fingerprint) {
        return { ok: false, revision: prior.revision, error: { code: 'IDEMPOTENCY_KEY_REUSED', message: `request id ${ids.requestId} was first used at revision ${prior.revision} for a different request` } };
      }
      return prior.outcome;
    }
    const cmd = { v: 1, actor: w.actor, time: now(), ...body } as Command;
    const r = applyCommand(view, cmd, revision);
    let out: Outcome;
    if (r.ok) {
      view.commit(r.changes);
      log.push(...r.changes);
      out = { ok: true, revision, changes: r.changes };
    } else {
      out = { ok: false, revision, error: r.error };
    }
    if (dedupKey && ids) requests.set(dedupKey, { revision, outcome: out, fingerprint: ids.fingerprint });
    // Watchers hear of it after the answer, as from another process.
    if (out.ok) setImmediate(() => { for (const pump of watchers) pump(); });
    return out;
  };
  const answer = (out: Outcome): { revision: number; changes: Change[] } => {
    if (!out.ok) {
      const { code, message, ...rest } = out.error;
      throw new ClusterError(code === 'BAD_COMMAND' ? 'INVALID_ARGUMENT' : code, message, copy({ ...rest, revision: out.revision }));
    }
    return copy(out);
  };
  const expected = (w: Pick<WriteOptions, 'expectedRevision'>) => (w.expectedRevision !== undefined ? { expectedRevision: w.expectedRevision } : {});

  const cluster: MemoryCluster = {
    clientId: 'memory-client',
    clusterId,
    transportSecurity: 'insecure',
    get revision() { return index; },
    reloadCertificates: () => false,

    async putFlag(flag, w) {
      defaultEnvironmentOnly(w);
      const checked = validated(() => validateFlag(flag));
      const r = answer(await propose({ op: 'putFlag', flag: checked, ...expected(w) }, w));
      return { revision: r.revision, flag: r.changes.find((c) => c.kind === 'flag')?.after as StoredFlag };
    },
    async deleteFlag(key, w) {
      defaultEnvironmentOnly(w);
      if (!key) throw new ClusterError('INVALID_ARGUMENT', 'key is required');
      return { revision: answer(await propose({ op: 'deleteFlag', key, ...expected(w) }, w)).revision };
    },
    async putSegment(segment, w) {
      defaultEnvironmentOnly(w);
      const checked = validated(() => validateSegment(segment));
      const r = answer(await propose({ op: 'putSegment', segment: checked, ...expected(w) }, w));
      return { revision: r.revision, segment: r.changes.find((c) => c.kind === 'segment')?.after as StoredSegment };
    },
    async deleteSegment(name, w) {
      defaultEnvironmentOnly(w);
      if (!name) throw new ClusterError('INVALID_ARGUMENT', 'key (segment name) is required');
      return { revision: answer(await propose({ op: 'deleteSegment', name, ...expected(w) }, w)).revision };
    },
    async batch(ops, w) {
      if (!Array.isArray(ops) || ops.length === 0) throw new ClusterError('INVALID_ARGUMENT', 'ops_json must be a non-empty JSON array');
      const checked = validated(() => ops.map((op, i): SubCommand => {
        if (op?.op === 'putFlag') return { ...op, flag: validateFlag(op.flag) };
        if (op?.op === 'putSegment') return { ...op, segment: validateSegment(op.segment) };
        if (op?.op === 'deleteFlag' || op?.op === 'deleteSegment') return op;
        throw new ClusterError('INVALID_ARGUMENT', `ops_json[${i}].op must be putFlag, deleteFlag, putSegment or deleteSegment`);
      }));
      const r = answer(await propose({ op: 'batch', ops: checked }, w));
      return { revision: r.revision, changes: r.changes };
    },

    async getFlag(key, q) {
      open();
      defaultEnvironmentOnly(q);
      return copy(view.getFlag(key));
    },
    async getSegment(name) {
      open();
      return copy(view.getSegment(name));
    },
    async listFlags(q = {}) {
      open();
      defaultEnvironmentOnly(q);
      const p = page([...view.flags.values()], (f) => f.flag.key, q);
      return { flags: p.items, ...(p.next ? { nextPageToken: p.next } : {}), revision: index };
    },
    async listSegments(q = {}) {
      open();
      const p = page([...view.segments.values()], (s) => s.segment.name, q);
      return { segments: p.items, ...(p.next ? { nextPageToken: p.next } : {}), revision: index };
    },
    async snapshotAll() {
      open();
      const byKey = <T>(items: T[], keyOf: (t: T) => string) => items.sort((a, b) => compareKeys(keyOf(a), keyOf(b))).map(copy) as T[];
      return { revision: index, flags: byKey([...view.flags.values()], (f) => f.flag.key), segments: byKey([...view.segments.values()], (s) => s.segment.name) };
    },
    async history(key, q = {}) {
      open();
      defaultEnvironmentOnly(q);
      const kind = q.kind ?? 'flag';
      if (kind !== 'flag' && kind !== 'segment') throw new ClusterError('INVALID_ARGUMENT', `kind must be "flag" or "segment" (the in-memory cluster keeps no environments, change requests or schedules), got "${String(kind)}"`);
      if (!key) throw new ClusterError('INVALID_ARGUMENT', 'key is required');
      const before = q.beforeRevision || Number.MAX_SAFE_INTEGER;
      const out: Change[] = [];
      // Newest first, as the node's ORDER BY revision DESC, seq DESC.
      for (let i = log.length - 1; i >= 0 && out.length < pageLimit(q.limit); i--) {
        const c = log[i];
        if (c.kind === kind && c.key === key && c.revision < before) out.push(copy(c));
      }
      return out;
    },
    watch(w) {
      open();
      defaultEnvironmentOnly(w);
      return startWatch(w);
    },

    async status() {
      open();
      return {
        clusterId, nodeId: 1, role: 'leader', leaderId: 1, leaderAddress: 'memory:1', term: 1,
        members: members.map((m) => ({ ...m, matchIndex: index })),
        commitIndex: index, appliedIndex: index, publishedRevision: index, publishLag: 0,
        appliedRevision: index, restoredRevision: 0, firstIndex: 1, lastIndex: index,
        oldestRetainedRevision: 1, dbBytes: 0, peerAddress: 'memory:1', transportSecurity: 'insecure',
      } satisfies ClusterStatus;
    },
    async addLearner(id, peerAddress) {
      open();
      if (!Number.isSafeInteger(id) || id <= 0) throw new ClusterError('INVALID_ARGUMENT', 'node_id must be a positive integer');
      if (!/^[^\s]+:\d+$/.test(peerAddress ?? '')) throw new ClusterError('INVALID_ARGUMENT', 'address must be host:port');
      if (members.some((m) => m.id === id)) throw new ClusterError('FAILED_PRECONDITION', `node ${id} is already a member`);
      index++;
      members.push({ ...member(id, 'learner'), peerAddress });
      return members.map((m) => ({ ...m }));
    },
    async promoteLearner(id) {
      open();
      const m = members.find((x) => x.id === id);
      if (!m || m.role !== 'learner') throw new ClusterError('FAILED_PRECONDITION', `node ${id} is not a learner`);
      index++;
      m.role = 'voter';
      return members.map((x) => ({ ...x }));
    },
    async removeMember(id) {
      open();
      const i = members.findIndex((x) => x.id === id);
      if (i < 0) throw new ClusterError('NOT_FOUND', `node ${id} is not a member`);
      index++;
      members.splice(i, 1);
      return members.map((x) => ({ ...x }));
    },
    async transferLeader(id) {
      open();
      const m = members.find((x) => x.id === id);
      if (!m || m.role !== 'voter') throw new ClusterError('FAILED_PRECONDITION', `node ${id} is not a voter`);
      return members.map((x) => ({ ...x }));
    },
    close() {
      closed = true;
      for (const stop of [...stoppers]) stop();
    },
  };

  const stoppers = new Set<() => void>();

  /** Delivers changes after fromRevision (all of one revision together), then live ones; progress when idle. */
  function startWatch(w: WatchOptions): { close(): void } {
    let last = w.fromRevision;
    let stopped = false;
    let lastSentAt = Date.now();
    const progressMs = Math.max(50, w.progressIntervalMs ?? MEMORY_PROGRESS_MS);
    const pump = () => {
      if (stopped) return;
      for (const c of log) {
        if (c.revision <= last) continue;
        last = c.revision;
        lastSentAt = Date.now();
        for (const e of log.filter((x) => x.revision === c.revision)) w.onChange(toEvent(e));
      }
    };
    const timer = setInterval(() => {
      if (stopped || Date.now() - lastSentAt < progressMs) return;
      lastSentAt = Date.now();
      last = Math.max(last, index);
      w.onProgress?.(last);
    }, Math.min(progressMs, 1000));
    const stop = () => {
      stopped = true;
      clearInterval(timer);
      watchers.delete(pump);
      stoppers.delete(stop);
    };
    watchers.add(pump);
    stoppers.add(stop);
    // The node first says the stream is established, then catches up.
    setImmediate(() => {
      if (stopped) return;
      w.onProgress?.(w.fromRevision);
      pump();
    });
    return { close: stop };
  }

  return cluster;
}

function member(id: number, role: 'voter' | 'learner'): MemberInfo {
  return { id, address: `memory:${id}`, peerAddress: `memory-peer:${id}`, role, matchIndex: 0, lag: 0, reachable: true };
}

/**
 * Refuses the environment options a caller passed past ClusterApi's type
 * (from JavaScript, or through a cast): the in-memory cluster holds only the
 * default environment, and answering another one's calls from it would be a
 * silent lie.
 */
function defaultEnvironmentOnly(o: object | undefined): void {
  const x = (o ?? {}) as { environment?: unknown; actorRole?: unknown; allEnvironments?: unknown };
  if (x.environment !== undefined && x.environment !== DEFAULT_ENVIRONMENT) {
    throw new ClusterError('INVALID_ARGUMENT', `environment "${String(x.environment)}": the in-memory cluster has only the default environment (${DEFAULT_ENVIRONMENT}); test environments on real nodes (startLocalCluster)`);
  }
  if (x.actorRole !== undefined) throw new ClusterError('INVALID_ARGUMENT', 'actorRole: the in-memory cluster has no approval policies; test them on real nodes (startLocalCluster)');
  if (x.allEnvironments === true) throw new ClusterError('INVALID_ARGUMENT', 'allEnvironments: the in-memory cluster has only the default environment; watch every environment on real nodes (startLocalCluster)');
}

/** The node's VALIDATION answer for a definition that fails validateFlag / validateSegment. */
function validated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ValidationError) throw new ClusterError('VALIDATION', e.message, { issues: e.issues });
    throw e;
  }
}

function pageLimit(n: number | undefined): number {
  if (!n) return MEMORY_DEFAULT_PAGE_LIMIT;
  return Math.min(Math.max(1, n), MEMORY_MAX_PAGE_LIMIT);
}

/**
 * Keys compare as the node's SQLite does (BINARY collation: UTF-8 bytes);
 * for the ASCII characters KEY_PATTERN and NAME_PATTERN allow that is code unit order.
 */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** One page in key order after the token's key, with the prefix; the token is the last key, base64url, as the node makes it. */
function page<T>(items: T[], keyOf: (t: T) => string, q: { prefix?: string; limit?: number; pageToken?: string }): { items: T[]; next?: string } {
  const limit = pageLimit(q.limit);
  const after = q.pageToken ? Buffer.from(q.pageToken, 'base64url').toString('utf8') : '';
  const prefix = q.prefix ?? '';
  const rows = items
    .filter((i) => keyOf(i).startsWith(prefix) && (after === '' || compareKeys(keyOf(i), after) > 0))
    .sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
  const slice = rows.slice(0, limit).map(copy);
  return { items: slice, next: rows.length > limit ? Buffer.from(keyOf(slice[slice.length - 1]), 'utf8').toString('base64url') : undefined };
}

/** A change as Watch sends it (the node's rowToEvent: keys in that order, time as ISO text). */
function toEvent(c: Change): ChangeEvent {
  const { revision, key, op, actor } = c;
  const time = new Date(c.time).toISOString();
  const after = copy(c.after);
  return (c.kind === 'flag'
    ? { v: 1, revision, kind: 'flag', key, op, actor, time, flag: after as StoredFlag | null }
    : { v: 1, revision, kind: 'segment', key, op, actor, time, segment: after as StoredSegment | null }) as ChangeEvent;
}

/** Callers get their own copies, as from the wire: mutating an answer never changes the store. */
function copy<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

