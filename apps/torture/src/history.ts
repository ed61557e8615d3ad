// The recorded history: every operation gets its call time when invoked and
// its return time and outcome when it completes, on one logical clock (the
// checker's), with wall times for reports. An operation whose outcome is not
// known (timeout, lost connection, 5xx) stays pending: ret = Infinity, no
// result. One that was certainly refused before reaching the state machine
// (validation, auth) is left out and counted: it neither changed nor saw anything.
import type { Op, ReadResult, Write, WriteResult } from '@flagraft/history-check';

export type Outcome =
  | { type: 'ok'; result: WriteResult | ReadResult }
  // why: counted per distinct value in the report; detail: the full error, for a single op's diagnosis (the fence).
  | { type: 'pending'; why: string; detail?: string }
  | { type: 'excluded'; why: string };

type OpBody =
  | { kind: 'put'; key: string; value: string; expectedRevision?: number }
  | { kind: 'delete'; key: string; expectedRevision?: number }
  | { kind: 'batch'; writes: Write[] }
  | { kind: 'read'; key: string; stale?: boolean };

export class History {
  private clock = 0;
  private nextId = 1;
  readonly ops: Op[] = [];
  readonly excluded = new Map<string, number>();
  readonly pendingWhy = new Map<string, number>();
  readonly t0 = Date.now();

  /** Runs `fn` as one operation of `client`, recording call, return and outcome. */
  async record(client: string, via: string, body: OpBody, fn: () => Promise<Outcome>): Promise<Outcome> {
    const id = this.nextId++;
    const call = ++this.clock;
    const callTime = Date.now() - this.t0;
    const out = await fn().catch((e: Error): Outcome => ({ type: 'pending', why: `threw: ${e.message}` }));
    if (out.type === 'excluded') {
      this.excluded.set(out.why, (this.excluded.get(out.why) ?? 0) + 1);
      return out;
    }
    const base = { id, call, client, node: via, callTime, ...defined(body) };
    if (out.type === 'pending') {
      const why = out.why.slice(0, 80);
      this.pendingWhy.set(why, (this.pendingWhy.get(why) ?? 0) + 1);
      this.ops.push({ ...base, ret: Infinity } as Op);
    } else {
      this.ops.push({ ...base, ret: ++this.clock, retTime: Date.now() - this.t0, result: out.result } as Op);
    }
    return out;
  }

  /** The logical clock now (stream deliveries are stamped with it). */
  now(): number {
    return this.clock;
  }

  completed(): number {
    return this.ops.filter((o) => o.ret !== Infinity).length;
  }
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** A value no other write of the run uses (the checker names writes by their values). */
export function uniqueValue(client: string, seq: number): string {
  return `${client}-${seq}`;
}
