// Environments, enforced approvals and scheduled changes on a real 3-node
// cluster (processes, mutual TLS): the policy is enforced by the replicated
// state machine, so a raw gRPC PutFlag with a valid service identity is
// refused like any other path; change requests go through review to apply
// with every step's actor in the history; the Watch stream of every
// environment carries the new events while a legacy stream sees what it
// always saw; a schedule step applies exactly once even when the leader is
// SIGKILLed at its due time.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { validateBackup, type AnyChangeEvent, type BackupDocument, type Schedule, type StoredChangeRequest, type StoredSchedule } from '@flagraft/flag-model';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { flag, flagsClient, waitFor } from './helpers.js';

let cluster: LocalCluster;
let client: ClusterClient;

beforeAll(async () => {
  cluster = await startLocalCluster({ size: 3 });
  client = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 15_000 });
  await client.putSegment({ name: 'beta', conditions: [{ attribute: 'plan', op: 'equals', value: 'beta' }] }, { actor: 'setup' });
  await client.putFlag({ ...flag('checkout', 'v1'), rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] }, { actor: 'setup' });
  await client.propose({ op: 'putEnvironment', environment: { name: 'staging' } }, { actor: 'setup' });
  await client.propose({ op: 'putEnvironment', environment: { name: 'production', production: true, policy: { approvalsRequired: 1, authorCannotApprove: true } } }, { actor: 'setup' });
});
afterAll(async () => {
  client?.close();
  await cluster?.stop();
});

/** A unary call on a raw Flags client; resolves with the error (status + flagraft-error-bin body) or the answer. */
function raw(c: any, method: string, req: object): Promise<{ err?: grpc.ServiceError; body?: { code: string; message: string; env?: string }; res?: any }> {
  return new Promise((resolve) => c[method](req, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: any) => {
    if (!err) return resolve({ res });
    const bin = err.metadata?.get('flagraft-error-bin')[0];
    resolve({ err, body: bin ? JSON.parse(Buffer.from(bin as Buffer).toString()) : undefined });
  }));
}

describe('a protected environment', () => {
  it('refuses a raw gRPC PutFlag, DeleteFlag, Batch and segment write on the leader, from a gateway and from an admin identity', async () => {
    const leader = await cluster.leader();
    // Staging differs from production, so a promotion would change production.
    await client.putFlag({ ...flag('checkout', 'v1'), enabled: false, rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] }, { actor: 'ops', environment: 'staging' });
    const before = await client.getFlag('checkout');
    for (const [role, name] of [['gateway', 'raw-gw'], ['admin', 'raw-admin']] as const) {
      const c = await flagsClient(cluster, leader.address, role, name);
      try {
        const calls: [string, object][] = [
          ['PutFlag', { meta: { actor: role === 'gateway' ? 'mallory' : '' }, definitionJson: JSON.stringify({ ...flag('checkout', 'bypass'), enabled: false }) }],
          ['PutFlag', { meta: {}, definitionJson: JSON.stringify({ ...flag('checkout', 'bypass'), enabled: false }), environment: 'production' }],
          ['DeleteFlag', { meta: {}, key: 'checkout' }],
          ['Batch', { meta: {}, opsJson: JSON.stringify([{ op: 'putFlag', flag: { ...flag('checkout'), enabled: false } }]) }],
          ['PutSegment', { meta: {}, definitionJson: JSON.stringify({ name: 'beta', conditions: [] }) }],
          ['Propose', { meta: {}, commandJson: JSON.stringify({ op: 'promote', from: 'staging', to: 'production' }) }],
        ];
        for (const [method, req] of calls) {
          const r = await raw(c, method, req);
          expect(r.err?.code, `${role} ${method}`).toBe(grpc.status.FAILED_PRECONDITION);
          expect(r.body, `${role} ${method}`).toMatchObject({ code: 'PROTECTED', env: 'production' });
          expect(r.body!.message).toContain('change request');
        }
      } finally {
        c.close();
      }
    }
    expect(await client.getFlag('checkout')).toEqual(before);
    // Staging is not protected: the same raw call writes there.
    const c = await flagsClient(cluster, leader.address, 'gateway', 'raw-gw');
    const ok = await raw(c, 'PutFlag', { meta: { actor: 'mallory' }, definitionJson: JSON.stringify({ ...flag('checkout', 'v1'), enabled: true, rules: [] }), environment: 'staging' });
    c.close();
    expect(ok.err).toBeUndefined();
    expect((await client.getFlag('checkout', { environment: 'staging' }))?.flag).toMatchObject({ enabled: true, rules: [] });
  });

  it('takes a change request from creation through a second person\'s approval to application, every step in the history with its actor', async () => {
    const created = await client.propose({ op: 'changeRequest', action: 'create', env: 'production', title: 'turn checkout off', ops: [{ op: 'putFlag', flag: { ...flag('checkout', 'v1'), enabled: false, rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] } }], submit: true }, { actor: 'alice' });
    const id = created.changes[0].key;
    await expect(client.propose({ op: 'changeRequest', action: 'approve', id }, { actor: 'alice' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(client.propose({ op: 'changeRequest', action: 'apply', id }, { actor: 'alice' })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await client.propose({ op: 'changeRequest', action: 'comment', id, comment: 'checked the dashboards' }, { actor: 'bob' });
    await client.propose({ op: 'changeRequest', action: 'approve', id }, { actor: 'bob', actorRole: 'editor' });
    const applied = await client.propose({ op: 'changeRequest', action: 'apply', id }, { actor: 'carol' });
    expect(applied.changes.map((c) => c.kind)).toEqual(['flag', 'changeRequest']);
    expect((await client.getFlag('checkout'))?.flag.enabled).toBe(false);
    const cr = await client.query<StoredChangeRequest>('changeRequest', { id });
    expect(cr.changeRequest).toMatchObject({ status: 'applied', author: 'alice', approvals: [{ actor: 'bob', role: 'editor' }], appliedRevision: applied.revision });
    const steps = (await client.history(id, { kind: 'changeRequest', limit: 100 })).reverse();
    expect(steps.map((c) => [c.actor, (c.after as StoredChangeRequest).changeRequest.status])).toEqual([
      ['alice', 'inReview'], ['bob', 'inReview'], ['bob', 'approved'], ['carol', 'applied'],
    ]);
    expect((await client.history('checkout', { limit: 1 }))[0]).toMatchObject({ actor: 'carol', revision: applied.revision });
  });
});

describe('Watch', () => {
  it('a stream of every environment carries environment, change request and other environments\' flag events; a legacy stream sees what it always saw', async () => {
    const from = Number((await client.status()).appliedRevision);
    const all: AnyChangeEvent[] = [];
    const legacy: AnyChangeEvent[] = [];
    const w1 = client.watch({ fromRevision: from, allEnvironments: true, onChange: (e) => all.push(e as AnyChangeEvent) });
    const w2 = client.watch({ fromRevision: from, onChange: (e) => legacy.push(e as AnyChangeEvent) });
    try {
      await client.propose({ op: 'putEnvironment', environment: { name: 'dev' } }, { actor: 'ops' });
      await client.putFlag({ ...flag('watch-me', 'x') }, { actor: 'ops', environment: 'dev' });
      const cr = await client.propose({ op: 'changeRequest', action: 'create', env: 'production', title: 't', ops: [{ op: 'deleteFlag', key: 'watch-me' }] }, { actor: 'ops' });
      const marker = await client.putSegment({ name: 'marker', conditions: [] }, { actor: 'ops' });
      await waitFor('both streams at the marker', () => all.some((e) => e.revision === marker.revision) && legacy.some((e) => e.revision === marker.revision));
      const kinds = (es: AnyChangeEvent[]) => es.map((e) => `${e.kind}:${e.key}:${(e as { env?: string }).env ?? ''}`);
      expect(kinds(all)).toEqual(expect.arrayContaining(['environment:dev:', 'flag:watch-me:dev', 'flag:watch-me:staging', 'flag:watch-me:', `changeRequest:${cr.changes[0].key}:`, 'segment:marker:']));
      // The legacy stream: the default environment's new flag (created switched off) and the segment, nothing else.
      expect(kinds(legacy)).toEqual(['flag:watch-me:', 'segment:marker:']);
    } finally {
      w1.close();
      w2.close();
    }
  });
});

describe('backups', () => {
  it('carry the environments and their flags and history; a restore into a new cluster brings them back, policies included', async () => {
    const b = await client.backup();
    const doc: BackupDocument = {
      format: 'flagraft-backup', v: 1, clusterId: b.clusterId, revision: b.revision, createdAt: b.createdAt,
      flags: b.flagsJson.map((j) => JSON.parse(j)), segments: b.segmentsJson.map((j) => JSON.parse(j)), changes: b.changesJson.map((j) => JSON.parse(j)),
      environments: b.environmentsJson.map((j) => JSON.parse(j)), envFlags: b.envFlagsJson.map((j) => JSON.parse(j)),
    };
    expect(validateBackup(doc)).toBe(doc);
    expect(doc.environments!.map((e) => [e.environment.name, e.isDefault])).toEqual(expect.arrayContaining([['production', true], ['staging', false]]));
    expect(doc.changes.some((c) => c.env === 'staging')).toBe(true);
    expect(doc.changes.every((c) => c.kind === 'flag' || c.kind === 'segment')).toBe(true);

    const other = await startLocalCluster({ size: 1 });
    const c2 = createClusterClient({ ...other.clientOptions(), retryDeadlineMs: 15_000 });
    try {
      const r = await c2.restore(doc, { actor: 'admin' });
      expect(r.counts).toMatchObject({ environments: doc.environments!.length, envFlags: doc.envFlags!.length });
      expect(await c2.query('environments')).toEqual(doc.environments);
      const staging = await client.snapshotAll({ environment: 'staging' });
      expect((await c2.snapshotAll({ environment: 'staging' })).flags).toEqual(staging.flags);
      expect((await c2.snapshotAll()).flags).toEqual(doc.flags);
      expect(await c2.history('checkout', { environment: 'staging', limit: 100 })).toEqual(await client.history('checkout', { environment: 'staging', limit: 100 }));
      // The restored policy holds: production is protected there too.
      await expect(c2.putFlag({ ...flag('checkout', 'x'), enabled: true }, { actor: 'x' })).rejects.toMatchObject({ code: 'PROTECTED' });
      // A backup from before environments (no environments field) restores into the default environment, dropping the others.
      const old: BackupDocument = { ...doc, environments: undefined, envFlags: undefined, changes: doc.changes.filter((c) => c.env === undefined) };
      await c2.restore(old, { actor: 'admin', force: true });
      expect((await c2.query<{ environment: { name: string } }[]>('environments')).map((e) => e.environment.name)).toEqual(['production']);
      expect((await c2.snapshotAll()).flags).toEqual(doc.flags);
    } finally {
      c2.close();
      await other.stop();
    }
  });
});

describe('backups of change requests and schedules', () => {
  it('carry open change requests and pending schedules; a restore into a new cluster brings them back as live work; a backup without them still restores', async () => {
    const cr = await client.propose({ op: 'changeRequest', action: 'create', env: 'production', title: 'checkout to v2 in production', ops: [{ op: 'putFlag', flag: { ...flag('checkout', 'v1'), enabled: true, rules: [] } }], submit: true }, { actor: 'alice' });
    const crId = cr.changes[0]!.key;
    await client.propose({ op: 'changeRequest', action: 'comment', id: crId, comment: 'looks right' }, { actor: 'bob' });
    const in1h = Date.now() + 3_600_000;
    const sch = await client.propose({ op: 'schedule', action: 'create', env: 'staging', title: 'ramp later', steps: [{ at: in1h, ops: [{ op: 'putFlag', flag: { ...flag('checkout', 'v1'), enabled: false } }] }] }, { actor: 'alice' });
    const schId = sch.changes[0]!.key;

    const b = await client.backup();
    const parse = (js: string[]) => js.map((j) => JSON.parse(j));
    const doc: BackupDocument = {
      format: 'flagraft-backup', v: 1, clusterId: b.clusterId, revision: b.revision, createdAt: b.createdAt,
      flags: parse(b.flagsJson), segments: parse(b.segmentsJson), changes: parse(b.changesJson),
      environments: parse(b.environmentsJson), envFlags: parse(b.envFlagsJson), changeRequests: parse(b.changeRequestsJson), schedules: parse(b.schedulesJson),
    };
    expect(validateBackup(doc)).toBe(doc);
    // Every change request and schedule of the cluster, exactly as it holds them.
    expect(doc.changeRequests).toEqual(await client.query('changeRequests'));
    expect(doc.schedules).toEqual(await client.query('schedules'));
    expect(doc.changeRequests!.find((c) => c.changeRequest.id === crId)!.changeRequest).toMatchObject({ status: 'inReview', comments: [{ actor: 'bob', text: 'looks right' }] });
    expect(doc.schedules!.find((x) => x.schedule.id === schId)!.schedule.steps).toMatchObject([{ at: in1h, status: 'pending' }]);

    const other = await startLocalCluster({ size: 1 });
    const c2 = createClusterClient({ ...other.clientOptions(), retryDeadlineMs: 15_000 });
    try {
      const r = await c2.restore(doc, { actor: 'admin' });
      expect(r.counts).toMatchObject({ changeRequests: doc.changeRequests!.length, schedules: doc.schedules!.length });
      expect(await c2.query('changeRequests')).toEqual(doc.changeRequests);
      expect(await c2.query('schedules')).toEqual(doc.schedules);
      // Live work, not just a record: the restored request is approved by a second person and applied there.
      await c2.propose({ op: 'changeRequest', action: 'approve', id: crId }, { actor: 'bob', actorRole: 'editor' });
      const applied = await c2.propose({ op: 'changeRequest', action: 'apply', id: crId }, { actor: 'carol' });
      expect(applied.changes.map((c) => c.kind)).toEqual(['flag', 'changeRequest']);
      expect((await c2.getFlag('checkout'))?.flag).toMatchObject({ enabled: true, rules: [] });
      // The restored schedule can be cancelled like any other.
      await c2.propose({ op: 'schedule', action: 'cancel', id: schId }, { actor: 'alice' });
      expect((await c2.query<StoredSchedule>('schedule', { id: schId })).schedule.steps[0]!.status).toBe('cancelled');
      // A backup from before change requests were carried (no changeRequests / schedules fields) still restores; forced, it leaves none.
      const old: BackupDocument = { ...doc, changeRequests: undefined, schedules: undefined };
      const r2 = await c2.restore(old, { actor: 'admin', force: true });
      expect(r2.counts).not.toHaveProperty('changeRequests');
      expect(await c2.query('changeRequests')).toEqual([]);
      expect(await c2.query('schedules')).toEqual([]);
      expect((await c2.snapshotAll()).flags).toEqual(doc.flags);
      // A change request in an environment the backup does not have is refused, naming it.
      const bad = { ...doc, changeRequests: [{ ...doc.changeRequests![0]!, changeRequest: { ...doc.changeRequests![0]!.changeRequest, env: 'nowhere' } }] };
      await expect(c2.restore(bad, { actor: 'admin', force: true })).rejects.toMatchObject({ message: expect.stringContaining('environment "nowhere" is not in the backup') });
    } finally {
      c2.close();
      await other.stop();
    }
  });
});

describe('scheduled changes', () => {
  const scheduleOf = async (id: string): Promise<Schedule> => (await client.query<StoredSchedule>('schedule', { id })).schedule;

  it('the leader applies a due step, and a stale base is marked conflicted instead', async () => {
    await client.putFlag({ ...flag('ramp', 'x'), enabled: false }, { actor: 'ops', environment: 'staging' });
    const at = Date.now() + 800;
    const s = await client.propose({ op: 'schedule', action: 'create', env: 'staging', title: 'on', steps: [{ at, ops: [{ op: 'putFlag', flag: { ...flag('ramp', 'x'), enabled: true } }] }] }, { actor: 'alice' });
    const id = s.changes[0].key;
    const done = await waitFor('step applied', async () => ((await scheduleOf(id)).steps[0].status === 'applied' ? scheduleOf(id) : undefined));
    expect((await client.getFlag('ramp', { environment: 'staging' }))?.flag.enabled).toBe(true);
    const h = await client.history('ramp', { environment: 'staging', limit: 10 });
    expect(h[0]).toMatchObject({ actor: 'scheduler (alice)', revision: done.steps[0].revision });
    expect(h[0].time).toBeGreaterThanOrEqual(at);

    const s2 = await client.propose({ op: 'schedule', action: 'create', env: 'staging', title: 'off', steps: [{ at: Date.now() + 800, ops: [{ op: 'putFlag', flag: { ...flag('ramp', 'x'), enabled: false } }] }] }, { actor: 'alice' });
    // A configuration change (a definition change would reach protected production too).
    await client.putFlag({ ...flag('ramp', 'x'), enabled: true, defaultVariant: 'off' }, { actor: 'bob', environment: 'staging' });
    const id2 = s2.changes[0].key;
    const st = await waitFor('step resolved', async () => { const x = (await scheduleOf(id2)).steps[0]; return x.status !== 'pending' ? x : undefined; });
    expect(st).toMatchObject({ status: 'conflicted', conflicts: [{ kind: 'flag', key: 'ramp', env: 'staging' }] });
    expect((await client.getFlag('ramp', { environment: 'staging' }))?.flag).toMatchObject({ enabled: true, defaultVariant: 'off' });
  });

  it('a step applies exactly once when the leader is SIGKILLed the moment it proposes it', async () => {
    await client.putFlag({ ...flag('kill-ramp', 'x'), enabled: false }, { actor: 'ops', environment: 'staging' });
    const leader = await cluster.leader();
    const logLines = () => readFileSync(leader.logFile, 'utf8').split('\n').filter((l) => l.includes('schedule step due: proposing')).length;
    const seen = logLines();
    const s = await client.propose({ op: 'schedule', action: 'create', env: 'staging', title: 'kill', steps: [{ at: Date.now() + 1500, ops: [{ op: 'putFlag', flag: { ...flag('kill-ramp', 'x'), enabled: true } }] }] }, { actor: 'alice' });
    const id = s.changes[0].key;
    await waitFor('the leader proposes the due step', () => logLines() > seen, 15_000, 2);
    await leader.kill('SIGKILL');
    try {
      const newLeader = await cluster.leader();
      expect(newLeader.id).not.toBe(leader.id);
      const st = await waitFor('step applied under the new leader', async () => { const x = (await scheduleOf(id)).steps[0]; return x.status === 'applied' ? x : undefined; });
      // Give a re-proposal every chance to show up, then count: one change by the scheduler, at the step's revision.
      await waitFor('a later revision', async () => (await client.putSegment({ name: 'after-kill', conditions: [] }, { actor: 'ops' })).revision > st.revision!);
      const h = await client.history('kill-ramp', { environment: 'staging', limit: 100 });
      expect(h.filter((c) => c.actor.startsWith('scheduler')).map((c) => c.revision)).toEqual([st.revision]);
      const changes = (await client.history(id, { kind: 'schedule', limit: 100 }));
      expect(changes.filter((c) => (c.after as StoredSchedule).schedule.steps[0].status === 'applied')).toHaveLength(1);
    } finally {
      await leader.restart();
    }
    // The restarted node catches up past the step.
    const applied = (await scheduleOf(id)).steps[0].revision!;
    await waitFor('restarted node caught up', async () => Number((await client.status({ endpoint: leader.address })).appliedRevision) >= applied);
  });
});
