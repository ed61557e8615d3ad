// Clients that drive the mix the issue asks for through both transports:
// put, compare-and-set (If-Match on the revision this client last saw, or
// "must not exist"), delete (with and without a revision), atomic batches of
// two keys, linearizable reads and, separately, stale reads. Few keys, so
// operations contend and CAS refusals happen.
import type { Write } from '@flagraft/history-check';
import { History, uniqueValue, type Outcome } from './history.js';
import type { Rng } from './rng.js';
import type { Transport } from './transports.js';

export interface WorkloadOptions {
  keys: string[];
  /** Pause between one client's operations (ms). */
  thinkMs: number;
  /**
   * Reads only (85% linearizable, 15% stale), like a service that evaluates
   * flags: such a client never gets a NOT_LEADER from a write, so it keeps
   * reading from the node it knows, as long as that node answers.
   */
  readOnly?: boolean;
}

/** What a client last saw of a key: its modRevision (0 = absent), for its next CAS. */
type Seen = Map<string, number>;

function noteSeen(seen: Seen, key: string, out: Outcome): void {
  if (out.type !== 'ok') return;
  const r = out.result as { ok?: boolean; revision?: number; value?: string; modRevision?: number; currentRevision?: number };
  if ('value' in r) seen.set(key, r.value === undefined ? 0 : r.modRevision ?? 0);
  else if (r.ok && r.revision) seen.set(key, r.revision);
  else if (r.ok === false && r.currentRevision !== undefined) seen.set(key, r.currentRevision);
}

export async function runClient(name: string, t: Transport, h: History, rng: Rng, o: WorkloadOptions, until: () => boolean): Promise<void> {
  const seen: Seen = new Map();
  let seq = 0;
  const val = () => uniqueValue(name, ++seq);
  while (!until()) {
    const key = rng.pick(o.keys);
    const roll = rng.next();
    let out: Outcome;
    if (o.readOnly) {
      await h.record(name, t.name, { kind: 'read', key, stale: roll >= 0.85 }, () => t.read(key, roll >= 0.85));
    } else if (roll < 0.35) {
      out = await h.record(name, t.name, { kind: 'read', key }, () => t.read(key, false));
      noteSeen(seen, key, out);
    } else if (roll < 0.45) {
      out = await h.record(name, t.name, { kind: 'read', key, stale: true }, () => t.read(key, true));
    } else if (roll < 0.62) {
      const value = val();
      out = await h.record(name, t.name, { kind: 'put', key, value }, () => t.put(key, value));
      noteSeen(seen, key, out);
    } else if (roll < 0.78) {
      const value = val();
      const expectedRevision = seen.get(key) ?? 0;
      out = await h.record(name, t.name, { kind: 'put', key, value, expectedRevision }, () => t.put(key, value, expectedRevision));
      noteSeen(seen, key, out);
    } else if (roll < 0.87) {
      const expectedRevision = rng.next() < 0.5 ? seen.get(key) || undefined : undefined;
      out = await h.record(name, t.name, { kind: 'delete', key, expectedRevision }, () => t.del(key, expectedRevision));
      if (out.type === 'ok' && (out.result as { ok: boolean }).ok) seen.set(key, 0);
    } else {
      const other = rng.pick(o.keys.filter((k) => k !== key));
      const writes: Write[] = [
        { type: 'put', key, value: val() },
        rng.next() < 0.7 ? { type: 'put', key: other, value: val() } : { type: 'delete', key: other },
      ];
      if (rng.next() < 0.4 && seen.has(key)) writes[0] = { ...writes[0], expectedRevision: seen.get(key) } as Write;
      out = await h.record(name, t.name, { kind: 'batch', writes }, () => t.batch(writes));
    }
    if (o.thinkMs) await new Promise((r) => setTimeout(r, rng.int(0, o.thinkMs)));
  }
}
