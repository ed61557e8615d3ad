// The Backup (server stream) and Restore (one step per call) RPCs of a node.
// See restore-state.ts for what a restore does to revisions and the Watch
// window, and flag-model's restore.ts for the rules of a restore session.
import type * as grpc from '@grpc/grpc-js';
import {
  LIMITS, RESTORE_KINDS, restoreCommandProblem, restoreItemsBytes, type RestoreError,
} from '@flagraft/flag-model';
import { ApiError, parseJson, toApiError } from './errors.js';
import type { BackupPort } from './ports.js';
import type { RestoreInput } from './proposer.js';
import { BackupReader, BackupTooLargeError } from './backup-reader.js';

/** Items per Backup stream message, as JSON text (bytes; far below the gRPC message limits). */
export const BACKUP_CHUNK_BYTES = 1024 * 1024;

function notLeader(node: BackupPort): ApiError {
  const { leaderId, leaderAddress } = node.leader();
  return ApiError.of('NOT_LEADER', `node ${node.nodeId} is not the leader; backups are read on the leader`, { leaderId, leaderAddress: leaderAddress || undefined });
}

/**
 * Sends every flag, segment and retained change at one revision, in chunks,
 * with backpressure. The rows come from a read transaction on a separate
 * connection (backup-reader.ts) opened after a ReadIndex barrier: the node
 * keeps applying and answering while a large backup streams.
 */
export function backupStream(node: BackupPort, call: grpc.ServerWritableStream<any, any>): void {
  let cancelled = false;
  call.on('cancelled', () => { cancelled = true; });
  const write = (msg: unknown) => new Promise<void>((resolve) => {
    if (call.write(msg)) setImmediate(resolve); else call.once('drain', () => resolve());
  });
  let reader: BackupReader | undefined;
  (async () => {
    if (!node.isLeader()) throw notLeader(node);
    await node.barrier();
    if (!node.isLeader()) throw notLeader(node);
    reader = new BackupReader(node.stateFilePath);
    let h;
    try {
      h = reader.header(); // the snapshot starts here: at or after the barrier's index
    } catch (e) {
      if (e instanceof BackupTooLargeError) throw ApiError.of('FAILED_PRECONDITION', e.message, { reason: 'BACKUP_TOO_LARGE', maxBackupBytes: LIMITS.maxBackupBytes });
      throw e;
    }
    const header = {
      clusterId: node.clusterId, revision: h.revision, createdAt: new Date().toISOString(), counts: h.counts,
      oldestRetainedRevision: h.oldestChangeRevision || h.revision + 1,
    };
    const started = performance.now();
    await write({ headerJson: JSON.stringify(header), kind: '', itemsJson: [] });
    for (const kind of RESTORE_KINDS) {
      let chunk: string[] = [];
      let size = 0;
      for (const page of reader.pages(kind)) {
        for (const it of page) {
          if (chunk.length && size + it.length > BACKUP_CHUNK_BYTES) {
            await write({ headerJson: '', kind, itemsJson: chunk });
            if (cancelled) return;
            chunk = [];
            size = 0;
          }
          chunk.push(it);
          size += it.length;
        }
      }
      if (chunk.length) await write({ headerJson: '', kind, itemsJson: chunk });
    }
    call.end();
    node.log.info('backup sent', { revision: h.revision, ...h.counts, itemBytes: h.itemBytes, ms: Math.round(performance.now() - started) });
  })().catch((e) => { if (!cancelled) call.emit('error', toApiError(e).toGrpc()); }).finally(() => reader?.close());
}

function restoreError(e: RestoreError): ApiError {
  const { code, message, ...rest } = e;
  switch (code) {
    case 'NOT_EMPTY': return ApiError.of('FAILED_PRECONDITION', message, { ...rest, reason: 'NOT_EMPTY' });
    case 'NO_RESTORE': return ApiError.of('FAILED_PRECONDITION', message, { ...rest, reason: 'NO_RESTORE' });
    case 'VALIDATION': return ApiError.of('VALIDATION', message, rest);
    default: return ApiError.of('INVALID_ARGUMENT', message, rest);
  }
}

/** One restore step -> one Raft entry; answers once it has applied here. */
export async function restoreStep(node: Pick<BackupPort, 'proposeRestore' | 'log'>, req: any, actor: string): Promise<{ revision: number; action: string; restoredRevision: number }> {
  const restoreId = String(req.restoreId ?? '');
  const base = { restoreId, actor };
  let cmd: RestoreInput;
  switch (req.op) {
    case 'begin':
      cmd = { ...base, op: 'restoreBegin', force: req.force === true, source: parseJson(req.sourceJson, 'source_json') as never, counts: parseJson(req.countsJson, 'counts_json') as never };
      break;
    case 'chunk': {
      const items = ((req.itemsJson ?? []) as unknown[]).map((j, i) => parseJson(j, `items_json[${i}]`));
      const bytes = restoreItemsBytes(items);
      if (bytes > LIMITS.maxRestoreChunkBytes) throw ApiError.of('INVALID_ARGUMENT', `chunk holds ${bytes} bytes of items, more than maxRestoreChunkBytes ${LIMITS.maxRestoreChunkBytes}`);
      cmd = { ...base, op: 'restoreChunk', seq: Number(req.seq), kind: req.kind, items };
      break;
    }
    case 'commit': cmd = { ...base, op: 'restoreCommit' }; break;
    case 'abort': cmd = { ...base, op: 'restoreAbort' }; break;
    default: throw ApiError.of('INVALID_ARGUMENT', `op must be "begin", "chunk", "commit" or "abort", got "${String(req.op)}"`);
  }
  // Checked here too so a malformed request is refused before it becomes an entry.
  const problem = restoreCommandProblem({ ...cmd, v: 1, time: 0 });
  if (problem) throw ApiError.of('INVALID_ARGUMENT', problem);
  const o = await node.proposeRestore(cmd);
  if (!o.ok) throw restoreError(o.error);
  if (o.action === 'commit') node.log.info('restored from a backup', { restoreId, revision: o.revision, backupRevision: o.restoredRevision, actor });
  return { revision: o.revision, action: o.action, restoredRevision: o.restoredRevision ?? 0 };
}
