// A minimal SSE reader for tests: the frames of a streaming fetch (framing: @flagraft/testkit's sseBlocks).
import { sseBlocks, type SseFrame } from '@flagraft/testkit';

export type { SseFrame };

export interface SseReader {
  status: number;
  headers: Headers;
  frames: SseFrame[];
  /** Comment lines (heartbeats) received. */
  comments: number;
  /** Last id seen (what EventSource would send as Last-Event-ID). */
  lastId: string | undefined;
  closed: Promise<void>;
  close(): void;
  waitFor(pred: (frames: SseFrame[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
  const frames: SseFrame[] = [];
  const reader: SseReader = {
    status: res.status,
    headers: res.headers,
    frames,
    comments: 0,
    lastId: undefined,
    closed: Promise.resolve(),
    close: () => ac.abort(),
    async waitFor(pred, timeoutMs = 10_000, what = 'frames') {
      const deadline = Date.now() + timeoutMs;
      while (!pred(frames)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(frames.slice(-5))}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
  if (!res.body || res.status !== 200) return reader;
  reader.closed = (async () => {
    try {
      for await (const { frame, hasData } of sseBlocks(res.body as unknown as AsyncIterable<Uint8Array>, () => reader.comments++)) {
        if (frame.id !== undefined) reader.lastId = frame.id;
        if (hasData) frames.push(frame);
      }
    } catch {
      // aborted or connection dropped
    }
  })();
  return reader;
}
