// The gateway against a cluster whose default environment (production) is
// protected by an approval policy (issue 16): every write path of the
// gateway — REST PUT/DELETE, the legacy /set and /api/v1/flags/set, batch,
// segments used by a production flag — is refused by the state machine and
// answered 409 with the reason and a pointer to change requests; reads and
// OFREP evaluation keep working against the default environment unchanged.
// Last, the one thing environments-api.test.ts (in-memory cluster) cannot
// show: a schedule made through REST fired by a real leader's own scheduler.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import type { FlagDefinition } from '@flagraft/flag-model';
import { boolFlag, eventually, request, startStack, type Reply, type Stack } from './support/harness.js';

let stack: Stack;
let client: ClusterClient;

beforeAll(async () => {
  stack = await startStack();
  client = createClusterClient({ ...stack.cluster.clientOptions() });
  await client.putSegment({ name: 'beta', conditions: [{ attribute: 'plan', op: 'equals', value: 'beta' }] }, { actor: 'setup' });
  await client.putFlag(boolFlag('checkout', { rules: [{ conditions: [], segments: ['beta'], variant: 'on' }] }) as FlagDefinition, { actor: 'setup' });
  await client.propose({ op: 'putEnvironment', environment: { name: 'production', production: true, policy: { approvalsRequired: 1 } } }, { actor: 'setup' });
});
afterAll(async () => {
  client?.close();
  await stack?.stop();
});

const refused = (r: Reply) => {
  expect(r.status, r.text).toBe(409);
  expect(r.json).toMatchObject({ type: 'urn:flagraft:problem:conflict', reason: 'PROTECTED', environment: 'production' });
  expect(r.json.detail).toContain('change request');
};

describe('a protected default environment behind the gateway', () => {
  it('refuses REST, legacy, batch and segment writes with 409 PROTECTED; nothing changes', async () => {
    const before = await client.getFlag('checkout');
    refused(await stack.req('PUT', '/api/v1/flags/checkout', { role: 'admin', body: boolFlag('checkout', { enabled: false }) }));
    refused(await stack.req('DELETE', '/api/v1/flags/checkout', { role: 'admin' }));
    refused(await stack.req('POST', '/set', { role: 'admin', body: { key: 'checkout', value: 'false' } }));
    refused(await stack.req('POST', '/api/v1/flags/set', { role: 'admin', body: { key: 'checkout', value: 'false' } }));
    refused(await stack.req('POST', '/api/v1/batch', { role: 'admin', body: { ops: [{ op: 'putFlag', flag: boolFlag('checkout', { enabled: false }) }] } }));
    refused(await stack.req('PUT', '/api/v1/segments/beta', { role: 'admin', body: { name: 'beta', conditions: [] } }));
    expect(await client.getFlag('checkout')).toEqual(before);
  });

  it('still serves reads, the legacy /get and OFREP from the default environment', async () => {
    const got = await stack.req('GET', '/api/v1/flags/checkout', { role: 'reader' });
    expect(got.status).toBe(200);
    expect(got.json.flag.key).toBe('checkout');
    const legacy = await stack.req('GET', '/get/checkout', { role: 'reader' });
    expect(legacy.status, legacy.text).toBe(200);
    const ev = await request(stack.url, 'POST', '/ofrep/v1/evaluate/flags/checkout', { role: 'evaluator', body: { context: { targetingKey: 'u1', plan: 'beta' } } });
    expect(ev.status, ev.text).toBe(200);
    expect(ev.json).toMatchObject({ key: 'checkout', value: true, reason: 'TARGETING_MATCH' });
  });
});

describe("the leader's own scheduler", () => {
  it('fires a schedule made through REST when it is due, at the step\'s revision', async () => {
    await client.propose({ op: 'putEnvironment', environment: { name: 'staging' } }, { actor: 'setup' });
    const at = new Date(Date.now() + 1_500).toISOString();
    const created = await stack.req('POST', '/api/v1/schedules', { role: 'editor', body: { environment: 'staging', title: 'staging off', steps: [{ at, toggle: { flag: 'checkout', enabled: false } }] } });
    expect(created.status, created.text).toBe(201);
    const id = created.json.schedule.id as string;
    const fired = await eventually(async () => {
      const s = await stack.req('GET', `/api/v1/schedules/${id}`, { role: 'reader' });
      return s.json?.schedule?.steps[0].status === 'applied' ? s.json : undefined;
    }, 15_000, 'the schedule step applied');
    const flag = await stack.req('GET', '/api/v1/flags/checkout?environment=staging', { role: 'reader' });
    expect(flag.json.flag.enabled).toBe(false);
    expect(flag.json.modRevision).toBe(fired.schedule.steps[0].revision);
    const history = await stack.req('GET', '/api/v1/flags/checkout/history?environment=staging&limit=1', { role: 'reader' });
    expect(history.json.changes[0].actor).toBe('scheduler (ed)');
  });
});
