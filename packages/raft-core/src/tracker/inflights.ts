// The in-flight window of one follower (pipelining, thesis §10.2.2): the
// leader keeps sending MsgApp without waiting for acks until maxInflightMsgs
// messages (or maxInflightBytes bytes) are unacknowledged.

export class Inflights {
  /** Last entry index of each in-flight message, oldest first. */
  private idx: number[] = [];
  private sizes: number[] = [];
  private start = 0;
  private bytes = 0;

  constructor(
    /** Messages (unit: MsgApp messages) allowed in flight. */
    readonly maxMsgs: number,
    /** Payload bytes allowed in flight; 0 = no byte limit. */
    readonly maxBytes = 0,
  ) {}

  clone(): Inflights {
    const c = new Inflights(this.maxMsgs, this.maxBytes);
    c.idx = this.idx.slice(this.start);
    c.sizes = this.sizes.slice(this.start);
    c.bytes = this.bytes;
    return c;
  }

  get count(): number {
    return this.idx.length - this.start;
  }

  get inflightBytes(): number {
    return this.bytes;
  }

  /** Record a message whose last entry is `index` and that carries `bytes`. Indexes must grow. */
  add(index: number, bytes: number): void {
    if (this.full()) throw new Error('cannot add into a full inflights window');
    this.idx.push(index);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Acknowledge every message whose last index is <= to. */
  freeLE(to: number): void {
    let i = this.start;
    while (i < this.idx.length && this.idx[i] <= to) {
      this.bytes -= this.sizes[i];
      i++;
    }
    this.start = i;
    if (this.start === this.idx.length) {
      this.idx = [];
      this.sizes = [];
      this.start = 0;
    } else if (this.start > 1024 && this.start * 2 > this.idx.length) {
      this.idx = this.idx.slice(this.start);
      this.sizes = this.sizes.slice(this.start);
      this.start = 0;
    }
  }

  full(): boolean {
    return this.count >= this.maxMsgs || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  reset(): void {
    this.idx = [];
    this.sizes = [];
    this.start = 0;
    this.bytes = 0;
  }
}
