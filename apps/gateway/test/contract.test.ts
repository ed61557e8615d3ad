// The contract test: every route of @flagraft/api's table called on a real
// gateway in front of a real 3-node cluster, for its success answer and for
// the problems it documents, and every answer seen checked against the
// contract's schemas (the generated OpenAPI document, with Ajv). Successes go
// through the typed client (so the client is tried against the real gateway
// too); refusals are provoked with raw requests. Three more gateways make
// the problems one gateway cannot show at once: small body limits (413), a
// write/evaluation rate of 1 (429), and no reachable cluster (503).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '@flagraft/auth';
import { buildOpenApiDocument, fetchTransport, FlagraftClient, ROUTES, type OperationId, type RouteSpec, type Transport } from '@flagraft/api';
import { FLAG_KIND, SEGMENT_KIND, type FlagDefinition } from '@flagraft/flag-model';
import type { Gateway } from '../src/index.js';
import { boolFlag, startStack, TOKENS, type Stack } from './support/harness.js';
import { freePort, startGatewayWithoutCluster } from './support/no-cluster.js';
import { OpenApiChecker, type Recorded } from './support/openapi-check.js';

/** Longest a gateway without a cluster may take to answer, in milliseconds. */
const NOWHERE_ANSWER_MS = 5_000;
/** Body limit of the small-limits gateway, in bytes: every body route's 413. */
const SMALL_BODY_BYTES = 2048;

const doc = buildOpenApiDocument();
const routes = Object.entries(ROUTES) as [OperationId, RouteSpec][];
const templates = routes
  .map(([id, r]) => ({ id, method: r.method, literal: !r.path.includes('{'), re: new RegExp(`^${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`) }))
  .sort((a, b) => Number(b.literal) - Number(a.literal));
const operationOf = (method: string, path: string) => templates.find((t) => t.method === method.toLowerCase() && t.re.test(path))?.id;

let stack: Stack;
let small: Gateway;
let limited: Gateway;
let nowhere: Gateway;
const seen: Recorded[] = [];
/** "<operationId> <status>" of every answer seen. */
const observed = new Set<string>();

/** Records every answer that passes through (any client, any gateway). */
const recording = (inner: Transport): Transport => async (req) => {
  const res = await inner(req);
  let json: unknown;
  try {
    json = res.text ? JSON.parse(res.text) : undefined;
  } catch {
    json = undefined;
  }
  const path = req.url.pathname;
  seen.push({ method: req.method, path, status: res.status, contentType: res.headers.get('content-type') ?? '', json });
  const op = operationOf(req.method, path);
  if (op) observed.add(`${op} ${res.status}`);
  return res;
};
const transport = recording(fetchTransport());
const client = (url: string, role?: Role) => new FlagraftClient({ baseUrl: url, token: role ? TOKENS[role] : undefined, transport, timeoutMs: 30_000 });
const as = (role?: Role) => client(stack.url, role);

/** A raw request to one operation: path parameters filled in, any body and headers. */
async function hit(url: string, role: Role | undefined, id: OperationId, o: { params?: Record<string, string>; body?: string; headers?: Record<string, string>; query?: Record<string, string>; timeoutMs?: number } = {}) {
  const r = ROUTES[id];
  const path = r.path.replace(/\{(\w+)\}/g, (_m, n: string) => encodeURIComponent(o.params?.[n] ?? (n === 'id' ? '9' : 'no-such-item')));
  const req = {
    method: r.method.toUpperCase(),
    url: withQuery(new URL(url + path), o.query),
    headers: { ...(role ? { authorization: `Bearer ${TOKENS[role]}` } : {}), ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
    body: o.body,
    timeoutMs: o.timeoutMs ?? 30_000,
  };
  return isStream(r) ? recording(streamHead)(req) : transport(req);
}

/** A stream never ends: its answer is taken as status and headers, the body (events) cancelled unread unless it is an error. */
const streamHead: Transport = async (req) => {
  const res = await fetch(req.url, { method: req.method, headers: req.headers, signal: AbortSignal.timeout(req.timeoutMs) });
  if (res.ok) {
    await res.body?.cancel();
    return { status: res.status, headers: res.headers, text: '' };
  }
  return { status: res.status, headers: res.headers, text: await res.text() };
};
const isStream = (r: RouteSpec) => JSON.stringify(r.responses['200'] ?? {}).includes('text/event-stream');
function withQuery(u: URL, q: Record<string, string> = {}): URL {
  for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
  return u;
}

const hasBody = (r: RouteSpec) => r.requestBody !== undefined;
const isPublic = (r: RouteSpec) => r.security !== undefined;
const isWrite = (r: RouteSpec) => r.method !== 'get' && !r.path.startsWith('/ofrep/') && r.path !== '/api/v1/stream-tickets' && r.path !== '/api/v1/evaluation-counts';
beforeAll(async () => {
  stack = await startStack();
  small = await stack.newGateway({
    maxBodyBytes: SMALL_BODY_BYTES, maxBatchBodyBytes: SMALL_BODY_BYTES, maxEvaluationBodyBytes: SMALL_BODY_BYTES,
    maxEvaluationCountsBodyBytes: SMALL_BODY_BYTES, maxFlagdImportBodyBytes: SMALL_BODY_BYTES, maxRestoreBodyBytes: SMALL_BODY_BYTES,
  });
  limited = await stack.newGateway({ rateLimitWritesPerSec: 1, rateLimitWritesBurst: 1, rateLimitEvaluationsPerSec: 1, rateLimitEvaluationsBurst: 1 });
  nowhere = await startGatewayWithoutCluster();
});
afterAll(async () => {
  await nowhere?.close();
  await stack?.stop();
});

describe('the contract on a real gateway', () => {
  it('every operation answers its documented success, through the typed client', async () => {
    const admin = as('admin');
    const created = await admin.putItem(FLAG_KIND, boolFlag('c-flag') as FlagDefinition);
    expect(created.created).toBe(true);
    await admin.putFlag({ ...created.stored.flag, defaultVariant: 'on' }, { ifMatch: created.stored.modRevision });
    expect((await admin.getFlag('c-flag')).flag.defaultVariant).toBe('on');
    expect((await admin.patchFlag('c-flag', { enabled: false })).flag.enabled).toBe(false);
    expect((await admin.listFlags({ limit: 10 })).flags.map((f) => f.flag.key)).toContain('c-flag');
    expect((await admin.getFlagHistory('c-flag')).changes.length).toBe(3);
    const seg = await admin.putItem(SEGMENT_KIND, { name: 'c-seg', conditions: [{ attribute: 'plan', op: 'equals', value: 'pro' }] });
    expect(seg.created).toBe(true);
    await admin.putSegment(seg.stored.segment, { ifMatch: seg.stored.modRevision });
    expect((await admin.getSegment('c-seg')).version).toBe(2);
    expect((await admin.listSegments()).segments.map((s) => s.segment.name)).toEqual(['c-seg']);
    expect((await admin.getSegmentHistory('c-seg')).changes.length).toBe(2);
    const batch = await admin.applyBatch([{ op: 'putFlag', flag: boolFlag('c-batch') as FlagDefinition }, { op: 'putSegment', segment: { name: 'c-seg2', conditions: [] } }]);
    expect(batch.changes.length).toBe(2);
    // The global audit log: the batch's two changes on top, newest first; filters and paging.
    const audit = await admin.listChanges({ limit: 2 });
    expect(audit.changes.map((c) => `${c.kind} ${c.key}`)).toEqual(['segment c-seg2', 'flag c-batch']);
    expect(audit.changes[1].environment).toBeTruthy();
    expect(audit.nextPageToken).toBeTruthy();
    const older = await admin.listChanges({ limit: 1000, pageToken: audit.nextPageToken, kind: 'segment' });
    expect(older.changes.map((c) => `${c.kind} ${c.key} ${c.actor}`)).toEqual(['segment c-seg alice', 'segment c-seg alice']);
    expect((await admin.listChanges({ key: 'c-flag', since: new Date(Date.now() - 600_000).toISOString() })).changes.length).toBe(3);
    expect((await admin.listChanges({ actor: 'nobody' })).changes).toEqual([]);
    expect((await admin.deleteSegment('c-seg2')).deleted).toBe(true);
    expect((await admin.deleteFlag('c-batch')).deleted).toBe(true);
    expect((await admin.legacySetFlag('c-legacy', 'hello')).value).toBe('hello');
    expect((await admin.legacySetFlagV1('c-legacy', 'again')).value).toBe('again');
    expect((await admin.legacyGetFlag('c-legacy')).value).toBe('again');
    expect((await admin.legacyListFlags())['c-legacy']).toBe('again');
    expect(await admin.getCurrentPrincipal()).toEqual({ name: 'alice', role: 'admin', permissions: ['evaluate', 'read', 'write', 'admin'] });
    const status = await admin.getClusterStatus();
    expect(status.members.length).toBe(3);
    const backup = await admin.getBackup();
    expect(backup.flags.length).toBeGreaterThan(0);
    expect((await admin.restoreBackup(backup, { force: true })).historyPreserved).toBe(true);
    expect((await admin.getSnapshot()).revision).toBeGreaterThan(0);
    expect((await admin.createStreamTicket('changes')).stream).toBe('changes');
    expect((await admin.importFlagd({ flags: { 'c-fd': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' } } }, { dryRun: true })).dryRun).toBe(true);
    expect((await admin.exportFlagd({ prefix: 'c-' })).document.flags).toHaveProperty('c-flag');
    expect((await admin.reportEvaluationCounts([{ flag: 'c-flag', variant: 'off', reason: 'DEFAULT', count: 2 }])).accepted).toBe(2);
    const evaluator = as('evaluator');
    expect((await evaluator.evaluateFlag('c-flag', { context: { targetingKey: 'u1' } })).key).toBe('c-flag');
    expect((await evaluator.evaluateAllFlags({ context: { targetingKey: 'u1' } })).flags.length).toBeGreaterThan(0);
    expect((await as().getHealth()).status).toBe('ok');
    expect((await as().getReadiness()).ready).toBe(true);
    expect(await as().getMetrics()).toContain('# TYPE');
    expect((await as().getOpenApiDocument()).openapi).toBe('3.1.0');
    for (const open of [() => admin.streamChanges(), () => evaluator.streamOfrepEvents()]) {
      const res = await open();
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await res.body?.cancel();
    }
    // The client's streams bypass its transport: their answers are recorded here.
    await hit(stack.url, 'reader', 'streamChanges');
    await hit(stack.url, 'evaluator', 'streamOfrepEvents');
    // Membership: a learner at an address nowhere is added and removed; leadership moves to a voter.
    const spare = Math.max(...status.members.map((m) => m.id)) + 1;
    await admin.addClusterMember(spare, `127.0.0.1:${await freePort()}`);
    await admin.removeClusterMember(spare);
    const follower = status.members.find((m) => m.id !== status.leaderId && m.role === 'voter')!;
    expect((await admin.transferLeadership(follower.id)).transferredTo).toBe(follower.id);
  });

  it('environments, promotions, change requests and schedules: each success and refusal', async () => {
    const admin = as('admin');
    const editor = as('editor');
    const reviewer = as('reader');
    const flag = (key: string, enabled: boolean) => boolFlag(key, { enabled, defaultVariant: 'on' }) as FlagDefinition;
    await admin.putFlag(flag('c-on', true));
    // Environments.
    const dev = await admin.createEnvironment({ name: 'c-dev', displayName: 'Dev' });
    expect(dev.environment.name).toBe('c-dev');
    expect((await admin.listEnvironments()).environments.map((e) => e.environment.name)).toContain('c-dev');
    expect((await admin.getEnvironment('c-dev')).environment.displayName).toBe('Dev');
    expect((await admin.updateEnvironment('c-dev', { displayName: 'Development' })).environment.displayName).toBe('Development');
    expect((await editor.putFlag(flag('c-on', false), { environment: 'c-dev' })).flag.enabled).toBe(false);
    expect((await editor.getFlag('c-on', { environment: 'c-dev' })).flag.enabled).toBe(false);
    // Promotion.
    expect((await reviewer.getPromotionPlan({ from: 'c-dev', to: 'production', keys: ['c-on'] })).items[0].key).toBe('c-on');
    expect((await reviewer.planPromotion({ from: 'production', to: 'c-dev', keys: ['c-on'] })).items).toHaveLength(1);
    expect((await editor.applyPromotion({ from: 'production', to: 'c-dev', keys: ['c-on'] })).flags).toEqual(['c-on']);
    // A protected environment: flags arrive switched off, direct writes are refused.
    await admin.createEnvironment({ name: 'c-prot', policy: { approvalsRequired: 1, authorCannotApprove: true } });
    // Change requests: the editor proposes, an admin (another person) approves.
    const cr = await editor.createChangeRequest({ environment: 'c-prot', title: 'on', ops: [{ op: 'putFlag', flag: flag('c-on', true) }] });
    const id = cr.changeRequest.id;
    expect((await editor.commentChangeRequest(id, 'why')).changeRequest.comments).toHaveLength(1);
    expect((await editor.submitChangeRequest(id)).changeRequest.status).toBe('inReview');
    expect((await reviewer.listChangeRequests({ environment: 'c-prot', state: 'inReview' })).changeRequests.map((c) => c.changeRequest.id)).toEqual([id]);
    expect((await reviewer.getChangeRequest(id)).changeRequest.id).toBe(id);
    expect((await admin.approveChangeRequest(id, 'ok')).changeRequest.status).toBe('approved');
    expect((await editor.applyChangeRequest(id)).changeRequest.status).toBe('applied');
    const other = (await editor.createChangeRequest({ environment: 'c-prot', title: 'off', submit: true, ops: [{ op: 'putFlag', flag: flag('c-on', false) }] })).changeRequest.id;
    expect((await editor.rebaseChangeRequest(other)).changeRequest.status).toBe('inReview');
    expect((await admin.rejectChangeRequest(other, 'no')).changeRequest.status).toBe('rejected');
    const third = (await editor.createChangeRequest({ environment: 'c-prot', title: 'x', ops: [{ op: 'putFlag', flag: flag('c-on', false) }] })).changeRequest.id;
    expect((await editor.withdrawChangeRequest(third)).changeRequest.status).toBe('withdrawn');
    // Schedules.
    const sch = await editor.createSchedule({ environment: 'c-dev', title: 'later', steps: [{ at: '2099-01-01T00:00:00Z', toggle: { flag: 'c-on', enabled: true } }] });
    expect((await reviewer.listSchedules({ environment: 'c-dev', pending: true })).schedules.map((x) => x.schedule.id)).toEqual([sch.schedule.id]);
    expect((await reviewer.getSchedule(sch.schedule.id)).schedule.steps[0].status).toBe('pending');
    expect((await editor.cancelSchedule(sch.schedule.id)).schedule.steps[0].status).toBe('cancelled');
    const later = await editor.createSchedule({ environment: 'c-dev', title: 'later', steps: [{ at: 4_000_000_000_000, toggle: { flag: 'c-on', enabled: true } }] });
    expect((await hit(stack.url, 'editor', 'cancelSchedule', { params: { scheduleId: later.schedule.id }, headers: { 'idempotency-key': 'c-sch-key' } })).status).toBe(200);
    // The same key again, same request: the first answer; another request: 422.
    expect((await hit(stack.url, 'editor', 'cancelSchedule', { params: { scheduleId: later.schedule.id }, headers: { 'idempotency-key': 'c-sch-key' } })).status).toBe(200);
    await hit(stack.url, 'editor', 'cancelSchedule', { params: { scheduleId: sch.schedule.id }, headers: { 'idempotency-key': 'c-sch-key' } }); // 422
    // Before c-dev goes (deleting an environment takes its schedules with it).
    await hit(stack.url, 'editor', 'cancelSchedule', { params: { scheduleId: sch.schedule.id } }); // 409: nothing pending

    // Refusals beyond the generic ones of the next test.
    const body = (v: unknown) => JSON.stringify(v);
    await hit(stack.url, 'admin', 'getEnvironment', { params: { name: 'c-nowhere' } }); // 404
    await hit(stack.url, 'admin', 'getEnvironment', { params: { name: 'a b' } }); // 400
    await hit(stack.url, 'admin', 'updateEnvironment', { params: { name: 'c-nowhere' }, body: body({ displayName: 'x' }) }); // 404
    await hit(stack.url, 'admin', 'updateEnvironment', { params: { name: 'a b' }, body: body({ displayName: 'x' }) }); // 400
    await hit(stack.url, 'admin', 'updateEnvironment', { params: { name: 'c-prot' }, body: body({ policy: null }) }); // 409 PROTECTED
    await hit(stack.url, 'admin', 'createEnvironment', { body: body({ name: 'c-dev' }) }); // 409: exists
    await hit(stack.url, 'admin', 'deleteEnvironment', { params: { name: 'c-dev' } }); // 409: flags configured
    await hit(stack.url, 'admin', 'deleteEnvironment', { params: { name: 'c-dev' }, query: { force: 'maybe' } }); // 400
    await hit(stack.url, 'admin', 'deleteEnvironment', { params: { name: 'c-nowhere' } }); // 404
    // An Idempotency-Key names one write: the same key for another request is 422.
    expect((await hit(stack.url, 'admin', 'deleteEnvironment', { params: { name: 'c-dev' }, query: { force: 'true' }, headers: { 'idempotency-key': 'c-env-key' } })).status).toBe(200);
    await hit(stack.url, 'admin', 'deleteEnvironment', { params: { name: 'c-nowhere' }, query: { force: 'true' }, headers: { 'idempotency-key': 'c-env-key' } }); // 422
    await hit(stack.url, 'reader', 'getPromotionPlan', { query: { from: 'production' } }); // 400
    await hit(stack.url, 'reader', 'getPromotionPlan', { query: { from: 'production', to: 'c-nowhere' } }); // 404
    await hit(stack.url, 'reader', 'planPromotion', { body: body({ from: 'production', to: 'c-nowhere' }) }); // 404
    await hit(stack.url, 'editor', 'applyPromotion', { body: body({ from: 'production', to: 'c-nowhere' }) }); // 404
    await admin.putFlag(flag('c-on', false));
    await hit(stack.url, 'editor', 'applyPromotion', { body: body({ from: 'production', to: 'c-prot', keys: ['c-on'] }) }); // 409 PROTECTED
    await hit(stack.url, 'reader', 'listChangeRequests', { query: { state: 'sideways' } }); // 400
    await hit(stack.url, 'editor', 'createChangeRequest', { body: body({ environment: 'c-nowhere', title: 't', ops: [{ op: 'deleteFlag', key: 'c-on' }] }) }); // 404
    await hit(stack.url, 'editor', 'createChangeRequest', { body: body({ environment: 'c-prot', title: 't', ops: [{ op: 'deleteFlag', key: 'c-on', expectedRevision: 1 }] }) }); // 409
    await hit(stack.url, 'reader', 'getChangeRequest', { params: { changeRequestId: 'cr-999999' } }); // 404
    const steps = ['commentChangeRequest', 'submitChangeRequest', 'approveChangeRequest', 'rejectChangeRequest', 'applyChangeRequest', 'withdrawChangeRequest', 'rebaseChangeRequest'] as const;
    for (const step of steps) {
      await hit(stack.url, 'admin', step, { params: { changeRequestId: 'cr-999999' }, body: body({ comment: 'c' }) }); // 404
      await hit(stack.url, 'admin', step, { params: { changeRequestId: id }, body: body(step === 'rebaseChangeRequest' ? { ops: [1] } : { comment: 5 }) }); // 422
      await hit(stack.url, 'editor', step, { params: { changeRequestId: id }, body: body({}) }); // 409: applied (by its author; comment: 422 without one)
    }
    await hit(stack.url, 'reader', 'listSchedules', { query: { pending: 'maybe' } }); // 400
    await hit(stack.url, 'editor', 'createSchedule', { body: body({ environment: 'c-nowhere', title: 't', steps: [{ at: 4_000_000_000_000, ops: [{ op: 'deleteFlag', key: 'c-on' }] }] }) }); // 404
    await hit(stack.url, 'editor', 'createSchedule', { body: body({ environment: 'c-prot', title: 't', steps: [{ at: 4_000_000_000_000, ops: [{ op: 'deleteFlag', key: 'c-on' }] }] }) }); // 409 PROTECTED
    await hit(stack.url, 'reader', 'getSchedule', { params: { scheduleId: 'sch-999999' } }); // 404
    await hit(stack.url, 'reader', 'getSnapshot', { query: { environment: 'c-nowhere' } }); // 404
    await hit(stack.url, 'reader', 'exportFlagd', { query: { environment: 'c-nowhere' } }); // 404
    await hit(stack.url, 'editor', 'importFlagd', { query: { environment: 'c-nowhere' }, body: body({ flags: {} }) }); // 404
    await hit(stack.url, 'reader', 'streamChanges', { query: { environment: 'c-nowhere' } }); // 404
    await hit(stack.url, 'editor', 'cancelSchedule', { params: { scheduleId: 'sch-999999' } }); // 404
    await hit(stack.url, 'editor', 'cancelSchedule', { params: { scheduleId: 'nope' } }); // 400
    // Unprotect c-prot the only way there is (a change request), then drop it: a protected environment
    // refuses deleting a flag anywhere (one definition), which the next test does.
    const lower = (await editor.createChangeRequest({ environment: 'c-prot', title: 'unprotect', submit: true, ops: [{ op: 'putEnvironment', environment: { name: 'c-prot' } }] })).changeRequest.id;
    await admin.approveChangeRequest(lower);
    await editor.applyChangeRequest(lower);
    expect((await admin.deleteEnvironment('c-prot', { force: true })).deleted).toBe(true);
  });

  it('refuses as documented: auth, roles, bodies, preconditions, missing items', async () => {
    for (const [id, r] of routes) {
      if (isPublic(r)) continue;
      await hit(stack.url, undefined, id); // 401
      for (const role of ['evaluator', 'reader'] as const) await hit(stack.url, role, id, { body: hasBody(r) ? '{}' : undefined }); // 403 where the role is short
      if (hasBody(r)) {
        await hit(stack.url, 'admin', id, { body: '{"unterminated', params: { key: 'c-flag', name: 'c-seg' } }); // 400 malformed JSON
        await hit(stack.url, 'admin', id, { body: 'x', headers: { 'content-type': 'text/plain' }, params: { key: 'c-flag', name: 'c-seg' } }); // 415
        await hit(small.url(), 'admin', id, { body: JSON.stringify({ pad: 'x'.repeat(SMALL_BODY_BYTES) }), params: { key: 'c-flag', name: 'c-seg' } }); // 413
      }
      if (isWrite(r) && hasBody(r)) await hit(stack.url, 'admin', id, { body: '{"key": 7, "name": 7, "id": "x", "ops": [1], "value": null, "flags": 1}', params: { key: 'c-flag', name: 'c-seg' } }); // 422
    }
    const admin = as('admin');
    const current = await admin.getFlag('c-flag');
    await hit(stack.url, 'admin', 'getFlag', { params: { key: 'c-flag' }, headers: { 'if-none-match': `"${current.modRevision}"` } }); // 304
    await hit(stack.url, 'admin', 'getFlag', { params: { key: 'c-flag' }, query: { consistency: 'sometimes' } }); // 400
    for (const id of ['listFlags', 'listSegments', 'getFlagHistory', 'getSegmentHistory', 'listChanges'] as const) await hit(stack.url, 'admin', id, { query: { limit: '0' } }); // 400
    for (const query of [{ since: 'yesterday' }, { kind: 'flags' }, { pageToken: 'x' }] as Record<string, string>[]) expect((await hit(stack.url, 'reader', 'listChanges', { query })).status).toBe(400);
    for (const id of ['getFlag', 'patchFlag', 'deleteFlag', 'getSegment', 'deleteSegment', 'legacyGetFlag'] as const) {
      await hit(stack.url, 'admin', id, { body: id === 'patchFlag' ? '{}' : undefined }); // 404
    }
    await hit(stack.url, 'admin', 'applyBatch', { body: JSON.stringify({ ops: [{ op: 'deleteFlag', key: 'no-such-item' }] }) }); // 404
    const stale = { 'if-match': '"1"' };
    await hit(stack.url, 'admin', 'putFlag', { params: { key: 'c-flag' }, body: JSON.stringify(current.flag), headers: stale }); // 412
    await hit(stack.url, 'admin', 'patchFlag', { params: { key: 'c-flag' }, body: '{}', headers: stale });
    await hit(stack.url, 'admin', 'deleteFlag', { params: { key: 'c-flag' }, headers: stale });
    await hit(stack.url, 'admin', 'putSegment', { params: { name: 'c-seg' }, body: JSON.stringify({ name: 'c-seg', conditions: [] }), headers: stale });
    await hit(stack.url, 'admin', 'deleteSegment', { params: { name: 'c-seg' }, headers: stale });
    await hit(stack.url, 'admin', 'deleteFlag', { params: { key: 'c-flag' }, headers: { 'if-match': 'not-a-revision' } }); // 400
    await hit(stack.url, 'admin', 'applyBatch', { body: JSON.stringify({ ops: [{ op: 'deleteFlag', key: 'c-flag', expectedRevision: 1 }] }) }); // 409
    await admin.putFlag({ ...current.flag, rules: [{ segments: ['c-seg'], variant: 'on' }] } as FlagDefinition);
    await hit(stack.url, 'admin', 'deleteSegment', { params: { name: 'c-seg' } }); // 409: in use
    await hit(stack.url, 'admin', 'restoreBackup', { body: JSON.stringify(await admin.getBackup()) }); // 409: not empty
    await hit(stack.url, 'admin', 'promoteClusterMember', { params: { id: '99' } });
    // 422: an Idempotency-Key used again for another request (here: another item's path).
    await admin.putFlag(boolFlag('c-keyed') as FlagDefinition);
    await admin.putSegment({ name: 'c-keyed', conditions: [] });
    for (const id of ['deleteFlag', 'deleteSegment'] as const) {
      const headers = { 'idempotency-key': `c-${id}-key` };
      expect((await hit(stack.url, 'admin', id, { params: { key: 'c-keyed', name: 'c-keyed' }, headers })).status).toBe(200);
      await hit(stack.url, 'admin', id, { params: { key: 'c-other', name: 'c-other' }, headers });
    }
    for (const id of ['promoteClusterMember', 'removeClusterMember'] as const) await hit(stack.url, 'admin', id, { params: { id: 'abc' } }); // 400
    await hit(stack.url, 'evaluator', 'evaluateFlag', { body: '{}' }); // 404 FLAG_NOT_FOUND
    await hit(stack.url, 'evaluator', 'evaluateFlag', { body: '{"context": 5}', params: { key: 'c-flag' } }); // 400
    await hit(stack.url, 'evaluator', 'evaluateAllFlags', { body: '{"context": 5}' });
    const bulk = await hit(stack.url, 'evaluator', 'evaluateAllFlags', { body: '{}' });
    await hit(stack.url, 'evaluator', 'evaluateAllFlags', { body: '{}', headers: { 'if-none-match': bulk.headers.get('etag') ?? '' } }); // 304
    await hit(stack.url, 'evaluator', 'streamOfrepEvents', { query: { since: 'yesterday' } }); // 400
    await hit(stack.url, 'reader', 'streamChanges', { query: { since: 'yesterday' } });
    for (const id of ['getSegment', 'legacyGetFlag', 'legacyListFlags'] as const) await hit(stack.url, 'admin', id, { params: { key: 'c-flag', name: 'c-seg' }, query: { consistency: 'sometimes' } }); // 400
    for (const id of ['exportFlagd', 'getSnapshot'] as const) await hit(stack.url, 'admin', id, { query: { prefix: 'p'.repeat(200) } }); // 400
    await hit(stack.url, 'admin', 'deleteSegment', { params: { name: 'c-seg' }, headers: { 'if-match': 'not-a-revision' } }); // 400
    await hit(stack.url, 'admin', 'createStreamTicket', { query: { stream: 'sideways' } }); // 400
    await hit(stack.url, 'evaluator', 'createStreamTicket', { query: { stream: 'changes' } }); // 403: changes need a reader
    for (const id of ['evaluateFlag', 'evaluateAllFlags'] as const) await hit(stack.url, 'evaluator', id, { params: { key: 'c-flag' }, body: '{}', headers: { 'content-encoding': 'zstd' } }); // 415
    // 405 is an OFREP operation's answer to the wrong method: checked as that operation's documented 405.
    for (const id of ['evaluateFlag', 'evaluateAllFlags'] as const) {
      const path = ROUTES[id].path.replace('{key}', 'c-flag');
      const res = await fetch(stack.url + path, { headers: { authorization: `Bearer ${TOKENS.evaluator}` } });
      expect(res.status).toBe(405);
      seen.push({ method: 'POST', path, status: 405, contentType: res.headers.get('content-type') ?? '', json: await res.json() });
      observed.add(`${id} 405`);
    }
  });

  it('refuses over the rate limits (429) and without a cluster (503)', async () => {
    const hung: string[] = [];
    const toNowhere: Promise<unknown>[] = [];
    for (const [id, r] of routes) {
      if (isPublic(r)) continue;
      const role: Role = r.path.startsWith('/ofrep/') ? 'evaluator' : r.path.includes('/cluster/') || r.path.includes('/admin/') || r.summary.includes('(role admin)') ? 'admin' : 'editor';
      const body = hasBody(r) ? '{}' : undefined;
      // Two at once: the second finds the budget of 1 spent (429 where the route takes from it).
      await hit(limited.url(), role, id, { body, params: RECORD_PARAMS });
      await hit(limited.url(), role, id, { body, params: RECORD_PARAMS });
      // Without a cluster every answer must come quickly (the cluster client's deadline is 300 ms);
      // a backup read waits out the cluster client's backupTimeoutMs (120 s) instead: not called here
      // (a restore, given no valid backup below, is refused before it reaches the cluster).
      if (id === 'getBackup') continue;
      const valid = VALID_BODIES.get(id);
      // All at once: each waits out the 300 ms deadline on its own, so one after another took ~14 s of CI.
      toNowhere.push(hit(nowhere.url(), role === 'editor' && r.method === 'get' ? 'reader' : role, id, {
        body: valid === undefined ? body : JSON.stringify(valid), params: RECORD_PARAMS, query: VALID_QUERIES.get(id), timeoutMs: NOWHERE_ANSWER_MS,
      })
        .catch((err: unknown) => { hung.push(`${id}: ${(err as Error).message}`); }));
    }
    await Promise.all(toNowhere);
    expect(hung).toEqual([]);
    const ready = await client(nowhere.url()).getReadiness();
    expect(ready.ready).toBe(false);
  });

  it('every answer seen conforms to the contract, and every route was seen succeeding and refusing', () => {
    const problems = new OpenApiChecker(doc).check.bind(new OpenApiChecker(doc));
    const bad = seen.flatMap((r) => problems(r));
    expect(bad).toEqual([]);
    const succeeded = routes.filter(([id, r]) => !Object.keys(r.responses).some((s) => s.startsWith('2') && (observed.has(`${id} ${s}`) || NOT_PROVOKED.has(`${id} ${s}`)))).map(([id]) => id);
    expect(succeeded).toEqual([]);
    const refused = routes.filter(([id, r]) => !isPublic(r) && !Object.keys(r.responses).some((s) => s >= '400' && observed.has(`${id} ${s}`))).map(([id]) => id);
    expect(refused).toEqual([]);
    const documented = routes.flatMap(([id, r]) => Object.keys(r.responses).map((s) => `${id} ${s}`));
    const unseen = documented.filter((d) => !observed.has(d));
    console.log(`contract: ${seen.length} answers checked; ${documented.length - unseen.length} of ${documented.length} documented (operation, status) pairs seen`);
    expect(unseen.filter((d) => !NOT_PROVOKED.has(d))).toEqual([]);
    expect([...NOT_PROVOKED].filter((d) => observed.has(d))).toEqual([]);
  });
});

/** Path parameters of the rate-limit and no-cluster loops: well-formed ids, so those answers come from the budget or the cluster. */
const RECORD_PARAMS = { key: 'c-flag', name: 'c-seg', changeRequestId: 'cr-1', scheduleId: 'sch-1' };

/** Query parameters a route requires, for the same reason. */
const VALID_QUERIES = new Map<OperationId, Record<string, string>>([['getPromotionPlan', { from: 'a', to: 'b' }]]);

/** Bodies a route accepts, so that a gateway without a cluster gets as far as the cluster (503). */
const VALID_BODIES = new Map<OperationId, unknown>([
  ['createEnvironment', { name: 'c-env' }],
  ['updateEnvironment', { displayName: 'C' }],
  ['planPromotion', { from: 'a', to: 'b' }],
  ['applyPromotion', { from: 'a', to: 'b' }],
  ['createChangeRequest', { title: 't', ops: [{ op: 'deleteFlag', key: 'c-flag' }] }],
  ['commentChangeRequest', { comment: 'c' }],
  ['createSchedule', { title: 't', steps: [{ at: 4_000_000_000_000, ops: [{ op: 'deleteFlag', key: 'c-flag' }] }] }],
  ['putFlag', boolFlag('c-flag')],
  ['putSegment', { name: 'c-seg', conditions: [] }],
  ['applyBatch', { ops: [{ op: 'deleteFlag', key: 'c-flag' }] }],
  ['legacySetFlag', { key: 'c-flag', value: 'x' }],
  ['legacySetFlagV1', { key: 'c-flag', value: 'x' }],
  ['transferLeadership', { id: 2 }],
  ['addClusterMember', { id: 9, address: '127.0.0.1:9' }],
  ['reportEvaluationCounts', { counts: [{ flag: 'c-flag', reason: 'DEFAULT', count: 1 }] }],
  ['importFlagd', { flags: {} }],
]);

/**
 * Documented answers this test does not provoke, each for a stated reason.
 * Kept exact: a pair that starts being seen must leave this list (see the last assertion).
 */
const NOT_PROVOKED = new Set<string>([
  // A caught-up learner needs a fourth node process: rest.test.ts promotes one (its answers are checked against this document too).
  'promoteClusterMember 200',
  // 409 from a write race or a cluster-side conflict (a membership change under way): not set up here. The
  // conflicts this test does make: a segment in use (deleteSegment), a batch revision mismatch, a non-empty restore.
  'putFlag 409', 'patchFlag 409', 'deleteFlag 409', 'putSegment 409', 'importFlagd 409', 'legacySetFlag 409', 'legacySetFlagV1 409',
  'addClusterMember 409', 'removeClusterMember 409', 'transferLeadership 409',
  // Older than retained: needs compaction of the change history (compaction.test.ts).
  'getFlagHistory 410', 'getSegmentHistory 410',
  // No parameters to get wrong.
  'getClusterStatus 400', 'getBackup 400', 'listEnvironments 400',
  // A change request's comments reach maxComments (200) only after 200 comments: flag-model's change-requests tests cover the limit.
  'commentChangeRequest 409',
  // A backup over maxBackupBytes (128 MiB).
  'getBackup 409',
  // Without a cluster, backup and restore wait out the cluster client's backupTimeoutMs (120 s) before their 503.
  'getBackup 503', 'restoreBackup 503',
  // Served by the gateway alone: no cluster to miss.
  'createStreamTicket 503', 'reportEvaluationCounts 503',
  // Every role may evaluate and report counts.
  'reportEvaluationCounts 403', 'evaluateFlag 403', 'evaluateAllFlags 403', 'streamOfrepEvents 403',
  // The OFREP events stream: a bad since is ignored (the stream starts now), other methods and its rate limit not tried here.
  'streamOfrepEvents 400', 'streamOfrepEvents 405', 'streamOfrepEvents 429',
]);
