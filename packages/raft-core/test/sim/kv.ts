// The tiny key-value state machine the simulator's clients use, with the
// write semantics of flagraft's API (packages/flag-model apply.ts): a put
// may carry an expected revision (compare-and-set; 0 = must not exist), a
// delete of a missing key is refused as not-found, a batch applies its
// writes in order, all at one revision (the entry's log index), or none.
// Commands are JSON: put {k, v, e?}, delete {k, d: 1, e?}, batch {b: [...]},
// each with the client's request id `r` (as every flagraft write carries one),
// so a proposer recognises its own entry even when two commands read alike.
// The snapshot is the JSON of the whole map.
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface KvWrite {
  k: string;
  /** Put this value (absent: a delete). */
  v?: string;
  /** Delete (d: 1). */
  d?: 1;
  /** Expected modRevision; 0 = must not exist. */
  e?: number;
}

export type KvCommand = (KvWrite | { b: KvWrite[] }) & { r?: number };

/** The outcome of applying a command; `changes` for the committed history (value undefined = deleted). */
export type KvResult =
  | { ok: true; revision: number; changes: [string, string | undefined][] }
  | { ok: false; error: 'revision-mismatch' | 'not-found'; key: string; currentRevision: number };

export interface KvItem {
  v: string;
  /** Log index of the entry that last wrote the key. */
  rev: number;
}

export function encodeKv(c: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

export function decodeKv(data: Uint8Array): KvCommand {
  return JSON.parse(dec.decode(data)) as KvCommand;
}

export function writesOf(c: KvCommand): KvWrite[] {
  return 'b' in c ? c.b : [c];
}

export class KvStore {
  map = new Map<string, KvItem>();
  /** Injected application bug (test only, see bugs.ts cas-ignores-revision): compare-and-set writes ignore their expected revision. */
  ignoreExpected = false;

  /** Apply the command of the entry at `index` (its revision). */
  apply(data: Uint8Array, index: number): KvResult {
    const writes = writesOf(decodeKv(data));
    const next = new Map<string, KvItem | undefined>();
    const cur = (k: string): KvItem | undefined => (next.has(k) ? next.get(k) : this.map.get(k));
    for (const w of writes) {
      const before = cur(w.k);
      if (w.d && !before) return { ok: false, error: 'not-found', key: w.k, currentRevision: 0 };
      if (w.e !== undefined && !this.ignoreExpected && w.e !== (before?.rev ?? 0)) return { ok: false, error: 'revision-mismatch', key: w.k, currentRevision: before?.rev ?? 0 };
      next.set(w.k, w.d ? undefined : { v: w.v!, rev: index });
    }
    const changes: [string, string | undefined][] = [];
    for (const [k, item] of next) {
      if (item) this.map.set(k, item);
      else this.map.delete(k);
      changes.push([k, item?.v]);
    }
    return { ok: true, revision: index, changes };
  }

  get(k: string): KvItem | undefined {
    return this.map.get(k);
  }

  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify([...this.map.entries()]));
  }

  static restore(data: Uint8Array): KvStore {
    const kv = new KvStore();
    if (data.byteLength > 0) kv.map = new Map(JSON.parse(dec.decode(data)) as [string, KvItem][]);
    return kv;
  }
}

/** A cheap stable identity for an entry's payload (for comparisons in the checker). */
export function dataKey(data: Uint8Array): string {
  return dec.decode(data);
}
