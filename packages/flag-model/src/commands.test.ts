import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeCommand, encodeCommand } from './commands.js';
import { CommandDecodeError } from './errors.js';
import { LIMITS } from './limits.js';
import { boolFlag, cmd, segment } from './test-fixtures.js';
import type { Command } from './types.js';

const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));

describe('command encoding v1', () => {
  it('round-trips every op as JSON with v: 1', () => {
    const cmds: Command[] = [
      cmd({ op: 'putFlag', flag: boolFlag(), expectedRevision: 0 }),
      cmd({ op: 'deleteFlag', key: 'new-checkout', expectedRevision: 12 }),
      cmd({ op: 'putSegment', segment: segment() }),
      cmd({ op: 'deleteSegment', name: 'beta' }),
      cmd({ op: 'batch', ops: [{ op: 'putSegment', segment: segment() }, { op: 'putFlag', flag: boolFlag() }] }),
    ];
    for (const c of cmds) {
      const bytes = encodeCommand(c);
      expect(JSON.parse(new TextDecoder().decode(bytes)).v).toBe(1);
      expect(decodeCommand(bytes)).toEqual(c);
    }
  });

  it.each([
    ['not json', new TextEncoder().encode('{'), /not valid JSON/],
    ['bad utf-8', new Uint8Array([0x7b, 0xff, 0x7d]), /not valid UTF-8/],
    ['array', enc([]), /must be a JSON object/],
    ['version 2', enc({ ...cmd({ op: 'deleteFlag', key: 'a' }), v: 2 }), /unsupported command version 2/],
    ['no actor', enc({ v: 1, time: 1, op: 'deleteFlag', key: 'a' }), /actor/],
    ['bad time', enc({ ...cmd({ op: 'deleteFlag', key: 'a' }), time: -1 }), /time/],
    ['unknown op', enc(cmd({ op: 'setFlag', key: 'a' })), /unknown op "setFlag"/],
    ['unknown field', enc(cmd({ op: 'deleteFlag', key: 'a', flag: {} })), /unknown field "flag"/],
    ['bad expectedRevision', enc(cmd({ op: 'deleteFlag', key: 'a', expectedRevision: -2 })), /expectedRevision/],
    ['putFlag without flag', enc(cmd({ op: 'putFlag' })), /needs a flag/],
    ['empty batch', enc(cmd({ op: 'batch', ops: [] })), /must not be empty/],
    ['nested batch', enc(cmd({ op: 'batch', ops: [{ op: 'batch', ops: [] }] })), /ops\[0\]: unknown or nested op "batch"/],
    ['too many ops', enc(cmd({ op: 'batch', ops: Array(LIMITS.maxBatchOps + 1).fill({ op: 'deleteFlag', key: 'a' }) })), /more than maxBatchOps 100/],
  ])('rejects %s', (_name, bytes, msg) => {
    expect(() => decodeCommand(bytes)).toThrow(CommandDecodeError);
    expect(() => decodeCommand(bytes)).toThrow(msg);
  });

  it('rejects oversized commands before parsing', () => {
    expect(() => decodeCommand(new Uint8Array(LIMITS.maxCommandBytes + 1))).toThrow(/more than maxCommandBytes/);
  });

  it('refuses to encode an invalid command', () => {
    expect(() => encodeCommand({ v: 1, actor: '', time: 0, op: 'deleteFlag', key: 'a' })).toThrow(CommandDecodeError);
  });

  it('property: decoding arbitrary bytes or JSON only ever throws CommandDecodeError', () => {
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.anything().map((x) => enc(x ?? null))), (bytes) => {
      try { decodeCommand(bytes); } catch (e) { if (!(e instanceof CommandDecodeError)) throw e; }
    }), { numRuns: 1000, seed: 3 });
  });
});
