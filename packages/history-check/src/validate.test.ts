// A history that cannot be checked is refused with an error naming the field, never checked wrongly.
import { describe, expect, it } from 'vitest';
import { HistoryError, checkHistory, type Op } from './index.js';
import { put, read } from './test-ops.js';

const refused = (ops: unknown[]): HistoryError => {
  try {
    checkHistory(ops as Op[]);
  } catch (e) {
    if (e instanceof HistoryError) return e;
    throw e;
  }
  throw new Error('accepted');
};

describe('malformed histories', () => {
  it('names the field that is wrong', () => {
    const a = put('a', 0, 1);
    expect(refused([a, { ...a }]).field).toBe('ops[1].id');
    expect(refused([{ ...a, ret: 5, result: undefined }]).field).toBe('ops[0].result');
    expect(refused([{ ...a, ret: Infinity }]).field).toBe('ops[0].result');
    expect(refused([{ ...a, ret: -1 }]).field).toBe('ops[0].ret');
    expect(refused([{ ...a, call: Number.NaN }]).field).toBe('ops[0].call');
    expect(refused([{ ...a, expectedRevision: -2 }]).field).toBe('ops[0].expectedRevision');
    expect(refused([{ ...a, result: { ok: true, revision: 0 } }]).field).toBe('ops[0].result.revision');
    expect(refused([{ ...a, kind: 'upsert' }]).field).toBe('ops[0].kind');
    expect(refused([{ id: 1, kind: 'batch', writes: [], call: 0, ret: 1, result: { ok: true } }]).field).toBe('ops[0].writes');
    expect(refused([{ id: 1, kind: 'batch', writes: [{ type: 'put', key: 'x' }], call: 0, ret: 1, result: { ok: true } }]).field).toBe('ops[0].writes[0].value');
    expect(refused([{ ...read('a', 0, 1), key: 7 }]).field).toBe('ops[0].key');
  });

  it('values must be unique per key (a read names the write it saw by its value)', () => {
    const e = refused([put('a', 0, 1), put('a', 2, 3)]);
    expect(e.message).toMatch(/writes value "a" to key "x" again \(op \d+ did\): values must be unique per key/);
    // The same value on another key is fine.
    expect(checkHistory([put('a', 0, 1), put('a', 2, 3, { key: 'y' })]).ok).toBe(true);
  });
});
