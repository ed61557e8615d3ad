// The replicated state machine's transition function: a pure function of
// (state view, command, revision) -> changes or a typed error. It reads the
// view and never writes it; the consensus node writes the returned changes
// in the same SQLite transaction that advances the applied index, and tests
// run it against an in-memory view. Deterministic: no clock, no randomness
// (time comes from the command).
//
// Approval policies are enforced HERE, on the changes a command would make
// (protection.ts): whatever path a write took (REST, legacy endpoints, batch,
// CLI, dashboard, a raw gRPC call to a node), a direct write into a protected
// environment is refused on every replica alike. Only a change request's apply
// (change-requests.ts) lifts the protection of its own environment.
import { commandProblem } from './commands.js';
import { applyChangeRequestCommand } from './change-requests.js';
import { applyScheduleCommand } from './schedules.js';
import { Overlay } from './overlay.js';
import { applyOp, fail, type Ctx } from './apply-ops.js';
import { protectionError } from './protection.js';
import type { ApplyResult, Change, Command, StateView, SubCommand } from './types.js';

export { MemoryStateView } from './overlay.js';

/**
 * Applies a command at `revision` (the Raft index of its entry). A batch is
 * atomic: its ops see each other's effects in order, and if any fails the
 * result is that error and no change at all.
 */
export function applyCommand(view: StateView, cmd: Command, revision: number): ApplyResult {
  if (!Number.isSafeInteger(revision) || revision <= 0) {
    return fail({ code: 'BAD_COMMAND', message: `revision must be a positive integer (got ${String(revision)})` });
  }
  const problem = commandProblem(cmd);
  if (problem) return fail({ code: 'BAD_COMMAND', message: problem });
  const ctx: Ctx = { actor: cmd.actor, actorRole: cmd.actorRole, time: cmd.time, revision };
  const overlay = new Overlay(view);
  if (cmd.op === 'changeRequest') return applyChangeRequestCommand(overlay, cmd, ctx);
  if (cmd.op === 'schedule') return applyScheduleCommand(overlay, cmd, ctx);
  if (cmd.op === 'batch') {
    const seen = new Set<string>();
    for (let i = 0; i < cmd.ops.length; i++) {
      const id = targetId(cmd.ops[i]);
      if (seen.has(id)) {
        return fail({ code: 'BAD_COMMAND', message: `ops[${i}]: ${id} appears more than once in the batch`, opIndex: i });
      }
      seen.add(id);
    }
  }
  // One op reads the state as it is; a batch's ops read each other's effects through the overlay.
  const r = cmd.op === 'batch' ? applyOps(overlay, cmd.ops, ctx, true) : single(view, cmd, ctx);
  if (!r.ok) return r;
  const refused = protectionError(view, r.changes, ctx);
  return refused ? fail(refused) : r;
}

/**
 * Applies ops in order on `overlay` (which records them). `indexed`: errors
 * name the failing op (`ops[i]: ...`), as a batch's do.
 */
export function applyOps(overlay: Overlay, ops: readonly Parameters<typeof applyOp>[1][], ctx: Ctx, indexed: boolean): ApplyResult {
  const changes: Change[] = [];
  for (let i = 0; i < ops.length; i++) {
    const r = applyOp(overlay, ops[i], ctx);
    if (!Array.isArray(r)) {
      if (!indexed) return fail(r);
      const body = opBody(ops[i]);
      const issues = r.issues?.map((x) => ({ path: prefixPath(`ops[${i}].${body}`, x.path), message: x.message }));
      return fail({ ...r, message: `ops[${i}]: ${r.message}`, opIndex: i, ...(issues ? { issues } : {}) });
    }
    for (const c of r) {
      overlay.record(c);
      changes.push(c);
    }
  }
  return { ok: true, changes };
}

function single(view: StateView, op: Parameters<typeof applyOp>[1], ctx: Ctx): ApplyResult {
  const r = applyOp(view, op, ctx);
  return Array.isArray(r) ? { ok: true, changes: r } : fail(r);
}

function targetId(op: SubCommand): string {
  switch (op.op) {
    case 'putFlag': return `flag "${String((op.flag as { key?: unknown }).key)}"`;
    case 'deleteFlag': return `flag "${op.key}"`;
    case 'putSegment': return `segment "${String((op.segment as { name?: unknown }).name)}"`;
    case 'deleteSegment': return `segment "${op.name}"`;
  }
}

function opBody(op: { op: string }): string {
  return op.op === 'putFlag' ? 'flag' : op.op === 'putSegment' ? 'segment' : op.op === 'putEnvironment' ? 'environment' : '';
}

function prefixPath(prefix: string, path: string): string {
  const p = prefix.endsWith('.') ? prefix.slice(0, -1) : prefix;
  if (!path) return p;
  return path.startsWith('[') ? p + path : `${p}.${path}`;
}
