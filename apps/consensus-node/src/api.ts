// The Flags gRPC service (proto/flags.proto) of a node, over the ports of
// ports.ts: it validates requests and shapes answers; the node does the rest.
import * as grpc from '@grpc/grpc-js';
import { ConfChangeType } from '@flagraft/raft-core';
import { ValidationError, commandProblem, validateFlag, validateSegment, type Change, type ChangeKind, type SubCommand, type TopLevelOp } from '@flagraft/flag-model';
import { backupStream, restoreStep } from './backup-api.js';
import { ApiError, parseJson, toApiError } from './errors.js';
import type { CallGate, FlagsPorts, ReadPort } from './ports.js';
import type { WriteOutcome } from './state-machine.js';

/** Items per List page (default and upper bound, count). */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

type Unary = (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => void;

function unary(calls: CallGate, fn: (req: any, call: grpc.ServerUnaryCall<any, any>) => Promise<unknown> | unknown): Unary {
  return (call, cb) => {
    const bad = calls.check(call.metadata);
    if (bad) { cb(bad.toGrpc()); return; }
    Promise.resolve().then(() => fn(call.request, call)).then((r) => cb(null, r), (e) => cb(toApiError(e).toGrpc()));
  };
}

type Stream = (call: grpc.ServerWritableStream<any, any>) => void;

function stream(calls: CallGate, fn: Stream): Stream {
  return (call) => {
    const bad = calls.check(call.metadata);
    if (bad) { call.emit('error', bad.toGrpc()); return; }
    fn(call);
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

const HISTORY_KINDS: readonly ChangeKind[] = ['flag', 'segment', 'environment', 'changeRequest', 'schedule'];

/** Longest clientId / requestId / fingerprint of a write (characters). */
export const MAX_REQUEST_ID_CHARS = 256;

/**
 * Who a write is recorded for, and its de-duplication ids. The actor comes
 * from the caller's certificate (security.ts writeActor): meta.actor counts
 * only when a gateway vouches for its user.
 */
function writeMeta(calls: CallGate, req: any, call: grpc.ServerUnaryCall<any, any>): { actor: string; actorRole?: string; clientId?: string; requestId?: string; fingerprint?: string } {
  const m = req.meta ?? {};
  for (const f of ['clientId', 'requestId', 'fingerprint'] as const) {
    if ((m[f] ?? '').length > MAX_REQUEST_ID_CHARS) throw ApiError.of('INVALID_ARGUMENT', `meta.${f} longer than ${MAX_REQUEST_ID_CHARS} characters`);
  }
  const actor = calls.writeActor(call, typeof m.actor === 'string' ? m.actor : '');
  const out: { actor: string; actorRole?: string; clientId?: string; requestId?: string; fingerprint?: string } = { actor, clientId: calls.dedupClientId(call, m.clientId || undefined, Boolean(m.fingerprint)), requestId: m.requestId || undefined };
  // Only when set: a command without one stays byte-for-byte what it was.
  if (m.fingerprint) out.fingerprint = m.fingerprint;
  const actorRole = calls.writeRole(call, typeof m.actorRole === 'string' ? m.actorRole : '');
  if (actorRole) out.actorRole = actorRole;
  return out;
}

/** The environment a flag request names ("" = the default one); NOT_FOUND when it does not exist. */
function environment(reads: ReadPort, req: any): { env?: string } {
  const env = String(req.environment ?? '');
  if (!env) return {};
  if (!reads.environmentExists(env)) throw ApiError.of('NOT_FOUND', `environment "${env}" does not exist`);
  return { env };
}

/** What Propose accepts: the commands of environments, promotion, change requests and schedules (flag writes have their own RPCs). */
const PROPOSE_OPS: ReadonlySet<string> = new Set(['putEnvironment', 'deleteEnvironment', 'promote', 'changeRequest', 'schedule']);

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

function list(reads: ReadPort, kind: 'flag' | 'segment') {
  return async (req: any) => {
    if (consistency(req.consistency) === 'linearizable') await reads.barrier();
    const limit = pageLimit(req.limit);
    const prefix = String(req.prefix ?? '');
    const after = decodeToken(req.pageToken);
    const { env } = kind === 'flag' ? environment(reads, req) : {};
    // Other environments: their keys filtered here (an environment holds what the default one holds, bounded alike).
    const rows = env
      ? reads.allFlagsIn(env).filter((j) => { const k = (JSON.parse(j) as { flag: { key: string } }).flag.key; return k.startsWith(prefix) && k > after; }).slice(0, limit + 1)
      : reads.list(kind, prefix, after, limit + 1);
    const page = rows.slice(0, limit);
    let next = '';
    if (rows.length > limit) {
      const lastItem = JSON.parse(page[page.length - 1]);
      next = Buffer.from(kind === 'flag' ? lastItem.flag.key : lastItem.segment.name).toString('base64url');
    }
    return { itemsJson: page, nextPageToken: next, revision: reads.appliedRevision() };
  };
}

export function flagsService(ports: FlagsPorts): grpc.UntypedServiceImplementation {
  const { calls, writes, reads, membership, watch, backup } = ports;
  return {
    PutFlag: unary(calls, async (req, call) => {
      const flag = validated(() => validateFlag(parseJson(req.definitionJson, 'definition_json')));
      return answer(await writes.propose({ ...writeMeta(calls, req, call), op: 'putFlag', flag, ...expected(req), ...environment(reads, req) }));
    }),
    DeleteFlag: unary(calls, async (req, call) => {
      if (!req.key) throw ApiError.of('INVALID_ARGUMENT', 'key is required');
      return answer(await writes.propose({ ...writeMeta(calls, req, call), op: 'deleteFlag', key: req.key, ...expected(req), ...environment(reads, req) }));
    }),
    PutSegment: unary(calls, async (req, call) => {
      const segment = validated(() => validateSegment(parseJson(req.definitionJson, 'definition_json')));
      return answer(await writes.propose({ ...writeMeta(calls, req, call), op: 'putSegment', segment, ...expected(req) }));
    }),
    DeleteSegment: unary(calls, async (req, call) => {
      if (!req.key) throw ApiError.of('INVALID_ARGUMENT', 'key (segment name) is required');
      return answer(await writes.propose({ ...writeMeta(calls, req, call), op: 'deleteSegment', name: req.key, ...expected(req) }));
    }),
    Batch: unary(calls, async (req, call) => {
      const ops = parseJson(req.opsJson, 'ops_json');
      if (!Array.isArray(ops) || ops.length === 0) throw ApiError.of('INVALID_ARGUMENT', 'ops_json must be a non-empty JSON array');
      const checked = validated(() => (ops as SubCommand[]).map((op, i) => {
        if (op?.op === 'putFlag') return { ...op, flag: validateFlag(op.flag) };
        if (op?.op === 'putSegment') return { ...op, segment: validateSegment(op.segment) };
        if (op?.op === 'deleteFlag' || op?.op === 'deleteSegment') return op;
        throw ApiError.of('INVALID_ARGUMENT', `ops_json[${i}].op must be putFlag, deleteFlag, putSegment or deleteSegment`);
      }));
      return answer(await writes.propose({ ...writeMeta(calls, req, call), op: 'batch', ops: checked }));
    }),
    Propose: unary(calls, async (req, call) => {
      const body = parseJson(req.commandJson, 'command_json') as Record<string, unknown>;
      if (!body || typeof body !== 'object' || Array.isArray(body) || !PROPOSE_OPS.has(String(body.op))) {
        throw ApiError.of('INVALID_ARGUMENT', `command_json.op must be one of ${[...PROPOSE_OPS].join(', ')}`);
      }
      for (const k of ['v', 'actor', 'actorRole', 'time', 'clientId', 'requestId']) {
        if (k in body) throw ApiError.of('INVALID_ARGUMENT', `command_json must not set ${k}: the node stamps it (meta carries the request ids)`);
      }
      const cmd = { ...writeMeta(calls, req, call), ...body } as Parameters<typeof writes.propose>[0];
      const problem = commandProblem({ ...cmd, v: 1, time: 0 });
      if (problem) throw ApiError.of('INVALID_ARGUMENT', problem);
      return answer(await writes.propose(cmd as typeof cmd & TopLevelOp));
    }),
    Query: unary(calls, async (req) => {
      if (consistency(req.consistency) === 'linearizable') await reads.barrier();
      const args = req.argsJson ? parseJson(req.argsJson, 'args_json') : {};
      if (!args || typeof args !== 'object' || Array.isArray(args)) throw ApiError.of('INVALID_ARGUMENT', 'args_json must be a JSON object');
      return { resultJson: JSON.stringify(reads.query(String(req.what ?? ''), args as Record<string, unknown>)), revision: reads.appliedRevision() };
    }),
    GetFlag: unary(calls, async (req) => {
      if (consistency(req.consistency) === 'linearizable') await reads.barrier();
      const f = reads.getFlagIn(environment(reads, req).env, String(req.key));
      return { found: !!f, itemJson: f ? JSON.stringify(f) : '', revision: reads.appliedRevision() };
    }),
    GetSegment: unary(calls, async (req) => {
      if (consistency(req.consistency) === 'linearizable') await reads.barrier();
      const s = reads.getSegment(String(req.key));
      return { found: !!s, itemJson: s ? JSON.stringify(s) : '', revision: reads.appliedRevision() };
    }),
    ListFlags: unary(calls, list(reads, 'flag')),
    ListSegments: unary(calls, list(reads, 'segment')),
    SnapshotAll: unary(calls, async (req) => {
      await reads.barrier();
      const { env } = environment(reads, req);
      // Synchronous reads: nothing applies in between, so this is one revision.
      return { revision: reads.appliedRevision(), flagsJson: reads.allFlagsIn(env), segmentsJson: reads.allItems('segment') };
    }),
    History: unary(calls, async (req) => {
      const kind = (req.kind || 'flag') as ChangeKind;
      if (!HISTORY_KINDS.includes(kind)) throw ApiError.of('INVALID_ARGUMENT', `kind must be one of ${HISTORY_KINDS.join(', ')}, got "${req.kind}"`);
      if (!req.key) throw ApiError.of('INVALID_ARGUMENT', 'key is required');
      const before = Number(req.beforeRevision) || Number.MAX_SAFE_INTEGER;
      const { env } = kind === 'flag' ? environment(reads, req) : {};
      return { changesJson: reads.history(kind, req.key, before, pageLimit(req.limit), env).map((c) => JSON.stringify(c)) };
    }),
    Status: unary(calls, () => ports.status()),
    AddLearner: unary(calls, async (req) => {
      const id = Number(req.nodeId);
      if (!Number.isSafeInteger(id) || id <= 0) throw ApiError.of('INVALID_ARGUMENT', 'node_id must be a positive integer');
      if (!/^[^\s]+:\d+$/.test(req.address ?? '')) throw ApiError.of('INVALID_ARGUMENT', 'address must be host:port');
      if (membership.members().some((m) => m.id === id)) throw ApiError.of('FAILED_PRECONDITION', `node ${id} is already a member`);
      await membership.change(ConfChangeType.AddLearnerNode, id, req.address);
      return { members: membership.members() };
    }),
    PromoteLearner: unary(calls, async (req) => {
      const id = Number(req.nodeId);
      const m = membership.members().find((x) => x.id === id);
      if (!m || m.role !== 'learner') throw ApiError.of('FAILED_PRECONDITION', `node ${id} is not a learner`);
      if (membership.isLeader() && m.lag > membership.maxPromoteLag) throw ApiError.of('FAILED_PRECONDITION', `learner ${id} is ${m.lag} entries behind (at most ${membership.maxPromoteLag} to promote); retry when it has caught up`);
      await membership.change(ConfChangeType.AddNode, id);
      return { members: membership.members() };
    }),
    RemoveMember: unary(calls, async (req) => {
      const id = Number(req.nodeId);
      if (!membership.members().some((x) => x.id === id)) throw ApiError.of('NOT_FOUND', `node ${id} is not a member`);
      await membership.change(ConfChangeType.RemoveNode, id);
      return { members: membership.members() };
    }),
    TransferLeader: unary(calls, async (req) => {
      const id = Number(req.nodeId);
      const m = membership.members().find((x) => x.id === id);
      if (!m || m.role !== 'voter') throw ApiError.of('FAILED_PRECONDITION', `node ${id} is not a voter`);
      await membership.transferLeader(id);
      return { members: membership.members() };
    }),
    Watch: stream(calls, (call) => watch.open(call)),
    Backup: stream(calls, (call) => backupStream(backup, call)),
    Restore: unary(calls, (req, call) => restoreStep(backup, req, writeMeta(calls, req, call).actor)),
  };
}
