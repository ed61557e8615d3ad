// Callers waiting for the applied outcome of a Raft entry, by key (a write's
// clientId + requestId, a restore step, a nonce). Several callers may wait on
// one key: a client that retries while its first attempt is still in flight
// joins it instead of proposing the entry twice. Each caller keeps its own
// deadline, so a caller that joined late is answered when *its* time is up,
// not when the first caller's timer fires (which used to leave it waiting
// forever: the timer removed the key and answered only the first caller).

interface Caller<T> { resolve(v: T): void; reject(e: Error): void; timer: NodeJS.Timeout }

export class Waiters<T> {
  private readonly byKey = new Map<string, Set<Caller<T>>>();

  /** @param timeoutMs how long one caller waits before `timeoutError()` rejects it (ms). */
  constructor(private readonly timeoutMs: number, private readonly timeoutError: () => Error) {}

  /** Keys with at least one caller waiting. */
  get size(): number {
    return this.byKey.size;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** A new caller for `key`: resolves with settle(key)'s outcome, or rejects after timeoutMs. */
  wait(key: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let callers = this.byKey.get(key);
      if (!callers) this.byKey.set(key, (callers = new Set()));
      const set = callers;
      const c: Caller<T> = {
        resolve, reject,
        timer: setTimeout(() => {
          set.delete(c);
          if (set.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
          reject(this.timeoutError());
        }, this.timeoutMs),
      };
      set.add(c);
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

  failAll(err: Error): void {
    for (const key of [...this.byKey.keys()]) this.fail(key, err);
  }

  private take(key: string): Set<Caller<T>> | undefined {
    const set = this.byKey.get(key);
    if (!set) return undefined;
    this.byKey.delete(key);
    for (const c of set) clearTimeout(c.timer);
    return set;
  }
}
