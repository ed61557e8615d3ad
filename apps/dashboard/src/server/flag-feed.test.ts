// ListFeed against a stand-in gateway: a real node:http server on 127.0.0.1
// speaking the two endpoints the feed uses (stale list pages and the SSE
// change stream), so the test controls exactly which frames arrive. The real
// gateway is exercised by the e2e suite (test/dashboard.e2e.test.ts).
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredFlag } from '@flagraft/flag-model';
import { ListFeed } from './flag-feed';

const stored = (key: string, rev: number, enabled = true): StoredFlag =>
  ({ flag: { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled, rules: [] }, createRevision: rev, modRevision: rev, version: 1, updatedAt: 0, updatedBy: 't' }) as StoredFlag;

const gw = {
  flags: new Map<string, StoredFlag>(),
  revision: 0,
  listCalls: 0,
  streams: [] as { res: ServerResponse; lastEventId: string | undefined }[],
  refuse: false,
};
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (gw.refuse) {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"status":401}');
    return;
  }
  if (url.pathname === '/api/v1/flags') {
    gw.listCalls++;
    const limit = Number(url.searchParams.get('limit'));
    const after = url.searchParams.get('pageToken') ?? '';
    const keys = [...gw.flags.keys()].sort().filter((k) => k > after);
    const page = keys.slice(0, limit);
    const body: Record<string, unknown> = { flags: page.map((k) => gw.flags.get(k)), revision: gw.revision };
    if (keys.length > limit) body.nextPageToken = page[page.length - 1];
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    return;
  }
  if (url.pathname === '/api/v1/stream') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`event: ready\ndata: {"revision":${gw.revision}}\n\n`);
    gw.streams.push({ res, lastEventId: req.headers['last-event-id'] as string | undefined });
    return;
  }
  res.writeHead(404).end();
});
const current = () => gw.streams[gw.streams.length - 1];
const put = (key: string, rev: number, enabled: boolean, id = String(rev)) => {
  gw.flags.set(key, stored(key, rev, enabled));
  gw.revision = Math.max(gw.revision, rev);
  const e = { v: 1, kind: 'flag', key, op: 'put', revision: rev, actor: 't', time: '', flag: stored(key, rev, enabled) };
  current().res.write(`id: ${id}\ndata: ${JSON.stringify(e)}\n\n`);
};
async function until<T>(f: () => T | undefined | false, what: string, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let base = '';
let feed: ListFeed;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (let i = 0; i < 1500; i++) gw.flags.set(`f-${String(i).padStart(4, '0')}`, stored(`f-${String(i).padStart(4, '0')}`, i + 1));
  gw.revision = 1500;
});
afterAll(async () => {
  feed?.close();
  for (const s of gw.streams) s.res.destroy();
  await new Promise((r) => server.close(r));
});

describe('ListFeed', () => {
  it('walks once, then streams from the walk revision and applies changes without walking again', async () => {
    feed = new ListFeed(base, 5_000);
    feed.use('token-a');
    expect(await feed.waitFor(1500, 5_000)).toBe(true);
    expect(feed.index.size).toBe(1500);
    expect(gw.listCalls).toBe(2); // two 1,000-flag pages
    await until(() => gw.streams.length === 1, 'stream opened');
    expect(current().lastEventId).toBe('1500');
    put('f-0007', 1501, false);
    expect(await feed.waitFor(1501, 2_000)).toBe(true);
    expect(feed.index.get('f-0007')?.flag.enabled).toBe(false);
    expect(gw.listCalls).toBe(2);
  });

  it('waits a bounded time: a revision the stream has not delivered is refused, not assumed', async () => {
    const t = Date.now();
    expect(await feed.waitFor(1510, 200)).toBe(false);
    expect(Date.now() - t).toBeLessThan(2_000);
    // an atomic batch: "R:0" does not complete R, "R" does
    put('f-0001', 1502, false, '1502:0');
    await until(() => feed.index.get('f-0001')?.modRevision === 1502, 'batch event applied');
    expect(await feed.waitFor(1502, 100)).toBe(false);
    put('f-0002', 1502, false, '1502');
    expect(await feed.waitFor(1502, 2_000)).toBe(true);
  });

  it('resumes a dropped stream from the last event id', async () => {
    current().res.end();
    await until(() => gw.streams.length === 2, 'reconnected');
    expect(current().lastEventId).toBe('1502');
    put('f-0003', 1503, false);
    expect(await feed.waitFor(1503, 2_000)).toBe(true);
    expect(gw.listCalls).toBe(2); // no walk for a resume
  });

  it('walks again after a reset, and keeps nothing of the old copy', async () => {
    gw.flags.clear();
    gw.flags.set('only', stored('only', 1600));
    gw.revision = 1600;
    current().res.write('id: 1600\nevent: reset\ndata: {"revision":1600,"reason":"restore"}\n\n');
    expect(await feed.waitFor(1600, 5_000)).toBe(true);
    expect(feed.index.sorted().map((f) => f.flag.key)).toEqual(['only']);
    expect(gw.listCalls).toBe(3);
    await until(() => current().lastEventId === '1600', 'stream reopened from the new walk');
  });

  it('a malformed event invalidates the index (a list load then walks itself) until the feed has reloaded', async () => {
    current().res.write('id: 1601\ndata: {"kind":"flag","op":"put","key":"x","revision":1601}\n\n');
    await until(() => gw.listCalls === 4, 'reloaded after a malformed event');
    expect(await feed.waitFor(1600, 5_000)).toBe(true);
    await until(() => gw.streams.length === 4, 'stream reopened after the reload');
  });

  it('stops when the gateway refuses its token, and restarts with the next user token', async () => {
    gw.refuse = true;
    current().res.end();
    await until(() => feed.state === 'idle', 'feed stopped');
    gw.refuse = false;
    const before = gw.streams.length;
    feed.use('token-b');
    await until(() => gw.streams.length === before + 1, 'feed restarted');
    expect(feed.state).toBe('streaming');
  });
});
