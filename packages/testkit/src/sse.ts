// The text/event-stream framing for the test-side SSE clients (the gateway's
// stream tests, the torture recorder): blank-line separated blocks of
// `id:`, `event:`, `data:` lines and `:` comments. (The OpenFeature
// provider has its own parser, with CRLF and a size limit: it ships to
// users and depends on nothing of ours.)

export interface SseFrame {
  id?: string;
  event: string;
  data: string;
}

/** One block of the stream: its frame (event "message" unless named), and whether it had any data line. */
export interface SseBlock {
  frame: SseFrame;
  hasData: boolean;
}

/**
 * The blocks of an SSE body as they arrive (multi-line data joined with
 * "\n"); each comment line calls `onComment` (heartbeats). Ends when the body
 * ends; an abort or a dropped connection rejects, as the body's reads do.
 */
export async function* sseBlocks(body: AsyncIterable<Uint8Array>, onComment: () => void = () => {}): AsyncGenerator<SseBlock> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const frame: SseFrame = { event: 'message', data: '' };
      let hasData = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          onComment();
          continue;
        }
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
        else if (field === 'data') {
          frame.data += (hasData ? '\n' : '') + value;
          hasData = true;
        }
      }
      yield { frame, hasData };
    }
  }
}
