// Command encoding v1: the UTF-8 bytes of the command as compact JSON, an
// object whose first-level field "v" is 1. JSON keeps Raft log entries and the
// audit trail readable with sqlite3 and jq; the version field lets a later
// encoding coexist (decoders reject versions they do not know, never guess).
//
// decodeCommand checks the envelope and the shape of every operation; the
// flag/segment bodies are validated by applyCommand, so every replica reaches
// the same VALIDATION verdict from the same bytes.
import { CommandDecodeError } from './errors.js';
import { LIMITS } from './limits.js';
import { hasOwn, isPlainObject, utf8Length } from './json-util.js';
import type { Command, SubCommand, TopLevelOp } from './types.js';

export const COMMAND_ENCODING_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a command (checked first: encoding an invalid command throws CommandDecodeError). */
export function encodeCommand(cmd: Command): Uint8Array {
  const problem = commandProblem(cmd);
  if (problem) throw new CommandDecodeError(`cannot encode command: ${problem}`);
  const bytes = encoder.encode(JSON.stringify(cmd));
  if (bytes.length > LIMITS.maxCommandBytes) {
    throw new CommandDecodeError(`command is ${bytes.length} bytes, more than maxCommandBytes ${LIMITS.maxCommandBytes}`);
  }
  return bytes;
}

/** Decodes bytes produced by encodeCommand; throws CommandDecodeError for anything else. */
export function decodeCommand(bytes: Uint8Array): Command {
  if (!(bytes instanceof Uint8Array)) throw new CommandDecodeError('command must be a Uint8Array');
  if (bytes.length > LIMITS.maxCommandBytes) {
    throw new CommandDecodeError(`command is ${bytes.length} bytes, more than maxCommandBytes ${LIMITS.maxCommandBytes}`);
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new CommandDecodeError('command is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CommandDecodeError(`command is not valid JSON: ${(e as Error).message}`);
  }
  const problem = commandProblem(parsed);
  if (problem) throw new CommandDecodeError(problem);
  return parsed as Command;
}

const ENVELOPE_FIELDS = ['v', 'actor', 'actorRole', 'clientId', 'requestId', 'fingerprint', 'time', 'op'];
const OP_FIELDS: Record<string, string[]> = {
  putFlag: ['flag', 'expectedRevision', 'env'],
  deleteFlag: ['key', 'expectedRevision', 'env'],
  putSegment: ['segment', 'expectedRevision'],
  deleteSegment: ['name', 'expectedRevision'],
  batch: ['ops'],
  putEnvironment: ['environment', 'expectedRevision', 'copyFrom'],
  deleteEnvironment: ['name', 'force', 'expectedRevision'],
  promote: ['from', 'to', 'keys'],
  changeRequest: ['action', 'id', 'env', 'title', 'description', 'ops', 'submit', 'comment'],
  schedule: ['action', 'id', 'env', 'title', 'steps', 'step'],
};
/** Ops a batch may hold. */
const BATCH_OPS = new Set(['putFlag', 'deleteFlag', 'putSegment', 'deleteSegment']);
/** Ops a change request or a schedule step may hold. */
export const CHANGE_REQUEST_OPS: ReadonlySet<string> = new Set([...BATCH_OPS, 'promote', 'putEnvironment']);

/** Why a value is not a well-formed v1 command, or undefined if it is. Never throws. */
export function commandProblem(x: unknown): string | undefined {
  try {
    return envelopeProblem(x);
  } catch {
    return 'command could not be read';
  }
}

function envelopeProblem(x: unknown): string | undefined {
  if (!isPlainObject(x)) return 'command must be a JSON object';
  if (x.v !== COMMAND_ENCODING_VERSION) return `unsupported command version ${JSON.stringify(x.v) ?? 'undefined'} (expected v: 1)`;
  if (typeof x.actor !== 'string' || x.actor.length === 0 || x.actor.length > LIMITS.maxActorChars) {
    return `actor must be a non-empty string of at most ${LIMITS.maxActorChars} characters`;
  }
  for (const f of ['clientId', 'requestId', 'fingerprint', 'actorRole'] as const) {
    if (hasOwn(x, f) && x[f] !== undefined && (typeof x[f] !== 'string' || (x[f] as string).length > LIMITS.maxRequestIdChars)) {
      return `${f} must be a string of at most ${LIMITS.maxRequestIdChars} characters`;
    }
  }
  if (typeof x.time !== 'number' || !Number.isSafeInteger(x.time) || x.time < 0) return 'time must be a non-negative integer (ms since the epoch)';
  const op = x.op;
  if (typeof op !== 'string' || !hasOwn(OP_FIELDS, op)) return `unknown op ${JSON.stringify(op) ?? 'undefined'}`;
  for (const k of Object.keys(x)) {
    if (!ENVELOPE_FIELDS.includes(k) && !OP_FIELDS[op].includes(k)) return `unknown field "${k}" in ${op} command`;
  }
  if (op === 'batch') return opsProblem(x.ops, 'batch.ops', BATCH_OPS, LIMITS.maxBatchOps, 'maxBatchOps');
  return subProblem(x, '');
}

/** Shape of an op list (a batch, a change request, a schedule step). */
function opsProblem(ops: unknown, what: string, allowed: ReadonlySet<string>, max: number, maxName: string): string | undefined {
  if (!Array.isArray(ops)) return `${what} must be an array`;
  if (ops.length === 0) return `${what} must not be empty`;
  if (ops.length > max) return `${what} has ${ops.length} operations, more than ${maxName} ${max}`;
  for (let i = 0; i < ops.length; i++) {
    const s = ops[i];
    if (!isPlainObject(s)) return `ops[${i}] must be an object`;
    if (typeof s.op !== 'string' || !allowed.has(s.op)) return `ops[${i}]: unknown or nested op ${JSON.stringify(s.op) ?? 'undefined'}`;
    for (const k of Object.keys(s)) if (k !== 'op' && !OP_FIELDS[s.op].includes(k)) return `ops[${i}]: unknown field "${k}"`;
    const p = subProblem(s, `ops[${i}]: `);
    if (p) return p;
  }
  return undefined;
}

const isName = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= LIMITS.maxKeyChars;
const optName = (s: Record<string, unknown>, f: string, prefix: string) =>
  (s[f] === undefined || isName(s[f]) ? undefined : `${prefix}${f} must be a name of 1 to ${LIMITS.maxKeyChars} characters`);
const optText = (s: Record<string, unknown>, f: string, prefix: string) =>
  (s[f] === undefined || (typeof s[f] === 'string' && (s[f] as string).length <= LIMITS.maxCommentChars)
    ? undefined : `${prefix}${f} must be a string of at most ${LIMITS.maxCommentChars} characters`);

const CR_ACTIONS = ['create', 'submit', 'approve', 'reject', 'withdraw', 'apply', 'comment', 'rebase'];
const SCHEDULE_ACTIONS = ['create', 'cancel', 'fire'];

function changeRequestProblem(s: Record<string, unknown>, prefix: string): string | undefined {
  const a = s.action;
  if (typeof a !== 'string' || !CR_ACTIONS.includes(a)) return `${prefix}changeRequest.action must be one of ${CR_ACTIONS.join(', ')}`;
  const p = optName(s, 'env', prefix) ?? optText(s, 'title', prefix) ?? optText(s, 'description', prefix) ?? optText(s, 'comment', prefix);
  if (p) return p;
  if (s.submit !== undefined && typeof s.submit !== 'boolean') return `${prefix}submit must be a boolean`;
  if (a === 'create') {
    if (typeof s.title !== 'string' || s.title.length === 0) return `${prefix}changeRequest create needs a title`;
    return opsProblem(s.ops, `${prefix}changeRequest.ops`, CHANGE_REQUEST_OPS, LIMITS.maxChangeRequestOps, 'maxChangeRequestOps');
  }
  if (!isName(s.id)) return `${prefix}changeRequest ${a} needs an id`;
  if (a === 'comment' && (typeof s.comment !== 'string' || s.comment.length === 0)) return `${prefix}changeRequest comment needs a comment`;
  if (a === 'rebase' && s.ops !== undefined) return opsProblem(s.ops, `${prefix}changeRequest.ops`, CHANGE_REQUEST_OPS, LIMITS.maxChangeRequestOps, 'maxChangeRequestOps');
  return undefined;
}

function scheduleProblem(s: Record<string, unknown>, prefix: string): string | undefined {
  const a = s.action;
  if (typeof a !== 'string' || !SCHEDULE_ACTIONS.includes(a)) return `${prefix}schedule.action must be one of ${SCHEDULE_ACTIONS.join(', ')}`;
  const p = optName(s, 'env', prefix) ?? optText(s, 'title', prefix);
  if (p) return p;
  if (a !== 'create') {
    if (!isName(s.id)) return `${prefix}schedule ${a} needs an id`;
    if (a === 'fire' && (typeof s.step !== 'number' || !Number.isSafeInteger(s.step) || s.step < 0)) return `${prefix}schedule fire needs a step index`;
    return undefined;
  }
  const steps = s.steps;
  if (!Array.isArray(steps) || steps.length === 0) return `${prefix}schedule.steps must be a non-empty array`;
  if (steps.length > LIMITS.maxScheduleSteps) return `${prefix}schedule.steps has ${steps.length} steps, more than maxScheduleSteps ${LIMITS.maxScheduleSteps}`;
  for (let i = 0; i < steps.length; i++) {
    const st = steps[i];
    const at = `${prefix}steps[${i}]`;
    if (!isPlainObject(st)) return `${at} must be an object`;
    for (const k of Object.keys(st)) if (!['at', 'ops', 'changeRequest'].includes(k)) return `${at}: unknown field "${k}"`;
    if (typeof st.at !== 'number' || !Number.isSafeInteger(st.at) || st.at < 0) return `${at}.at must be a time (ms since the epoch, UTC)`;
    if ((st.ops === undefined) === (st.changeRequest === undefined)) return `${at} needs either ops or changeRequest`;
    if (st.changeRequest !== undefined && !isName(st.changeRequest)) return `${at}.changeRequest must be a change request id`;
    if (st.ops !== undefined) {
      const q = opsProblem(st.ops, `${at}.ops`, CHANGE_REQUEST_OPS, LIMITS.maxChangeRequestOps, 'maxChangeRequestOps');
      if (q) return q;
    }
  }
  return undefined;
}

function subProblem(s: Record<string, unknown>, prefix: string): string | undefined {
  const er = s.expectedRevision;
  if (er !== undefined && (typeof er !== 'number' || !Number.isSafeInteger(er) || er < 0)) {
    return `${prefix}expectedRevision must be a non-negative integer (0 = must not exist)`;
  }
  switch (s.op as SubCommand['op'] | TopLevelOp['op']) {
    case 'putFlag':
      return isPlainObject(s.flag) ? optName(s, 'env', prefix) : `${prefix}putFlag needs a flag object`;
    case 'putSegment':
      return isPlainObject(s.segment) ? undefined : `${prefix}putSegment needs a segment object`;
    case 'deleteFlag':
      return isName(s.key) ? optName(s, 'env', prefix) : `${prefix}deleteFlag needs a key`;
    case 'deleteSegment':
      return typeof s.name === 'string' && s.name.length > 0 && s.name.length <= LIMITS.maxKeyChars
        ? undefined : `${prefix}deleteSegment needs a name`;
    case 'putEnvironment':
      return isPlainObject(s.environment) ? optName(s, 'copyFrom', prefix) : `${prefix}putEnvironment needs an environment object`;
    case 'deleteEnvironment':
      if (s.force !== undefined && typeof s.force !== 'boolean') return `${prefix}force must be a boolean`;
      return isName(s.name) ? undefined : `${prefix}deleteEnvironment needs a name`;
    case 'promote': {
      if (!isName(s.from) || !isName(s.to)) return `${prefix}promote needs from and to (environment names)`;
      const keys = s.keys;
      if (keys === undefined) return undefined;
      if (!Array.isArray(keys) || keys.length === 0 || keys.length > LIMITS.maxBatchOps || !keys.every(isName)) {
        return `${prefix}promote.keys must be 1 to ${LIMITS.maxBatchOps} flag keys (absent = every flag)`;
      }
      return undefined;
    }
    case 'changeRequest':
      return changeRequestProblem(s, prefix);
    case 'schedule':
      return scheduleProblem(s, prefix);
  }
  return `${prefix}unknown op`;
}

/** Size of a command once encoded, for callers that want to check before proposing. */
export function encodedCommandBytes(cmd: Command): number {
  return utf8Length(JSON.stringify(cmd));
}
