// What the simulated clients observed: every put and get with its call and
// return on one logical clock (a counter bumped at each call and return, so
// the real-time order inside one simulator step is exact), plus the sim time
// for reports. Ops that time out, or whose node crashed, stay pending
// (ret = Infinity): the checker may or may not let them take effect.
import type { NodeId } from '../../src/index.js';
import { checkHistory, describeFailure, type HistoryFailure, type Op } from './linearizability.js';

export class ClientHistory {
  private ops: Op[] = [];
  /** Ops whose failure is certain (their log slot holds another entry): the client got an error, so they are not in the history. */
  private failed = new Set<number>();
  private clock = 0;

  invoke(kind: 'put' | 'get', key: string, value: string | undefined, time: number, node: NodeId): Op {
    const op: Op = { id: this.ops.length + 1, key, kind, value, call: ++this.clock, ret: Infinity, callTime: time, node };
    this.ops.push(op);
    return op;
  }

  /** The client got its answer (for a get: the value it read). */
  complete(op: Op, time: number, value?: string): void {
    if (op.ret !== Infinity) return;
    if (op.kind === 'get') op.value = value;
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

  check(): { failures: HistoryFailure[]; descriptions: string[]; maxKeySteps: number } {
    const { failures, maxKeySteps } = checkHistory(this.ops.filter((o) => !this.failed.has(o.id)));
    return { failures, descriptions: failures.map(describeFailure), maxKeySteps };
  }
}
