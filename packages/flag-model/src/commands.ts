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
import type { Command, SubCommand } from './types.js';

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

const ENVELOPE_FIELDS = ['v', 'actor', 'clientId', 'requestId', 'fingerprint', 'time', 'op'];
const OP_FIELDS: Record<string, string[]> = {
  putFlag: ['flag', 'expectedRevision'],
  deleteFlag: ['key', 'expectedRevision'],
  putSegment: ['segment', 'expectedRevision'],
  deleteSegment: ['name', 'expectedRevision'],
  batch: ['ops'],
};

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
  for (const f of ['clientId', 'requestId', 'fingerprint'] as const) {
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
  if (op !== 'batch') return subProblem(x, '');
  const ops = x.ops;
  if (!Array.isArray(ops)) return 'batch.ops must be an array';
  if (ops.length === 0) return 'batch.ops must not be empty';
  if (ops.length > LIMITS.maxBatchOps) return `batch.ops has ${ops.length} operations, more than maxBatchOps ${LIMITS.maxBatchOps}`;
  for (let i = 0; i < ops.length; i++) {
    const s = ops[i];
    if (!isPlainObject(s)) return `ops[${i}] must be an object`;
    if (typeof s.op !== 'string' || s.op === 'batch' || !hasOwn(OP_FIELDS, s.op)) return `ops[${i}]: unknown or nested op ${JSON.stringify(s.op) ?? 'undefined'}`;
    for (const k of Object.keys(s)) if (k !== 'op' && !OP_FIELDS[s.op].includes(k)) return `ops[${i}]: unknown field "${k}"`;
    const p = subProblem(s, `ops[${i}]: `);
    if (p) return p;
  }
  return undefined;
}

function subProblem(s: Record<string, unknown>, prefix: string): string | undefined {
  const er = s.expectedRevision;
  if (er !== undefined && (typeof er !== 'number' || !Number.isSafeInteger(er) || er < 0)) {
    return `${prefix}expectedRevision must be a non-negative integer (0 = must not exist)`;
  }
  switch (s.op as SubCommand['op']) {
    case 'putFlag':
      return isPlainObject(s.flag) ? undefined : `${prefix}putFlag needs a flag object`;
    case 'putSegment':
      return isPlainObject(s.segment) ? undefined : `${prefix}putSegment needs a segment object`;
    case 'deleteFlag':
      return typeof s.key === 'string' && s.key.length > 0 && s.key.length <= LIMITS.maxKeyChars
        ? undefined : `${prefix}deleteFlag needs a key`;
    case 'deleteSegment':
      return typeof s.name === 'string' && s.name.length > 0 && s.name.length <= LIMITS.maxKeyChars
        ? undefined : `${prefix}deleteSegment needs a name`;
  }
  return `${prefix}unknown op`;
}

/** Size of a command once encoded, for callers that want to check before proposing. */
export function encodedCommandBytes(cmd: Command): number {
  return utf8Length(JSON.stringify(cmd));
}
