// One suite of the cluster API's semantics (revisions, preconditions,
// history, page tokens, errors, Watch, de-duplication), run against the
// in-memory cluster and against a real 3-node cluster through
// @flagraft/cluster-client: what passes on both is what tests built on the
// in-memory cluster may rely on. Revisions are compared by order, never by
// value: a real cluster's log also holds entries that are not writes
// (leader no-ops, membership, outbox progress).
import { describe, expect, it } from 'vitest';
import type { AnyChangeEvent, Change, ChangeEvent, FlagDefinition, PromotionItem, SegmentDefinition, StoredChangeRequest, StoredEnvironment, StoredFlag, StoredSchedule } from '@flagraft/flag-model';
import type { ClusterApi } from '../src/index.js';

const ACTOR = 'conformance';
let seq = 0;
/** A fresh key prefix per test: the suite shares one cluster. */
const fresh = (p: string) => `${p}-${process.pid}-${seq++}`;

export function flag(key: string, extra: Partial<FlagDefinition> = {}): FlagDefinition {
  return { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules: [], ...extra };
}
const segment = (name: string): SegmentDefinition => ({ name, conditions: [{ attribute: 'plan', op: 'equals', value: 'pro' }] });

/** The ClusterError a call fails with (code and details), or a failed expectation if it succeeds. */
async function failure(p: Promise<unknown>): Promise<{ code: string; details: Record<string, unknown>; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: string; details?: Record<string, unknown>; message: string; name?: string };
    expect(err.name).toBe('ClusterError');
    return { code: err.code!, details: err.details ?? {}, message: err.message };
  }
  throw new Error('expected the call to fail');
}

function waitUntil(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

export function clusterConformance(name: string, port: () => ClusterApi): void {
  describe(`cluster API conformance: ${name}`, () => {
    it('a put creates a flag at its revision, an update keeps createRevision and counts versions', async () => {
      const c = port();
      const key = fresh('create');
      const a = await c.putFlag(flag(key), { actor: ACTOR });
      expect(a.revision).toBeGreaterThan(0);
      expect(a.flag).toMatchObject({ createRevision: a.revision, modRevision: a.revision, version: 1, updatedBy: ACTOR });
      expect(a.flag.flag).toEqual(flag(key));
      expect(await c.getFlag(key)).toEqual(a.flag);
      const b = await c.putFlag(flag(key, { enabled: false }), { actor: 'other', expectedRevision: a.revision });
      expect(b.revision).toBeGreaterThan(a.revision);
      expect(b.flag).toMatchObject({ createRevision: a.revision, modRevision: b.revision, version: 2, updatedBy: 'other' });
      expect(await c.getFlag(fresh('missing'))).toBeUndefined();
    });

    it('preconditions: a stale or create-only expectation is REVISION_MISMATCH with the current revision', async () => {
      const c = port();
      const key = fresh('cas');
      const a = await c.putFlag(flag(key), { actor: ACTOR, expectedRevision: 0 });
      await c.putFlag(flag(key, { description: 'second' }), { actor: ACTOR, expectedRevision: a.revision });
      const current = (await c.getFlag(key))!;
      const stale = await failure(c.putFlag(flag(key), { actor: ACTOR, expectedRevision: a.revision }));
      expect(stale.code).toBe('REVISION_MISMATCH');
      expect(stale.details).toMatchObject({ key, currentRevision: current.modRevision, expectedRevision: a.revision });
      expect(stale.details.revision).toBeGreaterThan(current.modRevision);
      const exists = await failure(c.putFlag(flag(key), { actor: ACTOR, expectedRevision: 0 }));
      expect(exists).toMatchObject({ code: 'REVISION_MISMATCH', details: { currentRevision: current.modRevision } });
      const missing = await failure(c.putFlag(flag(fresh('cas-missing')), { actor: ACTOR, expectedRevision: 5 }));
      expect(missing).toMatchObject({ code: 'REVISION_MISMATCH', details: { currentRevision: 0, expectedRevision: 5 } });
      const del = await failure(c.deleteFlag(key, { actor: ACTOR, expectedRevision: a.revision }));
      expect(del).toMatchObject({ code: 'REVISION_MISMATCH', details: { currentRevision: current.modRevision } });
      expect(await c.getFlag(key)).toEqual(current);
    });

    it('validation, missing items and bad requests are named errors', async () => {
      const c = port();
      const bad = await failure(c.putFlag({ ...flag(fresh('bad')), defaultVariant: 'nope' }, { actor: ACTOR }));
      expect(bad.code).toBe('VALIDATION');
      expect(bad.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'defaultVariant' })]));
      const badKey = await failure(c.putFlag(flag('Not A Key!'), { actor: ACTOR }));
      expect(badKey.code).toBe('VALIDATION');
      const gone = await failure(c.deleteFlag(fresh('gone'), { actor: ACTOR }));
      expect(gone).toMatchObject({ code: 'NOT_FOUND', details: { currentRevision: 0 } });
      expect((await failure(c.deleteSegment(fresh('gone'), { actor: ACTOR }))).code).toBe('NOT_FOUND');
      expect((await failure(c.deleteFlag('', { actor: ACTOR }))).code).toBe('INVALID_ARGUMENT');
      expect((await failure(c.batch([], { actor: ACTOR }))).code).toBe('INVALID_ARGUMENT');
      expect((await failure(c.history('', {}))).code).toBe('INVALID_ARGUMENT');
    });

    it('segments: a flag cannot reference a missing one, a referenced one cannot be deleted', async () => {
      const c = port();
      const seg = fresh('seg');
      const key = fresh('segflag');
      const withSeg = flag(key, { rules: [{ conditions: [], segments: [seg], variant: 'on' }] });
      expect((await failure(c.putFlag(withSeg, { actor: ACTOR }))).code).toBe('SEGMENT_MISSING');
      const s = await c.putSegment(segment(seg), { actor: ACTOR });
      expect(s.segment).toMatchObject({ createRevision: s.revision, modRevision: s.revision, version: 1, segment: segment(seg) });
      expect(await c.getSegment(seg)).toEqual(s.segment);
      await c.putFlag(withSeg, { actor: ACTOR });
      const inUse = await failure(c.deleteSegment(seg, { actor: ACTOR }));
      expect(inUse).toMatchObject({ code: 'SEGMENT_IN_USE', details: { key: seg, usedBy: [key] } });
      await c.deleteFlag(key, { actor: ACTOR });
      await c.deleteSegment(seg, { actor: ACTOR });
      expect(await c.getSegment(seg)).toBeUndefined();
    });

    it('a batch is atomic: one failing op fails it whole, naming the op', async () => {
      const c = port();
      const k1 = fresh('batch');
      const k2 = fresh('batch');
      const bad = await failure(c.batch([{ op: 'putFlag', flag: flag(k1) }, { op: 'deleteFlag', key: k2 }], { actor: ACTOR }));
      expect(bad).toMatchObject({ code: 'NOT_FOUND', details: { opIndex: 1 } });
      expect(bad.message).toMatch(/^ops\[1\]: /);
      expect(await c.getFlag(k1)).toBeUndefined();
      const twice = await failure(c.batch([{ op: 'putFlag', flag: flag(k1) }, { op: 'putFlag', flag: flag(k1) }], { actor: ACTOR }));
      expect(twice).toMatchObject({ code: 'INVALID_ARGUMENT', details: { opIndex: 1 } });
      const ok = await c.batch([{ op: 'putFlag', flag: flag(k1) }, { op: 'putFlag', flag: flag(k2) }], { actor: ACTOR });
      expect(ok.changes.map((ch) => [ch.kind, ch.key, ch.op, ch.revision])).toEqual([['flag', k1, 'put', ok.revision], ['flag', k2, 'put', ok.revision]]);
      expect((await c.getFlag(k2))?.modRevision).toBe(ok.revision);
    });

    it('lists page in key order with opaque tokens, bounded by the limit', async () => {
      const c = port();
      const prefix = `${fresh('page')}-`;
      const keys = ['e', 'a', 'c', 'b', 'd'].map((s) => `${prefix}${s}`);
      let last = 0;
      for (const k of keys) last = (await c.putFlag(flag(k), { actor: ACTOR })).revision;
      const seen: string[] = [];
      const sizes: number[] = [];
      let token: string | undefined;
      do {
        const p = await c.listFlags({ prefix, limit: 2, pageToken: token });
        expect(p.revision).toBeGreaterThanOrEqual(last);
        sizes.push(p.flags.length);
        seen.push(...p.flags.map((f) => f.flag.key));
        token = p.nextPageToken;
      } while (token);
      expect(sizes).toEqual([2, 2, 1]);
      expect(seen).toEqual([...keys].sort());
      const all = await c.listFlags({ prefix });
      expect(all.nextPageToken).toBeUndefined();
      expect(all.flags.map((f) => f.flag.key)).toEqual([...keys].sort());
      // A limit of 2 with exactly 2 items left: no token for an empty page.
      const tail = await c.listFlags({ prefix: `${prefix}d`, limit: 1 });
      expect(tail.flags.length).toBe(1);
      expect(tail.nextPageToken).toBeUndefined();
      const snap = await c.snapshotAll();
      expect(snap.revision).toBeGreaterThanOrEqual(last);
      const inSnap = snap.flags.map((f) => f.flag.key).filter((k) => k.startsWith(prefix));
      expect(inSnap).toEqual([...keys].sort());
    });

    it('segments list with the same paging', async () => {
      const c = port();
      const prefix = `${fresh('segpage')}-`;
      for (const s of ['b', 'a', 'c']) await c.putSegment(segment(`${prefix}${s}`), { actor: ACTOR });
      const first = await c.listSegments({ prefix, limit: 2 });
      expect(first.segments.map((s) => s.segment.name)).toEqual([`${prefix}a`, `${prefix}b`]);
      const second = await c.listSegments({ prefix, limit: 2, pageToken: first.nextPageToken });
      expect(second.segments.map((s) => s.segment.name)).toEqual([`${prefix}c`]);
      expect(second.nextPageToken).toBeUndefined();
    });

    it('history is newest first, with before/after, bounded by limit and beforeRevision', async () => {
      const c = port();
      const key = fresh('hist');
      const r1 = (await c.putFlag(flag(key), { actor: 'a1' })).revision;
      const r2 = (await c.putFlag(flag(key, { enabled: false }), { actor: 'a2' })).revision;
      const r3 = (await c.deleteFlag(key, { actor: 'a3' })).revision;
      const h = await c.history(key);
      expect(h.map((x) => [x.revision, x.op, x.actor])).toEqual([[r3, 'delete', 'a3'], [r2, 'put', 'a2'], [r1, 'put', 'a1']]);
      expect(h[0].after).toBeNull();
      expect((h[0].before as StoredFlag).modRevision).toBe(r2);
      expect(h[2].before).toBeNull();
      expect(typeof h[0].time).toBe('number');
      expect((await c.history(key, { limit: 1 })).map((x) => x.revision)).toEqual([r3]);
      expect((await c.history(key, { beforeRevision: r3 })).map((x) => x.revision)).toEqual([r2, r1]);
      expect(await c.history(key, { kind: 'segment' })).toEqual([]);
    });

    it('a write retried with the same requestId applies once and answers the same', async () => {
      const c = port();
      const key = fresh('dedup');
      const requestId = `req-${key}`;
      const a = await c.putFlag(flag(key), { actor: ACTOR, requestId });
      const b = await c.putFlag(flag(key), { actor: ACTOR, requestId });
      expect(b).toEqual(a);
      expect((await c.history(key)).length).toBe(1);
      const failedId = `req-fail-${key}`;
      const e1 = await failure(c.deleteFlag(fresh('none'), { actor: ACTOR, requestId: failedId }));
      const e2 = await failure(c.deleteFlag(fresh('none'), { actor: ACTOR, requestId: failedId }));
      expect(e2).toEqual(e1);
    });

    it('caller-chosen ids (Idempotency-Key): the same ids and fingerprint apply once, another fingerprint is refused', async () => {
      const c = port();
      const key = fresh('idem');
      const ids = { clientId: `gw-${key}`, requestId: `key-${key}`, fingerprint: 'f1' };
      const a = await c.putFlag(flag(key), { actor: ACTOR, idempotency: ids });
      const b = await c.putFlag(flag(key), { actor: ACTOR, idempotency: ids });
      expect(b).toEqual(a);
      const reused = await failure(c.putFlag(flag(key, { enabled: false }), { actor: ACTOR, idempotency: { ...ids, fingerprint: 'f2' } }));
      expect(reused).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', details: { revision: a.revision } });
      expect((await c.getFlag(key))?.flag.enabled).toBe(true);
      expect((await c.history(key)).length).toBe(1);
    });

    it('watch delivers the changes after fromRevision, then live ones, with progress', async () => {
      const c = port();
      const key = fresh('watch');
      const from = (await c.putFlag(flag(key), { actor: ACTOR })).revision;
      const r2 = (await c.putFlag(flag(key, { enabled: false }), { actor: ACTOR })).revision;
      const events: ChangeEvent[] = [];
      const progress: number[] = [];
      const w = c.watch({ fromRevision: from, onChange: (e) => { if (e.key === key) events.push(e); }, onProgress: (r) => progress.push(r), progressIntervalMs: 100 });
      try {
        await waitUntil('the catch-up event', () => events.length === 1);
        expect(progress[0]).toBe(from);
        const r3 = (await c.deleteFlag(key, { actor: ACTOR })).revision;
        await waitUntil('the live event', () => events.length === 2);
        expect(events.map((e) => [e.revision, e.op])).toEqual([[r2, 'put'], [r3, 'delete']]);
        expect(events[0]).toMatchObject({ v: 1, kind: 'flag', key, actor: ACTOR });
        expect((events[0] as { flag: StoredFlag }).flag.modRevision).toBe(r2);
        expect((events[1] as { flag: StoredFlag | null }).flag).toBeNull();
        expect(new Date(events[0].time).toISOString()).toBe(events[0].time);
        await waitUntil('a progress message at or past the delete', () => progress.some((p) => p >= r3));
      } finally {
        w.close();
      }
    });

    it('status names the cluster and its members; membership changes are checked', async () => {
      const c = port();
      const s = await c.status();
      expect(s.clusterId).toBe(c.clusterId);
      expect(s.members.map((m) => [m.id, m.role])).toEqual([[1, 'voter'], [2, 'voter'], [3, 'voter']]);
      expect(s.leaderId).toBeGreaterThan(0);
      expect(s.appliedIndex).toBeGreaterThan(0);
      expect((await failure(c.promoteLearner(99))).code).toBe('FAILED_PRECONDITION');
      expect((await failure(c.removeMember(99))).code).toBe('NOT_FOUND');
      expect((await failure(c.transferLeader(99))).code).toBe('FAILED_PRECONDITION');
      expect((await failure(c.addLearner(1, '127.0.0.1:1'))).code).toBe('FAILED_PRECONDITION');
      expect((await failure(c.addLearner(7, 'no port'))).code).toBe('INVALID_ARGUMENT');
    });

    it('environments: a flag has one definition and a configuration per environment; reads, lists, history and snapshots name the environment', async () => {
      const c = port();
      const env = fresh('stage');
      const key = fresh('env-flag');
      const base = await c.putFlag(flag(key), { actor: ACTOR });
      const created = await c.propose({ op: 'putEnvironment', environment: { name: env, displayName: 'Staging' } }, { actor: ACTOR });
      expect(created.changes.find((x) => x.kind === 'environment')).toMatchObject({ key: env, op: 'put' });
      const envs = await c.query<StoredEnvironment[]>('environments');
      expect(envs.find((e) => e.environment.name === env)).toMatchObject({ environment: { displayName: 'Staging' }, isDefault: false });
      expect(envs.filter((e) => e.isDefault)).toHaveLength(1);
      // A new environment copies every flag's configuration from the default one.
      expect((await c.getFlag(key, { environment: env }))?.flag).toEqual(base.flag.flag);
      const staged = await c.putFlag(flag(key, { enabled: false }), { actor: 'stager', environment: env });
      expect(staged.flag.flag.enabled).toBe(false);
      expect((await c.getFlag(key))?.flag.enabled).toBe(true);
      expect((await c.getFlag(key, { environment: env }))?.flag.enabled).toBe(false);
      expect((await c.listFlags({ environment: env, prefix: key })).flags.map((f) => [f.flag.key, f.flag.enabled])).toEqual([[key, false]]);
      expect((await c.snapshotAll({ environment: env })).flags.find((f) => f.flag.key === key)?.flag.enabled).toBe(false);
      const staging = await c.history(key, { environment: env });
      // Newest first: the edit, then the copy the new environment was given.
      expect(staging.map((h) => [h.revision, h.env, h.actor])).toEqual([[staged.revision, env, 'stager'], [created.revision, env, ACTOR]]);
      expect((await c.history(key)).map((h) => h.revision)).toEqual([base.revision]);
      expect((await c.history(env, { kind: 'environment' })).map((h) => h.revision)).toEqual([created.revision]);
      for (const call of [() => c.getFlag(key, { environment: 'nowhere' }), () => c.putFlag(flag(key), { actor: ACTOR, environment: 'nowhere' }), () => c.listFlags({ environment: 'nowhere' })]) {
        expect(await failure(call())).toMatchObject({ code: 'NOT_FOUND', message: 'environment "nowhere" does not exist' });
      }
      expect((await failure(c.query('nothing'))).code).toBe('INVALID_ARGUMENT');
      expect((await failure(c.propose({ op: 'putFlag', flag: flag(key) } as never, { actor: ACTOR }))).code).toBe('INVALID_ARGUMENT');
    });

    it('changes: the global audit log, newest first, filtered by actor, kind, environment and time, paged through a batch', async () => {
      const c = port();
      const actor = fresh('auditor');
      const seg = fresh('audit-seg');
      const keys = [fresh('audit-a'), fresh('audit-b'), fresh('audit-c')];
      await c.putSegment(segment(seg), { actor });
      // One revision for three flags (and, in other tests' environments, their copies there).
      await c.batch(keys.map((k) => ({ op: 'putFlag' as const, flag: flag(k) })), { actor });
      type Page = { changes: Change[]; nextPageToken?: string; defaultEnvironment: string };
      const def = (await c.query<Page>('changes', { limit: 1 })).defaultEnvironment;
      const flags = await c.query<Page>('changes', { actor, kind: 'flag', environment: def });
      expect(flags.changes.map((x) => [x.key, x.actor, x.env])).toEqual([...keys].reverse().map((k) => [k, actor, undefined]));
      expect(flags.nextPageToken).toBeUndefined();
      expect((await c.query<Page>('changes', { actor, kind: 'segment' })).changes.map((x) => x.key)).toEqual([seg]);
      expect((await c.query<Page>('changes', { key: keys[1], environment: def })).changes.map((x) => x.key)).toEqual([keys[1]]);
      expect((await c.query<Page>('changes', { actor, untilMs: 1 })).changes).toEqual([]);
      // Two a page: the batch's changes split across pages, none lost or repeated.
      const p1 = await c.query<Page>('changes', { actor, kind: 'flag', environment: def, limit: 2 });
      expect(p1.nextPageToken).toMatch(/^\d+:\d+$/);
      const p2 = await c.query<Page>('changes', { actor, kind: 'flag', environment: def, limit: 2, pageToken: p1.nextPageToken });
      expect([...p1.changes, ...p2.changes].map((x) => x.key)).toEqual([...keys].reverse());
      expect(p2.nextPageToken).toBeUndefined();
      for (const args of [{ limit: 0 }, { pageToken: 'x' }, { kind: 'flags' }, { sinceMs: -1 }]) expect((await failure(c.query('changes', args))).code).toBe('INVALID_ARGUMENT');
    });

    it('watch: old streams see only the default environment; a stream of every environment sees the rest, with env', async () => {
      const c = port();
      const env = fresh('watch-env');
      const key = fresh('watch-env-flag');
      const from = (await c.putFlag(flag(key), { actor: ACTOR })).revision;
      const old: ChangeEvent[] = [];
      const all: AnyChangeEvent[] = [];
      // Other tests' environments get copies of the definition change too: only the default one and this test's count.
      const mine = (e: AnyChangeEvent) => (e.kind === 'environment' && e.key === env) || (e.key === key && [undefined, env].includes((e as { env?: string }).env));
      const w1 = c.watch({ fromRevision: from, onChange: (e) => { if (mine(e)) old.push(e); } });
      const w2 = c.watch({ fromRevision: from, allEnvironments: true, onChange: (e) => { if (mine(e)) all.push(e); } });
      try {
        const r1 = (await c.propose({ op: 'putEnvironment', environment: { name: env } }, { actor: ACTOR })).revision;
        const r2 = (await c.putFlag(flag(key, { enabled: false }), { actor: ACTOR, environment: env })).revision;
        const r3 = (await c.putFlag(flag(key, { description: 'last' }), { actor: ACTOR })).revision;
        await waitUntil('every stream caught up', () => all.length === 5 && old.length === 1);
        expect(old.map((e) => [e.revision, e.kind])).toEqual([[r3, 'flag']]);
        // The new environment with its copy of the flag, the edit there, then the definition change in each environment.
        expect(all.map((e) => [e.revision, e.kind, (e as { env?: string }).env])).toEqual([[r1, 'environment', undefined], [r1, 'flag', env], [r2, 'flag', env], [r3, 'flag', undefined], [r3, 'flag', env]]);
      } finally {
        w1.close();
        w2.close();
      }
    });

    it('promotion: the plan names what differs, promote copies it in one revision; an environment in use is deleted only with force', async () => {
      const c = port();
      const env = fresh('promo');
      const key = fresh('promo-flag');
      await c.putFlag(flag(key), { actor: ACTOR });
      await c.propose({ op: 'putEnvironment', environment: { name: env } }, { actor: ACTOR });
      await c.putFlag(flag(key, { enabled: false }), { actor: ACTOR, environment: env });
      const def = (await c.query<StoredEnvironment[]>('environments')).find((e) => e.isDefault)!.environment.name;
      const plan = await c.query<PromotionItem[]>('promotionPlan', { from: env, to: def, keys: [key] });
      expect(plan).toHaveLength(1);
      expect(plan[0]).toMatchObject({ key, before: { flag: { enabled: true } }, after: { enabled: false } });
      const promoted = await c.propose({ op: 'promote', from: env, to: def, keys: [key] }, { actor: ACTOR });
      expect(promoted.changes.filter((x) => x.kind === 'flag').map((x) => [x.key, x.revision])).toEqual([[key, promoted.revision]]);
      expect(await c.getFlag(key)).toMatchObject({ flag: { enabled: false }, modRevision: promoted.revision });
      expect(await c.query<PromotionItem[]>('promotionPlan', { from: env, to: def, keys: [key] })).toEqual([]);
      expect((await failure(c.query('promotionPlan', { from: env, to: 'nowhere' }))).code).toBe('NOT_FOUND');
      expect((await failure(c.propose({ op: 'promote', from: env, to: 'nowhere' }, { actor: ACTOR }))).code).toBe('NOT_FOUND');
      expect(await failure(c.propose({ op: 'deleteEnvironment', name: env }, { actor: ACTOR }))).toMatchObject({ code: 'ENVIRONMENT_IN_USE', details: { env } });
      await c.propose({ op: 'deleteEnvironment', name: env, force: true }, { actor: ACTOR });
      expect((await c.query<StoredEnvironment[]>('environments')).map((e) => e.environment.name)).not.toContain(env);
      expect((await failure(c.getFlag(key, { environment: env }))).code).toBe('NOT_FOUND');
      expect((await failure(c.propose({ op: 'deleteEnvironment', name: def, force: true }, { actor: ACTOR }))).code).toBe('ENVIRONMENT_IN_USE');
    });

    it('schedules: created with every step checked at once, listed, read, cancelled once', async () => {
      const c = port();
      const env = fresh('sched');
      const key = fresh('sched-flag');
      await c.putFlag(flag(key), { actor: ACTOR });
      await c.propose({ op: 'putEnvironment', environment: { name: env } }, { actor: ACTOR });
      const at = Date.now() + 3_600_000;
      const off = [{ op: 'putFlag' as const, flag: flag(key, { enabled: false }) }];
      const made = await c.propose({ op: 'schedule', action: 'create', env, title: 'later', steps: [{ at, ops: off }] }, { actor: 'planner' });
      const id = (made.changes.find((x) => x.kind === 'schedule')!.after as StoredSchedule).schedule.id;
      const read = await c.query<StoredSchedule>('schedule', { id });
      expect(read.schedule).toMatchObject({ env, title: 'later', createdBy: 'planner', steps: [{ at, status: 'pending' }] });
      expect((await c.query<StoredSchedule[]>('schedules')).map((x) => x.schedule.id)).toContain(id);
      expect((await c.getFlag(key, { environment: env }))?.flag.enabled).toBe(true);
      // Steps out of time order, a step that could never apply, an unknown environment: refused at once.
      expect((await failure(c.propose({ op: 'schedule', action: 'create', env, title: 't', steps: [{ at, ops: off }, { at: at - 1, ops: off }] }, { actor: ACTOR }))).code).toBe('INVALID_ARGUMENT');
      expect((await failure(c.propose({ op: 'schedule', action: 'create', env, title: 't', steps: [{ at, ops: [{ op: 'deleteFlag', key: fresh('none') }] }] }, { actor: ACTOR }))).code).toBe('NOT_FOUND');
      expect((await failure(c.propose({ op: 'schedule', action: 'create', env: 'nowhere', title: 't', steps: [{ at, ops: off }] }, { actor: ACTOR }))).code).toBe('NOT_FOUND');
      const cancelled = await c.propose({ op: 'schedule', action: 'cancel', id }, { actor: 'planner' });
      expect((cancelled.changes.find((x) => x.kind === 'schedule')!.after as StoredSchedule).schedule.steps.map((st) => st.status)).toEqual(['cancelled']);
      expect((await failure(c.propose({ op: 'schedule', action: 'cancel', id }, { actor: 'planner' }))).code).toBe('INVALID_STATE');
      expect((await failure(c.query('schedule', { id: 'sch-none' }))).code).toBe('NOT_FOUND');
    });

    it('change requests: an apply on a stale base is conflicted with base, current and proposed; the author rebases; reject and withdraw', async () => {
      const c = port();
      const env = fresh('crc');
      const key = fresh('crc-flag');
      await c.putFlag(flag(key), { actor: ACTOR });
      await c.propose({ op: 'putEnvironment', environment: { name: env } }, { actor: ACTOR });
      const idOf = (r: { changes: Change[] }) => (r.changes.find((x) => x.kind === 'changeRequest')!.after as StoredChangeRequest).changeRequest.id;
      const cr = async (id: string) => (await c.query<StoredChangeRequest>('changeRequest', { id })).changeRequest;
      const make = async (enabled: boolean) => idOf(await c.propose({ op: 'changeRequest', action: 'create', env, title: `${enabled}`, submit: true, ops: [{ op: 'putFlag', flag: flag(key, { enabled }) }] }, { actor: 'alice' }));
      const first = await make(false);
      const second = await make(false);
      await c.propose({ op: 'changeRequest', action: 'approve', id: first }, { actor: 'bob' });
      await c.propose({ op: 'changeRequest', action: 'approve', id: second }, { actor: 'bob' });
      await c.propose({ op: 'changeRequest', action: 'apply', id: first }, { actor: 'alice' });
      await c.propose({ op: 'changeRequest', action: 'apply', id: second }, { actor: 'alice' });
      const conflicted = await cr(second);
      expect(conflicted.status).toBe('conflicted');
      expect(conflicted.conflicts?.[0]).toMatchObject({ kind: 'flag', key, current: { flag: { enabled: false } }, proposed: { enabled: false } });
      expect((await failure(c.propose({ op: 'changeRequest', action: 'rebase', id: second, ops: [{ op: 'putFlag', flag: flag(key, { enabled: true }) }] }, { actor: 'bob' }))).code).toBe('FORBIDDEN');
      await c.propose({ op: 'changeRequest', action: 'rebase', id: second, ops: [{ op: 'putFlag', flag: flag(key, { enabled: true }) }] }, { actor: 'alice' });
      // Its approvals are gone; the environment asks for none, so it is approved again as it stands.
      expect(await cr(second)).toMatchObject({ status: 'approved', approvals: [] });
      await c.propose({ op: 'changeRequest', action: 'reject', id: second, comment: 'not now' }, { actor: 'bob' });
      expect((await cr(second)).status).toBe('rejected');
      const third = await make(true);
      await c.propose({ op: 'changeRequest', action: 'withdraw', id: third }, { actor: 'alice' });
      expect((await cr(third)).status).toBe('withdrawn');
      expect((await failure(c.propose({ op: 'changeRequest', action: 'apply', id: third }, { actor: 'alice' }))).code).toBe('INVALID_STATE');
      expect((await c.getFlag(key, { environment: env }))?.flag.enabled).toBe(false);
    });

    // Last: while an environment is protected, definition changes of every flag reach it; the test lowers the policy again the only way there is.
    it('a protected environment refuses direct writes; a change request needs an approver other than its author, then applies', async () => {
      const c = port();
      const env = fresh('prod');
      const key = fresh('cr-flag');
      await c.putFlag(flag(key), { actor: ACTOR });
      await c.propose({ op: 'putEnvironment', environment: { name: env, production: true, policy: { approvalsRequired: 1, authorCannotApprove: true } } }, { actor: ACTOR });
      const direct = await failure(c.putFlag(flag(key, { enabled: false }), { actor: 'alice', environment: env }));
      expect(direct).toMatchObject({ code: 'PROTECTED', details: { env } });
      expect(direct.message).toContain('change request');
      const created = await c.propose({ op: 'changeRequest', action: 'create', env, title: 'turn it off', ops: [{ op: 'putFlag', flag: flag(key, { enabled: false }) }], submit: true }, { actor: 'alice' });
      const id = (created.changes.find((x) => x.kind === 'changeRequest')!.after as StoredChangeRequest).changeRequest.id;
      expect((await c.query<StoredChangeRequest>('changeRequest', { id })).changeRequest).toMatchObject({ status: 'inReview', author: 'alice', env });
      expect((await failure(c.propose({ op: 'changeRequest', action: 'approve', id }, { actor: 'alice' }))).code).toBe('FORBIDDEN');
      expect((await failure(c.propose({ op: 'changeRequest', action: 'apply', id }, { actor: 'alice' }))).code).toBe('INVALID_STATE');
      await c.propose({ op: 'changeRequest', action: 'approve', id, comment: 'ok' }, { actor: 'bob' });
      const applied = await c.propose({ op: 'changeRequest', action: 'apply', id }, { actor: 'alice' });
      expect((await c.getFlag(key, { environment: env }))?.flag.enabled).toBe(false);
      expect((await c.getFlag(key))?.flag.enabled).toBe(true);
      const cr = (await c.query<StoredChangeRequest>('changeRequest', { id })).changeRequest;
      expect(cr).toMatchObject({ status: 'applied', appliedRevision: applied.revision, approvals: [{ actor: 'bob', text: 'ok' }] });
      expect((await c.history(id, { kind: 'changeRequest' })).map((h) => h.actor)).toEqual(['alice', 'bob', 'alice']); // newest first: apply, approve, create (submitted at once)
      expect((await failure(c.query('changeRequest', { id: 'cr-none' }))).code).toBe('NOT_FOUND');
      // Lowering the policy is a protected change too: only a change request does it.
      expect((await failure(c.propose({ op: 'putEnvironment', environment: { name: env } }, { actor: 'alice' }))).code).toBe('PROTECTED');
      const lower = await c.propose({ op: 'changeRequest', action: 'create', env, title: 'unprotect', ops: [{ op: 'putEnvironment', environment: { name: env } }], submit: true }, { actor: 'alice' });
      const lid = (lower.changes.find((x) => x.kind === 'changeRequest')!.after as StoredChangeRequest).changeRequest.id;
      await c.propose({ op: 'changeRequest', action: 'approve', id: lid }, { actor: 'bob' });
      await c.propose({ op: 'changeRequest', action: 'apply', id: lid }, { actor: 'bob' });
      await c.putFlag(flag(key, { description: 'direct again' }), { actor: 'alice', environment: env });
    });
  });
}
