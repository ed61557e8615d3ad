// GET /api/v1/stream against a real cluster: ordering, resume after a
// disconnect with no lost and no repeated event (from memory and from the
// cluster's Watch), batches, filters, heartbeats, and dropping slow clients.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boolFlag, eventually, startStack, TOKENS, type Stack } from './support/harness.js';
import { openSse, type SseFrame } from './support/sse.js';

let stack: Stack;
const auth = { authorization: `Bearer ${TOKENS.reader}` };
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const changes = (frames: SseFrame[]) => frames.filter((f) => f.event === 'message').map((f) => JSON.parse(f.data));
const put = async (key: string, extra: Record<string, unknown> = {}) => {
  const r = await stack.req('PUT', `/api/v1/flags/${key}`, { role: 'editor', body: boolFlag(key, extra) });
  expect(r.status, r.text).toBeLessThan(300);
  return r.json.modRevision as number;
};

describe('change stream', () => {
  it('delivers committed changes in order with id = revision, then resumes after a disconnect without loss or duplicates', async () => {
    const s1 = await openSse(`${stack.url}/api/v1/stream?prefix=s1-`, auth);
    expect(s1.status).toBe(200);
    expect(s1.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await s1.waitFor((f) => f.some((x) => x.event === 'ready'));
    const revisions: number[] = [];
    for (let i = 0; i < 8; i++) revisions.push(await put(`s1-${i}`));
    await s1.waitFor((f) => changes(f).length === 8, 10_000, '8 changes');
    expect(changes(s1.frames).map((c) => c.revision)).toEqual(revisions);
    expect(s1.frames.filter((f) => f.event === 'message').map((f) => f.id)).toEqual(revisions.map(String));
    expect(changes(s1.frames)[0]).toMatchObject({ v: 1, kind: 'flag', key: 's1-0', op: 'put', actor: 'ed', flag: { flag: { key: 's1-0' } } });
    s1.close();
    const lastSeen = s1.lastId!;

    // Changes while disconnected, then resume like EventSource does.
    const missed: number[] = [];
    for (let i = 8; i < 14; i++) missed.push(await put(`s1-${i}`));
    const s2 = await openSse(`${stack.url}/api/v1/stream?prefix=s1-`, { ...auth, 'last-event-id': lastSeen });
    const more: number[] = [];
    const writes = (async () => {
      for (let i = 14; i < 18; i++) more.push(await put(`s1-${i}`));
    })();
    await writes;
    await s2.waitFor((f) => changes(f).length === 10, 10_000, '10 changes after resume');
    expect(changes(s2.frames).map((c) => c.revision)).toEqual([...missed, ...more]);
    s2.close();
  });

  it('?since= resumes too; a batch keeps its events together and can be resumed inside', async () => {
    const before = await put('s2-before');
    const batch = await stack.req('POST', '/api/v1/batch', {
      role: 'editor',
      body: { ops: ['s2-a', 's2-b', 's2-c'].map((k) => ({ op: 'putFlag', flag: boolFlag(k) })) },
    });
    expect(batch.status).toBe(200);
    const R = batch.json.revision;
    const s = await openSse(`${stack.url}/api/v1/stream?since=${before}&prefix=s2-`, auth);
    await s.waitFor((f) => changes(f).length === 3);
    expect(s.frames.filter((f) => f.event === 'message').map((f) => f.id)).toEqual([`${R}:0`, `${R}:1`, `${R}`]);
    s.close();
    // Resuming after the first event of the batch gives exactly the other two.
    const r = await openSse(`${stack.url}/api/v1/stream?prefix=s2-`, { ...auth, 'last-event-id': `${R}:0` });
    await r.waitFor((f) => changes(f).length === 2);
    expect(changes(r.frames).map((c) => c.key)).toEqual(['s2-b', 's2-c']);
    r.close();
    const head = await fetch(`${stack.url}/api/v1/stream`, { method: 'HEAD', headers: auth });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const bad = await fetch(`${stack.url}/api/v1/stream?since=yesterday`, { headers: auth });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('resumes from the cluster\'s Watch when the position is older than the gateway keeps in memory', async () => {
    const gw = await stack.newGateway({ sseReplayEvents: 3 });
    const start = await put('s3-start');
    const written: number[] = [];
    for (let i = 0; i < 10; i++) written.push(await put(`s3-${i}`));
    await eventually(() => gw.replica.revision >= written[written.length - 1], 10_000, 'replica caught up');
    const s = await openSse(`${gw.url()}/api/v1/stream?prefix=s3-`, { ...auth, 'last-event-id': String(start) });
    const live: number[] = [];
    for (let i = 10; i < 13; i++) live.push(await put(`s3-${i}`));
    // A final marker write: the stream is ordered, so any duplicate would arrive before it.
    const marker = await put('s3-marker');
    await s.waitFor((f) => changes(f).some((c) => c.revision === marker), 15_000, 'marker');
    expect(changes(s.frames).map((c) => c.revision)).toEqual([...written, ...live, marker]);
    s.close();
    await gw.close();
  });

  it('sends heartbeats on an idle stream', async () => {
    const gw = await stack.newGateway({ sseHeartbeatMs: 100 });
    const s = await openSse(`${gw.url()}/api/v1/stream?prefix=nothing-`, auth);
    await eventually(() => s.comments >= 2, 5_000, 'two heartbeats');
    s.close();
    await gw.close();
  });

  it('drops a client that does not read instead of buffering without bound', async () => {
    const gw = await stack.newGateway({ sseMaxBufferedBytes: 64 * 1024 });
    const url = new URL(`${gw.url()}/api/v1/stream?prefix=s5-`);
    let closed = false;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(url, { headers: auth }, (res) => {
        expect(res.statusCode).toBe(200);
        res.pause(); // never read: the gateway's send queue for us grows
        res.on('close', () => {
          closed = true;
        });
        res.on('error', () => {
          closed = true;
        });
        resolve();
      });
      req.on('error', reject);
    });
    // ~190 KiB per event: a string flag with large variants.
    const variants = Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`v${i}`, 'x'.repeat(4000)]));
    for (let i = 0; i < 60 && !closed; i++) {
      const r = await stack.req('PUT', `/api/v1/flags/s5-${i}`, {
        role: 'editor',
        body: { key: `s5-${i}`, type: 'string', variants, defaultVariant: 'v0', enabled: true, rules: [] },
      });
      expect(r.status).toBe(201);
    }
    await eventually(() => closed, 10_000, 'slow client disconnected');
    const metrics = await (await fetch(`${gw.url()}/metrics`)).text();
    expect(metrics).toMatch(/flagraft_gateway_sse_dropped_total\{stream="changes",reason="slow"\} 1/);
    await gw.close();
  });
});
