// Short constructors for hand-written histories in the tests (not exported from the package).
import type { BatchOp, DeleteOp, PutOp, ReadOp, Write, WriteResult } from './types.js';

let nextId = 1;

export interface Extra {
  key?: string;
  /** Revision the write committed at (its result). */
  rev?: number;
  expect?: number;
  client?: string;
}

/** put(v) called at c, returning at r (Infinity: pending) with success. */
export function put(v: string, c: number, r: number, x: Extra = {}): PutOp {
  return { id: nextId++, kind: 'put', key: x.key ?? 'x', value: v, expectedRevision: x.expect, call: c, ret: r, result: r === Infinity ? undefined : { ok: true, revision: x.rev }, client: x.client };
}

/** A put refused with `result`. */
export function putFailed(v: string, c: number, r: number, result: WriteResult, x: Extra = {}): PutOp {
  return { ...put(v, c, r, x), result };
}

export function del(c: number, r: number, x: Extra = {}): DeleteOp {
  return { id: nextId++, kind: 'delete', key: x.key ?? 'x', expectedRevision: x.expect, call: c, ret: r, result: r === Infinity ? undefined : { ok: true, revision: x.rev }, client: x.client };
}

export function delFailed(c: number, r: number, result: WriteResult, x: Extra = {}): DeleteOp {
  return { ...del(c, r, x), result };
}

export function batch(writes: Write[], c: number, r: number, result?: WriteResult): BatchOp {
  return { id: nextId++, kind: 'batch', writes, call: c, ret: r, result: r === Infinity ? undefined : (result ?? { ok: true }) };
}

/** A read observing v (undefined = absent), optionally with the modRevision it reported. */
export function read(v: string | undefined, c: number, r: number, x: Extra & { stale?: boolean } = {}): ReadOp {
  return { id: nextId++, kind: 'read', key: x.key ?? 'x', stale: x.stale, call: c, ret: r, result: r === Infinity ? undefined : { value: v, modRevision: x.rev }, client: x.client };
}
