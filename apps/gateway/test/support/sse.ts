// A minimal SSE reader for tests: parses frames from a streaming fetch.
export interface SseFrame {
  id?: string;
  event: string;
  data: string;
}

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
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const f: SseFrame = { event: 'message', data: '' };
          let hasData = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              reader.comments++;
              continue;
            }
            const i = line.indexOf(':');
            const field = i < 0 ? line : line.slice(0, i);
            const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
            if (field === 'id') f.id = value;
            else if (field === 'event') f.event = value;
            else if (field === 'data') {
              f.data += (hasData ? '\n' : '') + value;
              hasData = true;
            }
          }
          if (f.id !== undefined) reader.lastId = f.id;
          if (hasData) frames.push(f);
        }
      }
    } catch {
      // aborted or connection dropped
    }
  })();
  return reader;
}
