// Safety properties checked incrementally after every simulator step:
//   election safety (§5.2): at most one leader per term;
//   log matching (§5.3): entries with the same index and term have the same
//     payload and the same predecessor term (so, inductively, equal prefixes);
//   leader completeness (§5.4): a new leader holds every committed entry;
//   state machine safety (§5.4.3): no two nodes apply different entries at one index;
//   no committed entry lost or changed (persisted commit indexes and applies agree);
//   committed entries are durable: when an entry becomes committed, no node
//     lacking it could win an election against the persisted logs (the core
//     of the leader completeness proof, §5.4.3; catches Figure 8 at once);
//   linearizable reads: a read returns state at an index >= everything applied
//     anywhere before the read was invoked, equal to the committed history there.
import type { Entry, NodeId, Storage } from '../../src/index.js';
import { dataKey } from './kv.js';

export interface Violation {
  time: number;
  kind: string;
  detail: string;
}

interface CommittedEntry {
  term: number;
  data: string;
}

export class Checker {
  violations: Violation[] = [];
  now = 0;
  private leaders = new Map<number, NodeId>();
  /** `${index}:${term}` -> predecessor term and payload, as first persisted by anyone. */
  private logIndex = new Map<string, { prevTerm: number; data: string }>();
  /** Committed entries by index (from applies and persisted commit indexes). */
  readonly committed = new Map<number, CommittedEntry>();
  maxCommitted = 0;
  /** Highest index applied by any node (all indexes below it were applied by someone). */
  maxApplied = 0;
  /** Per key: [index, value] in index order, from the committed history (undefined: deleted). */
  private history = new Map<string, [number, string | undefined][]>();
  /** Per node: highest persisted commit index already folded into `committed`. */
  private recordedCommit = new Map<NodeId, number>();
  private lastHard = new Map<NodeId, { term: number; commit: number }>();
  readsChecked = 0;
  /** Called once per index when it is first known committed (the simulator checks electability there). */
  onNewCommitted: ((index: number, term: number, by: NodeId) => void) | undefined;

  violate(kind: string, detail: string): void {
    this.violations.push({ time: this.now, kind, detail });
  }

  onLeader(id: NodeId, term: number, hasEntry: (i: number) => number | undefined, firstIndex: number): void {
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== id) {
      this.violate('election-safety', `two leaders in term ${term}: ${prev} and ${id}`);
      return;
    }
    if (prev === id) return;
    this.leaders.set(term, id);
    // Leader completeness: every committed entry must be in the new leader's log.
    for (let i = Math.max(firstIndex, 1); i <= this.maxCommitted; i++) {
      const c = this.committed.get(i);
      if (!c) continue;
      const t = hasEntry(i);
      if (t !== c.term) {
        this.violate('leader-completeness', `leader ${id} of term ${term} has term ${String(t)} at committed index ${i} (committed term ${c.term})`);
        return;
      }
    }
  }

  /** Entries just persisted by `id` (after appending them to its storage). */
  onPersistEntries(id: NodeId, ents: Entry[], storage: Storage): void {
    for (const e of ents) {
      let prevTerm: number;
      try {
        prevTerm = storage.term(e.index - 1);
      } catch {
        continue;
      }
      const key = `${e.index}:${e.term}`;
      const data = dataKey(e.data);
      const seen = this.logIndex.get(key);
      if (!seen) this.logIndex.set(key, { prevTerm, data });
      else if (seen.prevTerm !== prevTerm || seen.data !== data) {
        this.violate('log-matching', `node ${id} persisted (${key}) with prevTerm ${prevTerm} / data ${data}; seen elsewhere with prevTerm ${seen.prevTerm} / data ${seen.data}`);
      }
    }
  }

  /** A hard state was persisted: commit must not go backwards, and what it commits joins the committed set. */
  onPersistHardState(id: NodeId, hs: { term: number; commit: number }, storage: Storage): void {
    const last = this.lastHard.get(id);
    if (last && (hs.term < last.term || hs.commit < last.commit)) {
      this.violate('durability', `node ${id} persisted term/commit ${hs.term}/${hs.commit} after ${last.term}/${last.commit}`);
    }
    this.lastHard.set(id, { term: hs.term, commit: hs.commit });
    const from = Math.max(this.recordedCommit.get(id) ?? 0, storage.firstIndex() - 1) + 1;
    for (let i = from; i <= hs.commit && i <= storage.lastIndex(); i++) {
      this.recordCommitted(id, i, storage.term(i), dataKey(storage.entries(i, i + 1, Infinity)[0].data));
    }
    this.recordedCommit.set(id, Math.max(this.recordedCommit.get(id) ?? 0, hs.commit));
  }

  /**
   * Node `id` lost power: its hard state went from `before` (last written) to
   * `after` (last synced). Term and vote must have been synced (a vote the
   * node forgets can be granted twice); only the commit index may go back
   * (it is re-learned from the leader).
   */
  onPowerLoss(id: NodeId, before: { term: number; vote: number; commit: number }, after: { term: number; vote: number; commit: number }): void {
    if (before.term !== after.term || before.vote !== after.vote) {
      this.violate('durability', `node ${id} lost term/vote ${before.term}/${before.vote} in a power loss (back to ${after.term}/${after.vote}): they were never synced`);
    }
    const last = this.lastHard.get(id);
    if (last) this.lastHard.set(id, { term: last.term, commit: Math.min(last.commit, after.commit) });
  }

  private recordCommitted(id: NodeId, index: number, term: number, data: string): void {
    const c = this.committed.get(index);
    if (!c) {
      this.committed.set(index, { term, data });
      if (index > this.maxCommitted) this.maxCommitted = index;
      this.onNewCommitted?.(index, term, id);
    } else if (c.term !== term || c.data !== data) {
      this.violate('committed-entry-changed', `node ${id} has (${index}, term ${term}, ${data}) but (${index}, term ${c.term}, ${c.data}) was committed`);
    }
  }

  /** State machine safety: node `id` applies `e`, which made `changes` to the keys (none if the command was refused). */
  onApply(id: NodeId, e: Entry, changes: readonly [string, string | undefined][] = []): void {
    const data = dataKey(e.data);
    const c = this.committed.get(e.index);
    if (c && (c.term !== e.term || c.data !== data)) {
      this.violate('state-machine-safety', `node ${id} applied (${e.index}, term ${e.term}, ${data}); committed was (term ${c.term}, ${c.data})`);
      return;
    }
    if (!c) this.recordCommitted(id, e.index, e.term, data);
    if (e.index > this.maxApplied) {
      this.maxApplied = e.index;
      for (const [k, v] of changes) {
        let h = this.history.get(k);
        if (!h) this.history.set(k, (h = []));
        h.push([e.index, v]);
      }
    }
  }

  /** Value of key k in the committed history as of index `at`. */
  valueAt(k: string, at: number): string | undefined {
    const h = this.history.get(k);
    if (!h) return undefined;
    let v: string | undefined;
    for (const [i, val] of h) {
      if (i > at) break;
      v = val;
    }
    return v;
  }

  /**
   * A read of `key` served by `id` with read index `readIndex` after applying
   * up to `servedAt`, returning `value`; `minIndex` = maxApplied at invocation.
   */
  onRead(id: NodeId, key: string, value: string | undefined, readIndex: number, servedAt: number, minIndex: number): void {
    this.readsChecked++;
    if (readIndex < minIndex) {
      this.violate('linearizability', `node ${id} got read index ${readIndex} for ${key}, but index ${minIndex} was applied before the read began (stale read)`);
      return;
    }
    if (servedAt > this.maxApplied) return; // cannot happen: the node applied servedAt itself
    const expected = this.valueAt(key, servedAt);
    if (expected !== value) {
      this.violate('linearizability', `node ${id} read ${key}=${String(value)} at index ${servedAt}; committed history says ${String(expected)}`);
    }
  }
}

/**
 * Entry (i, t) is committed: can a voter whose persisted log lacks it still
 * collect a quorum of votes (by the §5.4.1 up-to-date rule) from the
 * persisted logs of the voters, in every non-empty half of a joint config?
 * Returns a description of such a voter, or undefined. Correct Raft never
 * allows it: the majority that stored (i, t) refuses every such candidate.
 * With `only`, asks about that one node (which need not be in `halves`: a
 * candidate counts votes with its own configuration).
 */
export function electableWithout(i: number, t: number, halves: NodeId[][], storages: Map<NodeId, Storage>, only?: NodeId): string | undefined {
  const quorums = halves.filter((h) => h.length > 0);
  const logOf = (id: NodeId): { last: number; term: number; has: boolean } | undefined => {
    const st = storages.get(id);
    if (!st) return undefined;
    const last = st.lastIndex();
    const term = st.term(last);
    let has = true;
    if (i >= st.firstIndex()) has = i <= last && st.term(i) === t;
    else if (i > st.snapshot().metadata.index) has = false;
    return { last, term, has };
  };
  const candidates = only !== undefined ? [only] : new Set(quorums.flat());
  for (const cand of candidates) {
    const c = logOf(cand);
    if (!c || c.has) continue;
    const wins = quorums.every((h) => {
      let votes = 0;
      for (const v of h) {
        const l = logOf(v);
        // v grants if the candidate's log is at least as up-to-date as its own.
        if (l && (c.term > l.term || (c.term === l.term && c.last >= l.last))) votes++;
      }
      return votes > h.length / 2;
    });
    if (wins) return `node ${cand} lacks it and could still be elected (last ${c.last}/term ${c.term})`;
  }
  return undefined;
}
