// A Server-Sent Events reader over fetch (Node has no EventSource, and ours
// must send Authorization and Last-Event-ID). Parses the text/event-stream
// format: `id:`, `event:`, `data:` lines, blank-line dispatch, `:` comments.

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** Longest event (bytes of unparsed text) we buffer; a longer one ends the stream. */
export const MAX_SSE_EVENT_BYTES = 16 * 1024 * 1024;

const BOUNDARY = /\r\n\r\n|\n\n|\r\r/;

export class SseParser {
  private buf = '';
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly onMessage: (m: SseMessage) => void,
    private readonly onComment: () => void = () => {},
  ) {}

  /** Feeds a chunk; throws if one event exceeds MAX_SSE_EVENT_BYTES. */
  push(chunk: Uint8Array): void {
    this.buf += this.decoder.decode(chunk, { stream: true });
    for (let m = BOUNDARY.exec(this.buf); m !== null; m = BOUNDARY.exec(this.buf)) {
      const block = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.dispatch(block);
    }
    if (this.buf.length > MAX_SSE_EVENT_BYTES) throw new Error(`an SSE event is larger than ${MAX_SSE_EVENT_BYTES} bytes`);
  }

  private dispatch(block: string): void {
    const m: SseMessage = { event: 'message', data: '' };
    let hasData = false;
    for (const line of block.split(/\r\n|\r|\n/)) {
      if (line === '') continue;
      if (line.startsWith(':')) {
        this.onComment();
        continue;
      }
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'id') m.id = value;
      else if (field === 'event') m.event = value;
      else if (field === 'data') {
        m.data += (hasData ? '\n' : '') + value;
        hasData = true;
      }
    }
    if (hasData) this.onMessage(m);
  }
}
