// The replicated state machine's transition function: a pure function of
// (state view, command, revision) -> changes or a typed error. It reads the
// view and never writes it; the consensus node writes the returned changes
// in the same SQLite transaction that advances the applied index, and tests
// run it against an in-memory view. Deterministic: no clock, no randomness
// (time comes from the command).
import { ValidationError } from './errors.js';
import { commandProblem } from './commands.js';
import { referencedSegments, validateFlag, validateSegment } from './validate.js';
import type {
  ApplyResult, Change, Command, CommandError, FlagDefinition, SegmentDefinition, StateView, StoredFlag,
  StoredSegment, SubCommand,
} from './types.js';

type Env = { actor: string; time: number; revision: number };

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
  const env: Env = { actor: cmd.actor, time: cmd.time, revision };
  if (cmd.op !== 'batch') {
    const r = applyOne(view, cmd, env);
    return 'code' in r ? fail(r) : { ok: true, changes: [r] };
  }
  const seen = new Set<string>();
  for (let i = 0; i < cmd.ops.length; i++) {
    const id = targetId(cmd.ops[i]);
    if (seen.has(id)) {
      return fail({ code: 'BAD_COMMAND', message: `ops[${i}]: ${id} appears more than once in the batch`, opIndex: i });
    }
    seen.add(id);
  }
  const overlay = new OverlayView(view);
  const changes: Change[] = [];
  for (let i = 0; i < cmd.ops.length; i++) {
    const r = applyOne(overlay, cmd.ops[i], env);
    if ('code' in r) {
      const issues = r.issues?.map((x) => ({ path: prefixPath(`ops[${i}].${opBody(cmd.ops[i])}`, x.path), message: x.message }));
      return fail({ ...r, message: `ops[${i}]: ${r.message}`, opIndex: i, ...(issues ? { issues } : {}) });
    }
    overlay.record(r);
    changes.push(r);
  }
  return { ok: true, changes };
}

function fail(error: CommandError): ApplyResult {
  return { ok: false, error };
}

function targetId(op: SubCommand): string {
  switch (op.op) {
    case 'putFlag': return `flag "${String((op.flag as { key?: unknown }).key)}"`;
    case 'deleteFlag': return `flag "${op.key}"`;
    case 'putSegment': return `segment "${String((op.segment as { name?: unknown }).name)}"`;
    case 'deleteSegment': return `segment "${op.name}"`;
  }
}

function opBody(op: SubCommand): string {
  return op.op === 'putFlag' ? 'flag' : op.op === 'putSegment' ? 'segment' : '';
}

function prefixPath(prefix: string, path: string): string {
  const p = prefix.endsWith('.') ? prefix.slice(0, -1) : prefix;
  if (!path) return p;
  return path.startsWith('[') ? p + path : `${p}.${path}`;
}

function checkRevision(kind: string, key: string, expected: number | undefined, current: number): CommandError | undefined {
  if (expected === undefined || expected === current) return undefined;
  const message = expected === 0
    ? `${kind} "${key}" already exists (revision ${current}); expected it not to exist`
    : current === 0
      ? `${kind} "${key}" does not exist; expected revision ${expected}`
      : `${kind} "${key}" is at revision ${current}; expected revision ${expected}`;
  return { code: 'REVISION_MISMATCH', message, key, currentRevision: current, expectedRevision: expected };
}

function validationError(kind: string, e: unknown, key: string | undefined): CommandError {
  const issues = e instanceof ValidationError ? e.issues : [{ path: '', message: String(e) }];
  const err: CommandError = { code: 'VALIDATION', message: `invalid ${kind}: ${e instanceof Error ? e.message : String(e)}`, issues };
  if (key !== undefined) err.key = key;
  return err;
}

/** Revision bookkeeping of a put: createRevision survives updates, version counts them. */
function nextRecord(before: StoredFlag | StoredSegment | null, env: Env): Omit<StoredFlag, 'flag'> {
  return {
    createRevision: before?.createRevision ?? env.revision, modRevision: env.revision,
    version: (before?.version ?? 0) + 1, updatedAt: env.time, updatedBy: env.actor,
  };
}

function applyOne(view: StateView, op: SubCommand, env: Env): Change | CommandError {
  switch (op.op) {
    case 'putFlag': {
      let flag: FlagDefinition;
      try {
        flag = validateFlag(op.flag);
      } catch (e) {
        const k = (op.flag as { key?: unknown }).key;
        return validationError('flag', e, typeof k === 'string' ? k : undefined);
      }
      const before = view.getFlag(flag.key) ?? null;
      const mismatch = checkRevision('flag', flag.key, op.expectedRevision, before?.modRevision ?? 0);
      if (mismatch) return mismatch;
      const missing = referencedSegments(flag).filter((s) => view.getSegment(s) === undefined);
      if (missing.length > 0) {
        return {
          code: 'SEGMENT_MISSING', key: flag.key,
          message: `flag "${flag.key}" references segment${missing.length > 1 ? 's' : ''} that do${missing.length > 1 ? '' : 'es'} not exist: ${missing.join(', ')}`,
        };
      }
      const after: StoredFlag = { flag, ...nextRecord(before, env) };
      return { kind: 'flag', key: flag.key, op: 'put', before, after, actor: env.actor, time: env.time, revision: env.revision };
    }
    case 'deleteFlag': {
      const before = view.getFlag(op.key);
      if (!before) return { code: 'NOT_FOUND', key: op.key, message: `flag "${op.key}" does not exist`, currentRevision: 0 };
      const mismatch = checkRevision('flag', op.key, op.expectedRevision, before.modRevision);
      if (mismatch) return mismatch;
      return { kind: 'flag', key: op.key, op: 'delete', before, after: null, actor: env.actor, time: env.time, revision: env.revision };
    }
    case 'putSegment': {
      let segment: SegmentDefinition;
      try {
        segment = validateSegment(op.segment);
      } catch (e) {
        const n = (op.segment as { name?: unknown }).name;
        return validationError('segment', e, typeof n === 'string' ? n : undefined);
      }
      const before = view.getSegment(segment.name) ?? null;
      const mismatch = checkRevision('segment', segment.name, op.expectedRevision, before?.modRevision ?? 0);
      if (mismatch) return mismatch;
      const after: StoredSegment = { segment, ...nextRecord(before, env) };
      return { kind: 'segment', key: segment.name, op: 'put', before, after, actor: env.actor, time: env.time, revision: env.revision };
    }
    case 'deleteSegment': {
      const before = view.getSegment(op.name);
      if (!before) return { code: 'NOT_FOUND', key: op.name, message: `segment "${op.name}" does not exist`, currentRevision: 0 };
      const mismatch = checkRevision('segment', op.name, op.expectedRevision, before.modRevision);
      if (mismatch) return mismatch;
      const users = view.segmentUsers(op.name);
      if (users.length > 0) {
        const shown = users.slice(0, 10).join(', ') + (users.length > 10 ? ` and ${users.length - 10} more` : '');
        return { code: 'SEGMENT_IN_USE', key: op.name, usedBy: users, message: `segment "${op.name}" is referenced by flag${users.length > 1 ? 's' : ''} ${shown}` };
      }
      return { kind: 'segment', key: op.name, op: 'delete', before, after: null, actor: env.actor, time: env.time, revision: env.revision };
    }
  }
}

/** The base view plus the changes made so far in a batch. */
class OverlayView implements StateView {
  private readonly flags = new Map<string, StoredFlag | null>();
  private readonly segments = new Map<string, StoredSegment | null>();
  constructor(private readonly base: StateView) {}

  record(c: Change): void {
    if (c.kind === 'flag') this.flags.set(c.key, c.after as StoredFlag | null);
    else this.segments.set(c.key, c.after as StoredSegment | null);
  }
  getFlag(key: string): StoredFlag | undefined {
    return this.flags.has(key) ? this.flags.get(key) ?? undefined : this.base.getFlag(key);
  }
  getSegment(name: string): StoredSegment | undefined {
    return this.segments.has(name) ? this.segments.get(name) ?? undefined : this.base.getSegment(name);
  }
  segmentUsers(name: string): string[] {
    const users = new Set(this.base.segmentUsers(name).filter((k) => !this.flags.has(k)));
    for (const [k, f] of this.flags) if (f && referencedSegments(f.flag).includes(name)) users.add(k);
    return [...users].sort();
  }
}

/** A simple in-memory StateView (tests, simulations, tools). */
export class MemoryStateView implements StateView {
  readonly flags = new Map<string, StoredFlag>();
  readonly segments = new Map<string, StoredSegment>();
  getFlag(key: string): StoredFlag | undefined {
    return this.flags.get(key);
  }
  getSegment(name: string): StoredSegment | undefined {
    return this.segments.get(name);
  }
  segmentUsers(name: string): string[] {
    const out: string[] = [];
    for (const [k, f] of this.flags) if (referencedSegments(f.flag).includes(name)) out.push(k);
    return out.sort();
  }
  /** Writes the changes of a successful apply. */
  commit(changes: Change[]): void {
    for (const c of changes) {
      if (c.kind === 'flag') {
        if (c.after) this.flags.set(c.key, c.after as StoredFlag);
        else this.flags.delete(c.key);
      } else if (c.after) this.segments.set(c.key, c.after as StoredSegment);
      else this.segments.delete(c.key);
    }
  }
}
