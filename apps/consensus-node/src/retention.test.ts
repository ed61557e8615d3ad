// Retention by size and age (src/retention.ts) on real SQLite files, through
// the state machine's apply path: history pruned by its byte budget and by
// age on the replicated clock, de-duplication kept inside its floor whatever
// the budget, identical cuts on replicas that batch and restart differently,
// and reads of what is retained unchanged by pruning.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { encodeCommand, type Command } from '@flagraft/flag-model';
import { TAG_COMMAND } from './entries.js';
import { DEFAULT_RETENTION, dedupPruneThrough, historyBudget, historyPruneThrough, type RetentionOptions } from './retention.js';
import { StateMachine } from './state-machine.js';
import type { NodeStorage } from './storage/open.js';
import { tempStorages } from '../test/temp-storage.js';

const storages = tempStorages('flagraft-retention-');

const T0 = 1_700_000_000_000;
/** Retention that never prunes unless a test says so. */
const KEEP_ALL: RetentionOptions = { ...DEFAULT_RETENTION, historyMaxBytes: 1e12, historyMaxAgeMs: 0, dedupMaxBytes: 1e12, dedupMaxAgeMs: 1e12, pruneEveryRevisions: 10 };

interface Replica { storage: NodeStorage; sm: StateMachine; dir: string; opts: RetentionOptions }

function replica(opts: Partial<RetentionOptions>, dir = storages.dir()): Replica {
  const storage = storages.open(dir);
  const full = { ...KEEP_ALL, ...opts };
  return { storage, sm: new StateMachine(storage.state, full), dir, opts: full };
}

function reopen(r: Replica): Replica {
  storages.close(r.storage);
  return replica(r.opts, r.dir);
}

/** A putFlag entry at `index` stamped `time` by its leader, from client "app" with request id `req`. */
function entry(index: number, time: number, key = `k${index % 5}`, req = `r${index}`) {
  const cmd = { v: 1, actor: 'alice', time, clientId: 'app', requestId: req, op: 'putFlag',
    flag: { key, type: 'string', variants: { v: `value ${index} ${'x'.repeat(100)}` }, defaultVariant: 'v', enabled: true, rules: [] } } as Command;
  const body = encodeCommand(cmd);
  const data = new Uint8Array(body.length + 1);
  data[0] = TAG_COMMAND;
  data.set(body, 1);
  return { term: 1, index, type: 0, data };
}

function applyAll(r: Replica, entries: ReturnType<typeof entry>[], batch = 7) {
  const out = [];
  for (let i = 0; i < entries.length; i += batch) {
    const part = entries.slice(i, i + batch);
    out.push(...r.sm.atomically(part[part.length - 1], () => part.map((e) => r.sm.apply(e))));
  }
  return out;
}

const history = (r: Replica, key: string) => r.sm.history('flag', key, Number.MAX_SAFE_INTEGER, 10_000);
const revisions = (r: Replica) => r.sm.changesAfter(0, 1e6).map((e) => e.revision);

describe('history retention', () => {
  it('prunes the oldest revisions by size, keeping the budget, and counts bytes exactly as the rows do', () => {
    // No de-dup rows kept (no floor, no bytes): the whole budget is history's.
    const r = replica({ historyMaxBytes: 20_000, dedupMinAgeMs: 0, dedupMaxBytes: 0 });
    applyAll(r, Array.from({ length: 400 }, (_, i) => entry(i + 1, T0 + i)));
    const { history: bytes } = r.storage.state.countedBytes();
    expect(r.storage.state.changesBytes()).toBe(bytes);
    expect(bytes).toBeLessThanOrEqual(20_000);
    // Pruned at revision 400 down to the budget: far fewer than 400 revisions, the newest kept, contiguous.
    const kept = revisions(r);
    expect(kept.length).toBeGreaterThan(20);
    expect(kept.length).toBeLessThan(200);
    expect(kept[kept.length - 1]).toBe(400);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 400 - kept.length + 1 + i));
    expect(r.sm.oldestRetainedRevision()).toBe(kept[0]);
  });

  it('counts the de-dup rows and the reserved local margins inside the budget, history taking the rest but never less than a sixteenth', () => {
    // De-dup inside its 30 s floor (all 400 writes within 4 s): every row stays, and history gets what is left.
    const r = replica({ historyMaxBytes: 60_000, reservedBytes: 10_000, dedupMinAgeMs: 30_000, dedupMaxBytes: 0 });
    applyAll(r, Array.from({ length: 400 }, (_, i) => entry(i + 1, T0 + i * 10)));
    const s = r.storage.state;
    expect(s.countedBytes()).toEqual({ history: s.changesBytes(), dedup: s.requestsBytes() });
    expect(s.requestsBytes()).toBeGreaterThan(10_000);
    expect(s.changesBytes()).toBeGreaterThan(0);
    expect(s.changesBytes()).toBeLessThanOrEqual(60_000 - 10_000 - s.requestsBytes());
    expect(historyBudget({ historyMaxBytes: 60_000, reservedBytes: 10_000 }, s.requestsBytes())).toBe(50_000 - s.requestsBytes());
    // A budget the floor alone overflows: history keeps a sixteenth of it (its newest revision at least), not nothing.
    const small = replica({ historyMaxBytes: 16_000, reservedBytes: 10_000, dedupMinAgeMs: 30_000, dedupMaxBytes: 0 });
    applyAll(small, Array.from({ length: 400 }, (_, i) => entry(i + 1, T0 + i * 10)));
    expect(small.storage.state.changesBytes()).toBeLessThanOrEqual(1_000);
    expect(revisions(small)).toContain(400);
    expect(historyBudget({ historyMaxBytes: 16_000, reservedBytes: 10_000 }, 1e6)).toBe(1_000);
  });

  it('estimates bound the bytes the rows take on disk (SQLite dbstat: table and index pages), within a fifth over', () => {
    const r = replica({});
    // Rows of three sizes, keys spread so the changes_key index is written out of order as on a real node.
    applyAll(r, Array.from({ length: 3000 }, (_, i) => entry(i + 1, T0 + i, `flag-${(i * 7919) % 200}`, `req-${i}-${'q'.repeat(i % 3 * 20)}`)), 64);
    const s = r.storage.state;
    const db = new Database(join(r.dir, 'flagraft.db'), { readonly: true });
    try {
      const pages = new Map((db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[]).map((x) => [x.name, x.bytes]));
      const history = pages.get('changes')! + pages.get('changes_key')!;
      const dedup = pages.get('client_requests')! + pages.get('client_requests_rev')!;
      expect(history).toBeLessThanOrEqual(s.changesBytes());
      expect(history).toBeGreaterThan(s.changesBytes() / 1.2);
      expect(dedup).toBeLessThanOrEqual(s.requestsBytes());
      expect(dedup).toBeGreaterThan(s.requestsBytes() / 1.2);
    } finally {
      db.close();
    }
  });

  it('prunes by age on the replicated clock, not by count', () => {
    const r = replica({ historyMaxAgeMs: 60_000 });
    // 100 writes a second apart: at revision 100 (clock T0+99 s) revisions through 40 (sampled at T0+39 s) are 60 s old.
    applyAll(r, Array.from({ length: 100 }, (_, i) => entry(i + 1, T0 + i * 1000)));
    expect(revisions(r)[0]).toBe(41);
    expect(revisions(r)).toHaveLength(60);
    // 100 more two minutes later.
    applyAll(r, Array.from({ length: 100 }, (_, i) => entry(i + 101, T0 + 220_000 + i * 10)));
    // At revision 200 the clock is T0+221 s: everything sampled at or before T0+161 s (revisions <= 100) is older than 60 s.
    expect(revisions(r)[0]).toBe(101);
    expect(revisions(r)).toHaveLength(100);
  });

  it('keeps a clock that never runs backwards when a leader is behind', () => {
    const r = replica({ historyMaxAgeMs: 60_000 });
    applyAll(r, Array.from({ length: 20 }, (_, i) => entry(i + 1, T0 + 120_000)));
    // A new leader with a slow clock stamps times two minutes earlier: nothing it writes looks young enough to drop the rest, nor old.
    applyAll(r, Array.from({ length: 20 }, (_, i) => entry(i + 21, T0)));
    expect(r.storage.state.lastClockSample()).toBe(T0 + 120_000);
    expect(revisions(r)).toHaveLength(40);
  });

  it('does not age what a lagging leader wrote from the time its lag began (torture clock-jump seed 5013)', () => {
    const r = replica({ historyMaxAgeMs: 3600_000 });
    applyAll(r, Array.from({ length: 10 }, (_, i) => entry(i + 1, T0)));
    // A leader 5 days behind writes revisions 11-60 (really during the next 50 minutes); then a correct one, 65 minutes after T0.
    applyAll(r, Array.from({ length: 50 }, (_, i) => entry(i + 11, T0 - 5 * 86_400_000)));
    applyAll(r, Array.from({ length: 10 }, (_, i) => entry(i + 61, T0 + 65 * 60_000)));
    // Only revisions through 10 are known to be older than an hour; 11-60 may be minutes old.
    expect(revisions(r)[0]).toBe(11);
  });

  it('answers history and flags for what it retains exactly as a replica that keeps everything', () => {
    const all = replica({});
    const pruned = replica({ historyMaxBytes: 30_000 });
    const entries = Array.from({ length: 300 }, (_, i) => entry(i + 1, T0 + i));
    applyAll(all, entries);
    applyAll(pruned, entries, 13);
    expect(pruned.sm.allItems('flag')).toEqual(all.sm.allItems('flag'));
    for (const key of ['k0', 'k1', 'k4']) {
      const h = history(pruned, key);
      expect(h.length).toBeGreaterThan(0);
      // The newest changes of every key, the same objects; older ones gone.
      expect(h).toEqual(history(all, key).slice(0, h.length));
      expect(history(all, key).length).toBeGreaterThan(h.length);
    }
  });

  it('keeps unpublished changes for the outbox beyond the budget, up to the hold factor', () => {
    expect(historyPruneThrough(0, (b) => (b >= 1000 ? 40 : 90), 100, 50)).toBe(50);
    expect(historyPruneThrough(0, () => 90, 100, 50)).toBe(90);
    expect(historyPruneThrough(70, () => 0, 100, 0)).toBe(70);
    // History's share shrunk to 10 by de-dup: the hold still counts from the whole budget (100 x 10).
    expect(historyPruneThrough(0, (b) => (b >= 1000 ? 40 : 90), 10, 50, 1000)).toBe(50);
    expect(historyPruneThrough(0, (b) => (b >= 1000 ? 40 : 90), 10, 50)).toBe(90);
  });
});

describe('de-duplication retention', () => {
  it('still answers a retry inside the minimum age with the first result, however far over its byte budget', () => {
    // Budget of almost nothing; floor 30 s; 400 writes in 4 s.
    const r = replica({ dedupMaxBytes: 100, dedupMinAgeMs: 30_000, dedupMaxAgeMs: 300_000 });
    applyAll(r, Array.from({ length: 400 }, (_, i) => entry(i + 1, T0 + i * 10)));
    const retry = applyAll(r, [entry(401, T0 + 4100, 'other', 'r3')])[0];
    expect(retry.answer).toMatchObject({ to: 'write', outcome: { ok: true, revision: 3, deduplicated: true } });
    expect(r.sm.getFlag('other')).toBeUndefined();
    expect(r.storage.state.requestsBytes()).toBe(r.storage.state.countedBytes().dedup);
  });

  it('prunes past the floor by size, and everything past the maximum age', () => {
    const r = replica({ dedupMaxBytes: 5_000, dedupMinAgeMs: 30_000, dedupMaxAgeMs: 120_000 });
    applyAll(r, Array.from({ length: 200 }, (_, i) => entry(i + 1, T0 + i * 10)));
    // 60 s later: all 200 are past the floor, so the budget applies: the oldest go.
    applyAll(r, Array.from({ length: 10 }, (_, i) => entry(i + 201, T0 + 60_000 + i)));
    expect(r.storage.state.requestsBytes()).toBeLessThanOrEqual(5_000 + 200);
    expect(r.storage.state.request('app', 'r1')).toBeUndefined();
    expect(r.storage.state.request('app', 'r200')).toBeDefined();
    // A retry of a pruned request is a new write (its window is over): documented, and why the floor exists.
    const late = applyAll(r, [entry(211, T0 + 60_100, 'late', 'r1')])[0];
    expect(late.answer).toMatchObject({ outcome: { ok: true, revision: 211 } });
    expect(late.answer).not.toHaveProperty('outcome.deduplicated');
    // Three minutes on, everything older than the maximum age is gone, even within budget.
    const big = replica({ dedupMaxBytes: 1e9, dedupMinAgeMs: 30_000, dedupMaxAgeMs: 120_000 });
    applyAll(big, Array.from({ length: 20 }, (_, i) => entry(i + 1, T0 + i)));
    applyAll(big, Array.from({ length: 10 }, (_, i) => entry(i + 21, T0 + 180_000 + i)));
    expect(big.storage.state.request('app', 'r20')).toBeUndefined();
    expect(big.storage.state.request('app', 'r30')).toBeDefined();
    expect(dedupPruneThrough(5, 50, 80)).toBe(50);
    expect(dedupPruneThrough(60, 50, 80)).toBe(60);
  });
});

describe('determinism', () => {
  it('cuts at the same revisions on replicas that batch differently, restart, or start from a snapshot', () => {
    const opts = { historyMaxBytes: 25_000, historyMaxAgeMs: 100_000, dedupMaxBytes: 3_000, dedupMinAgeMs: 5_000, dedupMaxAgeMs: 50_000 };
    const entries = Array.from({ length: 600 }, (_, i) => entry(i + 1, T0 + i * 300 + (i % 7) * 50));
    const a = replica(opts);
    applyAll(a, entries, 1);
    let b = replica(opts);
    applyAll(b, entries.slice(0, 237), 64);
    b = reopen(b);
    applyAll(b, entries.slice(237), 5);
    // c installs a's snapshot at 300, then applies the rest.
    const mid = replica(opts);
    applyAll(mid, entries.slice(0, 300), 9);
    const c = replica(opts);
    const snap = mid.sm.snapshot();
    c.sm.restore({ metadata: { index: snap.index, term: 1, confState: snap.confState }, data: snap.data });
    applyAll(c, entries.slice(300), 31);
    const rows = (r: Replica) => {
      const live = r.storage.state.liveRows();
      return { changes: live.changes, dedup: live.dedup.sort((x, y) => Number(x[2]) - Number(y[2])), clock: live.clock, oldest: r.sm.oldestRetainedRevision() };
    };
    const ra = rows(a);
    expect(ra.changes.length).toBeLessThan(600);
    expect(ra.dedup.length).toBeLessThan(600);
    expect(rows(b)).toEqual(ra);
    expect(rows(c)).toEqual(ra);
  });
});
