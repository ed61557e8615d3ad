// The entry point: check a whole history, explain each failure with a
// minimal window of ops, one line a human can read.
import type { CheckOptions, CheckResult, Failure, Op, Write } from './types.js';
import { verify } from './verify.js';
import { minimalWindow } from './window.js';

/** Failures whose ops are listed in full in a message; beyond it "... N more". */
const MAX_OPS_IN_MESSAGE = 40;

/**
 * Is this history linearizable (with writes in revision order), and do its
 * stale reads keep the weaker promise? Never passes what it could not decide:
 * a partition that exhausts the step bound is an 'undecided' failure.
 * Throws HistoryError if the history itself is malformed.
 */
export function checkHistory(ops: readonly Op[], opts: CheckOptions = {}): CheckResult {
  const v = verify(ops, opts);
  for (const f of v.failures) {
    const part = v.partitionOps.get(f);
    if (part && f.kind === 'not-linearizable') {
      if (opts.minimalWindows === false) f.window = part;
      else {
        const w = minimalWindow(part, opts);
        f.window = w.ops;
        f.windowStart = w.start;
      }
      f.message = `${keysText(f.keys)} ${f.keys.length > 1 ? 'are' : 'is'} not linearizable (${part.length} ops; ${opts.minimalWindows === false ? 'not shrunk to a minimal window' : `minimal failing window of ${f.window.length}`}${
        f.stuckAt ? `, cannot linearize ${describeOp(f.stuckAt)}` : ''
      }${startText(f)}): ${listOps(f.window)}`;
    } else if (part) {
      f.window = [];
      f.message = `${keysText(f.keys)}: search bound exceeded on ${part.length} ops (undecided)`;
    } else {
      f.message = `${f.message}: ${listOps(f.window)}`;
    }
  }
  return { ok: v.failures.length === 0, failures: v.failures, stats: v.stats };
}

/** The state the window starts from, for the failure's keys (when that is not the history's start). */
function startText(f: Failure): string {
  if (!f.windowStart || f.window.length === 0) return '';
  const keys = new Set(f.window.flatMap((o) => (o.kind === 'batch' ? o.writes.map((w) => w.key) : [o.key])));
  const parts = [...keys].sort().map((k) => {
    const it = f.windowStart!.get(k);
    return it ? `${k}=${it.value}@${it.modRevision}` : `${k} absent`;
  });
  return `; from ${parts.join(', ')}`;
}

function keysText(keys: string[]): string {
  return keys.length === 1 ? `key ${keys[0]}` : `keys ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ` and ${keys.length - 8} more` : ''}`;
}

function listOps(ops: Op[]): string {
  const lines = ops.slice(0, MAX_OPS_IN_MESSAGE).map(describeOp);
  if (ops.length > MAX_OPS_IN_MESSAGE) lines.push(`... ${ops.length - MAX_OPS_IN_MESSAGE} more`);
  return lines.join('; ');
}

function describeWrite(w: Write): string {
  const e = w.expectedRevision === undefined ? '' : w.expectedRevision === 0 ? ' if absent' : ` if @${w.expectedRevision}`;
  return w.type === 'put' ? `put(${w.key}=${w.value}${e})` : `delete(${w.key}${e})`;
}

/** One op on one line: what it did, what it got, when, where. */
export function describeOp(o: Op): string {
  const at = (t: number | undefined, logical: number): string => (logical === Infinity ? 'pending' : t !== undefined ? `t=${t}` : `#${logical}`);
  let what: string;
  if (o.kind === 'read') {
    const r = o.result;
    const got = !r ? '?' : r.value === undefined ? 'absent' : `${r.value}${r.modRevision !== undefined ? `@${r.modRevision}` : ''}`;
    what = `${o.stale ? 'stale-read' : 'read'}(${o.key}) -> ${got}`;
  } else {
    const body = o.kind === 'batch' ? `batch[${o.writes.map(describeWrite).join(', ')}]` : describeWrite({ ...o, type: o.kind } as Write);
    const r = o.result;
    const got = !r ? '' : r.ok ? ` -> ok${r.revision !== undefined ? `@${r.revision}` : ''}` : ` -> ${r.error}${r.key !== undefined && o.kind === 'batch' ? ` on ${r.key}` : ''}${'currentRevision' in r && r.currentRevision !== undefined ? ` (current ${r.currentRevision})` : ''}`;
    what = body + got;
  }
  return `op ${o.id} ${what} [${at(o.callTime, o.call)} .. ${at(o.retTime, o.ret)}]${o.node !== undefined ? ` node ${o.node}` : ''}${o.client !== undefined ? ` client ${o.client}` : ''}`;
}

/** The failure's one-line message (the same as failure.message). */
export function describeFailure(f: Failure): string {
  return f.message;
}
