// FlagraftProvider against a real 3-node cluster (processes, SQLite, gRPC) and
// real gateways: answers identical to the gateway's OFREP, live changes,
// failures (gateway SIGKILL, node SIGKILL, a cut network) with evaluation on
// the last copy, STALE, and recovery that applies every revision in order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenFeature, ProviderEvents, type EventDetails } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { EvaluationCounter, FlagraftProvider } from '../src/index.js';
import { boolFlag, eventually, startStack, TOKENS, type Stack } from '../../../apps/gateway/test/support/harness.js';
import { defaultFor, generateContexts, generateCorpus } from './support/corpus.js';
import { startGatewayProcess, startProxy, type CuttableProxy, type GatewayProcess } from './support/processes.js';

let stack: Stack;
let gwProc: GatewayProcess;
let proxy: CuttableProxy;
const tmp = mkdtempSync(join(tmpdir(), 'flagraft-provider-'));
const providers: FlagraftProvider[] = [];

beforeAll(async () => {
  stack = await startStack();
  gwProc = await startGatewayProcess(await stack.cluster.clientEnv());
  proxy = await startProxy(new URL(gwProc.url));
});
afterAll(async () => {
  await Promise.allSettled(providers.map((p) => p.onClose()));
  await proxy?.stop();
  await gwProc?.stop();
  await stack?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function provider(opts: Partial<ConstructorParameters<typeof FlagraftProvider>[0]> = {}): FlagraftProvider {
  const p = new FlagraftProvider({ url: stack.url, token: TOKENS.reader, staleAfterMs: 300, minBackoffMs: 50, maxBackoffMs: 300, idleTimeoutMs: 5_000, ...opts });
  providers.push(p);
  return p;
}

/** Records the provider's events with their arrival time. */
function record(p: FlagraftProvider) {
  const seen: { type: ProviderEvents; at: number; details?: EventDetails }[] = [];
  for (const type of [ProviderEvents.ConfigurationChanged, ProviderEvents.Stale, ProviderEvents.Ready, ProviderEvents.Error]) {
    p.events.addHandler(type, (details) => seen.push({ type, at: performance.now(), details }));
  }
  return seen;
}

const put = async (key: string, extra: Record<string, unknown> = {}, base = stack.url) => {
  const r = await fetch(`${base}/api/v1/flags/${key}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKENS.editor}`, 'content-type': 'application/json' },
    body: JSON.stringify(boolFlag(key, extra)),
  });
  const body = await r.json();
  expect(r.status, JSON.stringify(body)).toBeLessThan(300);
  return body.modRevision as number;
};

describe('answers', () => {
  it('every flag x context of a seeded generated corpus answers exactly as the gateway\'s OFREP (value, variant, reason, error code, metadata)', async () => {
    const seed = Number(process.env.PROVIDER_CORPUS_SEED ?? 1717);
    const { segments, flags } = generateCorpus(seed, 60, 'eq-');
    const ops = [...segments.map((segment) => ({ op: 'putSegment', segment })), ...flags.map((flag) => ({ op: 'putFlag', flag }))];
    const w = await stack.req('POST', '/api/v1/batch', { role: 'editor', body: { ops } });
    expect(w.status, w.text).toBe(200);
    const p = provider({ prefix: 'eq-' });
    await p.initialize();
    expect(p.revision).toBeGreaterThanOrEqual(w.json.revision);
    const contexts = generateContexts(seed + 1, 150);
    let compared = 0;
    const reasons = new Set<string>();
    for (const context of contexts) {
      const bulk = await stack.req('POST', '/ofrep/v1/evaluate/flags', { role: 'evaluator', body: { context } });
      expect(bulk.status, bulk.text).toBe(200);
      for (const item of bulk.json.flags as any[]) {
        if (!item.key.startsWith('eq-')) continue;
        const type = flags.find((f) => f.key === item.key)!.type;
        const dflt = defaultFor(type);
        const got = p.resolve(item.key, dflt, context as never);
        const where = `seed ${seed} flag ${item.key} context ${JSON.stringify(context)}`;
        if (item.errorCode) {
          expect({ errorCode: got.errorCode, value: got.value }, where).toEqual({ errorCode: item.errorCode, value: dflt });
        } else {
          expect({ value: got.value, variant: got.variant, reason: got.reason, metadata: got.flagMetadata, errorCode: got.errorCode }, where)
            .toEqual({ value: 'value' in item ? item.value : dflt, variant: item.variant, reason: item.reason, metadata: item.metadata ?? {}, errorCode: undefined });
        }
        reasons.add(item.errorCode ?? item.reason);
        compared++;
      }
    }
    expect(compared).toBe(60 * 150);
    // The corpus reaches every outcome, so the comparison means something.
    for (const r of ['STATIC', 'TARGETING_MATCH', 'SPLIT', 'DISABLED', 'DEFAULT', 'TARGETING_KEY_MISSING']) expect(reasons, r).toContain(r);
  });

  it('through the OpenFeature SDK, details equal those of the official OFREP provider (remote evaluation)', async () => {
    const p = provider({ prefix: 'eq-' });
    await OpenFeature.setProviderAndWait('local', p);
    await OpenFeature.setProviderAndWait('remote', new OFREPProvider({ baseUrl: stack.url, headers: [['Authorization', `Bearer ${TOKENS.evaluator}`]] }));
    const local = OpenFeature.getClient('local');
    const remote = OpenFeature.getClient('remote');
    const { flags } = generateCorpus(Number(process.env.PROVIDER_CORPUS_SEED ?? 1717), 60, 'eq-');
    let compared = 0;
    for (const context of generateContexts(99, 20)) {
      for (const f of flags) {
        const dflt = defaultFor(f.type);
        const get = (c: typeof local) =>
          f.type === 'boolean' ? c.getBooleanDetails(f.key, dflt as boolean, context as never)
            : f.type === 'string' ? c.getStringDetails(f.key, dflt as string, context as never)
              : f.type === 'number' ? c.getNumberDetails(f.key, dflt as number, context as never)
                : c.getObjectDetails(f.key, dflt as never, context as never);
        const [l, r] = await Promise.all([get(local), get(remote)]);
        // The official OFREP provider reports a flag answered without a value (disabled, no offVariant) as
        // an error (TYPE_MISMATCH or GENERAL); OFREP means "use the code default" (ADR-0006), which is what ours returns.
        if (r.errorCode !== undefined && l.reason === 'DISABLED' && l.variant === undefined) {
          expect(l.value).toEqual(dflt);
          continue;
        }
        // On errors OFREP answers carry no metadata; ours keeps the flag's (the SDK passes it on): not compared there.
        const strip = (d: any) => ({ value: d.value, variant: d.variant, reason: d.reason, errorCode: d.errorCode, flagMetadata: d.errorCode ? undefined : d.flagMetadata });
        expect(strip(l), `${f.key} ${JSON.stringify(context)}`).toEqual(strip(r));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1000);
    await OpenFeature.clearProviders();
  });
});

describe('live changes', () => {
  it('a change is seen locally within the stream latency, with flagsChanged; deletes and segment changes too', async () => {
    await put('live-a');
    const p = provider({ prefix: 'live-' });
    await p.initialize();
    const seen = record(p);
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const rev = await put('live-a', { defaultVariant: i % 2 === 0 ? 'on' : 'off' });
      await eventually(() => p.revision >= rev, 5_000, `revision ${rev}`);
      const ev = seen.find((e) => e.type === ProviderEvents.ConfigurationChanged && (e.details as any)?.metadata?.revision === rev)!;
      expect(ev.details!.flagsChanged).toEqual(['live-a']);
      latencies.push(ev.at - t0);
      expect(p.resolve('live-a', true, {}).value).toBe(i % 2 === 0);
    }
    latencies.sort((a, b) => a - b);
    // Write acknowledged (committed, applied) -> event: the stream's latency, tens of ms at most here.
    expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(250);
    await stack.req('DELETE', '/api/v1/flags/live-a', { role: 'editor' });
    await eventually(() => p.resolve('live-a', true, {}).errorCode === 'FLAG_NOT_FOUND', 5_000, 'the delete');
    expect(seen.at(-1)!.details!.flagsChanged).toEqual(['live-a']);
  });
});

describe('one environment (issue 16)', () => {
  it('evaluates the named environment\'s flags from its snapshot and follows only its changes (segments are shared)', async () => {
    const env = 'pv-staging';
    expect((await stack.req('POST', '/api/v1/environments', { role: 'admin', body: { name: env } })).status).toBe(201);
    const putIn = async (key: string, extra: Record<string, unknown>, environment?: string) => {
      const r = await stack.req('PUT', `/api/v1/flags/${key}${environment ? `?environment=${environment}` : ''}`, { role: 'editor', body: boolFlag(key, extra) });
      expect(r.status, r.text).toBeLessThan(300);
      return r.json.modRevision as number;
    };
    await putIn('pv-env', { defaultVariant: 'off' });
    await putIn('pv-env', { defaultVariant: 'on' }, env);
    const p = provider({ prefix: 'pv-', environment: env });
    await p.initialize();
    expect(p.resolve('pv-env', false, {}).value, 'staging\'s definition, not the default environment\'s').toBe(true);

    const seen = record(p);
    await putIn('pv-env', { defaultVariant: 'on', enabled: false }); // the default environment: not for this provider
    const staged = await putIn('pv-env', { defaultVariant: 'off' }, env);
    await eventually(() => p.revision >= staged, 5_000, `revision ${staged}`);
    expect(p.resolve('pv-env', true, {}).value).toBe(false);
    const changed = seen.filter((e) => e.type === ProviderEvents.ConfigurationChanged).map((e) => (e.details as any).metadata.revision);
    expect(changed, 'only the staging change reached it').toEqual([staged]);

    // Segments are shared: a segment change reaches every environment's provider.
    const seg = await stack.req('PUT', '/api/v1/segments/pv-seg', { role: 'editor', body: { conditions: [{ attribute: 'plan', op: 'equals', value: 'pro' }] } });
    expect(seg.status, seg.text).toBe(201);
    const ruled = await putIn('pv-ruled', { defaultVariant: 'off', rules: [{ segments: ['pv-seg'], variant: 'on' }] }, env);
    await eventually(() => p.revision >= ruled, 5_000, `revision ${ruled}`);
    expect(p.resolve('pv-ruled', false, { targetingKey: 'u', plan: 'pro' }).value).toBe(true);
    const segChange = await stack.req('PUT', '/api/v1/segments/pv-seg', { role: 'editor', body: { conditions: [{ attribute: 'plan', op: 'equals', value: 'team' }] } });
    await eventually(() => p.revision >= segChange.json.modRevision, 5_000, 'the segment change');
    expect(p.resolve('pv-ruled', false, { targetingKey: 'u', plan: 'pro' }).value).toBe(false);

    // A name that is not one refuses at construction; an environment that does not exist at initialize (404).
    expect(() => provider({ environment: 'no such' })).toThrow(/environment: expected an environment name/);
    await expect(provider({ environment: 'pv-missing', initTimeoutMs: 3_000 }).initialize()).rejects.toThrow(/404|pv-missing/);
  });
});

describe('failures', () => {
  it('gateway SIGKILL: evaluation goes on from the last copy, STALE, then READY and every revision in order after a restart', async () => {
    await put('gk-a', {}, gwProc.url);
    const p = provider({ url: gwProc.url, prefix: 'gk-' });
    await p.initialize();
    const seen = record(p);
    const revisions: number[] = [];
    p.events.addHandler(ProviderEvents.ConfigurationChanged, (d) => revisions.push((d as any).metadata.revision));
    await gwProc.kill('SIGKILL');
    await eventually(() => seen.some((e) => e.type === ProviderEvents.Stale), 5_000, 'STALE');
    expect(p.resolve('gk-a', true, {}).value).toBe(false); // the last copy still answers
    // Changes while the gateway is down (through the other gateway): each must arrive, in order.
    const written: number[] = [];
    for (let i = 0; i < 5; i++) written.push(await put(`gk-${i}`, { defaultVariant: 'on' }));
    await gwProc.restart();
    await eventually(() => seen.some((e) => e.type === ProviderEvents.Ready), 10_000, 'READY after the restart');
    await eventually(() => p.revision >= written.at(-1)!, 10_000, 'catch-up');
    for (let i = 0; i < 5; i++) expect(p.resolve(`gk-${i}`, false, {}).value).toBe(true);
    // Applied one revision at a time in order (the restarted gateway replays from its cluster Watch), or a reload.
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(p.stats.outOfOrder).toBe(0);
    if (p.stats.reloads === 1) expect(revisions).toEqual(written);
  });

  it('a cut network: STALE while cut, evaluation unaffected, resume from the last event id without a gap', async () => {
    const p = provider({ url: proxy.url, prefix: 'cut-' });
    await put('cut-a');
    await p.initialize();
    const seen = record(p);
    const revisions: number[] = [];
    p.events.addHandler(ProviderEvents.ConfigurationChanged, (d) => revisions.push((d as any).metadata.revision));
    const before = await put('cut-a', { defaultVariant: 'on' });
    await eventually(() => p.revision >= before, 5_000, 'the first change');
    proxy.cut();
    await eventually(() => seen.some((e) => e.type === ProviderEvents.Stale), 5_000, 'STALE');
    expect(p.resolve('cut-a', false, {}).value).toBe(true);
    const written: number[] = [];
    for (let i = 0; i < 4; i++) written.push(await put(`cut-${i}`, { defaultVariant: 'on' }));
    proxy.restore();
    await eventually(() => p.revision >= written.at(-1)!, 10_000, 'catch-up');
    expect(seen.filter((e) => e.type === ProviderEvents.Ready).length).toBe(1);
    expect(revisions).toEqual([before, ...written]); // every revision, once, in order: no reload needed
    expect(p.stats.reloads).toBe(1);
  });

  it('node SIGKILL (the leader): evaluation and the stream go on; later writes arrive', async () => {
    const p = provider({ prefix: 'nk-' });
    await put('nk-a');
    await p.initialize();
    const leader = await stack.cluster.leader();
    await leader.kill('SIGKILL');
    expect(p.resolve('nk-a', true, {}).value).toBe(false);
    const rev = await eventually(async () => {
      const r = await stack.req('PUT', '/api/v1/flags/nk-a', { role: 'editor', body: boolFlag('nk-a', { defaultVariant: 'on' }) });
      return r.status === 200 ? (r.json.modRevision as number) : undefined;
    }, 20_000, 'a write after the election');
    await eventually(() => p.revision >= rev, 10_000, 'the change after failover');
    expect(p.resolve('nk-a', false, {}).value).toBe(true);
    await leader.restart();
  });
});

describe('start, refusals, cache and metrics', () => {
  it('refuses a bad token and a role that may not read the rules (initialize rejects)', async () => {
    await expect(provider({ token: 'nope', initTimeoutMs: 5_000 }).initialize()).rejects.toThrow(/401/);
    await expect(provider({ token: TOKENS.evaluator, initTimeoutMs: 5_000 }).initialize()).rejects.toThrow(/403/);
  });

  it('refuses a snapshot over maxSnapshotBytes (the memory bound) with a clear error', async () => {
    await expect(provider({ maxSnapshotBytes: 200, initTimeoutMs: 5_000 }).initialize()).rejects.toThrow(/larger than maxSnapshotBytes \(200 bytes\)/);
  });

  it('the cache file: a restart evaluates the last flags with the gateway unreachable, STALE, then syncs', async () => {
    const file = join(tmp, 'cache.json');
    await put('cache-a', { defaultVariant: 'on' });
    const a = provider({ url: proxy.url, prefix: 'cache-', cacheFile: file, cacheWriteDelayMs: 10 });
    await a.initialize();
    await a.onClose(); // writes the cache
    proxy.cut();
    const rev = await put('cache-a', { defaultVariant: 'off' });
    const b = provider({ url: proxy.url, prefix: 'cache-', cacheFile: file, initTimeoutMs: 2_000 });
    const seen = record(b);
    await b.initialize(); // from the file, although the gateway is unreachable
    expect(b.resolve('cache-a', false, {}).value).toBe(true);
    await eventually(() => seen.some((e) => e.type === ProviderEvents.Stale), 5_000, 'STALE');
    proxy.restore();
    await eventually(() => b.revision >= rev, 10_000, 'sync after the cut');
    expect(b.resolve('cache-a', true, {}).value).toBe(false);
    // A cache written for another gateway or prefix is not used.
    const c = provider({ url: proxy.url, prefix: 'other-', cacheFile: file, initTimeoutMs: 5_000 });
    await c.initialize();
    expect(c.resolve('cache-a', true, {}).errorCode).toBe('FLAG_NOT_FOUND');
  });

  it('the metrics hook forwards evaluation counts per flag and variant, batched, to the gateway', async () => {
    await put('m-a', { defaultVariant: 'on' });
    const p = provider({ prefix: 'm-' });
    const counter = new EvaluationCounter({ url: stack.url, token: TOKENS.evaluator, flushIntervalMs: 60_000 });
    OpenFeature.addHooks(counter);
    await OpenFeature.setProviderAndWait('metrics', p);
    const client = OpenFeature.getClient('metrics');
    for (let i = 0; i < 25; i++) await client.getBooleanValue('m-a', false);
    await client.getBooleanValue('m-missing', false);
    await counter.close();
    expect(counter.sent).toBe(25); // the missing flag's ERROR count was ignored by the gateway
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toContain('flagraft_gateway_reported_evaluations_total{flag="m-a",variant="on",reason="STATIC"} 25');
    OpenFeature.clearHooks();
    await OpenFeature.clearProviders();
  });
});
