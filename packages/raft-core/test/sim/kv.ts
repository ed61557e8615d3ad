// The tiny key-value state machine the simulator's clients use. Commands are
// JSON `{"k":key,"v":value}`; the snapshot is the JSON of the whole map.
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface KvCommand {
  k: string;
  v: string;
}

export function encodeKv(c: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

export function decodeKv(data: Uint8Array): KvCommand {
  return JSON.parse(dec.decode(data)) as KvCommand;
}

export class KvStore {
  map = new Map<string, string>();

  apply(data: Uint8Array): KvCommand {
    const c = decodeKv(data);
    this.map.set(c.k, c.v);
    return c;
  }

  get(k: string): string | undefined {
    return this.map.get(k);
  }

  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify([...this.map.entries()]));
  }

  static restore(data: Uint8Array): KvStore {
    const kv = new KvStore();
    if (data.byteLength > 0) kv.map = new Map(JSON.parse(dec.decode(data)) as [string, string][]);
    return kv;
  }
}

/** A cheap stable identity for an entry's payload (for comparisons in the checker). */
export function dataKey(data: Uint8Array): string {
  return dec.decode(data);
}
