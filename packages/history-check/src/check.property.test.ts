// The checker's shortcuts (revision order, observations placed greedily,
// writes pulled in on demand, pooled pending writes, narrowed windows, the
// memo) must not change any verdict: compare it with a brute-force search over
// every order of small random histories of every operation kind (fast-check
// shrinks any disagreement to a minimal history). The brute force applies the
// checker's one documented relaxation (a pending batch nobody observed counts
// as independent writes); a test below shows what that relaxation lets pass.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory, type Op, type Write, type WriteResult } from './index.js';
import { ABSENT, keysOf, step, stateKey, writesOf, type ModelContext, type State } from './model.js';
import { prepare } from './prepare.js';

/**
 * Brute force: is there a subset of the pending writes and an order of them
 * with every completed op that respects real time, that the model accepts,
 * and in which the writes of known revision come in revision order? Asked
 * for each set of keys batches tie together (what the checker promises:
 * linearizability is local; across such sets only the pairwise revision
 * order of writes is checked, in prepare).
 */
function bruteForce(all: Op[], ctx: ModelContext): boolean {
  const parent = new Map<string, string>();
  const find = (k: string): string => (parent.get(k) === undefined || parent.get(k) === k ? k : find(parent.get(k)!));
  for (const o of all) {
    const ks = keysOf(o);
    for (let j = 1; j < ks.length; j++) parent.set(find(ks[j]), find(ks[0]));
  }
  const groups = new Map<string, Op[]>();
  for (const o of all) {
    const g = find(keysOf(o)[0]);
    groups.set(g, [...(groups.get(g) ?? []), o]);
  }
  // Like the checker: a write of unknown revision has none of the revisions known in its partition.
  return [...groups.values()].every((ops) => {
    const keys = [...new Set(ops.flatMap(keysOf))].sort();
    const knownRevs = new Set(ops.flatMap((o) => (ctx.revisionOf.has(o.id) ? [ctx.revisionOf.get(o.id)!] : [])));
    return bruteForceOne(splitUnseenBatches(ops, ctx), { ...ctx, knownRevs, keyIndex: new Map(keys.map((k, i) => [k, i])) });
  });
}

function bruteForceOne(ops: Op[], ctx: ModelContext): boolean {
  const done = ops.filter((o) => o.result !== undefined && !(o.kind === 'read' && o.stale));
  const pend = ops.filter((o) => o.result === undefined && o.kind !== 'read');
  for (let mask = 0; mask < 1 << pend.length; mask++) {
    const set = [...done, ...pend.filter((_, i) => mask & (1 << i))];
    const used = new Array<boolean>(set.length).fill(false);
    const seen = new Set<string>();
    const search = (state: State, n: number): boolean => {
      if (n === set.length) return true;
      const memo = `${used.map(Number).join('')}|${stateKey(state)}`;
      if (seen.has(memo)) return false;
      seen.add(memo);
      for (let i = 0; i < set.length; i++) {
        if (used[i]) continue;
        const o = set[i];
        if (set.some((q, j) => !used[j] && j !== i && q.ret < o.call)) continue;
        const rev = ctx.revisionOf.get(o.id);
        if (rev !== undefined && set.some((q, j) => !used[j] && j !== i && (ctx.revisionOf.get(q.id) ?? Infinity) < rev)) continue;
        const next = step(state, o, ctx);
        if (!next) continue;
        used[i] = true;
        if (search(next, n + 1)) return true;
        used[i] = false;
      }
      return false;
    };
    if (search([...ctx.keyIndex.keys()].map(() => ABSENT), 0)) return true;
  }
  return false;
}

/**
 * The checker's one relaxation: a pending batch nobody observed (no known
 * revision, none of its values read) counts as its writes, each on its own.
 */
function splitUnseenBatches(ops: Op[], ctx: ModelContext): Op[] {
  const read = new Set(ops.flatMap((o) => (o.kind === 'read' && o.result?.value !== undefined ? [`${o.key}\u0000${o.result.value}`] : [])));
  return ops.flatMap((o): Op[] => {
    if (o.kind !== 'batch' || o.result || ctx.revisionOf.has(o.id) || o.writes.some((w) => w.type === 'put' && read.has(`${w.key}\u0000${w.value}`))) return [o];
    return o.writes.map((w): Op => (w.type === 'put' ? { id: o.id, call: o.call, ret: Infinity, kind: 'put', key: w.key, value: w.value, expectedRevision: w.expectedRevision } : { id: o.id, call: o.call, ret: Infinity, kind: 'delete', key: w.key, expectedRevision: w.expectedRevision }));
  });
}

type Kind = 'put' | 'cas' | 'del' | 'cdel' | 'batch' | 'read';

/**
 * Random small histories: each op gets an interval (distinct event times)
 * and a point inside it; executing the ops at their points gives a valid
 * history (pending ops may or may not execute), which is then perturbed
 * (a read value, a revision, an outcome changed) half of the time.
 */
const histories = (allKnown: boolean) => fc
  .record({
    ops: fc.array(
      fc.record({
        kind: fc.constantFrom<Kind>('put', 'put', 'cas', 'del', 'cdel', 'batch', 'read', 'read', 'read'),
        key: fc.constantFrom('x', 'x', 'y'),
        start: fc.integer({ min: 0, max: 10 }),
        len: fc.integer({ min: 0, max: 8 }),
        at: fc.double({ min: 0, max: 1, noNaN: true }),
        pending: allKnown ? fc.constant(1) : fc.integer({ min: 0, max: 6 }),
        executes: fc.boolean(),
        pick: fc.integer({ min: 0, max: 9 }),
        noRev: allKnown ? fc.constant(1) : fc.integer({ min: 0, max: 5 }),
      }),
      { minLength: 1, maxLength: allKnown ? 9 : 7 },
    ),
    perturb: fc.integer({ min: 0, max: 13 }),
    victim: fc.integer({ min: 0, max: 6 }),
  })
  .map(({ ops: raw, perturb, victim }): Op[] => {
    const made = raw.map((r, i) => {
      const call = 2 * (r.start * 8 + i) + 1;
      const end = call + 2 * (r.len * 8 + 1) + 1;
      return { r, i, call, ret: r.pending === 0 ? Infinity : end, point: call + r.at * (end - call) };
    });
    const state = new Map<string, { value: string; rev: number }>();
    const revs: number[] = [];
    let revision = 0;
    const ops: Op[] = new Array(made.length);
    for (const m of [...made].sort((a, b) => a.point - b.point)) {
      const { r, i } = m;
      const base = { id: i, call: m.call, ret: m.ret };
      const pending = m.ret === Infinity;
      const other = r.key === 'x' ? 'y' : 'x';
      const expectFor = (k: string): number => {
        const cur = state.get(k)?.rev ?? 0;
        return r.pick < 6 ? cur : r.pick < 8 ? 0 : (revs[r.pick % Math.max(1, revs.length)] ?? 3);
      };
      let writes: Write[] | undefined;
      if (r.kind === 'put') writes = [{ type: 'put', key: r.key, value: `v${i}` }];
      else if (r.kind === 'cas') writes = [{ type: 'put', key: r.key, value: `v${i}`, expectedRevision: expectFor(r.key) }];
      else if (r.kind === 'del') writes = [{ type: 'delete', key: r.key }];
      else if (r.kind === 'cdel') writes = [{ type: 'delete', key: r.key, expectedRevision: expectFor(r.key) }];
      else if (r.kind === 'batch') writes = [{ type: 'put', key: r.key, value: `v${i}` }, r.pick < 5 ? { type: 'put', key: other, value: `u${i}` } : { type: 'delete', key: other }];
      if (!writes) {
        const s = state.get(r.key);
        ops[i] = { ...base, kind: 'read', key: r.key, result: pending ? undefined : { value: s?.value, modRevision: s && r.noRev > 0 ? s.rev : undefined } };
        continue;
      }
      // Execute on a scratch copy: the first refused write refuses the whole op.
      const scratch = new Map(state);
      let refused: WriteResult | undefined;
      for (const w of writes) {
        const s = scratch.get(w.key);
        if (w.type === 'delete' && !s) {
          refused = { ok: false, error: 'not-found', key: w.key };
          break;
        }
        if (w.expectedRevision !== undefined && w.expectedRevision !== (s?.rev ?? 0)) {
          refused = { ok: false, error: 'revision-mismatch', key: w.key, currentRevision: s?.rev ?? 0 };
          break;
        }
        if (w.type === 'put') scratch.set(w.key, { value: w.value, rev: revision + 1 });
        else scratch.delete(w.key);
      }
      let result: WriteResult | undefined;
      if (!refused && (!pending || r.executes)) {
        revision++;
        revs.push(revision);
        state.clear();
        for (const [k, v] of scratch) state.set(k, v);
        result = { ok: true, revision: r.noRev > 0 ? revision : undefined };
      } else if (refused) result = refused;
      const w0 = writes[0];
      const op: Op =
        r.kind === 'batch'
          ? { ...base, kind: 'batch', writes, result }
          : w0.type === 'put'
            ? { ...base, kind: 'put', key: w0.key, value: w0.value, expectedRevision: w0.expectedRevision, result }
            : { ...base, kind: 'delete', key: w0.key, expectedRevision: w0.expectedRevision, result };
      ops[i] = pending ? ({ ...op, result: undefined } as Op) : op;
    }
    // Perturb one completed op half of the time.
    const targets = ops.filter((o) => o.result !== undefined);
    const t = targets[victim % Math.max(1, targets.length)];
    if (t && perturb < 7) {
      if (t.kind === 'read') {
        const values = ops.flatMap((o) => writesOf(o).flatMap((w) => (w.type === 'put' && w.key === t.key ? [w.value] : [])));
        const r = t.result!;
        if (perturb < 3) t.result = { value: values[perturb % Math.max(1, values.length)], modRevision: r.modRevision };
        else if (perturb < 5) t.result = { value: r.value, modRevision: r.value === undefined ? undefined : (r.modRevision ?? 1) + (perturb === 3 ? 1 : -1) };
        else t.result = { value: undefined };
      } else {
        const r = t.result!;
        if (perturb < 3 && r.ok) t.result = { ok: false, error: 'revision-mismatch', currentRevision: perturb };
        else if (perturb < 5 && r.ok && r.revision !== undefined) t.result = { ok: true, revision: r.revision + (perturb === 3 ? 1 : -1) || 1 };
        else if (!r.ok) t.result = { ok: true };
        else t.result = { ok: false, error: 'not-found' };
      }
    }
    return ops;
  });
const history = histories(false);

describe('the checker agrees with brute force', () => {
  it('on random small histories of puts, CAS, deletes (with and without revisions), batches and reads, pending ops included', () => {
    const verdicts = { ok: 0, fail: 0, byKind: new Map<string, number>() };
    fc.assert(
      fc.property(history, (ops) => {
        let p;
        try {
          p = prepare(ops);
        } catch {
          return; // a malformed perturbation (a revision <= 0 and the like): not a history
        }
        const expected = p.failures.length === 0 && bruteForce(ops, p.ctx);
        const actual = checkHistory(ops, { minimalWindows: false });
        if (expected) verdicts.ok++;
        else verdicts.fail++;
        for (const o of ops) verdicts.byKind.set(o.kind, (verdicts.byKind.get(o.kind) ?? 0) + 1);
        expect(actual.ok).toBe(expected);
      }),
      { numRuns: 4000, seed: 20261127 },
    );
    // Both verdicts, and every kind of op, were exercised.
    expect(verdicts.ok).toBeGreaterThan(800);
    expect(verdicts.fail).toBeGreaterThan(800);
    for (const k of ['put', 'delete', 'batch', 'read']) expect(verdicts.byKind.get(k) ?? 0).toBeGreaterThan(1000);
  });

  it('on random histories where every write committed with a known revision (the linear lazy strategy)', () => {
    let oks = 0;
    let fails = 0;
    fc.assert(
      fc.property(histories(true), (ops) => {
        let p;
        try {
          p = prepare(ops);
        } catch {
          return;
        }
        const expected = p.failures.length === 0 && bruteForce(ops, p.ctx);
        if (expected) oks++;
        else fails++;
        expect(checkHistory(ops, { minimalWindows: false }).ok).toBe(expected);
      }),
      { numRuns: 2000, seed: 20261128 },
    );
    expect(oks).toBeGreaterThan(400);
    expect(fails).toBeGreaterThan(400);
  });

  it('a minimal failing window fails on its own, from the state it says it starts in', () => {
    let windows = 0;
    fc.assert(
      fc.property(history, (ops) => {
        let r;
        try {
          r = checkHistory(ops);
        } catch {
          return;
        }
        for (const f of r.failures) {
          if (f.kind !== 'not-linearizable') continue;
          windows++;
          expect(f.window.length).toBeGreaterThan(0);
          expect(f.window.length).toBeLessThanOrEqual(ops.length);
          const alone = checkHistory(f.window, { initial: f.windowStart, minimalWindows: false });
          expect(alone.failures.map((x) => x.kind)).toContain('not-linearizable');
        }
      }),
      { numRuns: 1500, seed: 7 },
    );
    expect(windows).toBeGreaterThan(300);
  });
});
