// The Flags gRPC service (proto/flags.proto) of a node.
import * as grpc from '@grpc/grpc-js';
import { ConfChangeType } from '@flagraft/raft-core';
import { ValidationError, validateFlag, validateSegment, type Change, type SubCommand } from '@flagraft/flag-model';
import { backupStream, restoreStep } from './backup-api.js';
import { ApiError, parseJson, toApiError } from './errors.js';
import type { ChangeEvent } from './outbox-types.js';
import type { WriteOutcome } from './state-machine.js';
import type { ConsensusNodeCore } from './node-core.js';

/** Items per List page (default and upper bound, count). */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
/** Changes sent per Watch message while catching up (count). */
export const WATCH_PAGE_CHANGES = 500;
export const DEFAULT_PROGRESS_MS = 1000;
export const MIN_PROGRESS_MS = 50;

type Unary = (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => void;

function unary(core: ConsensusNodeCore, fn: (req: any, call: grpc.ServerUnaryCall<any, any>) => Promise<unknown> | unknown): Unary {
  return (call, cb) => {
    const bad = core.checkClient(call.metadata);
    if (bad) { cb(bad.toGrpc()); return; }
    Promise.resolve().then(() => fn(call.request, call)).then((r) => cb(null, r), (e) => cb(toApiError(e).toGrpc()));
  };
}

function validated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ValidationError) throw ApiError.of('VALIDATION', e.message, { issues: e.issues });
    throw e;
  }
}

/** Longest clientId / requestId of a write (characters). */
export const MAX_REQUEST_ID_CHARS = 256;

/**
 * Who a write is recorded for, and its de-duplication ids. The actor comes
 * from the caller's certificate (security.ts writeActor): meta.actor counts
 * only when a gateway vouches for its user.
 */
function writeMeta(core: ConsensusNodeCore, req: any, call: grpc.ServerUnaryCall<any, any>): { actor: string; clientId?: string; requestId?: string } {
  const m = req.meta ?? {};
  if ((m.clientId ?? '').length > MAX_REQUEST_ID_CHARS || (m.requestId ?? '').length > MAX_REQUEST_ID_CHARS) {
    throw ApiError.of('INVALID_ARGUMENT', `meta.clientId / meta.requestId longer than ${MAX_REQUEST_ID_CHARS} characters`);
  }
  const actor = core.security.writeActor(call, typeof m.actor === 'string' ? m.actor : '');
  return { actor, clientId: core.security.dedupClientId(call, m.clientId || undefined), requestId: m.requestId || undefined };
}

function expected(req: any): { expectedRevision?: number } {
  return req.hasExpectedRevision ? { expectedRevision: Number(req.expectedRevision) } : {};
}

function answer(o: WriteOutcome): { revision: number; changesJson: string } {
  if (!o.ok) {
    const { code, message, ...rest } = o.error;
    throw ApiError.of(code === 'BAD_COMMAND' ? 'INVALID_ARGUMENT' : code, message, { ...rest, revision: o.revision });
  }
  return { revision: o.revision, changesJson: JSON.stringify(o.changes as Change[]) };
}

function consistency(s: string): 'linearizable' | 'stale' {
  if (!s || s === 'linearizable') return 'linearizable';
  if (s === 'stale') return 'stale';
  throw ApiError.of('INVALID_ARGUMENT', `consistency must be "linearizable" or "stale", got "${s}"`);
}

function pageLimit(n: number): number {
  if (!n) return DEFAULT_PAGE_LIMIT;
  return Math.min(Math.max(1, n), MAX_PAGE_LIMIT);
}

function decodeToken(t: string): string {
  if (!t) return '';
  try {
    return Buffer.from(t, 'base64url').toString('utf8');
  } catch {
    throw ApiError.of('INVALID_ARGUMENT', 'page_token is not valid');
  }
}

function list(core: ConsensusNodeCore, kind: 'flag' | 'segment') {
  return async (req: any) => {
    if (consistency(req.consistency) === 'linearizable') await core.driver.linearizableBarrier();
    const limit = pageLimit(req.limit);
    const prefix = String(req.prefix ?? '');
    const after = decodeToken(req.pageToken);
    const rows = core.state.list(kind, prefix, after, limit + 1);
    const page = rows.slice(0, limit);
    let next = '';
    if (rows.length > limit) {
      const lastItem = JSON.parse(page[page.length - 1]);
      next = Buffer.from(kind === 'flag' ? lastItem.flag.key : lastItem.segment.name).toString('base64url');
    }
    return { itemsJson: page, nextPageToken: next, revision: core.driver.appliedRevision() };
  };
}

export function flagsService(core: ConsensusNodeCore): grpc.UntypedServiceImplementation {
  const d = core.driver;
  return {
    PutFlag: unary(core, async (req, call) => {
      const flag = validated(() => validateFlag(parseJson(req.definitionJson, 'definition_json')));
      return answer(await d.propose({ ...writeMeta(core, req, call), op: 'putFlag', flag, ...expected(req) }));
    }),
    DeleteFlag: unary(core, async (req, call) => {
      if (!req.key) throw ApiError.of('INVALID_ARGUMENT', 'key is required');
      return answer(await d.propose({ ...writeMeta(core, req, call), op: 'deleteFlag', key: req.key, ...expected(req) }));
    }),
    PutSegment: unary(core, async (req, call) => {
      const segment = validated(() => validateSegment(parseJson(req.definitionJson, 'definition_json')));
      return answer(await d.propose({ ...writeMeta(core, req, call), op: 'putSegment', segment, ...expected(req) }));
    }),
    DeleteSegment: unary(core, async (req, call) => {
      if (!req.key) throw ApiError.of('INVALID_ARGUMENT', 'key (segment name) is required');
      return answer(await d.propose({ ...writeMeta(core, req, call), op: 'deleteSegment', name: req.key, ...expected(req) }));
    }),
    Batch: unary(core, async (req, call) => {
      const ops = parseJson(req.opsJson, 'ops_json');
      if (!Array.isArray(ops) || ops.length === 0) throw ApiError.of('INVALID_ARGUMENT', 'ops_json must be a non-empty JSON array');
      const checked = validated(() => (ops as SubCommand[]).map((op, i) => {
        if (op?.op === 'putFlag') return { ...op, flag: validateFlag(op.flag) };
        if (op?.op === 'putSegment') return { ...op, segment: validateSegment(op.segment) };
        if (op?.op === 'deleteFlag' || op?.op === 'deleteSegment') return op;
        throw ApiError.of('INVALID_ARGUMENT', `ops_json[${i}].op must be putFlag, deleteFlag, putSegment or deleteSegment`);
      }));
      return answer(await d.propose({ ...writeMeta(core, req, call), op: 'batch', ops: checked }));
    }),
    GetFlag: unary(core, async (req) => {
      if (consistency(req.consistency) === 'linearizable') await d.linearizableBarrier();
      const f = core.state.getFlag(String(req.key));
      return { found: !!f, itemJson: f ? JSON.stringify(f) : '', revision: d.appliedRevision() };
    }),
    GetSegment: unary(core, async (req) => {
      if (consistency(req.consistency) === 'linearizable') await d.linearizableBarrier();
      const s = core.state.getSegment(String(req.key));
      return { found: !!s, itemJson: s ? JSON.stringify(s) : '', revision: d.appliedRevision() };
    }),
    ListFlags: unary(core, list(core, 'flag')),
    ListSegments: unary(core, list(core, 'segment')),
    SnapshotAll: unary(core, async () => {
      await d.linearizableBarrier();
      // Synchronous reads: nothing applies in between, so this is one revision.
      return { revision: d.appliedRevision(), flagsJson: core.state.allItems('flag'), segmentsJson: core.state.allItems('segment') };
    }),
    History: unary(core, async (req) => {
      const kind = req.kind === 'segment' ? 'segment' : req.kind && req.kind !== 'flag' ? undefined : 'flag';
      if (!kind) throw ApiError.of('INVALID_ARGUMENT', `kind must be "flag" or "segment", got "${req.kind}"`);
      if (!req.key) throw ApiError.of('INVALID_ARGUMENT', 'key is required');
      const before = Number(req.beforeRevision) || Number.MAX_SAFE_INTEGER;
      return { changesJson: core.state.history(kind, req.key, before, pageLimit(req.limit)).map((c) => JSON.stringify(c)) };
    }),
    Status: unary(core, () => core.status()),
    AddLearner: unary(core, async (req) => {
      const id = Number(req.nodeId);
      if (!Number.isSafeInteger(id) || id <= 0) throw ApiError.of('INVALID_ARGUMENT', 'node_id must be a positive integer');
      if (!/^[^\s]+:\d+$/.test(req.address ?? '')) throw ApiError.of('INVALID_ARGUMENT', 'address must be host:port');
      if (core.status().members.some((m) => m.id === id)) throw ApiError.of('FAILED_PRECONDITION', `node ${id} is already a member`);
      await d.changeMembership(ConfChangeType.AddLearnerNode, id, req.address);
      return { members: core.status().members };
    }),
    PromoteLearner: unary(core, async (req) => {
      const id = Number(req.nodeId);
      const m = core.status().members.find((x) => x.id === id);
      if (!m || m.role !== 'learner') throw ApiError.of('FAILED_PRECONDITION', `node ${id} is not a learner`);
      if (d.isLeader() && m.lag > core.maxPromoteLag) throw ApiError.of('FAILED_PRECONDITION', `learner ${id} is ${m.lag} entries behind (at most ${core.maxPromoteLag} to promote); retry when it has caught up`);
      await d.changeMembership(ConfChangeType.AddNode, id);
      return { members: core.status().members };
    }),
    RemoveMember: unary(core, async (req) => {
      const id = Number(req.nodeId);
      if (!core.status().members.some((x) => x.id === id)) throw ApiError.of('NOT_FOUND', `node ${id} is not a member`);
      await d.changeMembership(ConfChangeType.RemoveNode, id);
      return { members: core.status().members };
    }),
    TransferLeader: unary(core, async (req) => {
      const id = Number(req.nodeId);
      const m = core.status().members.find((x) => x.id === id);
      if (!m || m.role !== 'voter') throw ApiError.of('FAILED_PRECONDITION', `node ${id} is not a voter`);
      await d.transferLeader(id, 5 * core.config.electionTimeoutMs);
      return { members: core.status().members };
    }),
    Watch: (call: grpc.ServerWritableStream<any, any>) => watch(core, call),
    Backup: (call: grpc.ServerWritableStream<any, any>) => backupStream(core, call),
    Restore: unary(core, (req, call) => restoreStep(core, req, writeMeta(core, req, call).actor)),
  };
}

function watch(core: ConsensusNodeCore, call: grpc.ServerWritableStream<any, any>): void {
  const bad = core.checkClient(call.metadata);
  if (bad) { call.emit('error', bad.toGrpc()); return; }
  const from = Number(call.request.fromRevision) || 0;
  const progressMs = Math.max(MIN_PROGRESS_MS, Number(call.request.progressIntervalMs) || DEFAULT_PROGRESS_MS);
  if (core.watchers.size >= core.config.maxWatchers) {
    call.emit('error', ApiError.of('RESOURCE_EXHAUSTED', `too many watchers (maxWatchers ${core.config.maxWatchers})`).toGrpc());
    return;
  }
  // Changes with revision > from must all still be retained.
  if (from + 1 < core.state.oldestRetainedRevision()) {
    call.emit('error', ApiError.of('COMPACTED', `revision ${from} is compacted; changes are kept from revision ${core.state.oldestRetainedRevision()}; resync with SnapshotAll`, { oldestRetainedRevision: core.state.oldestRetainedRevision() }).toGrpc());
    return;
  }
  let last = from;
  let blocked = false;
  let ended = false;
  let lastSentAt = Date.now();
  const pump = () => {
    if (ended || blocked) return;
    for (;;) {
      if (last + 1 < core.state.oldestRetainedRevision()) {
        // The watcher fell behind the retention window while blocked.
        end(ApiError.of('COMPACTED', `watcher fell behind: revision ${last} is compacted`));
        return;
      }
      const evs = core.state.changesAfter(last, WATCH_PAGE_CHANGES);
      if (!evs.length) return;
      const byRev = new Map<number, ChangeEvent[]>();
      for (const e of evs) { const g = byRev.get(e.revision); if (g) g.push(e); else byRev.set(e.revision, [e]); }
      for (const [rev, group] of byRev) {
        last = rev;
        lastSentAt = Date.now();
        if (!call.write({ revision: rev, eventsJson: group.map((g) => JSON.stringify(g)), progress: false })) blocked = true;
      }
      if (blocked) return;
    }
  };
  const end = (err?: ApiError) => {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    core.watchers.delete(w);
    if (err) call.emit('error', err.toGrpc()); else call.end();
  };
  const w = { pump, end };
  core.watchers.add(w);
  call.on('drain', () => { blocked = false; pump(); });
  call.on('cancelled', () => end());
  call.on('error', () => end());
  const timer = setInterval(() => {
    if (ended || blocked || Date.now() - lastSentAt < progressMs) return;
    // Never report a revision past a restore this watcher has not been told about.
    if (last + 1 < core.state.oldestRetainedRevision()) { end(ApiError.of('COMPACTED', `watcher fell behind: revision ${last} is compacted`)); return; }
    lastSentAt = Date.now();
    call.write({ revision: Math.max(last, core.driver.appliedRevision()), eventsJson: [], progress: true });
  }, Math.min(progressMs, 1000));
  // An immediate progress message tells the client the stream is established.
  call.write({ revision: from, eventsJson: [], progress: true });
  pump();
}
