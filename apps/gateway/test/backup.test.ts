// GET /api/v1/admin/backup and POST /api/v1/admin/restore between two real
// stacks (3-node cluster + gateway each): the restored cluster has the same
// flags, segments, revisions and history; the restoring gateway's replica and
// a second gateway's replica both converge; errors are problem documents
// naming the bad field. Responses are checked against the OpenAPI document.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient } from '@flagraft/cluster-client';
import type { FlagDefinition } from '@flagraft/flag-model';
import { TOKENS, boolFlag, eventually, request, startStack, type Reply, type RequestOptions, type Stack } from './support/harness.js';
import { openSse } from './support/sse.js';
import { OpenApiChecker, record, type Recorded } from './support/openapi-check.js';

let src: Stack;
let dst: Stack;
const seen: Recorded[] = [];
const call = async (s: Stack, method: string, path: string, opts: RequestOptions = {}): Promise<Reply> =>
  record(seen, method, path, await s.req(method, path, { role: 'admin', ...opts }));

beforeAll(async () => {
  [src, dst] = await Promise.all([startStack(), startStack()]);
});
afterAll(async () => {
  await Promise.allSettled([src?.stop(), dst?.stop()]);
});

describe('backup and restore through the gateway', () => {
  let backup: any;

  it('serves a consistent backup document to admins only', async () => {
    expect((await call(src, 'PUT', '/api/v1/segments/beta', { body: { name: 'beta', conditions: [{ attribute: 'beta', op: 'equals', value: true }] } })).status).toBe(201);
    expect((await call(src, 'PUT', '/api/v1/flags/checkout', { body: boolFlag('checkout') })).status).toBe(201);
    expect((await call(src, 'PUT', '/api/v1/flags/checkout', { body: boolFlag('checkout', { defaultVariant: 'on' }), role: 'editor' })).status).toBe(200);
    expect((await call(src, 'PUT', '/api/v1/flags/beta-only', { body: boolFlag('beta-only', { rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] }) })).status).toBe(201);
    expect((await call(src, 'PUT', '/api/v1/flags/gone', { body: boolFlag('gone') })).status).toBe(201);
    expect((await call(src, 'DELETE', '/api/v1/flags/gone')).status).toBe(200);

    expect((await call(src, 'GET', '/api/v1/admin/backup', { role: 'editor' })).status).toBe(403);
    const r = await call(src, 'GET', '/api/v1/admin/backup');
    expect(r.status).toBe(200);
    backup = r.json;
    const list = (await call(src, 'GET', '/api/v1/flags')).json;
    expect(backup).toMatchObject({ format: 'flagraft-backup', v: 1, clusterId: src.cluster.clusterId, revision: list.revision });
    expect(r.headers.get('etag')).toBe(`"${backup.revision}"`);
    expect(backup.flags).toEqual(list.flags);
    expect(backup.segments).toEqual((await call(src, 'GET', '/api/v1/segments')).json.segments);
    expect(backup.changes.map((c: any) => `${c.kind}:${c.key}:${c.op}:${c.actor}`)).toEqual([
      'segment:beta:put:alice', 'flag:checkout:put:alice', 'flag:checkout:put:ed', 'flag:beta-only:put:alice', 'flag:gone:put:alice', 'flag:gone:delete:alice',
    ]);
  });

  it('refuses bad documents with 422 naming the field, and bad parameters with 400', async () => {
    const bad = JSON.parse(JSON.stringify(backup));
    bad.changes[2].revision = 1;
    bad.flags[0].flag.defaultVariant = 'nope';
    const r = await call(dst, 'POST', '/api/v1/admin/restore', { body: bad });
    expect(r.status).toBe(422);
    expect(r.json.type).toBe('urn:flagraft:problem:validation');
    const paths = r.json.issues.map((i: { path: string }) => i.path);
    expect(paths).toContain('changes[2].revision');
    expect(paths.some((p: string) => p.startsWith('flags[0].flag.'))).toBe(true);
    expect(r.json.detail).toMatch(/^invalid backup: /);
    expect((await call(dst, 'POST', '/api/v1/admin/restore', { body: { format: 'other' } })).json.issues[0]).toMatchObject({ path: 'format' });
    expect((await call(dst, 'POST', '/api/v1/admin/restore?force=maybe', { body: backup })).status).toBe(400);
    expect((await call(dst, 'POST', '/api/v1/admin/restore', { rawBody: '{"format":', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    expect((await call(dst, 'POST', '/api/v1/admin/restore', { body: backup, role: 'editor' })).status).toBe(403);
    // Nothing was written.
    expect((await call(dst, 'GET', '/api/v1/flags')).json.flags).toEqual([]);
  });

  it('restores into an empty cluster: flags, segments, revisions and history are back, every gateway converges', async () => {
    const second = await dst.newGateway();
    // A live SSE subscriber on the other gateway: told to reset, then it sees new changes only.
    const sse = await openSse(`${second.url()}/api/v1/stream`, { authorization: `Bearer ${TOKENS.reader}` });
    expect(sse.status).toBe(200);
    const r = await call(dst, 'POST', '/api/v1/admin/restore', { body: backup });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ revision: backup.revision, restoredRevision: backup.revision, historyPreserved: true, flags: 2, segments: 1, changes: 6 });
    const list = (await call(dst, 'GET', '/api/v1/flags')).json;
    expect(list.flags).toEqual(backup.flags);
    expect((await call(dst, 'GET', '/api/v1/segments')).json.segments).toEqual(backup.segments);
    for (const key of ['checkout', 'gone']) {
      expect((await call(dst, 'GET', `/api/v1/flags/${key}/history`)).json).toEqual((await call(src, 'GET', `/api/v1/flags/${key}/history`)).json);
    }
    // The restoring gateway's replica answers at once; the other one converges.
    const ev = await call(dst, 'POST', '/ofrep/v1/evaluate/flags/beta-only', { body: { context: { targetingKey: 'u', beta: true } } });
    expect(ev.json).toMatchObject({ value: true, variant: 'on' });
    await eventually(async () => (await request(second.url(), 'POST', '/ofrep/v1/evaluate/flags/checkout', { role: 'evaluator', body: { context: {} } })).json?.value === true, 10_000, 'second gateway converged');
    // Writes continue after the backup's revision.
    const w = await call(dst, 'PUT', '/api/v1/flags/checkout', { body: boolFlag('checkout'), headers: { 'if-match': `"${backup.flags.find((f: any) => f.flag.key === 'checkout').modRevision}"` } });
    expect(w.status).toBe(200);
    expect(w.json.modRevision).toBeGreaterThan(backup.revision);
    expect(w.json.version).toBe(3);
    try {
      await sse.waitFor((f) => f.some((x) => x.event === 'reset'), 10_000, 'reset after the restore');
      await sse.waitFor((f) => f.some((x) => x.data.includes(`"revision":${w.json.modRevision}`)), 10_000, 'the change after the restore');
      const events = sse.frames.filter((x) => x.data.includes('"kind"'));
      // The imported history is never streamed as if it were new.
      expect(events.map((x) => JSON.parse(x.data).revision)).toEqual([w.json.modRevision]);
    } finally {
      sse.close();
    }
  });

  it('refuses a non-empty cluster with 409 unless force=true, which replaces everything', async () => {
    const r = await call(dst, 'POST', '/api/v1/admin/restore', { body: backup });
    expect(r.status).toBe(409);
    expect(r.json).toMatchObject({ type: 'urn:flagraft:problem:conflict', reason: 'not-empty', liveCounts: { flags: 2, segments: 1 } });
    expect(r.json.detail).toMatch(/not empty/);
    expect((await call(dst, 'PUT', '/api/v1/flags/extra', { body: boolFlag('extra') })).status).toBe(201);
    const before = (await call(dst, 'GET', '/api/v1/flags')).json.revision;
    const f = await call(dst, 'POST', '/api/v1/admin/restore?force=true', { body: backup });
    expect(f.status, f.text).toBe(200);
    expect(f.json.force).toBe(true);
    expect(f.json.revision).toBeGreaterThan(before);
    const list = (await call(dst, 'GET', '/api/v1/flags')).json;
    expect(list.flags).toEqual(backup.flags);
    expect((await call(dst, 'GET', '/api/v1/flags/extra')).status).toBe(404);
    expect((await call(dst, 'GET', '/api/v1/flags/checkout/history')).json).toEqual((await call(src, 'GET', '/api/v1/flags/checkout/history')).json);
  });

  it('carries change requests and schedules: a forced restore brings them back; a backup without them still restores', async () => {
    // No REST routes for them in this test: they are made on the cluster directly.
    const direct = createClusterClient({ ...src.cluster.clientOptions(), retryDeadlineMs: 15_000 });
    const onDst = createClusterClient({ ...dst.cluster.clientOptions(), retryDeadlineMs: 15_000 });
    try {
      await direct.propose({ op: 'putEnvironment', environment: { name: 'staging' } }, { actor: 'ops' });
      const cr = await direct.propose({ op: 'changeRequest', action: 'create', env: 'staging', title: 'checkout on in staging', ops: [{ op: 'putFlag', flag: boolFlag('checkout', { defaultVariant: 'off' }) as FlagDefinition }], submit: true }, { actor: 'alice' });
      const at = Date.now() + 3_600_000;
      await direct.propose({ op: 'schedule', action: 'create', env: 'staging', title: 'later', steps: [{ at, ops: [{ op: 'putFlag', flag: boolFlag('checkout') as FlagDefinition }] }] }, { actor: 'alice' });
      const r = await call(src, 'GET', '/api/v1/admin/backup');
      expect(r.status).toBe(200);
      expect(r.json.changeRequests).toEqual(await direct.query('changeRequests'));
      expect(r.json.schedules).toEqual(await direct.query('schedules'));
      expect(r.json.changeRequests.map((c: any) => [c.changeRequest.id, c.changeRequest.status])).toEqual([[cr.changes[0]!.key, 'approved']]); // staging needs no approvals
      expect(r.json.schedules.map((x: any) => x.schedule.steps.map((st: any) => [st.at, st.status]))).toEqual([[[at, 'pending']]]);

      const f = await call(dst, 'POST', '/api/v1/admin/restore?force=true', { body: r.json });
      expect(f.status, f.text).toBe(200);
      expect(f.json.restored).toMatchObject({ changeRequests: 1, schedules: 1 });
      expect(await onDst.query('changeRequests')).toEqual(r.json.changeRequests);
      expect(await onDst.query('schedules')).toEqual(r.json.schedules);
      // The first backup of this file has neither field (nor environments): it still restores, and replaces them.
      expect(backup.changeRequests).toBeUndefined();
      const old = await call(dst, 'POST', '/api/v1/admin/restore?force=true', { body: backup });
      expect(old.status, old.text).toBe(200);
      expect(await onDst.query('changeRequests')).toEqual([]);
      expect(await onDst.query('schedules')).toEqual([]);
      expect((await call(dst, 'GET', '/api/v1/flags')).json.flags).toEqual(backup.flags);
      // A change request whose environment is not in the document: 422 naming the field.
      const bad = { ...r.json, changeRequests: [{ ...r.json.changeRequests[0], changeRequest: { ...r.json.changeRequests[0].changeRequest, env: 'nowhere' } }] };
      const b = await call(dst, 'POST', '/api/v1/admin/restore?force=true', { body: bad });
      expect(b.status).toBe(422);
      expect(b.json.issues).toEqual([{ path: 'changeRequests[0].changeRequest.env', pointer: '/changeRequests/0/changeRequest/env', message: '"nowhere" is not an environment of the backup' }]);
    } finally {
      direct.close();
      onDst.close();
    }
  });

  it('every response seen in this file conforms to the OpenAPI document', async () => {
    const doc = (await src.req('GET', '/api/v1/openapi.json')).json;
    const checker = new OpenApiChecker(doc);
    const problems = seen.filter((r) => !r.path.startsWith('/ofrep/')).flatMap((r) => checker.check(r));
    expect(problems).toEqual([]);
    expect(seen.length).toBeGreaterThan(25);
  });
});
