// An OpenFeature hook that counts evaluations per flag, variant and reason and
// forwards them in batches to the gateway (POST /api/v1/evaluation-counts),
// where they join the OFREP evaluation counters. Works with both SDKs: it only
// uses the `finally` stage (every evaluation, errors included) and fetch.
//
// Counting costs a Map update per evaluation; nothing is sent per evaluation.
// Memory is bounded: at most maxPendingEntries distinct (flag, variant, reason)
// sets wait for the next flush; new sets beyond that are dropped and counted.

/** Entries per request, as the gateway accepts (MAX_EVALUATION_COUNT_ENTRIES). */
export const MAX_ENTRIES_PER_REPORT = 1_000;

export interface EvaluationCounterOptions {
  /** Gateway (or Caddy) base URL, without /api. */
  url: string;
  /** Any token role may report. */
  token: string;
  /** How often counts are sent, ms (default 10 000). */
  flushIntervalMs?: number;
  /** Distinct (flag, variant, reason) sets kept while unsent (default 10 000). */
  maxPendingEntries?: number;
  fetch?: typeof fetch;
}

interface Pending {
  flag: string;
  variant?: string;
  reason: string;
  count: number;
}

/** The part of the SDKs' evaluation details the hook reads. */
interface FinallyDetails {
  flagKey: string;
  variant?: string;
  reason?: string;
  errorCode?: string;
}

export class EvaluationCounter {
  private pending = new Map<string, Pending>();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly fetchImpl: typeof fetch;
  private readonly maxPending: number;
  private flushing: Promise<void> | undefined;
  /** Evaluations not counted because maxPendingEntries was reached. */
  dropped = 0;
  /** Evaluations the gateway accepted so far. */
  sent = 0;
  /** Failed flushes (the counts stay pending and go with the next one). */
  failures = 0;

  constructor(private readonly opts: EvaluationCounterOptions) {
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.maxPending = opts.maxPendingEntries ?? 10_000;
    this.timer = setInterval(() => void this.flush(), opts.flushIntervalMs ?? 10_000);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** OpenFeature hook stage: runs after every evaluation. */
  finally(_hookContext: unknown, details?: FinallyDetails): void {
    if (!details) return;
    this.count(details.flagKey, details.variant, details.errorCode !== undefined ? 'ERROR' : (details.reason ?? 'UNKNOWN'));
  }

  count(flag: string, variant: string | undefined, reason: string, n = 1): void {
    const id = `${flag}\u0000${variant ?? ''}\u0000${reason}`;
    const p = this.pending.get(id);
    if (p) p.count += n;
    else if (this.pending.size >= this.maxPending) this.dropped += n;
    else this.pending.set(id, { flag, variant, reason, count: n });
  }

  /** Sends what is pending now (one request per MAX_ENTRIES_PER_REPORT entries). */
  flush(): Promise<void> {
    this.flushing ??= this.send().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async send(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const entries = [...batch.values()];
    for (let i = 0; i < entries.length; i += MAX_ENTRIES_PER_REPORT) {
      const chunk = entries.slice(i, i + MAX_ENTRIES_PER_REPORT);
      try {
        const res = await this.fetchImpl(`${this.opts.url.replace(/\/+$/, '')}/api/v1/evaluation-counts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.token}` },
          body: JSON.stringify({ counts: chunk }),
        });
        if (!res.ok) throw new Error(`status ${res.status}`);
        const body = (await res.json()) as { accepted?: number };
        this.sent += body.accepted ?? 0;
      } catch {
        this.failures++;
        for (const e of entries.slice(i)) this.count(e.flag, e.variant, e.reason, e.count); // retried with the next flush
        return;
      }
    }
  }

  /** Stops the timer and sends what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
