// What the simulated clients observed, as a @flagraft/history-check history:
// every write (put, compare-and-set, delete, batch) and read (linearizable or
// stale) with its call and return on one logical clock (a counter bumped at
// each call and return, so the real-time order inside one simulator step is
// exact), plus the sim time for reports. Writes answer with the revision
// (log index) that committed them, or the refusal the state machine gave;
// reads with the item's modRevision. Ops that time out, or whose node
// crashed, stay pending (the checker may or may not let them take effect).
import { checkHistory, type Failure, type Op, type Write, type WriteOp } from '@flagraft/history-check';
import type { NodeId } from '../../src/index.js';
import { writesOf, type KvCommand, type KvItem, type KvResult } from './kv.js';

export class ClientHistory {
  private ops: Op[] = [];
  /** Ops whose failure is certain (their log slot holds another entry): the client got an error, so they are not in the history. */
  private failed = new Set<number>();
  private clock = 0;

  invokeWrite(cmd: KvCommand, time: number, node: NodeId): WriteOp {
    const base = { id: this.ops.length + 1, call: ++this.clock, ret: Infinity, callTime: time, node };
    const writes: Write[] = writesOf(cmd).map((w) => (w.d ? { type: 'delete', key: w.k, expectedRevision: w.e } : { type: 'put', key: w.k, value: w.v!, expectedRevision: w.e }));
    let op: WriteOp;
    if ('b' in cmd) op = { ...base, kind: 'batch', writes };
    else {
      const w = writes[0];
      op = w.type === 'put' ? { ...base, kind: 'put', key: w.key, value: w.value, expectedRevision: w.expectedRevision } : { ...base, kind: 'delete', key: w.key, expectedRevision: w.expectedRevision };
    }
    this.ops.push(op);
    return op;
  }

  invokeRead(key: string, stale: boolean, time: number, node: NodeId): Op {
    const op: Op = { id: this.ops.length + 1, kind: 'read', key, stale: stale || undefined, call: ++this.clock, ret: Infinity, callTime: time, node };
    this.ops.push(op);
    return op;
  }

  /** The write's answer: committed at a revision, or refused by the state machine. */
  completeWrite(op: Op, time: number, r: KvResult | { ok: true; revision: number }): void {
    if (op.ret !== Infinity || op.kind === 'read') return;
    op.result = r.ok ? { ok: true, revision: r.revision } : { ok: false, error: r.error, key: r.key, currentRevision: r.currentRevision };
    op.ret = ++this.clock;
    op.retTime = time;
  }

  /** The read's answer: the item (undefined = absent). */
  completeRead(op: Op, time: number, item: KvItem | undefined): void {
    if (op.ret !== Infinity || op.kind !== 'read') return;
    op.result = { value: item?.v, modRevision: item?.rev };
    op.ret = ++this.clock;
    op.retTime = time;
  }

  /** The op definitely did not take effect and the client was told so. */
  fail(op: Op): void {
    if (op.ret === Infinity) this.failed.add(op.id);
  }

  get size(): number {
    return this.ops.length - this.failed.size;
  }

  get pending(): number {
    return this.ops.filter((o) => o.ret === Infinity && !this.failed.has(o.id)).length;
  }

  /** minimalWindows: shrink each failure to a minimal failing window (history-check's default; costly on long histories). */
  check(minimalWindows = true): { failures: Failure[]; descriptions: string[]; maxPartitionSteps: number } {
    const r = checkHistory(this.ops.filter((o) => !this.failed.has(o.id)), { minimalWindows });
    return { failures: r.failures, descriptions: r.failures.map((f) => f.message), maxPartitionSteps: r.stats.maxPartitionSteps };
  }
}
