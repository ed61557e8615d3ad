// An in-memory cluster with the client API of @flagraft/cluster-client, for
// tests of what sits above the cluster (gateway routes, dashboard pages) that
// need no node processes. Every write goes through flag-model's public
// applyCommand, as the node's state machine does, so validation, revisions,
// preconditions and errors are the model's own; what the node adds around it
// (request checks, page tokens, history order, de-duplication, Watch
// delivery) is done here the way the node does it. test/conformance.ts runs
// one suite against this and a real cluster to keep the two the same.
//
// Environments, change requests and schedules are the model's too (propose,
// query, the `environment` / `actorRole` / `allEnvironments` options); the
// leader's scheduler is `runSchedules()`, called by the test on its clock.
//
// What it cannot show: durability, failover, compaction and anything about
// timing; those tests keep real processes (startLocalCluster).
import { ClusterError, type ClusterClient, type ClusterStatus, type MemberInfo, type WatchOptions, type WriteOptions } from '@flagraft/cluster-client';
import {
  MemoryStateView, ValidationError, applyCommand, auditCursor, auditMatches, changeEvent, commandProblem, dueStep, parseAuditArgs, promotionPlan, validateFlag, validateSegment,
  type Change, type ChangeEvent, type ChangeKind, type Command, type CommandError,
  type StoredFlag, type StoredSegment, type SubCommand,
} from '@flagraft/flag-model';

/** Items per list page (default and upper bound, count): the node's (consensus-node api.ts). */
export const MEMORY_DEFAULT_PAGE_LIMIT = 100;
export const MEMORY_MAX_PAGE_LIMIT = 1000;
/** Watch progress interval when the caller asks for none (ms), as the node's DEFAULT_PROGRESS_MS. */
export const MEMORY_PROGRESS_MS = 1000;

/** Flag history kinds the node answers (consensus-node api.ts HISTORY_KINDS). */
const HISTORY_KINDS: readonly ChangeKind[] = ['flag', 'segment', 'environment', 'changeRequest', 'schedule'];
/** What Propose accepts (the node's PROPOSE_OPS): flag writes have their own calls. */
const PROPOSE_OPS: ReadonlySet<string> = new Set(['putEnvironment', 'deleteEnvironment', 'promote', 'changeRequest', 'schedule']);
/** Fields a proposed command must not set: the node stamps them. */
const STAMPED = ['v', 'actor', 'actorRole', 'time', 'clientId', 'requestId'];
/** The node's QUERIES. */
export const MEMORY_QUERIES = ['environments', 'changeRequests', 'changeRequest', 'schedules', 'schedule', 'promotionPlan', 'changes'] as const;
/** Who the audit log shows for a step runSchedules applied, as the node's scheduler (SCHEDULER_ACTOR). */
export const MEMORY_SCHEDULER_ACTOR = 'scheduler';

/**
 * The cluster client's API as the in-memory cluster has it: everything but
 * what needs a real cluster's storage (backup, restore).
 */
export type ClusterApi = Omit<ClusterClient, 'backup' | 'restore'>;

export interface MemoryClusterOptions {
  clusterId?: string;
  /** The clock stamped on commands (ms since the epoch); default Date.now. */
  now?: () => number;
}

export interface MemoryCluster extends ClusterApi {
  /** The revision of the last applied write (0 before the first). */
  readonly revision: number;
  /**
   * What the leader's scheduler does on each look (consensus-node
   * scheduler.ts): proposes every due schedule step, at `now()`, with the
   * request id `<id>/<step>` that makes a repeat a no-op. Resolves to the
   * number of steps proposed.
   */
  runSchedules(): Promise<number>;
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
  const propose = async (body: Record<string, unknown>, w: Pick<WriteOptions, 'actor' | 'requestId' | 'idempotency' | 'actorRole'>, clientId = cluster.clientId, time = now()): Promise<Outcome> => {
    open();
    const ids = w.idempotency ?? (w.requestId ? { clientId, requestId: w.requestId, fingerprint: '' } : undefined);
    const dedupKey = ids ? JSON.stringify([ids.clientId, ids.requestId]) : undefined;
    const prior = dedupKey ? requests.get(dedupKey) : undefined;
    const revision = ++index;
    if (prior && ids) {
      if (prior.fingerprint !== ids.fingerprint) {
        return { ok: false, revision: prior.revision, error: { code: 'IDEMPOTENCY_KEY_REUSED', message: `request id ${ids.requestId} was first used at revision ${prior.revision} for a different request` } };
      }
      return prior.outcome;
    }
    // The caller is trusted to vouch for the role, as a gateway is by the node.
    const cmd = { v: 1, actor: w.actor, ...(w.actorRole ? { actorRole: w.actorRole } : {}), time, ...body } as Command;
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
  /** The environment a flag call names (none or "": the default one), as the node's command field; NOT_FOUND when it does not exist. */
  const environment = (o: { environment?: string } | undefined): { env?: string } => {
    const env = o?.environment ?? '';
    if (!env) return {};
    if (!view.getEnvironment(env)) throw new ClusterError('NOT_FOUND', `environment "${env}" does not exist`);
    return { env };
  };
  const flagsIn = (env: string | undefined): Map<string, StoredFlag> => view.envFlags.get(env ?? view.defaultEnvironment()) ?? new Map();

  const cluster: MemoryCluster = {
    clientId: 'memory-client',
    clusterId,
    transportSecurity: 'insecure',
    get revision() { return index; },
    reloadCertificates: () => false,

    async putFlag(flag, w) {
      const checked = validated(() => validateFlag(flag));
      const r = answer(await propose({ op: 'putFlag', flag: checked, ...expected(w), ...environment(w) }, w));
      return { revision: r.revision, flag: r.changes.find((c) => c.kind === 'flag')?.after as StoredFlag };
    },
    async deleteFlag(key, w) {
      if (!key) throw new ClusterError('INVALID_ARGUMENT', 'key is required');
      return { revision: answer(await propose({ op: 'deleteFlag', key, ...expected(w), ...environment(w) }, w)).revision };
    },
    async putSegment(segment, w) {
      const checked = validated(() => validateSegment(segment));
      const r = answer(await propose({ op: 'putSegment', segment: checked, ...expected(w) }, w));
      return { revision: r.revision, segment: r.changes.find((c) => c.kind === 'segment')?.after as StoredSegment };
    },
    async deleteSegment(name, w) {
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
    async propose(command, w) {
      const body = command as unknown as Record<string, unknown>;
      if (!body || typeof body !== 'object' || Array.isArray(body) || !PROPOSE_OPS.has(String(body.op))) {
        throw new ClusterError('INVALID_ARGUMENT', `command_json.op must be one of ${[...PROPOSE_OPS].join(', ')}`);
      }
      for (const k of STAMPED) {
        if (k in body) throw new ClusterError('INVALID_ARGUMENT', `command_json must not set ${k}: the node stamps it (meta carries the request ids)`);
      }
      const problem = commandProblem({ ...body, v: 1, actor: w.actor, time: 0 });
      if (problem) throw new ClusterError('INVALID_ARGUMENT', problem);
      const r = answer(await propose(copy(body), w));
      return { revision: r.revision, changes: r.changes };
    },
    async query<T>(what: string, args: Record<string, unknown> = {}): Promise<T> {
      open();
      if (!args || typeof args !== 'object' || Array.isArray(args)) throw new ClusterError('INVALID_ARGUMENT', 'args_json must be a JSON object');
      return copy(query(what, args)) as T;
    },
    async runSchedules() {
      let proposed = 0;
      for (const s of [...view.schedules.values()].sort((a, b) => compareKeys(a.schedule.id, b.schedule.id)).map((x) => x.schedule)) {
        const time = now();
        const step = dueStep(s, time);
        if (step === undefined) continue;
        proposed++;
        await propose({ op: 'schedule', action: 'fire', id: s.id, step }, { actor: `${MEMORY_SCHEDULER_ACTOR} (${s.createdBy})`.slice(0, 256), requestId: `${s.id}/${step}` }, 'flagraft-scheduler', time);
      }
      return proposed;
    },

    async getFlag(key, q) {
      open();
      return copy(flagsIn(environment(q).env).get(key));
    },
    async getSegment(name) {
      open();
      return copy(view.getSegment(name));
    },
    async listFlags(q = {}) {
      open();
      const p = page([...flagsIn(environment(q).env).values()], (f) => f.flag.key, q);
      return { flags: p.items, ...(p.next ? { nextPageToken: p.next } : {}), revision: index };
    },
    async listSegments(q = {}) {
      open();
      const p = page([...view.segments.values()], (s) => s.segment.name, q);
      return { segments: p.items, ...(p.next ? { nextPageToken: p.next } : {}), revision: index };
    },
    async snapshotAll(q) {
      open();
      const byKey = <T>(items: T[], keyOf: (t: T) => string) => items.sort((a, b) => compareKeys(keyOf(a), keyOf(b))).map(copy) as T[];
      return { revision: index, flags: byKey([...flagsIn(environment(q).env).values()], (f) => f.flag.key), segments: byKey([...view.segments.values()], (s) => s.segment.name) };
    },
    async history(key, q = {}) {
      open();
      const kind = q.kind ?? 'flag';
      if (!HISTORY_KINDS.includes(kind)) throw new ClusterError('INVALID_ARGUMENT', `kind must be one of ${HISTORY_KINDS.join(', ')}, got "${String(kind)}"`);
      if (!key) throw new ClusterError('INVALID_ARGUMENT', 'key is required');
      const before = q.beforeRevision || Number.MAX_SAFE_INTEGER;
      // A flag's history is one environment's (changes of the default one carry no env).
      const env = kind === 'flag' ? environment(q).env : undefined;
      const wanted = env === view.defaultEnvironment() ? undefined : env;
      const out: Change[] = [];
      // Newest first, as the node's ORDER BY revision DESC, seq DESC.
      for (let i = log.length - 1; i >= 0 && out.length < pageLimit(q.limit); i--) {
        const c = log[i];
        if (c.kind === kind && c.key === key && c.revision < before && (kind !== 'flag' || c.env === wanted)) out.push(copy(c));
      }
      return out;
    },
    watch(w) {
      open();
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

  /** The node's queryState over the model's view: records in id order, NOT_FOUND / INVALID_ARGUMENT naming the argument. */
  function query(what: string, args: Record<string, unknown>): unknown {
    const str = (k: string): string => {
      const v = args[k];
      if (typeof v !== 'string' || v === '') throw new ClusterError('INVALID_ARGUMENT', `args_json.${k} must be a non-empty string`);
      return v;
    };
    const inIdOrder = <T>(m: Map<string, T>): T[] => [...m.entries()].sort((a, b) => compareKeys(a[0], b[0])).map((e) => e[1]);
    switch (what) {
      case 'environments': return inIdOrder(view.environments);
      case 'changeRequests': return inIdOrder(view.changeRequests);
      case 'schedules': return inIdOrder(view.schedules);
      case 'changeRequest': {
        const id = str('id');
        return view.getChangeRequest(id) ?? notFound(`change request "${id}" does not exist`);
      }
      case 'schedule': {
        const id = str('id');
        return view.getSchedule(id) ?? notFound(`schedule "${id}" does not exist`);
      }
      case 'changes': return auditPage(args);
      case 'promotionPlan': {
        const keys = args.keys;
        if (keys !== undefined && (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))) throw new ClusterError('INVALID_ARGUMENT', 'args_json.keys must be an array of flag keys');
        const plan = promotionPlan(view, str('from'), str('to'), keys as string[] | undefined);
        if (typeof plan === 'string') throw new ClusterError(plan.includes('does not exist') ? 'NOT_FOUND' : 'INVALID_ARGUMENT', plan);
        return plan;
      }
    }
    throw new ClusterError('INVALID_ARGUMENT', `what must be one of ${MEMORY_QUERIES.join(', ')}, got "${what}"`);
  }

  /** The global audit log as the node's `changes` query answers it: newest first, (revision, seq) cursor. */
  function auditPage(args: Record<string, unknown>) {
    const f = parseAuditArgs(args);
    if (typeof f === 'string') throw new ClusterError('INVALID_ARGUMENT', f);
    // seq: a change's index within its revision (the log is in revision, then seq, order).
    const seqOf = new Array<number>(log.length);
    for (let i = 0; i < log.length; i++) seqOf[i] = i > 0 && log[i - 1].revision === log[i].revision ? seqOf[i - 1] + 1 : 0;
    const page: number[] = [];
    let more = false;
    for (let i = log.length - 1; i >= 0; i--) {
      const c = log[i];
      if (c.revision > f.before.revision || (c.revision === f.before.revision && seqOf[i] >= f.before.seq)) continue;
      if (!auditMatches(c, f, view.defaultEnvironment())) continue;
      if (page.length === f.limit) {
        more = true;
        break;
      }
      page.push(i);
    }
    const last = page[page.length - 1];
    return {
      changes: page.map((i) => copy(log[i])),
      nextPageToken: more ? auditCursor(log[last].revision, seqOf[last]) : undefined,
      defaultEnvironment: view.defaultEnvironment(),
    };
  }

  /** Delivers changes after fromRevision (all of one revision together), then live ones; progress when idle. */
  function startWatch(w: WatchOptions): { close(): void } {
    let last = w.fromRevision;
    let stopped = false;
    let lastSentAt = Date.now();
    const progressMs = Math.max(50, w.progressIntervalMs ?? MEMORY_PROGRESS_MS);
    // Consumers from before environments: the default environment's flags and the segments only (the node's changesAfter without all).
    const sent = (c: Change) => w.allEnvironments === true || (c.kind === 'flag' && c.env === undefined) || c.kind === 'segment';
    const pump = () => {
      if (stopped) return;
      for (const c of log) {
        if (c.revision <= last) continue;
        last = c.revision;
        const events = log.filter((x) => x.revision === c.revision && sent(x));
        if (events.length) lastSentAt = Date.now();
        // ClusterClient types onChange with the default environment's events; a stream of every environment carries the rest too.
        for (const e of events) w.onChange(changeEvent(e, copy(e.after)) as ChangeEvent);
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

function notFound(message: string): never {
  throw new ClusterError('NOT_FOUND', message);
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

/** Callers get their own copies, as from the wire: mutating an answer never changes the store. */
function copy<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

