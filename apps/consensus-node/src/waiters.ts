// Callers waiting for something the Ready loop will report, by key: the
// applied outcome of a proposal (a write's clientId + requestId, a restore
// step, a nonce), or a ReadIndex batch becoming readable (its context).
//
// Several callers may wait on one key: a client that retries while its first
// attempt is still in flight joins it instead of proposing the entry twice,
// and every read that arrived while a ReadIndex was in flight shares the next
// one. Each caller keeps its own deadline, so a caller that joined late is
// answered when *its* time is up, not when the first caller's timer fires
// (which used to leave it waiting forever: the timer removed the key and
// answered only the first caller).

interface Caller<T> { key: string; resolve(v: T): void; reject(e: Error): void; timer?: NodeJS.Timeout }

export class Waiters<T> {
  private readonly byKey = new Map<string, Set<Caller<T>>>();

  /**
   * @param timeoutMs how long one caller waits before `timeoutError()` rejects it (ms);
   *   Infinity: callers wait until they are settled or failed (their owner bounds the wait).
   */
  constructor(private readonly timeoutMs: number, private readonly timeoutError: () => Error) {}

  /** Keys with at least one caller waiting. */
  get size(): number {
    return this.byKey.size;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Callers waiting on `key`. */
  count(key: string): number {
    return this.byKey.get(key)?.size ?? 0;
  }

  /** A new caller for `key`: resolves with settle(key)'s outcome, or rejects after timeoutMs. */
  wait(key: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const c: Caller<T> = { key, resolve, reject };
      if (Number.isFinite(this.timeoutMs)) {
        c.timer = setTimeout(() => {
          this.remove(c);
          reject(this.timeoutError());
        }, this.timeoutMs);
      }
      this.add(c);
    });
  }

  /** Answers every caller of `key`. */
  settle(key: string, outcome: T): void {
    const set = this.take(key);
    if (set) for (const c of set) c.resolve(outcome);
  }

  /** Rejects every caller of `key`. */
  fail(key: string, err: Error): void {
    const set = this.take(key);
    if (set) for (const c of set) c.reject(err);
  }

  /** Forgets the callers of `key` without answering them (their proposal failed and the error is thrown to them directly). */
  drop(key: string): void {
    this.take(key);
  }

  /** The callers of `from` now wait on `to` (keeping their deadlines). */
  move(from: string, to: string): void {
    const set = this.byKey.get(from);
    if (!set || from === to) return;
    this.byKey.delete(from);
    for (const c of set) {
      c.key = to;
      this.add(c);
    }
  }

  failAll(err: Error): void {
    for (const key of [...this.byKey.keys()]) this.fail(key, err);
  }

  private add(c: Caller<T>): void {
    let set = this.byKey.get(c.key);
    if (!set) this.byKey.set(c.key, (set = new Set()));
    set.add(c);
  }

  private remove(c: Caller<T>): void {
    const set = this.byKey.get(c.key);
    if (!set) return;
    set.delete(c);
    if (set.size === 0) this.byKey.delete(c.key);
  }

  private take(key: string): Set<Caller<T>> | undefined {
    const set = this.byKey.get(key);
    if (!set) return undefined;
    this.byKey.delete(key);
    for (const c of set) clearTimeout(c.timer);
    return set;
  }
}
