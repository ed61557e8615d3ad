// Environments, change requests and schedules through the notification
// path, end to end: a real 3-node cluster whose leader publishes every
// change through the SNS outbox to the fauxqs emulator, a real relay, real
// WebSocket clients. The oracle is the cluster's own Watch stream: a client
// from before environments must get exactly what a legacy Watch stream
// carries, a client of every environment what an all-environments stream
// carries, in revision order with an unbroken chain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenStore, hashToken } from '@flagraft/auth';
import type { LocalCluster } from '@flagraft/testkit';
import type { ClusterClient } from '@flagraft/cluster-client';
import type { AnyChangeEvent, StoredChangeRequest, StoredSchedule } from '@flagraft/flag-model';
import type { ChangeEvent } from '../src/index.js';
import { connect, upgradeStatus, waitFor, type RelayFixture, type TestClient } from './helpers.js';
import { clusterStack } from './cluster-stack.js';

const TOKENS = { reader: 'env-reader-secret', staging: 'staging-reader-secret' };
const tokens = () => createTokenStore([
  { name: 'rita', role: 'reader', sha256: hashToken(TOKENS.reader) },
  { name: 'stan', role: 'reader', sha256: hashToken(TOKENS.staging), environments: ['staging'] },
]);

const stack = clusterStack();
let cluster: LocalCluster | undefined;
let relay: RelayFixture | undefined;
let client: ClusterClient | undefined;
const sockets: TestClient[] = stack.sockets;

const flag = (key: string, n: number) => ({
  // Only the configuration varies: a definition change would also reach the protected environment.
  key, type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: n % 2 ? 'on' : 'off', enabled: n % 3 !== 0, rules: [],
});

beforeAll(async () => {
  ({ relay, cluster, client } = await stack.start({ relay: { auth: tokens(), gapTimeoutMs: 20_000 } }));
}, 120_000);

afterAll(() => stack.stop(), 60_000);

function ws(query: string, token: string): TestClient {
  const c = connect(`${relay!.wsUrl}${query}`, { token });
  sockets.push(c);
  return c;
}
const hello = (c: TestClient) => waitFor(() => c.messages.some((m) => m.type === 'hello'), 'hello', 15_000);
/** What a relay event says, without the chain fields (the Watch stream has none). */
const unchained = (e: ChangeEvent) => {
  const { part: _p, parts: _ps, prevRevision: _pr, ...rest } = e as ChangeEvent & { part?: number; parts?: number; prevRevision?: number };
  return rest;
};
const ident = (e: { kind: string; key: string; revision: number; env?: string }) => `${e.revision}:${e.kind}:${e.key}:${e.env ?? ''}`;

describe('environment, change request and schedule events through SNS and the relay', () => {
  it('old-style clients get exactly the old events; every-environment and staging clients get theirs, in order, with no gap; change request and schedule transitions reach subscribers', async () => {
    // Environments first (the default, production, stays open for direct writes).
    const from = Number((await client!.status()).appliedRevision);
    const watchAll: AnyChangeEvent[] = [];
    const watchLegacy: AnyChangeEvent[] = [];
    const w1 = client!.watch({ fromRevision: from, allEnvironments: true, onChange: (e) => watchAll.push(e as AnyChangeEvent) });
    const w2 = client!.watch({ fromRevision: from, onChange: (e) => watchLegacy.push(e as AnyChangeEvent) });
    const legacy = ws('', TOKENS.reader);
    const all = ws('?environments=all', TOKENS.reader);
    const staging = ws('?environments=staging', TOKENS.staging);
    // By auth message: a staging token asking for "all" gets all of its environments, staging.
    const viaAuth = connect(`${relay!.wsUrl}`, {});
    sockets.push(viaAuth);
    await viaAuth.opened;
    viaAuth.ws.send(JSON.stringify({ type: 'auth', token: TOKENS.staging, environments: 'all', kinds: ['flag', 'changeRequest'] }));
    await Promise.all([hello(legacy), hello(all), hello(staging), hello(viaAuth)]);
    // The old hello is unchanged; a client that named environments is told what it gets and which one is the default.
    expect(Object.keys(legacy.messages[0]).sort()).toEqual(['principal', 'replayFloor', 'revision', 'type']);
    expect(all.messages[0]).toMatchObject({ type: 'hello', environments: 'all', defaultEnvironment: 'production' });
    expect(staging.messages[0]).toMatchObject({ type: 'hello', environments: ['staging'], defaultEnvironment: 'production' });
    expect(viaAuth.messages[0]).toMatchObject({ type: 'hello', environments: ['staging'] });

    try {
      await client!.propose({ op: 'putEnvironment', environment: { name: 'staging' } }, { actor: 'ops' });
      await client!.propose({ op: 'putEnvironment', environment: { name: 'secure', policy: { approvalsRequired: 1, authorCannotApprove: true } } }, { actor: 'ops' });
      await client!.putSegment({ name: 'beta', conditions: [] }, { actor: 'ops' });
      await client!.putFlag(flag('shared', 0), { actor: 'ops' });
      const stagingRevs: number[] = [];
      for (let i = 1; i <= 6; i++) stagingRevs.push((await client!.putFlag(flag('ramp', i), { actor: 'sam', environment: 'staging' })).revision);
      await client!.putFlag(flag('shared', 7), { actor: 'ops' });
      const created = await client!.propose({ op: 'changeRequest', action: 'create', env: 'secure', title: 'ramp on in secure', ops: [{ op: 'putFlag', flag: flag('ramp', 9) }], submit: true }, { actor: 'alice' });
      const crId = created.changes[0]!.key;
      const approved = await client!.propose({ op: 'changeRequest', action: 'approve', id: crId }, { actor: 'bob', actorRole: 'editor' });
      const applied = await client!.propose({ op: 'changeRequest', action: 'apply', id: crId }, { actor: 'carol' });
      // A schedule in staging whose one step the leader fires shortly: created, then applied.
      const sch = await client!.propose({ op: 'schedule', action: 'create', env: 'staging', title: 'ramp up', steps: [{ at: Date.now() + 500, ops: [{ op: 'putFlag', flag: flag('ramp', 10) }] }] }, { actor: 'sam' });
      const schId = sch.changes[0]!.key;
      const stepApplied = (e: { kind: string; key: string }) => e.kind === 'schedule' && e.key === schId && (e as { schedule?: StoredSchedule }).schedule?.schedule.steps[0]!.status === 'applied';
      await waitFor(() => watchAll.some(stepApplied), 'the schedule step applied', 15_000);
      const marker = await client!.putSegment({ name: 'marker', conditions: [] }, { actor: 'ops' });
      const atMarker = (es: { revision: number }[]) => es.some((e) => e.revision === marker.revision);
      await waitFor(() => atMarker(watchAll) && atMarker(watchLegacy) && atMarker(legacy.changes()) && atMarker(all.changes()) && atMarker(staging.changes()), 'every stream at the marker', 30_000);
      await waitFor(() => viaAuth.changes().some((e) => e.revision === stagingRevs[5]), 'auth-message client got the last staging write', 5_000);

      // 1. Old-style client: exactly the legacy Watch stream (the old events, same payloads), nothing else.
      expect(legacy.changes().map(unchained)).toEqual(watchLegacy);
      expect(legacy.changes().every((e) => (e.kind === 'flag' && e.env === undefined) || e.kind === 'segment')).toBe(true);

      // 2. Every environment: exactly the all-environments Watch stream, in revision order, chain unbroken.
      const got = all.changes();
      expect(got.map(unchained)).toEqual(watchAll);
      for (let i = 1; i < got.length; i++) {
        const [a, b] = [got[i - 1]!, got[i]!];
        if (b.revision === a.revision) expect(b.part).toBe((a.part ?? 0) + 1);
        else expect(b.prevRevision, `event ${ident(b)} follows ${ident(a)}`).toBe(a.revision);
      }
      expect(all.messages.some((m) => m.type === 'resync')).toBe(false);
      expect(got.map((e) => e.kind)).toEqual(expect.arrayContaining(['environment', 'segment', 'flag', 'changeRequest']));

      // 3. Staging: the staging flag changes in order, staging's environment event, the shared segments; nothing of production or secure.
      const st = staging.changes();
      const stagingWatch = watchAll.filter((e) => e.kind === 'segment' || (e.kind === 'flag' && e.env === 'staging') || (e.kind === 'environment' && e.key === 'staging')
        || (e.kind === 'schedule' && e.schedule?.schedule.env === 'staging'));
      expect(st.map(unchained)).toEqual(stagingWatch);
      const firedAt = watchAll.find(stepApplied)!.revision;
      expect(st.filter((e) => e.kind === 'flag' && e.key === 'ramp').map((e) => e.revision)).toEqual([...stagingRevs, firedAt]);
      expect(st.some((e) => e.kind === 'changeRequest' || (e.kind === 'flag' && e.env !== 'staging'))).toBe(false);
      expect(staging.messages.some((m) => m.type === 'resync')).toBe(false);
      // The auth-message subscription (a staging token asking for "all", flags and change requests): staging flags only.
      expect(viaAuth.changes().length).toBeGreaterThan(0);
      expect(viaAuth.changes().every((e) => e.kind === 'flag' && e.env === 'staging')).toBe(true);

      // 4. The change request's approval reached the every-environment subscriber, with its approver.
      const crEvents = got.filter((e) => e.kind === 'changeRequest' && e.key === crId);
      expect(crEvents.map((e) => e.revision)).toEqual([created.revision, approved.revision, applied.revision]);
      const approval = crEvents[1] as ChangeEvent & { changeRequest: StoredChangeRequest };
      expect(approval.changeRequest.changeRequest).toMatchObject({ env: 'secure', status: 'approved', approvals: [{ actor: 'bob', role: 'editor' }] });
      expect(approval.actor).toBe('bob');
      // 5. The schedule: created, then its step applied by the leader together with the staging flag change, at one revision,
      // to the every-environment and the staging subscribers alike.
      for (const c of [got, st]) {
        const evs = c.filter((e) => e.kind === 'schedule' && e.key === schId) as (ChangeEvent & { schedule: StoredSchedule })[];
        expect(evs.map((e) => e.schedule.schedule.steps[0]!.status)).toEqual(['pending', 'applied']);
        const rev = evs[1]!.revision;
        expect(c.filter((e) => e.revision === rev).map((e) => `${e.kind}:${(e as { env?: string }).env ?? ''}:${e.part}/${e.parts}`)).toEqual(['flag:staging:0/2', 'schedule::1/2']);
      }
      // 6. Replay: a staging client reconnecting with ?since= gets exactly the staging events it missed, then `replayed`.
      const since = stagingRevs[2]!;
      const again = ws(`?environments=staging&since=${since}`, TOKENS.staging);
      await waitFor(() => again.messages.some((m) => m.type === 'replayed'), 'replay done', 10_000);
      expect(again.changes()).toEqual(st.filter((e) => e.revision > since));
      expect(again.messages.at(-1)).toMatchObject({ type: 'replayed', count: st.filter((e) => e.revision > since).length });
      // Applied: the secure flag change and the request's record share one revision.
      expect(got.filter((e) => e.revision === applied.revision).map((e) => `${e.kind}:${(e as { env?: string }).env ?? ''}`)).toEqual(['flag:secure', 'changeRequest:']);
    } finally {
      w1.close();
      w2.close();
    }
  });

  it('refuses a subscription outside the token\'s environments, naming it', async () => {
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    // The old stream is the default environment's: a staging token may not have it.
    expect(await upgradeStatus(relay!.wsUrl, auth(TOKENS.staging))).toBe(403);
    expect(await upgradeStatus(`${relay!.wsUrl}?environments=production`, auth(TOKENS.staging))).toBe(403);
    expect(await upgradeStatus(`${relay!.wsUrl}?environments=staging,production`, auth(TOKENS.staging))).toBe(403);
    expect(await upgradeStatus(`${relay!.wsUrl}?environments=staging`, auth(TOKENS.staging))).toBe(101);
    // Kinds beyond flag/segment need environments; a bad environment name is a bad request.
    expect(await upgradeStatus(`${relay!.wsUrl}?kinds=changeRequest`, auth(TOKENS.reader))).toBe(400);
    expect(await upgradeStatus(`${relay!.wsUrl}?environments=bad/name`, auth(TOKENS.reader))).toBe(400);
    // The same by auth message: an error naming the environment, then close 4403.
    const c = connect(relay!.wsUrl, {});
    sockets.push(c);
    await c.opened;
    c.ws.send(JSON.stringify({ type: 'auth', token: TOKENS.staging, environments: ['production'] }));
    await waitFor(() => c.closed !== undefined, 'closed', 5_000);
    expect(c.closed!.code).toBe(4403);
    expect(c.messages).toEqual([expect.objectContaining({ type: 'error', code: 'FORBIDDEN', message: expect.stringContaining('production') })]);
  });
});
