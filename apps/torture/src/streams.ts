// Change-stream subscribers whose deliveries are checked against the history
// (@flagraft/history-check checkStream): the gateway's SSE stream
// (/api/v1/stream, reconnecting with Last-Event-ID as EventSource does) and
// the cluster's Watch through @flagraft/cluster-client (which resumes from
// the last delivered revision itself).
import { createClusterClient, type ClusterClientOptions } from '@flagraft/cluster-client';
import type { StreamEvent } from '@flagraft/history-check';
import { sseBlocks } from '@flagraft/testkit';

/** Events kept per subscriber (a bound: a longer run keeps checking from the start, so this is generous). */
export const MAX_STREAM_EVENTS = 2_000_000;

export interface StreamRecorder {
  readonly name: string;
  readonly events: StreamEvent[];
  /** The revision the subscription starts after. */
  from: number;
  /** Highest revision known delivered (changes and progress marks). */
  delivered(): number;
  close(): void;
  /** Tells the recorder the client address of a node that joined (membership changes). */
  addEndpoint?(address: string): void;
}

function changeOf(e: { revision: number; key: string; op: 'put' | 'delete'; kind: string; flag?: { flag: { variants: Record<string, unknown> } } | null }, at: number): StreamEvent | undefined {
  if (e.kind !== 'flag') return undefined;
  return { type: 'change', revision: e.revision, key: e.key, op: e.op, value: e.op === 'put' ? String(e.flag?.flag.variants.v) : undefined, at };
}

function push(events: StreamEvent[], e: StreamEvent): void {
  if (events.length >= MAX_STREAM_EVENTS) throw new Error(`stream recorder: more than ${MAX_STREAM_EVENTS} events`);
  events.push(e);
}

/** The gateway's SSE change stream, reconnecting (with Last-Event-ID) whenever it drops. `now` is the history's logical clock. */
export function recordSse(name: string, url: string, token: string, now: () => number): StreamRecorder {
  const events: StreamEvent[] = [];
  let lastId: string | undefined;
  let top = 0;
  let closed = false;
  let ac = new AbortController();
  const rec: StreamRecorder = {
    name, events, from: -1,
    delivered: () => top,
    close: () => { closed = true; ac.abort(); },
  };
  const once = async () => {
    ac = new AbortController();
    const res = await fetch(`${url}/api/v1/stream`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, ...(lastId ? { 'last-event-id': lastId } : {}) },
      signal: ac.signal,
    });
    if (res.status !== 200 || !res.body) throw new Error(`sse ${res.status}`);
    if (lastId) {
      const [r, i] = lastId.split(':').map(Number);
      push(events, { type: 'reconnect', from: i === undefined ? r : r - 1 });
    }
    for await (const { frame } of sseBlocks(res.body as unknown as AsyncIterable<Uint8Array>)) {
      const { event, data, id } = frame;
      if (id !== undefined) lastId = id;
      if (!data) continue; // "retry:" and comment-only blocks
      if (event === 'ready') {
        const r = JSON.parse(data).revision as number;
        if (rec.from < 0) rec.from = r;
        top = Math.max(top, r);
      } else if (event === 'reset') {
        const r = JSON.parse(data).revision as number;
        push(events, { type: 'resync', revision: r });
        top = Math.max(top, r);
      } else if (event === 'message') {
        const c = changeOf(JSON.parse(data), now());
        if (c && c.type === 'change') {
          push(events, c);
          top = Math.max(top, c.revision);
        }
      }
    }
  };
  void (async () => {
    while (!closed) {
      try { await once(); } catch { /* dropped: reconnect */ }
      if (!closed) await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return rec;
}

/** The cluster's Watch from revision 0 (everything), through the cluster client's own resumption. */
export function recordWatch(name: string, options: ClusterClientOptions, now: () => number): StreamRecorder {
  const endpoints = [...options.endpoints];
  const connect = () => createClusterClient({ ...options, endpoints, requestTimeoutMs: 2000, retryDeadlineMs: 60_000 });
  let client = connect();
  const events: StreamEvent[] = [];
  let top = 0;
  let w: { close(): void } | undefined;
  const start = (from: number) => {
    w = client.watch({
      fromRevision: from,
      progressIntervalMs: 500,
      onChange: (e) => {
        const c = changeOf(e as never, now());
        if (c && c.type === 'change') {
          push(events, c);
          top = Math.max(top, c.revision);
        }
      },
      onProgress: (r) => {
        push(events, { type: 'progress', revision: r });
        top = Math.max(top, r);
      },
      onError: (_err, willRetry) => {
        // A stop the client will not retry: resume from what was delivered, as a subscriber would.
        if (!willRetry) setTimeout(() => { push(events, { type: 'reconnect', from: top }); start(top); }, 200);
      },
      onCompacted: () => {
        // The stream stopped; a real subscriber reloads the state and watches again from there.
        void client.snapshotAll().then((s) => {
          push(events, { type: 'resync', revision: s.revision });
          top = Math.max(top, s.revision);
          start(s.revision);
        }, () => start(top));
      },
    });
  };
  start(0);
  return {
    name, events, from: 0,
    delivered: () => top,
    close: () => { w?.close(); client.close(); },
    // A new member's address: a new client that knows it, resuming from what was delivered.
    addEndpoint: (address) => {
      endpoints.push(address);
      w?.close();
      client.close();
      client = connect();
      push(events, { type: 'reconnect', from: top });
      start(top);
    },
  };
}
