// Change streams (cluster Watch, the gateway's SSE, the relay's WebSocket):
// one subscriber's deliveries checked against the committed changes. The
// contract (docs/CONTRACTS.md): changes arrive in revision order, every
// committed change matching the subscription is delivered, all changes of one
// revision together; after a reconnect the stream resumes after the revision
// the subscriber asks for; a resync/reset (compacted position, restore) says
// "reload the state at revision S" and continuity restarts after S. Exactly
// once for the Watch and SSE; at least once for the relay path (SNS standard
// topics may duplicate; consumers drop repeats by revision).
import { writesOf } from './model.js';
import type { Op } from './types.js';

/** One committed change of one key. */
export interface StreamChange {
  revision: number;
  key: string;
  op: 'put' | 'delete';
  /** The value a put wrote (compared when the stream carries one). */
  value?: string;
}

/** What a subscriber saw, in the order it saw it. `at`: when (on the history's logical clock), if known. */
export type StreamEvent =
  | ({ type: 'change'; at?: number } & StreamChange)
  /** The stream said: everything up to `revision` has been delivered (an idle progress notification). */
  | { type: 'progress'; revision: number; at?: number }
  /** The subscriber reconnected and asked for the changes after `from` (Watch fromRevision, SSE Last-Event-ID). */
  | { type: 'reconnect'; from: number; at?: number }
  /** An explicit resync / reset: the subscriber reloaded the whole state at `revision`. */
  | { type: 'resync'; revision: number; at?: number };

export interface StreamOptions {
  /** The subscription started after this revision (exclusive), e.g. the snapshot it loaded first. */
  from: number;
  /** The stream must have delivered everything committed up to this revision by its end (e.g. the last revision the run wrote). */
  until?: number;
  /** Which changes the subscription covers (prefix, kind); default all. */
  filter?: (c: StreamChange) => boolean;
  /** 'exactly-once' (Watch, SSE): a revision delivered twice is an error unless the subscriber asked for it again; 'at-least-once' (relay): repeats are dropped. */
  delivery: 'exactly-once' | 'at-least-once';
}

export type StreamFailureKind = 'gap' | 'order' | 'duplicate' | 'content' | 'unknown-change' | 'split-revision' | 'from-the-future';

export interface StreamFailure {
  kind: StreamFailureKind;
  /** Index of the event that showed it (events.length for what was missing at the end). */
  at: number;
  message: string;
}

export interface StreamResult {
  ok: boolean;
  failures: StreamFailure[];
  /** Changes delivered (first deliveries), repeats dropped. */
  delivered: number;
  repeats: number;
}

/** The committed changes a history proves, by revision: successful writes with their revision (batches: every write). */
export interface CommittedLog {
  byRevision: Map<number, StreamChange[]>;
  /** Call time of the op that made each revision (a change cannot be delivered before it). */
  calledAt: Map<number, number>;
  /** Writes of unknown outcome, by key and value (a stream that delivers one proves it committed). */
  pending: Op[];
}

/** Build the committed log from a client history (every writer of the covered keys must be in it). */
export function committedLog(ops: readonly Op[]): CommittedLog {
  const byRevision = new Map<number, StreamChange[]>();
  const calledAt = new Map<number, number>();
  const pending: Op[] = [];
  for (const o of ops) {
    if (o.kind === 'read') continue;
    if (!o.result) {
      pending.push(o);
      continue;
    }
    if (!o.result.ok || o.result.revision === undefined) continue;
    const rev = o.result.revision;
    // Changes of one revision in write order; the last write of a key in a batch is what the stream shows for it.
    const last = new Map<string, StreamChange>();
    for (const w of writesOf(o)) last.set(w.key, { revision: rev, key: w.key, op: w.type, value: w.type === 'put' ? w.value : undefined });
    byRevision.set(rev, [...last.values()]);
    calledAt.set(rev, o.call);
  }
  return { byRevision, calledAt, pending };
}

export function checkStream(events: readonly StreamEvent[], log: CommittedLog, opts: StreamOptions): StreamResult {
  const failures: StreamFailure[] = [];
  const fail = (kind: StreamFailureKind, at: number, message: string): void => {
    if (failures.length < 100) failures.push({ kind, at, message });
  };
  const matches = (c: StreamChange): boolean => opts.filter?.(c) ?? true;
  const revisions = [...log.byRevision.keys()].sort((a, b) => a - b);
  /** Revisions of the subscription in (lo, hi] that were not delivered. */
  const missing = (lo: number, hi: number): number[] => {
    const out: number[] = [];
    let i = lowerBound(revisions, lo + 1);
    for (; i < revisions.length && revisions[i] <= hi; i++) {
      const r = revisions[i];
      if (!delivered.has(r) && log.byRevision.get(r)!.some(matches)) out.push(r);
    }
    return out;
  };
  const checkGap = (lo: number, hi: number, at: number, why: string): void => {
    const m = missing(lo, hi);
    if (m.length > 0) fail('gap', at, `${why}: revision${m.length > 1 ? 's' : ''} ${m.slice(0, 10).join(', ')}${m.length > 10 ? ` and ${m.length - 10} more` : ''} never delivered`);
  };

  /** Revisions delivered (first time), with the keys seen at each. */
  const delivered = new Map<number, Set<string>>();
  /** Everything committed up to here is delivered (or was resynced). */
  let pos = opts.from;
  /** Revisions the subscriber asked to get again (a reconnect from before pos): (again, pos]. */
  let again = Infinity;
  let last = opts.from;
  let repeats = 0;
  let open: number | undefined; // the revision whose changes are arriving now
  const closeRevision = (at: number): void => {
    if (open === undefined) return;
    const want = (log.byRevision.get(open) ?? []).filter(matches).map((c) => c.key);
    const got = delivered.get(open)!;
    const lacking = want.filter((k) => !got.has(k));
    if (lacking.length > 0) fail('split-revision', at, `revision ${open} delivered without its changes of ${lacking.join(', ')}`);
    open = undefined;
  };

  events.forEach((ev, i) => {
    if (ev.type === 'progress') {
      closeRevision(i);
      checkGap(pos, ev.revision, i, `progress at ${ev.revision}`);
      pos = Math.max(pos, ev.revision);
      return;
    }
    if (ev.type === 'reconnect') {
      closeRevision(i);
      if (ev.from > pos) checkGap(pos, ev.from, i, `reconnect from ${ev.from}`);
      again = ev.from < pos ? ev.from : Infinity;
      pos = Math.max(pos, ev.from);
      last = ev.from;
      return;
    }
    if (ev.type === 'resync') {
      closeRevision(i);
      pos = ev.revision;
      last = ev.revision;
      again = Infinity;
      return;
    }
    const r = ev.revision;
    const committed = log.byRevision.get(r)?.find((c) => c.key === ev.key);
    if (!committed) {
      const p = log.pending.find((o) => o.call <= (ev.at ?? Infinity) && writesOf(o).some((w) => w.key === ev.key && w.type === ev.op && (w.type === 'delete' || ev.value === undefined || w.value === ev.value)));
      if (!p) {
        fail('unknown-change', i, `change of ${ev.key} at revision ${r} matches no committed write`);
        return;
      }
      // A pending write shows up in the stream: it committed, at r.
      let l = log.byRevision.get(r);
      if (!l) log.byRevision.set(r, (l = []));
      l.push({ revision: r, key: ev.key, op: ev.op, value: ev.value });
      log.calledAt.set(r, p.call);
      if (!revisions.includes(r)) revisions.splice(lowerBound(revisions, r), 0, r);
    } else if (committed.op !== ev.op || (ev.value !== undefined && committed.value !== ev.value)) {
      fail('content', i, `revision ${r} ${ev.key}: delivered ${ev.op}${ev.value !== undefined ? ` ${ev.value}` : ''}, committed ${committed.op}${committed.value !== undefined ? ` ${committed.value}` : ''}`);
    }
    if (ev.at !== undefined && ev.at < (log.calledAt.get(r) ?? -Infinity)) fail('from-the-future', i, `revision ${r} delivered at ${ev.at}, before its write was called (${log.calledAt.get(r)})`);
    const seen = delivered.get(r);
    if (seen?.has(ev.key)) {
      // A repeat: fine at least once, or when the subscriber asked for it again; content was compared above.
      const asked = r > again && r <= pos;
      if (opts.delivery === 'exactly-once' && !asked) fail('duplicate', i, `revision ${r} (${ev.key}) delivered again`);
      repeats++;
      if (r < last && !(opts.delivery === 'at-least-once' || asked)) fail('order', i, `revision ${r} after ${last}`);
      return;
    }
    if (r < last || (r === last && open !== r)) {
      fail('order', i, `revision ${r} (${ev.key}) after ${last}`);
      return;
    }
    if (r !== open) {
      closeRevision(i);
      checkGap(Math.max(pos, last), r - 1, i, `before revision ${r}`);
      open = r;
    }
    let keys = delivered.get(r);
    if (!keys) delivered.set(r, (keys = new Set()));
    keys.add(ev.key);
    last = r;
    pos = Math.max(pos, r);
  });
  closeRevision(events.length);
  if (opts.until !== undefined) checkGap(pos, opts.until, events.length, `by the end (until ${opts.until})`);
  let firsts = 0;
  for (const s of delivered.values()) firsts += s.size;
  return { ok: failures.length === 0, failures, delivered: firsts, repeats };
}

/** First index of `xs` (ascending) with xs[i] >= v. */
function lowerBound(xs: number[], v: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (xs[m] < v) lo = m + 1;
    else hi = m;
  }
  return lo;
}
