// Membership changes through the REST API with real node processes: a node
// joins, is promoted, leads, and is removed (moved here from rest.test.ts,
// which runs over the in-memory cluster). Its responses are checked against
// the OpenAPI document too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startStack, type RequestOptions, type Reply, type Stack } from './support/harness.js';
import { OpenApiChecker, record, type Recorded } from './support/openapi-check.js';

let stack: Stack;
const seen: Recorded[] = [];
const api = async (method: string, path: string, opts: RequestOptions = {}): Promise<Reply> =>
  record(seen, method, path, await stack.req(method, path, { role: 'admin', ...opts }));

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('cluster membership', () => {
  it('adds a learner, promotes it, transfers leadership and removes it', async () => {
    const joiner = await stack.cluster.spawnJoiner(4);
    const added = await api('POST', '/api/v1/cluster/members', { body: { id: 4, address: joiner.peerAddress } });
    expect(added.status, added.text).toBe(201);
    await eventually(async () => {
      const st = await api('GET', '/api/v1/cluster');
      const m = st.json.members.find((x: any) => Number(x.id) === 4);
      return m && m.role === 'learner' && m.lag === 0;
    }, 30_000, 'learner 4 caught up');
    const promoted = await eventually(async () => {
      const r = await api('POST', '/api/v1/cluster/members/4/promote');
      return r.status === 200 ? r : undefined;
    }, 20_000, 'promotion');
    expect(promoted.json.promoted).toBe(4);
    const leader = await api('POST', '/api/v1/cluster/leader', { body: { id: 4 } });
    expect(leader.status, leader.text).toBe(200);
    await eventually(async () => Number((await api('GET', '/api/v1/cluster')).json.leaderId) === 4, 20_000, 'leader 4');
    const back = await api('POST', '/api/v1/cluster/leader', { body: { id: 1 } });
    expect(back.status, back.text).toBe(200);
    await eventually(async () => Number((await api('GET', '/api/v1/cluster')).json.leaderId) === 1, 20_000, 'leader 1');
    const removed = await api('DELETE', '/api/v1/cluster/members/4');
    expect(removed.status, removed.text).toBe(200);
    await eventually(async () => (await api('GET', '/api/v1/cluster')).json.members.length === 3, 20_000, 'member 4 removed');
    await joiner.kill();
  });

  it('every response seen in this file conforms to the OpenAPI document', async () => {
    const doc = (await stack.req('GET', '/api/v1/openapi.json')).json;
    const problems = seen.flatMap((r) => new OpenApiChecker(doc).check(r));
    expect(problems).toEqual([]);
  });
});
