// The two ways clients reach the cluster, each mapping its answers onto the
// checker's outcomes: the gateway's HTTP API (ETag/If-Match, 412, 404) and
// @flagraft/cluster-client over gRPC (ClusterError codes). Only definite
// answers become results; everything that may or may not have taken effect
// (timeouts, 5xx, UNAVAILABLE, a dropped connection) stays pending.
import { ClusterError, createClusterClient, type ClusterClient, type ClusterClientOptions } from '@flagraft/cluster-client';
import type { FlagDefinition, StoredFlag, SubCommand } from '@flagraft/flag-model';
import type { Write } from '@flagraft/history-check';
import type { Outcome } from './history.js';

/** One operation may take this long before it is recorded as pending (ms). */
export const OP_TIMEOUT_MS = 5_000;

export interface Transport {
  readonly name: string;
  put(key: string, value: string, expectedRevision?: number): Promise<Outcome>;
  del(key: string, expectedRevision?: number): Promise<Outcome>;
  batch(writes: Write[]): Promise<Outcome>;
  read(key: string, stale: boolean): Promise<Outcome>;
  close(): void;
}

/** The flag a put writes: its value is the only variant, so a read names the write it saw. */
export function flagOf(key: string, value: string): FlagDefinition {
  return { key, type: 'string', variants: { v: value }, defaultVariant: 'v', enabled: true, rules: [] };
}

function valueOf(stored: StoredFlag): string {
  return String(stored.flag.variants.v);
}

const pending = (why: string, detail?: string): Outcome => ({ type: 'pending', why, detail });

export class HttpTransport implements Transport {
  constructor(readonly name: string, private readonly url: string, private readonly token: string) {}

  private async req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any } | Outcome> {
    try {
      const res = await fetch(this.url + path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(OP_TIMEOUT_MS),
      });
      const text = await res.text();
      let parsed: unknown;
      try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
      return { status: res.status, body: parsed };
    } catch (e) {
      return pending(`http: ${(e as Error).name === 'TimeoutError' ? 'timeout' : (e as Error).message}`);
    }
  }

  /** 412 and 404 are the state machine's refusals; other 4xx never reached it; the rest is unknown. */
  private writeOutcome(r: { status: number; body: any } | Outcome, revisionOf: (b: any) => number): Outcome {
    if ('type' in r) return r;
    if (r.status === 200 || r.status === 201) return { type: 'ok', result: { ok: true, revision: revisionOf(r.body) } };
    // 412 (If-Match) and 409 (a batch's expectedRevision): the state machine's revision mismatch.
    if (r.status === 412 || (r.status === 409 && r.body?.currentRevision !== undefined)) return { type: 'ok', result: { ok: false, error: 'revision-mismatch', currentRevision: r.body?.currentRevision ?? undefined, key: r.body?.key } };
    if (r.status === 404) return { type: 'ok', result: { ok: false, error: 'not-found', key: r.body?.key } };
    if (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) return { type: 'excluded', why: `http ${r.status} ${r.body?.title ?? ''}` };
    return pending(`http ${r.status}`);
  }

  async put(key: string, value: string, expectedRevision?: number): Promise<Outcome> {
    const h: Record<string, string> = expectedRevision === undefined ? {} : expectedRevision === 0 ? { 'if-none-match': '*' } : { 'if-match': `"${expectedRevision}"` };
    return this.writeOutcome(await this.req('PUT', `/api/v1/flags/${key}`, flagOf(key, value), h), (b) => b.modRevision);
  }

  async del(key: string, expectedRevision?: number): Promise<Outcome> {
    const h: Record<string, string> = expectedRevision === undefined ? {} : { 'if-match': `"${expectedRevision}"` };
    return this.writeOutcome(await this.req('DELETE', `/api/v1/flags/${key}`, undefined, h), (b) => b.revision);
  }

  async batch(writes: Write[]): Promise<Outcome> {
    const ops = writes.map((w) => ({
      ...(w.type === 'put' ? { op: 'putFlag', flag: flagOf(w.key, w.value) } : { op: 'deleteFlag', key: w.key }),
      ...(w.expectedRevision === undefined ? {} : { expectedRevision: w.expectedRevision }),
    }));
    return this.writeOutcome(await this.req('POST', '/api/v1/batch', { ops }), (b) => b.revision);
  }

  async read(key: string, stale: boolean): Promise<Outcome> {
    const r = await this.req('GET', `/api/v1/flags/${key}${stale ? '?consistency=stale' : ''}`);
    if ('type' in r) return r;
    if (r.status === 200) return { type: 'ok', result: { value: valueOf(r.body), modRevision: r.body.modRevision } };
    if (r.status === 404) return { type: 'ok', result: { value: undefined } };
    return pending(`http ${r.status}`);
  }

  close(): void {}
}

export class GrpcTransport implements Transport {
  private readonly client: ClusterClient;

  constructor(readonly name: string, options: ClusterClientOptions) {
    this.client = createClusterClient({ ...options, requestTimeoutMs: 1500, retryDeadlineMs: OP_TIMEOUT_MS - 500 });
  }

  private async write(fn: () => Promise<{ revision: number }>): Promise<Outcome> {
    try {
      const out = await fn();
      return { type: 'ok', result: { ok: true, revision: out.revision } };
    } catch (e) {
      if (!(e instanceof ClusterError)) return pending(`grpc: ${(e as Error).message}`);
      if (e.code === 'REVISION_MISMATCH') return { type: 'ok', result: { ok: false, error: 'revision-mismatch', currentRevision: e.currentRevision, key: e.details.key as string | undefined } };
      if (e.code === 'NOT_FOUND') return { type: 'ok', result: { ok: false, error: 'not-found', key: e.details.key as string | undefined } };
      if (e.code === 'VALIDATION' || e.code === 'INVALID_ARGUMENT' || e.code === 'PERMISSION') return { type: 'excluded', why: `grpc ${e.code}` };
      return pending(`grpc ${e.code}`, e.message);
    }
  }

  put(key: string, value: string, expectedRevision?: number): Promise<Outcome> {
    return this.write(() => this.client.putFlag(flagOf(key, value), { expectedRevision, actor: this.name }));
  }

  del(key: string, expectedRevision?: number): Promise<Outcome> {
    return this.write(() => this.client.deleteFlag(key, { expectedRevision, actor: this.name }));
  }

  batch(writes: Write[]): Promise<Outcome> {
    const ops: SubCommand[] = writes.map((w) => ({
      ...(w.type === 'put' ? { op: 'putFlag' as const, flag: flagOf(w.key, w.value) } : { op: 'deleteFlag' as const, key: w.key }),
      ...(w.expectedRevision === undefined ? {} : { expectedRevision: w.expectedRevision }),
    }) as SubCommand);
    return this.write(() => this.client.batch(ops, { actor: this.name }));
  }

  async read(key: string, stale: boolean): Promise<Outcome> {
    try {
      const s = await this.client.getFlag(key, { consistency: stale ? 'stale' : 'linearizable' });
      return { type: 'ok', result: s ? { value: valueOf(s), modRevision: s.modRevision } : { value: undefined } };
    } catch (e) {
      return pending(`grpc ${(e as ClusterError).code ?? (e as Error).message}`);
    }
  }

  close(): void {
    this.client.close();
  }
}
