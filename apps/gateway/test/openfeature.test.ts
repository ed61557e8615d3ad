// What OpenFeature providers use besides plain OFREP, against a real cluster:
// the snapshot, stream tickets (OFREP events and the change stream opened from
// a URL, as EventSource must), event payloads with changed keys, freshness
// waits, and forwarded evaluation counts; each refusal has its test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boolFlag, startMemoryStack, TOKENS, type MemoryStack } from './support/harness.js';
import { openSse } from './support/sse.js';

let stack: MemoryStack;
beforeAll(async () => {
  stack = await startMemoryStack({ gateway: { streamTicketWindowSec: 60 } });
});
afterAll(async () => {
  await stack?.stop();
});

const put = async (key: string, extra: Record<string, unknown> = {}) => {
  const r = await stack.req('PUT', `/api/v1/flags/${key}`, { role: 'editor', body: boolFlag(key, extra) });
  expect(r.status, r.text).toBeLessThan(300);
  return r.json.modRevision as number;
};

describe('snapshot', () => {
  it('answers every flag (by prefix) and every segment at one revision; reader role; refusals', async () => {
    await put('snap-a');
    const rev = await put('snap-b');
    await stack.req('PUT', '/api/v1/segments/snap-seg', { role: 'editor', body: { conditions: [] } });
    const r = await stack.req('GET', '/api/v1/snapshot?prefix=snap-', { role: 'reader' });
    expect(r.status).toBe(200);
    expect(r.json.revision).toBeGreaterThanOrEqual(rev);
    expect(r.headers.get('etag')).toBe(`"${r.json.revision}"`);
    expect(r.json.flags.map((f: any) => f.flag.key).sort()).toEqual(['snap-a', 'snap-b']);
    expect(r.json.segments.map((s: any) => s.segment.name)).toContain('snap-seg');
    expect((await stack.req('GET', '/api/v1/snapshot', { role: 'evaluator' })).status).toBe(403);
    expect((await stack.req('GET', '/api/v1/snapshot')).status).toBe(401);
    expect((await stack.req('GET', `/api/v1/snapshot?prefix=${'x'.repeat(200)}`, { role: 'reader' })).status).toBe(400);
  });
});

describe('stream tickets', () => {
  it('the bulk answer to a token advertises a ticketed events URL that EventSource can open (no token in it)', async () => {
    const bulk = await stack.req('POST', '/ofrep/v1/evaluate/flags', { role: 'evaluator', body: { context: { targetingKey: 'u1' } } });
    expect(bulk.status).toBe(200);
    const url = new URL(bulk.json.eventStreams[0].url);
    expect(url.pathname).toBe('/ofrep/v1/events');
    expect(url.searchParams.get('since')).toBe(String(bulk.json.metadata.revision));
    const ticket = url.searchParams.get('ticket')!;
    expect(ticket).toMatch(/^ft1\./);
    expect(bulk.json.eventStreams[0].url).not.toContain(TOKENS.evaluator);
    expect(bulk.headers.get('etag')).toMatch(/-w\d+"$/);
    // The same window, the same URL: a provider comparing URLs does not reconnect.
    const again = await stack.req('POST', '/ofrep/v1/evaluate/flags', { role: 'evaluator', body: { context: { targetingKey: 'u2' } } });
    expect(again.json.eventStreams[0].url.replace(/since=\d+/, '')).toBe(url.href.replace(/since=\d+/, ''));

    const events = await openSse(url.href); // no headers, like EventSource
    expect(events.status).toBe(200);
    const rev = await put('tick-a');
    await events.waitFor((f) => f.some((x) => x.id === String(rev)), 10_000, 'the event of the change');
    const msg = JSON.parse(events.frames.find((x) => x.id === String(rev))!.data);
    expect(msg).toEqual({ type: 'refetchEvaluation', etag: String(rev), flags: ['tick-a'] });
    events.close();
  });

  it('a stream opened with an older since gets a refetch at once (no gap between the answer and the stream)', async () => {
    const bulk = await stack.req('POST', '/ofrep/v1/evaluate/flags', { role: 'evaluator', body: {} });
    const url = new URL(bulk.json.eventStreams[0].url);
    const rev = await put('tick-gap'); // a change after the answer, before the stream opens
    const events = await openSse(url.href);
    await events.waitFor((f) => f.some((x) => Number(x.id) >= rev), 10_000, 'the catch-up refetch');
    events.close();
  });

  it('a segment change names the flags that use the segment', async () => {
    await stack.req('PUT', '/api/v1/segments/tick-seg', { role: 'editor', body: { conditions: [] } });
    await put('tick-user', { rules: [{ conditions: [], segments: ['tick-seg'], variant: 'on' }] });
    const bulk = await stack.req('POST', '/ofrep/v1/evaluate/flags', { role: 'evaluator', body: {} });
    const events = await openSse(bulk.json.eventStreams[0].url);
    const seg = await stack.req('PUT', '/api/v1/segments/tick-seg', { role: 'editor', body: { conditions: [{ attribute: 'plan', op: 'equals', value: 'pro' }] } });
    const rev = seg.json.modRevision;
    await events.waitFor((f) => f.some((x) => x.id === String(rev)), 10_000, 'the segment event');
    expect(JSON.parse(events.frames.find((x) => x.id === String(rev))!.data).flags).toEqual(['tick-user']);
    events.close();
  });

  it('POST /api/v1/stream-tickets opens the change stream from a URL; reader needed for it; refusals', async () => {
    const t = await stack.req('POST', '/api/v1/stream-tickets?stream=changes', { role: 'reader' });
    expect(t.status).toBe(200);
    expect(t.json.path).toBe(`/api/v1/stream?ticket=${t.json.ticket}`);
    const s = await openSse(stack.url + t.json.path);
    expect(s.status).toBe(200);
    const rev = await put('tick-changes');
    await s.waitFor((f) => f.some((x) => x.id === String(rev)), 10_000, 'the change');
    s.close();

    expect((await stack.req('POST', '/api/v1/stream-tickets?stream=changes', { role: 'evaluator' })).status).toBe(403);
    expect((await stack.req('POST', '/api/v1/stream-tickets?stream=nope', { role: 'reader' })).status).toBe(400);
    expect((await stack.req('POST', '/api/v1/stream-tickets')).status).toBe(401);
    // An OFREP-events ticket does not open the change stream, and the reverse.
    const o = await stack.req('POST', '/api/v1/stream-tickets', { role: 'reader' });
    expect((await fetch(`${stack.url}/api/v1/stream?ticket=${o.json.ticket}`)).status).toBe(401);
    const wrong = await fetch(`${stack.url}/ofrep/v1/events?ticket=${t.json.ticket}`);
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { errorDetails: string }).errorDetails).toMatch(/another stream/);
    // Forged and malformed tickets.
    const forged = t.json.ticket.slice(0, -2) + (t.json.ticket.endsWith('AA') ? 'BB' : 'AA');
    expect((await fetch(`${stack.url}/api/v1/stream?ticket=${forged}`)).status).toBe(401);
    expect((await fetch(`${stack.url}/ofrep/v1/events?ticket=nonsense`)).status).toBe(401);
    // Tickets are never logged: the access log has the path without the query string.
    expect(stack.logs.some((l) => l.includes(t.json.ticket))).toBe(false);
  });

  it('a ticket from a revoked token no longer opens a stream (verified against the current token set)', async () => {
    const gw = await stack.newGateway({ tokens: (await import('@flagraft/auth')).createTokenStore([]), anonymousEvaluation: false });
    const t = await stack.req('POST', '/api/v1/stream-tickets', { role: 'evaluator' }); // issued by the main gateway
    const r = await fetch(`${gw.url()}/ofrep/v1/events?ticket=${t.json.ticket}`);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { errorDetails: string }).errorDetails).toMatch(/no longer valid/);
    await gw.close();
  });
});

describe('freshness: flagConfigEtag', () => {
  it('an evaluation naming a revision the replica has not applied waits for it (bounded), then answers', async () => {
    const rev = await put('fresh-a');
    const started = Date.now();
    const ahead = await stack.req('POST', `/ofrep/v1/evaluate/flags/fresh-a?flagConfigEtag=${rev + 1000}`, { role: 'evaluator', body: {} });
    expect(ahead.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // waited for freshnessWaitMs (1 s), then answered anyway
    const now = Date.now();
    const current = await stack.req('POST', `/ofrep/v1/evaluate/flags?flagConfigEtag=${rev}`, { role: 'evaluator', body: {} });
    expect(current.status).toBe(200);
    expect(Date.now() - now).toBeLessThan(900);
  });
});

describe('evaluation counts', () => {
  it('adds reported counts to the evaluation metrics; unknown flags and variants are ignored', async () => {
    await put('count-a');
    const r = await stack.req('POST', '/api/v1/evaluation-counts', {
      role: 'evaluator',
      body: { counts: [{ flag: 'count-a', variant: 'off', reason: 'STATIC', count: 7 }, { flag: 'no-such', reason: 'STATIC', count: 3 }, { flag: 'count-a', variant: 'nope', reason: 'STATIC', count: 2 }] },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({ accepted: 7, ignored: 5 });
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toContain('flagraft_gateway_reported_evaluations_total{flag="count-a",variant="off",reason="STATIC"} 7');
    expect(metrics).toMatch(/flagraft_gateway_evaluations_total\{flag="count-a",reason="STATIC"\} 7\b/);
  });

  it('refuses: no token (before reading the body), not JSON, too large, bad entries by path', async () => {
    expect((await stack.req('POST', '/api/v1/evaluation-counts', { body: { counts: [] } })).status).toBe(401);
    expect((await stack.req('POST', '/api/v1/evaluation-counts', { role: 'evaluator', rawBody: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await stack.req('POST', '/api/v1/evaluation-counts', { role: 'evaluator', rawBody: '{', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    const big = await stack.req('POST', '/api/v1/evaluation-counts', { role: 'evaluator', rawBody: JSON.stringify({ counts: [], pad: 'x'.repeat(300 * 1024) }), headers: { 'content-type': 'application/json' } });
    expect(big.status).toBe(413);
    const bad = await stack.req('POST', '/api/v1/evaluation-counts', { role: 'evaluator', body: { counts: [{ flag: 'count-a', reason: 'WHY', count: 0, extra: 1 }] } });
    expect(bad.status).toBe(422);
    expect(bad.json.issues.map((i: any) => i.path)).toEqual(['counts[0].reason', 'counts[0].count', 'counts[0].extra']);
    const many = await stack.req('POST', '/api/v1/evaluation-counts', { role: 'evaluator', body: { counts: Array.from({ length: 1001 }, () => ({ flag: 'a', reason: 'STATIC', count: 1 })) } });
    expect(many.status).toBe(422);
  });
});
